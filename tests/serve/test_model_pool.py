"""The models behind the pages run on the product's runtime (ONNX Runtime unless ``--runtime`` says
otherwise), the same one ``geostyle stylize`` and ``live`` use."""

from __future__ import annotations

import numpy as np
import pytest

from geostyle.data.images import load_image
from geostyle.errors import GeostyleError
from geostyle.serve.storage import DataDir
from geostyle.serve.stylizing import ModelPool


def test_pages_stylize_on_onnx_runtime_by_default(tmp_path, photo_files):
    from geostyle.infer.stylize import Stylizer

    pool = ModelPool(DataDir(tmp_path / "data"), threads=1)
    loaded = pool.get("anime")
    assert loaded.stylizer.runtime_name == "onnx"
    assert pool.build("anime", strength=0.7).runtime_name == "onnx"  # a video's own stylizer

    photo = load_image(photo_files[0])
    out, faces = pool.stylize("anime", photo, 0.35)
    assert faces == 1
    library = Stylizer("anime", strength=0.35, runtime="onnx", threads=1)
    np.testing.assert_array_equal(out, library.stylize_frame(photo))
    # The PyTorch runtime draws the same picture up to float rounding: the switch changes speed only.
    torch_out, _ = ModelPool(DataDir(tmp_path / "data"), runtime="torch", threads=1).stylize("anime", photo, 0.35)
    difference = np.abs(out.astype(int) - torch_out.astype(int))
    assert np.percentile(difference, 99.9) <= 2
    assert (np.abs(out.astype(int) - photo.astype(int)).sum(-1) > 30).mean() > 0.05


def test_an_unknown_runtime_is_refused_before_any_model_loads(tmp_path):
    with pytest.raises(GeostyleError, match="unknown runtime 'tensorrt'.*onnx"):
        ModelPool(DataDir(tmp_path / "data"), runtime="tensorrt")


def test_serve_command_refuses_a_bad_runtime_or_thread_count(capsys):
    from geostyle.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", "--runtime", "tensorrt"])
    assert exc.value.code == 2
    assert "invalid choice: 'tensorrt'" in capsys.readouterr().err
    assert main(["serve", "--threads", "-1", "--data", "/nonexistent/never-made"]) != 0
    assert "--threads must be 0" in capsys.readouterr().err
