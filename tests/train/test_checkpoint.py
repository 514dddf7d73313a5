import pytest
import torch

from geostyle.errors import CheckpointError
from geostyle.nets.registry import create_model
from geostyle.train import checkpoint as ckpt


@pytest.fixture
def generator():
    torch.manual_seed(0)
    return create_model("geo_mobile_s")


def test_release_round_trip_rebuilds_without_flags(tmp_path, generator):
    path = tmp_path / "m.safetensors"
    geometry = {"format": "demo", "values": [1.0, 2.0]}
    ckpt.save_release(
        path, generator, "geo_mobile_s", dict(generator.config), geometry, 128, {"name": "x"}, {"zoom": 1.2}
    )
    loaded = ckpt.load_release(path)
    assert loaded.arch == "geo_mobile_s" and loaded.resolution == 128
    assert loaded.geometry == geometry and loaded.metadata["extra"]["zoom"] == 1.2
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded.generator(x), generator.eval()(x))


def test_truncated_and_foreign_release_files_fail_clearly(tmp_path, generator):
    path = tmp_path / "m.safetensors"
    ckpt.save_release(path, generator, "geo_mobile_s", dict(generator.config), None, 64)
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        ckpt.load_release(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a model at all")
    with pytest.raises(CheckpointError, match="not a readable model"):
        ckpt.load_release(tmp_path / "junk.safetensors")
    with pytest.raises(CheckpointError, match="no such model"):
        ckpt.load_release(tmp_path / "absent.safetensors")


def test_release_with_wrong_architecture_fails_clearly(tmp_path, generator):
    path = tmp_path / "m.safetensors"
    ckpt.save_release(path, generator, "geo_mobile", {}, None, 64)  # weights of _s, name of another size
    with pytest.raises(CheckpointError, match="do not fit"):
        ckpt.load_release(path)


def test_resume_round_trip_and_corruption(tmp_path, generator):
    path = tmp_path / "resume.pt"
    opt = torch.optim.Adam(generator.parameters())
    state = {"step": 12, "generator": generator.state_dict(), "opt": opt.state_dict(), "config": "{}"}
    ckpt.save_resume(path, state)
    back = ckpt.load_resume(path)
    assert back["step"] == 12
    for k, v in generator.state_dict().items():
        assert torch.equal(back["generator"][k], v)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt"):
        ckpt.load_resume(path)


def test_failed_save_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / "resume.pt"
    ckpt.save_resume(path, {"step": 1})

    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        ckpt.save_resume(path, {"step": 2, "bad": Unsaveable()})
    assert ckpt.load_resume(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["resume.pt"]  # no temp file left behind


def test_kill_during_save_loses_nothing(tmp_path):
    """SIGKILL a process while it rewrites a large resume checkpoint over and over."""
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "resume.pt"
    script = (
        "import sys, torch\n"
        "from geostyle.train.checkpoint import save_resume\n"
        "i = 0\n"
        "while True:\n"
        "    save_resume(sys.argv[1], {'step': i, 'w': torch.full((4_000_000,), float(i))})\n"
        "    i += 1\n"
        "    print(i, flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # one complete save exists
        time.sleep(0.37)  # land somewhere inside a later save
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    state = ckpt.load_resume(path)
    assert torch.all(state["w"] == float(state["step"]))
