"""Two evaluated models photo by photo: the photos only one of them passes (anime judge, identity
rank-1, full frames and crops) and the exact sign test of that split; on paired reports (sketch:
each photo with its artist's drawing) also on how many photos each is closer to the artist (SSIM,
ST-LPIPS, Inception distance), by the same test.

    python benchmarks/paired_rows.py v29c=docs/eval/anime_v29c_n200/metrics.json \
        v24b=docs/eval/anime_v29c_n200/metrics.json:compare

Each ``LABEL=METRICS[:ROW]`` names a ``metrics.json`` of ``geostyle evaluate`` and one of its rows
(``model``, the default; ``compare``; or a baseline such as ``cartoon``). Photos are matched by
stem, so the two may come from one run or from two runs on the same photos. Identity per photo is
in reports written since it was added to ``per_image``; older reports give the anime rows only.
Labels are letters, digits and ``-`` (they name the results files). Writes
``benchmarks/results/paired_A_B.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from geostyle.eval.versus import (
    MEASURES,
    closeness_table,
    compare_closeness,
    compare_rows,
    splits_json,
    splits_table,
)

RESULTS = Path(__file__).resolve().parent / "results"


def row_records(ap: argparse.ArgumentParser, spec: str) -> tuple[str, str, list[dict]]:
    label, sep, rest = spec.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z0-9-]+", label):
        ap.error(f"expected LABEL=METRICS[:ROW] with a label of letters, digits and -, got {spec!r}")
    path, row = rest, "model"
    if not Path(path).is_file() and ":" in rest:  # METRICS:ROW (a path may hold ':' itself)
        path, _, row = rest.rpartition(":")
    if not Path(path).is_file():
        ap.error(f"no such metrics file: {path}")
    try:
        metrics = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        ap.error(f"{path} is not a readable metrics.json of geostyle evaluate: {e}")
    per_image = metrics.get("per_image") if isinstance(metrics, dict) else None
    if not isinstance(per_image, dict) or row not in per_image:
        rows = ", ".join(per_image) if isinstance(per_image, dict) else "none"
        ap.error(f"{path} has no per-image row {row!r} (rows: {rows})")
    records = per_image[row]
    if not all(isinstance(r, dict) and "photo" in r for r in records):
        ap.error(f"{path}: row {row!r} has records without a photo name")
    return label, f"{path}:{row}", records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", nargs=2, help="LABEL=METRICS[:ROW], two of them")
    args = ap.parse_args(argv)
    (a_label, a_src, a), (b_label, b_src, b) = (row_records(ap, s) for s in args.rows)
    if a_label == b_label:
        ap.error(f"the two labels must differ, got {a_label!r} twice")
    try:
        splits, closeness = compare_rows(a, b), compare_closeness(a, b)
    except ValueError as e:
        ap.error(str(e))
    if not splits and not closeness:
        ap.error("the two rows share no photo with a pass/fail or closeness measure")
    table = splits_table(a_label, b_label, splits)
    if closeness:
        table += "\n\n" + closeness_table(a_label, b_label, closeness)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    json_path, md_path = (RESULTS / f"paired_{a_label}_{b_label}.{ext}" for ext in ("json", "md"))
    sources = {a_label: a_src, b_label: b_src}
    results = {"rows": sources, "splits": splits_json(splits), "closeness": splits_json(closeness)}
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    measured = {s.measure for s in splits}
    missing = [m for m in MEASURES if m not in measured]
    note = (
        f"\n\nNot compared ({', '.join(missing)}): not in both rows' per-photo records (anime: anime "
        "reports only; identity: reports written since it was kept per photo)."
        if missing
        else ""
    )
    command = f"python benchmarks/paired_rows.py {' '.join(args.rows)}"
    md_path.write_text(
        f"# {a_label} against {b_label}, photo by photo\n\n`{command}`\n\n"
        + "\n".join(f"- {k}: `{v}`" for k, v in sources.items())
        + f"\n\n{table}{note}\n\nThe anime judge passes a photo at likelihood >= 0.99 (a timed-out judgement "
        "is a fail where the report stores the judge's decisions, left out in older ones); identity passes when the output's nearest input photo is its own (rank-1). p: exact "
        "two-sided sign test on the photos only one row passes (closeness: on the photos where one row "
        "is closer to the artist's drawing than the other; ties left out).\n"
    )
    print(f"wrote {json_path} and {md_path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
