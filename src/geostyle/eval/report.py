"""The evaluation report: ``metrics.json`` (everything), ``report.md`` (one table: the model and every
baseline as rows, the metrics as columns, then which baselines beat the model on what) and
``contact_sheet.jpg`` (input | grayscale | pencil | cartoon | model | model crop | compare | truth).

:data:`METRICS` is the registry of reported metrics: key in ``metrics.json``, column header, and which
direction is better. Columns whose value is null in every row are left out of the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

THUMB = 192


@dataclass(frozen=True)
class Metric:
    header: str
    better: str  # "lower" | "higher"
    digits: int
    meaning: str


METRICS: dict[str, Metric] = {
    "kid": Metric("KID×1000", "lower", 1, "kernel inception distance to the style images, full frames"),
    "fid": Metric("FID", "lower", 1, "Frechet inception distance to the style images, full frames"),
    "kid_crop": Metric("KID×1000 crop", "lower", 1, "KID of the aligned face crops"),
    "anime_rate": Metric("anime rate", "higher", 2, "share of full frames with an animeface detection"),
    "anime_rate_crop": Metric("anime rate crop", "higher", 2, "the same on the aligned crops"),
    "identity_rank1": Metric("id rank-1", "higher", 2, "own input is the nearest of all inputs (dlib)"),
    "identity_rank1_crop": Metric("id rank-1 crop", "higher", 2, "the same on the aligned crops"),
    "identity_distance": Metric("id dist", "lower", 3, "dlib embedding distance to own input"),
    "landmark_nme": Metric("NME", "lower", 3, "landmarks on the output vs target geometry / eye distance"),
    "detection_rate": Metric(
        "det. rate", "higher", 2, "share of outputs where the photo detector finds a face"
    ),
    "ssim": Metric("SSIM", "higher", 3, "grayscale SSIM to the ground truth"),
    "lpips": Metric("ST-LPIPS", "lower", 3, "shift-tolerant LPIPS to the ground truth"),
    "feature_distance": Metric("feat. dist", "lower", 3, "Inception cosine distance to the ground truth"),
}
# Metrics where the style images' own row is a reference ceiling, not a competitor.
ROW_TITLES = {
    "photo": "photo (input)",
    "grayscale": "grayscale",
    "pencil": "pencil filter",
    "cartoon": "cartoon filter",
    "style_images": "style images themselves",
    "compare": "compare",
}


def thumbnail(image: np.ndarray, size: int = THUMB) -> np.ndarray:
    """``image`` letterboxed into a ``size x size`` grey square (aspect kept)."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = np.asarray(
        Image.fromarray(np.ascontiguousarray(image)).resize((nw, nh), Image.Resampling.BILINEAR)
    )
    canvas = np.full((size, size, 3), 128, np.uint8)
    y, x = (size - nh) // 2, (size - nw) // 2
    canvas[y : y + nh, x : x + nw] = small
    return canvas


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def _cell(row: dict[str, Any], key: str) -> str:
    m = METRICS[key]
    text = _fmt(row.get(key), m.digits)
    std_key = {"kid": "kid_std", "kid_crop": "kid_crop_std"}.get(key)
    if std_key and row.get(std_key) is not None and row.get(key) is not None:
        text += f" ± {row[std_key]:.1f}"
    return text


