"""A deployed runtime carries no trainer: importing the inference stack must not import geostyle.train."""

import subprocess
import sys


def test_inference_imports_no_training_code():
    code = (
        "import sys, geostyle.infer.stylize, geostyle.infer.demo\n"
        "bad = sorted(m for m in sys.modules if m.startswith('geostyle.train'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"inference imported training modules: {out.stdout.strip()}"
