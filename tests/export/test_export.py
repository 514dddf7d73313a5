"""ONNX and ncnn exports: checker, parity with PyTorch measured by running them, embedded metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geostyle.errors import CheckpointError, ExportError
from geostyle.export import export_model, read_onnx_metadata
from geostyle.export.exporter import parity_inputs, run_ncnn
from geostyle.infer.runtime import TorchRuntime, ort_session
from geostyle.infer.stylize import Stylizer
from geostyle.nets.release import read_release_metadata


def test_onnx_export_carries_the_models_face_shape(tiny_model, tmp_path):
    """The caller computes the face graph's field, so the export names the part gains its target
    needs (the bundled anime models' outline and brows)."""
    from geostyle.nets.release import update_release_extra

    shaped = tmp_path / "shaped.safetensors"
    update_release_extra(tiny_model, shaped, part_gains={"outline": 2.0, "eyes": 0.5})
    out = tmp_path / "shaped_face.onnx"
    export_model(shaped, out, fmt="onnx", size=128, graph="face")
    card = read_onnx_metadata(out)["model_card"]
    assert card["part_gains"] == {"outline": 2.0, "right_eye": 0.5, "left_eye": 0.5}
    points = card["part_gain_points"]
    assert len(points["outline"]) == 7 and "chin" in points["outline"] and "nose_tip" not in points["outline"]
    assert points["right_eye"][0] == "right_eye_outer" and "max(strength, 1)" in card["part_gain_rule"]


@pytest.mark.parametrize("graph", ["face", "frame"])
def test_onnx_export_runs_and_carries_metadata(tiny_model, tmp_path, graph):
    import onnx

    out = tmp_path / f"tiny_{graph}.onnx"
    report = export_model(tiny_model, out, fmt="onnx", size=128, graph=graph)
    assert report.files == [out] and out.is_file()
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    assert report.max_abs_diff < 1e-4
    meta = read_onnx_metadata(out)
    assert meta["graph"] == graph and meta["opset"] == 17
    assert meta["geometry"] == read_release_metadata(tiny_model)["geometry"]
    assert meta["model_card"]["arch"] == "geo_mobile_s" and meta["model_card"]["crop_zoom"] == 1.1
    assert meta["model_card"]["anime_eyes"]["opacity"] == 0.0  # drawn by the caller; the tiny model has none
    assert meta["model_card"]["face_outline"]["opacity"] == 0.0
    assert meta["model_card"]["anime_skin"]["opacity"] == 0.0
    assert meta["model_card"]["part_gains"] == {}  # the tiny model has no face shape
    assert meta["model_card"]["colourless_tint"]["lab_chroma"] is None  # nor the photo set's palette
    session = ort_session(out, threads=1)
    declared = [(i["name"], i["shape"]) for i in meta["inputs"]]
    assert [(i.name, i.shape) for i in session.get_inputs()] == declared
    # Parity on inputs other than the ones the export used: a second face size / a noise frame.
    stylizer = Stylizer(tiny_model)
    inputs = parity_inputs(stylizer, graph, 128)
    inputs[0] = np.ascontiguousarray(inputs[0][:, :, ::-1])  # flipped image, same field
    ours = session.run(None, dict(zip([n for n, _ in declared], inputs)))[0]
    reference = TorchRuntime(stylizer.release.generator)
    theirs = reference.frame(inputs[0]) if graph == "frame" else reference.face(*inputs)
    assert np.abs(ours - theirs).max() < 1e-4


def test_ncnn_export_runs_with_ncnn(tiny_model, tmp_path):
    report = export_model(tiny_model, tmp_path / "tiny", fmt="ncnn", size=128, graph="face")
    param, weights, sidecar = report.files
    assert param.name == "tiny.param" and weights.name == "tiny.bin" and sidecar.name == "tiny.json"
    assert report.max_abs_diff < 1e-4
    meta = json.loads(sidecar.read_text())
    assert meta["export_format"] == "ncnn" and meta["ncnn"]["inputs"] == ["in0", "in1", "in2"]
    stylizer = Stylizer(tiny_model)
    inputs = parity_inputs(stylizer, "face", 128)
    inputs[2] = np.ascontiguousarray(inputs[2][:, :, :, ::-1])
    ours = run_ncnn(param, weights, inputs, threads=1)
    theirs = TorchRuntime(stylizer.release.generator).face(*inputs)[0]
    assert ours.shape == theirs.shape and np.abs(ours - theirs).max() < 1e-4


def test_bundled_model_exports_at_512(tmp_path):
    report = export_model("anime", tmp_path / "anime.onnx", size=512)
    assert report.max_abs_diff < 1e-4
    assert read_onnx_metadata(report.files[0])["inputs"][1]["shape"] == [1, 128, 128, 2]


def test_bad_export_requests(tiny_model, tmp_path):
    with pytest.raises(ExportError, match="multiple of 8"):
        export_model(tiny_model, tmp_path / "x.onnx", size=100)
    with pytest.raises(ExportError, match="unknown format"):
        export_model(tiny_model, tmp_path / "x.tflite", fmt="tflite")
    with pytest.raises(ExportError, match="unknown graph"):
        export_model(tiny_model, tmp_path / "x.onnx", graph="tps")
    not_ours = tmp_path / "weights.safetensors"
    import torch
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(not_ours), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a geostyle model"):
        export_model(not_ours, tmp_path / "x.onnx")
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(b"\x08\x07")  # a valid protobuf prefix, no geostyle metadata
    with pytest.raises(ExportError):
        read_onnx_metadata(foreign)


def test_export_cli(tiny_model, tmp_path, capsys):
    from geostyle.cli.main import main

    out = tmp_path / "cli.onnx"
    code = main(["export", "--model", str(tiny_model), "--size", "64", "--graph", "frame", "--out", str(out)])
    assert code == 0 and out.is_file()
    printed = capsys.readouterr().out
    assert "onnx.checker (full) passed" in printed and "max |ONNX Runtime - PyTorch|" in printed
    assert main(["export", "--model", str(tiny_model), "--size", "60", "--out", str(out)]) == 1


def test_parity_lets_a_discontinuous_base_flip_a_few_pixels_only():
    from geostyle.export.exporter import ExportReport, _difference, _parity_holds

    reference = np.zeros((1, 3, 512, 512), np.float32)

    def report(output):
        diff, bulk, flipped = _difference(output, reference)
        return ExportReport("ncnn", "frame", 512, [], diff, "ncnn", "", {}, flipped, bulk)

    few = reference.copy()
    few[0, 0, :2, :7] = 0.8  # 14 pixels across a quantisation step
    r = report(few)
    assert r.max_abs_diff == pytest.approx(0.8) and r.flipped_share == pytest.approx(14 / 512**2)
    assert _parity_holds(r, discontinuous=True) and not _parity_holds(r, discontinuous=False)
    many = reference.copy()
    many[0, 1, :20, :] = 0.8  # 2 % of the pixels: a real mismatch
    assert not _parity_holds(report(many), discontinuous=True)
    drift = reference + 0.01  # every pixel off by more than the tolerance
    assert not _parity_holds(report(drift), discontinuous=True)


def test_bundled_anime_frame_graph_exports_to_ncnn_at_512(tmp_path):
    """The anime base quantises and thresholds, so ncnn's rounding can flip pixels (none for the
    one-pass v20, bundled before; 126 of 262,144 for the two-pass v11 and v17);
    the export passes on the bulk of the pixels and says how many flipped."""
    report = export_model("anime", tmp_path / "anime", fmt="ncnn", size=512, graph="frame")
    assert all(p.is_file() for p in report.files)
    assert report.flipped_share < 1e-3 and report.bulk_abs_diff < 5e-3
    assert "quantisation step" in report.summary() or report.flipped_share == 0
