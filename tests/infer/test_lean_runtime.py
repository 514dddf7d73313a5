"""A deployed runtime carries no trainer: importing the inference stack (stylization, video, export,
the stylize / live / export commands) must not import geostyle.train."""

import subprocess
import sys

RUNTIME_MODULES = [
    "geostyle.infer.stylize",
    "geostyle.infer.demo",
    "geostyle.infer.runtime",
    "geostyle.infer.tracking",
    "geostyle.infer.composite",
    "geostyle.infer.fields",
    "geostyle.video",
    "geostyle.video.batch",
    "geostyle.cli.stylize",
]


def test_inference_imports_no_training_code():
    code = (
        "import importlib, sys\n"
        f"for name in {RUNTIME_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.startswith('geostyle.train'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"inference imported training modules: {out.stdout.strip()}"