def table_rows(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = [(f"**model `{Path(str(metrics['model'])).stem}`**", metrics)]
    for name, row in metrics["baselines"].items():
        title = ROW_TITLES.get(name, name)
        if name == "compare":
            title = f"model `{Path(str(row.get('model'))).stem}` (compare)"
        rows.append((title, row))
    return rows


def markdown_table(metrics: dict[str, Any]) -> str:
    rows = table_rows(metrics)
    keys = [k for k in METRICS if any(r.get(k) is not None for _, r in rows)]
    head = "| | n | " + " | ".join(METRICS[k].header for k in keys) + " |\n"
    head += "|---|---|" + "---|" * len(keys) + "\n"
    lines = [
        f"| {title} | {row.get('n_outputs')} | " + " | ".join(_cell(row, k) for k in keys) + " |"
        for title, row in rows
    ]
    return head + "\n".join(lines) + "\n"


def better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == "lower" else a > b


def who_beats_the_model(metrics: dict[str, Any]) -> list[str]:
    """One line per metric: the rows that score better than the model on it."""
    lines = []
    for key, m in METRICS.items():
        mine = metrics.get(key)
        if mine is None:
            continue
        winners = []
        for name, row in metrics["baselines"].items():
            value = row.get(key)
            if value is None:
                continue
            # The photo trivially wins identity (it *is* the input): not a competitor there.
            if name == "photo" and key.startswith("identity"):
                continue
            if better(value, mine, m.better):
                winners.append(f"{ROW_TITLES.get(name, name)} ({_fmt(value, m.digits)})")
        verdict = ", ".join(winners) if winners else "none"
        lines.append(
            f"- {m.header} ({m.better} is better; model {_fmt(mine, m.digits)}): better than the model: {verdict}"
        )
    return lines


def markdown(metrics: dict[str, Any]) -> str:
    inp = metrics["inputs"]
    pairs = metrics.get("pairs")
    speed = metrics["speed"]["model"]
    out = [f"# Evaluation of `{Path(str(metrics['model'])).stem}` ({metrics['kind']} style)", ""]
    if metrics.get("command"):
        out += [f"`{metrics['command']}`", ""]
    out += [
        f"- photos: `{inp['photos']}`: {inp['photos_found']} found, {inp['photos_selected']} selected "
        f"(skip {inp['skip']}, n {inp['n'] or 'all'}), **{inp['photos_evaluated']} evaluated, "
        f"{inp['photos_failed']} failed**",
        f"- style images: `{inp['styles']}`: {inp['styles_found']} found, {inp['styles_used']} used",
        f"- training files: {inp['trained_on']}; excluded as trained on: {inp['excluded_trained']['photos']} "
        f"photos, {inp['excluded_trained']['styles']} style images",
    ]
    kept = {"all": "photos and style images", "photos": "photos", "styles": "style images"}.get(
        str(inp.get("include_trained", ""))
    )
    if kept:
        out.append(f"- **not held out: the {kept} the model was trained on count here**")
    listed = inp["excluded_listed"]
    if listed["files"]:
        out.append(
            f"- excluded by list ({', '.join(f'`{f}`' for f in listed['files'])}): {listed['photos']} photos, "
            f"{listed['styles']} style images"
        )
    if pairs:
        out.append(
            f"- ground truth: {pairs['pairs']} pairs from `{pairs['source']}`, {len(pairs['missing'])} photos without a partner"
        )
    if metrics["failures"]:
        names = ", ".join(f"{f['photo']} ({f['reason']})" for f in metrics["failures"][:20])
        out.append(f"- failed photos: {names}")
    timeouts = metrics.get("anime_timeouts") or {}
    if timeouts.get("total"):
        where = ", ".join(f"{t['row']}/{t['photo']}" for t in timeouts["outputs"][:20])
        out.append(
            f"- animeface timed out on {timeouts['total']} images (counted as no anime face): {where or 'style images'}"
        )
    s = metrics["settings"]
    out.append(
        f"- geometry strength {s['strength']:g}{_gains_text(s)}{_drawn_text(s)}, crop {s['resolution']} px; KID over {s['kid_subsets']} subsets of "
        f"{s['kid_subset_size']}; features {s['features']}"
    )
    if "torch_grid" in speed:
        out.append(
            f"- generator: {speed['params']:,} params, {speed['gflops']:.2f} GFLOPs at {speed['size']}², PyTorch "
            f"{speed['torch_grid']['median_ms']:.1f} ms with warp grid ({speed['threads']} threads)"
        )
    else:
        out.append(
            f"- generator: {speed['params']:,} params, {speed['gflops']:.2f} GFLOPs at {speed['size']}²"
        )
    out += [
        "",
        "Full frames unless the column says crop. Rows other than the model are baselines measured in",
        "the same run on the same photos.",
        "",
    ]
    out += [markdown_table(metrics), "", "## Who beats the model", ""]
    out += who_beats_the_model(metrics)
    out += ["", "## Columns", ""]
    out += [f"- **{m.header}**: {m.meaning} ({m.better} is better)" for m in METRICS.values()]
    out += ["", "![contact sheet](contact_sheet.jpg)", ""]
    return "\n".join(out)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_report(
    out: Path, metrics: dict[str, Any], sheet: list[list[np.ndarray]], labels: list[str]
) -> None:
    from geostyle.data.contact_sheet import image_grid
    from geostyle.data.images import save_image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plain = _plain(metrics)
    (out / "metrics.json").write_text(json.dumps(plain, indent=2) + "\n")
    (out / "report.md").write_text(markdown(plain))
    if sheet:
        save_image(out / "contact_sheet.jpg", image_grid(sheet, labels))


def _drawn_text(settings: dict) -> str:
    """The model's ink (and the grain its lines are smoothed of), dark colour and depth, lift cap,
    cleared marks, smoothed head, anime eyes, anime skin and face outline where it draws them, and the exposure its
    inputs get (reports from before have no such settings; before the grain smoothing, none was)."""
    keys = ("ink", "ink_grain", "dark_colour", "dark_depth", "lift_cap", "clear_marks", "smooth_head", "eyes", "outline", "skin", "exposure")
    ink, grain, dark, depth, cap, marks, head, eyes, outline, skin, exposure = (settings.get(k) for k in keys)
    return (
        (f", underexposed inputs brightened {exposure:g}" if exposure else "")
        + (f", ink {ink:g}" if ink else "")
        + (f" (grain smoothed at {grain:g} levels)" if ink and grain else "")
        + (f", dark colour {dark:g}" if dark else "")
        + (f", dark depth {depth:g}" if depth else "")
        + (f", lift cap {cap:g}" if cap else "")
        + (f", light marks cleared {marks:g}" if marks else "")
        + (f", head's checkerboard smoothed {head:g}" if head else "")
        + (f", anime eyes {eyes:g}" if eyes else "")
        + (f", anime skin {skin:g}" if skin else "")
        + (f", outline {outline:g}" if outline else "")
    )


def _gains_text(settings: dict) -> str:
    """The part gains the stylizer used (the model's own or ``--part-gain``), both eyes named once."""
    gains = dict(settings.get("part_gains") or {})
    if gains.get("right_eye") is not None and gains.get("right_eye") == gains.get("left_eye"):
        gains["eyes"] = gains.pop("right_eye")
        gains.pop("left_eye")
    return (" (part gains " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(gains.items())) + ")") if gains else ""
