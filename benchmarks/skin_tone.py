"""Does a model keep a person's skin tone? The lightness of the cheeks in the photo against the
evaluated models' whole frames, grouped by how light the photo's skin is.

    python benchmarks/skin_tone.py --photos ../shared/data/landmarks/helen \
        dark=runs/eval/helen_anime_dark_n150/outputs/full depth=runs/eval/helen_anime_depth_n150/outputs/full

Each ``LABEL=DIR`` is the ``outputs/full`` folder of a ``geostyle evaluate`` run (one PNG per photo
stem, the photo's size). The cheeks are two triangles per face, found by the product's detector on
the photo: the lower eyelid's middle, the side of the nose and the corner of the mouth, on each
side. The face's warp moves these points by about a third of the way to the style's geometry, so
the triangles cover much the same skin in the output. Per photo the median BT.601 luma (0-255) of
the cheeks' pixels in the photo and in each output; photos are grouped by the photo's value. A
model that paints every face in its exemplars' pale tone lifts dark skin far more than light skin;
one that keeps the person's tone lifts all groups alike (or not at all). The groups are by the
cheeks' lightness, not by skin tone as such: lighting moves it too, and a greyscale photo has no
skin colour (HELEN holds a few). The classical cartoon
filter of the evaluation's baselines (``geostyle.eval.baselines.cartoon``) is measured on the same
photos as a baseline column. Writes
``benchmarks/results/skin_tone_<labels>.json`` and ``.md`` (name the labels after the photo set:
two sets with the same labels write the same file); ``--sheet`` a picture of the photos with the
darkest cheeks (photo, then each run), reduced to 256 px rows.

Where a run's folder sits in its evaluation's run directory (``RUN/outputs/full`` beside
``RUN/metrics.json``), a second table gives the gates' judges per group, photo by photo from that
report: the anime rate (full frames / crops) and identity rank-1 (full frames / crops), for each
run and for the cartoon filter's row of the first run's report. A judge whose rate depends on the
photo's lightness says so there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from run_outputs import (
    benchmark_command,
    cheeks_with_outputs,
    evaluation_reports,
    parse_runs,
    photo_for,
    runs_parser,
    write_results,
    write_sheet,
)

from geostyle.eval.skin import cheek_luma

GROUPS = ((0, 80), (80, 120), (120, 160), (160, 256))  # the photo's cheek luma
def main(argv: list[str] | None = None) -> int:
    ap = runs_parser(__doc__.split("\n\n")[0], "write a picture of the photos with the darkest cheeks here")
    args, labelled, stems = parse_runs(ap, argv)
    from geostyle.data.images import load_image
    from geostyle.eval.baselines import cartoon

    rows = []
    for stem, photo, mask, outputs in cheeks_with_outputs(ap, args.photos, stems, labelled):
        row = {
            "photo": stem,
            "photo_luma": cheek_luma(photo, mask),
            "cartoon filter": cheek_luma(cartoon(photo), mask),
        }
        for label, out in outputs.items():
            row[label] = cheek_luma(out, mask)
        rows.append(row)
    if not rows:
        ap.error("no face found in the photos that match the outputs")
    labels = ["cartoon filter"] + [label for label, _ in labelled]
    table = []
    for low, high in GROUPS:
        group = [r for r in rows if low <= r["photo_luma"] < high]
        if group:
            table.append(
                {
                    "group": f"{low}-{min(high, 255)}",
                    "photos": len(group),
                    "photo": float(np.mean([r["photo_luma"] for r in group])),
                    **{label: float(np.mean([r[label] for r in group])) for label in labels},
                }
            )
    name = "skin_tone_" + "_".join(labels[1:])
    command = benchmark_command("skin_tone.py", argv)
    lines = [
        "# Skin tone: the cheeks' lightness, photo against output",
        "",
        f"`{command}`",
        "",
        f"{len(rows)} photos with a face. Median BT.601 luma (0-255) of the cheeks per photo, averaged per group of the "
        "photo's own value; in brackets the output's lift over the photo.",
        "",
        "| the photo's cheeks | photos | the photo | " + " | ".join(labels) + " |",
        "|---|---|---|" + "---|" * len(labels),
    ]
    for t in table:
        cells = [f"{t[label]:.1f} ({t[label] - t['photo']:+.1f})" for label in labels]
        lines.append(f"| {t['group']} | {t['photos']} | {t['photo']:.1f} | " + " | ".join(cells) + " |")
    lines += judges_by_group(rows, labelled)
    write_results(name, {"command": command, "groups": table, "per_photo": rows}, lines)
    if args.sheet is not None:
        sheet_rows = []
        for r in sorted(rows, key=lambda r: r["photo_luma"])[: args.sheet_rows]:
            source = photo_for(args.photos, r["photo"])
            assert source is not None
            sheet_rows.append([load_image(source)] + [load_image(folder / f"{r['photo']}.png") for _, folder in labelled])
        write_sheet(args.sheet, sheet_rows)
        print(f"wrote {args.sheet} (rows: photo, " + ", ".join(label for label, _ in labelled) + ")")
    return 0


def judges_by_group(rows: list[dict], labelled: list[tuple[str, Path]]) -> list[str]:
    """Markdown lines: the evaluation's judges per group of the photo's cheek lightness, for each
    run whose report (``RUN/metrics.json`` beside ``RUN/outputs/full``) is there, and the cartoon
    filter's row of the first such report; no lines when none is."""
    reports, _ = evaluation_reports(labelled)
    if not reports:
        return []
    lines = [
        "",
        "The judges of the evaluation reports by the same groups (anime rate full frames / crops; identity "
        "rank-1 full frames / crops, among all the report's photos):",
        "",
        "| the photo's cheeks | photos | " + " | ".join(f"{label}: anime | {label}: identity" for label, _ in reports) + " |",
        "|---|---|" + "---|---|" * len(reports),
    ]
    for low, high in GROUPS:
        stems = {r["photo"] for r in rows if low <= r["photo_luma"] < high}
        if not stems:
            continue
        cells = []
        for _, records in reports:
            found = [rec for rec in records if rec.get("photo") in stems]

            def share(key: str, found: list[dict] = found) -> str:
                return f"{np.mean([bool(rec.get(key)) for rec in found]):.2f}" if found else "-"

            # A report missing some of the group's photos says over how many it counted.
            count = "" if len(found) == len(stems) else f" (of {len(found)})"
            cells += [
                f"{share('anime')} / {share('anime_crop')}{count}",
                f"{share('identity_hit')} / {share('identity_hit_crop')}{count}",
            ]
        lines.append(f"| {low}-{min(high, 255)} | {len(stems)} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
