"""Which faces does the anime judge miss? The gates' judges of an evaluation, photo by photo, grouped
by the head's pose in the photo (turned, tilted) and by the cheeks' lightness.

    python benchmarks/anime_pose.py --photos ../shared/data/photos/selfie shipped=runs/eval/anime_n200/outputs/full

Each ``LABEL=DIR`` is the ``outputs/full`` folder of a ``geostyle evaluate`` run whose
``metrics.json`` sits beside it (``RUN/outputs/full``, ``RUN/metrics.json``); the judges' verdicts
come from that report, the pose from the product's detector on the photo:

* **turn**: how far the nose tip sits beside the middle of the two eyes, along the line through
  them, as a share of the eyes' distance (0 for a face looking into the camera; about 0.1 for a
  head turned some 15 degrees);
* **tilt**: the angle of that line to the horizontal, in degrees (the whole frame keeps it; the
  aligned crop turns the face upright).

Anime exemplars are drawn nearly all frontal and upright; a detector trained on them may read a
turned or tilted face less often whatever its drawing. The cartoon filter's row of the first
report is a baseline column, as in ``skin_tone.py``. The cheeks' groups are the same as there
(the photo's median cheek luma). Writes ``benchmarks/results/anime_pose_<labels>.json`` and ``.md``;
``--sheet`` a picture of the frontal, upright, light-skinned crops the judge misses (the photo's
aligned crop is not stored by the evaluation: the first run's crop output, beside its
``outputs/full``).
"""

from __future__ import annotations

import numpy as np
from run_outputs import (
    benchmark_command,
    evaluation_reports,
    parse_runs,
    photo_faces,
    runs_parser,
    write_results,
    write_sheet,
)

from geostyle.eval.skin import cheek_luma, cheek_mask
from geostyle.faces.landmarks import INDEX

# Set before the first run, not fitted to it.
TURN_GROUPS = ((0.0, 0.05), (0.05, 0.15), (0.15, np.inf))
TILT_GROUPS = ((0.0, 5.0), (5.0, 15.0), (15.0, 180.0))
FRONTAL_TURN, UPRIGHT_TILT, LIGHT_CHEEKS = 0.05, 5.0, 160.0


def head_pose(landmarks: np.ndarray) -> tuple[float, float] | None:
    """``(turn, tilt)`` of a face's ``(K, 2)`` landmarks (module docstring), or None when an eye or
    the nose tip is missing."""
    right, left, nose = (landmarks[INDEX[n]] for n in ("right_eye_center", "left_eye_center", "nose_tip"))
    if not all(np.isfinite(v).all() for v in (right, left, nose)):
        return None
    axis = left - right
    distance = float(np.linalg.norm(axis))
    if distance < 1e-6:
        return None
    turn = abs(float((nose - (right + left) / 2) @ axis)) / distance**2
    tilt = abs(float(np.degrees(np.arctan2(axis[1], axis[0]))))
    return turn, min(tilt, 180.0 - tilt)


def _rate(rows: list[dict], key: str) -> str:
    values = [r[key] for r in rows if r.get(key) is not None]
    return f"{np.mean(values):.2f}" if values else "–"


def main(argv: list[str] | None = None) -> int:
    ap = runs_parser(__doc__.split("\n\n")[0], "write a picture of the frontal, upright, light crops the judge misses here")
    args, labelled, stems = parse_runs(ap, argv)
    from geostyle.data.images import load_image
    from geostyle.faces.backends.chain import build_backend

    found, missing = evaluation_reports(labelled)
    if missing:
        ap.error(f"{missing[0]} not found: every run needs its evaluation's report")
    reports = [(label, {r["photo"]: r for r in records}) for label, records in found]
    rows = []
    for stem, photo, landmarks in photo_faces(args.photos, stems, build_backend("mediapipe")):
        pose = head_pose(landmarks)
        mask = cheek_mask(photo.shape[:2], landmarks)
        if pose is None or mask.sum() < 50:
            continue
        row: dict = {"photo": stem, "turn": pose[0], "tilt": pose[1], "cheeks": cheek_luma(photo, mask)}
        for label, verdicts in reports:
            v = verdicts.get(stem, {})
            for key in ("anime", "anime_crop", "identity_hit", "identity_hit_crop"):
                row[f"{label}:{key}"] = None if v.get(key) is None else float(bool(v[key]))
        rows.append(row)
    if not rows:
        ap.error("no face found in the photos that match the outputs")

    def group_lines(title: str, groups: list[tuple[str, list[dict]]]) -> list[str]:
        lines = [
            "",
            f"### {title}",
            "",
            "| photos | n | " + " | ".join(f"{label}: anime | {label}: identity" for label, _ in reports) + " |",
            "|---|---|" + "---|---|" * len(reports),
        ]
        for name, group in groups:
            cells = []
            for label, _ in reports:
                cells.append(f"{_rate(group, f'{label}:anime')} / {_rate(group, f'{label}:anime_crop')}")
                cells.append(f"{_rate(group, f'{label}:identity_hit')} / {_rate(group, f'{label}:identity_hit_crop')}")
            lines.append(f"| {name} | {len(group)} | " + " | ".join(cells) + " |")
        return lines

    def within(key: str, low: float, high: float) -> list[dict]:
        return [r for r in rows if low <= r[key] < high]

    frontal = [r for r in rows if r["turn"] < FRONTAL_TURN and r["tilt"] < UPRIGHT_TILT]
    light = [r for r in frontal if r["cheeks"] >= LIGHT_CHEEKS]
    lines = [
        "# Which faces the anime judge misses: by the head's pose and the cheeks' lightness",
        "",
        f"`{benchmark_command('anime_pose.py', argv)}`",
        "",
        f"{len(rows)} photos with a face. Each cell: full frames / crops (anime rate; identity rank-1 among "
        "all the report's photos). Turn: the nose tip's offset from the eyes' middle along the eye line, "
        "as a share of the eyes' distance; tilt: the eye line's angle in the photo (degrees).",
    ]
    lines += group_lines("By turn", [(f"turn {lo:g}-{hi:g}", within("turn", lo, hi)) for lo, hi in TURN_GROUPS])
    lines += group_lines("By tilt", [(f"tilt {lo:g}-{hi:g} deg", within("tilt", lo, hi)) for lo, hi in TILT_GROUPS])
    lines += group_lines(
        "Frontal and upright, by the cheeks",
        [
            ("all photos", rows),
            (f"frontal and upright (turn < {FRONTAL_TURN:g}, tilt < {UPRIGHT_TILT:g})", frontal),
            (f"... with cheeks >= {LIGHT_CHEEKS:g}", light),
            (f"... with cheeks < {LIGHT_CHEEKS:g}", [r for r in frontal if r["cheeks"] < LIGHT_CHEEKS]),
            ("turned or tilted", [r for r in rows if r not in frontal]),
        ],
    )
    name = "anime_pose_" + "_".join(label for label, _ in labelled)
    write_results(name, {"command": benchmark_command("anime_pose.py", argv), "per_photo": rows}, lines)
    if args.sheet is not None:
        label, folder = labelled[0]
        crops = folder.parent / "crop"
        missed = [r for r in light if r.get(f"{label}:anime_crop") == 0.0]
        images = [load_image(crops / f"{r['photo']}.png") for r in missed if (crops / f"{r['photo']}.png").is_file()]
        if images:
            write_sheet(args.sheet, [images[i : i + 6] for i in range(0, len(images), 6)])
            print(f"wrote {args.sheet}: {len(images)} frontal, upright, light crops the judge missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
