"""How far two evaluated models' whole frames move the colour of the photo's dark areas (black
and brown hair, dark clothes and backgrounds), photo by photo.

    python benchmarks/dark_colour.py --photos ../shared/data/photos/selfie \
        shipped=runs/eval/anime_base_n200/outputs/full dark=runs/eval/anime_dark_n200/outputs/full \
        [--sheet docs/img/dark_colour.jpg]

Each ``LABEL=DIR`` is the ``outputs/full`` folder of a ``geostyle evaluate`` run (one PNG per photo
stem); photos are matched by stem. Outside the faces (which the warp moves) a whole frame is in the
photo's geometry, so pixel by pixel, in CIE Lab (OpenCV's 8-bit scale, chroma in a*/b* units):

* **grey darks**: pixels the photo has dark (L* <= 40) and nearly colourless (chroma <= 8): the
  output's mean chroma there (how strongly it tints black and grey), beside the photo's own;
* **coloured darks**: dark pixels with chroma > 8: the share the output re-tints (brown hair turned
  green): drawn with chroma > 6 (below that a hue is noise) at a hue more than 45 degrees from the
  photo's;
* **darks' lightness**: the output's mean L* over all the photo's dark pixels, beside the photo's
  own (how far the model lifts black; ``dark_depth`` gives part of the darkness back);
* **lit pixels** (L* > 50: skin in light, most backgrounds): the mean a*/b* distance between the
  two models' outputs and their mean L* difference, a check that a change meant for the darks
  leaves the rest alone.

A photo is left out of a dark measure where under 2 % of its pixels are in that measure's set
(grey darks, coloured darks); each photo weighs the same. "Dark" here (L* <= 40, about luma 95 of
255) reaches into the dark-colour filter's ramp (full below luma 50, none from 110), where the
filter is only partly on. Outputs must have their photo's size (``geostyle evaluate`` writes them
so); a folder that does not match is refused. Writes ``benchmarks/results/dark_colour_A_B.json``
and ``.md``; ``--sheet`` a picture of the photos whose grey darks' chroma (``--sheet-by lightness``:
darks' lightness) changed most between A and B, either way (photo, A, B), reduced to 256 px rows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from run_outputs import labelled_folders, photo_for, stack_rows

RESULTS = Path(__file__).resolve().parent / "results"
DARK_L, LIT_L = 40.0, 50.0  # L* (0-100)
GREY_CHROMA, SEEN_CHROMA, RETINT_DEGREES = 8.0, 6.0, 45.0
MIN_DARK_SHARE = 0.02


def lab(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """``(H, W, 3)`` float Lab: L* in 0-100, a*/b* centred on 0 (OpenCV's 8-bit scale); ``size``:
    the ``(H, W)`` it must have."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    if size is not None and bgr.shape[:2] != size:
        raise SystemExit(f"{path} is {bgr.shape[1]}x{bgr.shape[0]}, its photo {size[1]}x{size[0]}: not that photo's output?")
    out = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).astype(np.float32)
    out[..., 0] *= 100.0 / 255.0
    out[..., 1:] -= 128.0
    return out


def chroma(image: np.ndarray) -> np.ndarray:
    return np.hypot(image[..., 1], image[..., 2])


def hue_gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees (0-180) between two pixels' a*/b* directions."""
    d = np.degrees(np.arctan2(a[..., 2], a[..., 1]) - np.arctan2(b[..., 2], b[..., 1]))
    return np.abs((d + 180.0) % 360.0 - 180.0)


def measure(photo: np.ndarray, output: np.ndarray) -> dict[str, float | None]:
    dark = photo[..., 0] <= DARK_L
    grey = dark & (chroma(photo) <= GREY_CHROMA)
    coloured = dark & (chroma(photo) > GREY_CHROMA)
    seen = chroma(output[coloured]) > SEEN_CHROMA
    n = photo.shape[0] * photo.shape[1]
    enough_dark = dark.sum() >= MIN_DARK_SHARE * n
    return {
        "dark_lightness": float(output[..., 0][dark].mean()) if enough_dark else None,
        "dark_lightness_photo": float(photo[..., 0][dark].mean()) if enough_dark else None,
        "grey_share": float(grey.sum() / n),
        "grey_tint": float(chroma(output)[grey].mean()) if grey.sum() >= MIN_DARK_SHARE * n else None,
        "grey_tint_photo": float(chroma(photo)[grey].mean()) if grey.sum() >= MIN_DARK_SHARE * n else None,
        "retinted": float((seen & (hue_gap(output[coloured], photo[coloured]) > RETINT_DEGREES)).mean())
        if coloured.sum() >= MIN_DARK_SHARE * n
        else None,
    }


