"""A deployed runtime carries no trainer: importing the inference stack (stylization, video, export,
the stylize / live / export commands) must not import geostyle.train, neither when imported nor
when a frame is stylized."""

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
    "geostyle.video.live",
    "geostyle.export",
    "geostyle.export.exporter",
    "geostyle.cli.stylize",
    "geostyle.cli.live",
    "geostyle.cli.export",
]


def test_inference_imports_no_training_code():
    code = (
        "import importlib, sys\n"
        f"for name in {RUNTIME_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        # Run the paths too, so imports done inside functions are seen.
        "from geostyle.data.images import load_image\n"
        "from geostyle.infer.demo import EXAMPLE\n"
        "from geostyle.infer.stylize import Stylizer\n"
        "from geostyle.video import LiveSession\n"
        "stylizer = Stylizer('anime', runtime='onnx', threads=1)\n"
        "image = load_image(EXAMPLE)\n"
        "stylizer.stylize_frame(image); stylizer.stylize(image)\n"
        "session = LiveSession(stylizer); session.process(image, 0.0); session.process(image, 0.04)\n"
        "bad = sorted(m for m in sys.modules if m.startswith('geostyle.train'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"inference imported training modules: {out.stdout.strip()}"
