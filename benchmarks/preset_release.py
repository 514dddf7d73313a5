"""Does a preset's release path give the bundled model? A finished run's checkpoint, saved again by
today's trainer with the preset's ``release:`` section, compared with a bundled model file.

    python benchmarks/preset_release.py --run runs/anime_v37t --preset anime --bundled anime_large
    python benchmarks/preset_release.py --run runs/anime_v41s --preset anime_fast --bundled anime \
        --set release.generator.clear_marks=0.0

The run's own configuration (from its ``resume.pt``) is used as saved, with the preset's ``release``
section put in (and any ``--set release....`` over it), as a run started today with that preset would
carry. The trainer is built on the run's datasets, loads the checkpoint and writes one release; the
script compares its tensors, generator settings (``arch_kwargs``) and ``extra`` with the bundled
file's, and lists every metadata field that differs. Writes ``benchmarks/results/preset_release_<bundled>.json``
and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from run_outputs import benchmark_command, write_results


def _differences(ours: object, theirs: object, where: str) -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out: list[str] = []
        for key in sorted(set(ours) | set(theirs)):
            out += _differences(ours.get(key), theirs.get(key), f"{where}.{key}")
        return out
    return [] if ours == theirs else [f"{where}: {str(ours)[:80]} | bundled {str(theirs)[:80]}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a finished run directory (its resume.pt)")
    ap.add_argument("--preset", required=True, help="the preset whose release section is put in")
    ap.add_argument("--bundled", required=True, help="the bundled model to compare with")
    ap.add_argument("--set", action="append", default=[], metavar="release.KEY=VALUE", help="over the preset's section")
    args = ap.parse_args(argv)

    from safetensors.torch import load_file

    from geostyle.nets.release import read_release_metadata, resolve_model
    from geostyle.train import checkpoint as ckpt
    from geostyle.train.config import config_from_dict, load_config
    from geostyle.train.presets import preset_path
    from geostyle.train.trainer import build_trainer

    if any(not item.startswith("release.") for item in args.set):
        raise SystemExit("--set takes release.* settings only: the run's training is as it was saved")
    state = ckpt.load_resume(args.run / "resume.pt")
    config = config_from_dict(json.loads(state["config"]))
    config.release = load_config(preset_path(args.preset), args.set).release
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(config, Path(tmp) / "run", progress=False)
        trainer.load_state_dict(state)
        ours_path = trainer.save_release(Path(tmp) / "release.safetensors")
        bundled_path = resolve_model(args.bundled)
        ours, theirs = load_file(str(ours_path)), load_file(str(bundled_path))
        weights_equal = ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
        ours_meta, theirs_meta = read_release_metadata(ours_path), read_release_metadata(bundled_path)
    differences = _differences(ours_meta, theirs_meta, "metadata")
    result = {
        "command": benchmark_command("preset_release.py", argv),
        "run": str(args.run),
        "preset": args.preset,
        "bundled": args.bundled,
        "step": trainer.step,
        "tensors": len(ours),
        "weights_equal": weights_equal,
        "arch_kwargs_equal": ours_meta.get("arch_kwargs") == theirs_meta.get("arch_kwargs"),
        "extra_equal": ours_meta.get("extra") == theirs_meta.get("extra"),
        "metadata_differences": differences,
    }
    lines = [
        f"# {args.run} saved again with the `{args.preset}` preset's release section, against bundled `{args.bundled}`",
        "",
        "| | |",
        "|---|---|",
        f"| step | {trainer.step} |",
        f"| weights equal ({len(ours)} tensors) | {weights_equal} |",
        f"| generator settings (`arch_kwargs`) equal | {result['arch_kwargs_equal']} |",
        f"| `extra` (drawings, face shape, strength, palette, trained-on lists) equal | {result['extra_equal']} |",
        "",
        "Metadata fields that differ:",
        "",
        *([f"- {d}" for d in differences] or ["- none"]),
    ]
    write_results(f"preset_release_{args.bundled}", result, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