def mean_of(rows: list[dict], key: str) -> tuple[float | None, int]:
    values = [r[key] for r in rows if r[key] is not None]
    return (float(np.mean(values)) if values else None), len(values)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, required=True, help="the photo folder the runs evaluated")
    ap.add_argument("runs", nargs=2, help="LABEL=OUTPUTS_FULL_DIR, two of them")
    ap.add_argument("--sheet", type=Path, help="write a picture of the photos that changed most here")
    ap.add_argument("--sheet-rows", type=int, default=6)
    ap.add_argument(
        "--sheet-by", choices=("tint", "lightness"), default="tint", help="what changed most: grey darks' chroma or darks' L*"
    )
    args = ap.parse_args(argv)
    (a_label, a_dir), (b_label, b_dir) = labelled_folders(ap, args.runs)
    stems = sorted({p.stem for p in a_dir.glob("*.png")} & {p.stem for p in b_dir.glob("*.png")})
    if not stems:
        ap.error(f"{a_dir} and {b_dir} share no outputs")
    per_photo, a_rows, b_rows = [], [], []
    for stem in stems:
        source = photo_for(args.photos, stem)
        if source is None:
            continue
        photo = lab(source)
        a = lab(a_dir / f"{stem}.png", photo.shape[:2])
        b = lab(b_dir / f"{stem}.png", photo.shape[:2])
        ma, mb = measure(photo, a), measure(photo, b)
        lit = photo[..., 0] > LIT_L
        lit_change = float(np.hypot(*(a[lit][:, 1:] - b[lit][:, 1:]).T).mean()) if lit.any() else 0.0
        lit_l_change = float(np.abs(a[lit][:, 0] - b[lit][:, 0]).mean()) if lit.any() else 0.0
        a_rows.append(ma)
        b_rows.append(mb)
        per_photo.append({"photo": stem, a_label: ma, b_label: mb, "lit_ab_change": lit_change, "lit_l_change": lit_l_change})
    if not per_photo:
        ap.error(f"no photo in {args.photos} matches the outputs")
    summary = {}
    for key in ("grey_tint", "grey_tint_photo", "retinted", "dark_lightness", "dark_lightness_photo"):
        (va, na), (vb, _) = mean_of(a_rows, key), mean_of(b_rows, key)  # the same photos: the sets are the photo's
        summary[key] = {a_label: va, b_label: vb, "photos": na}
    for key in ("lit_ab_change", "lit_l_change"):
        summary[key] = float(np.mean([r[key] for r in per_photo]))
    RESULTS.mkdir(exist_ok=True)
    name = f"dark_colour_{a_label}_{b_label}"
    (RESULTS / f"{name}.json").write_text(json.dumps({"summary": summary, "per_photo": per_photo}, indent=1))
    gt, rt, dl = summary["grey_tint"], summary["retinted"], summary["dark_lightness"]

    def fmt(v: float | None, pattern: str) -> str:
        return "–" if v is None else pattern.format(v)

    lines = [
        "# Dark colours: two models' whole frames against the photo",
        "",
        f"`python benchmarks/dark_colour.py --photos {args.photos} {args.runs[0]} {args.runs[1]}`",
        "",
        f"{len(per_photo)} photos. Lab, chroma in a*/b* units; dark = L* <= {DARK_L:g}.",
        "",
        f"| measure | photos | the photo | {a_label} | {b_label} |",
        "|---|---|---|---|---|",
        f"| grey darks (chroma <= {GREY_CHROMA:g}): mean output chroma | {gt['photos']} | "
        f"{fmt(summary['grey_tint_photo'][a_label], '{:.1f}')} | {fmt(gt[a_label], '{:.1f}')} | {fmt(gt[b_label], '{:.1f}')} |",
        f"| coloured darks: share re-tinted (hue > {RETINT_DEGREES:g} degrees off) | {rt['photos']} | 0 | "
        f"{fmt(rt[a_label], '{:.2f}')} | {fmt(rt[b_label], '{:.2f}')} |",
        f"| darks: mean output L* | {dl['photos']} | {fmt(summary['dark_lightness_photo'][a_label], '{:.1f}')} | "
        f"{fmt(dl[a_label], '{:.1f}')} | {fmt(dl[b_label], '{:.1f}')} |",
        "",
        f"Lit pixels (L* > {LIT_L:g}): mean a*/b* distance between {a_label} and {b_label}: "
        f"{summary['lit_ab_change']:.2f}; mean L* difference: {summary['lit_l_change']:.2f}.",
        "",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines))
    print("\n".join(lines))
    if args.sheet is not None:
        key = "grey_tint" if args.sheet_by == "tint" else "dark_lightness"
        changed = [r for r in per_photo if r[a_label][key] is not None and r[b_label][key] is not None]
        changed.sort(key=lambda r: -abs(r[b_label][key] - r[a_label][key]))
        if not changed:
            ap.error("no photo has enough darks for a sheet")
        rows = []
        for r in changed[: args.sheet_rows]:
            source = photo_for(args.photos, r["photo"])
            assert source is not None
            paths = (source, a_dir / f"{r['photo']}.png", b_dir / f"{r['photo']}.png")
            rows.append([cv2.imread(str(path), cv2.IMREAD_COLOR) for path in paths])
        sheet = stack_rows(rows)
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.sheet), sheet, [cv2.IMWRITE_JPEG_QUALITY, 88])
        print(f"wrote {args.sheet} (rows: photo, {a_label}, {b_label})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
