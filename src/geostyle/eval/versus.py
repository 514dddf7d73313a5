"""Two evaluated rows photo by photo: which photos only one of them passes, and how likely a split
that uneven is when the two are equally good (the exact two-sided sign test). On paired data (a
photo with its artist's drawing) also which row is closer to the artist on each photo, by the same
test.

Rates over the same photos differ by a few photos between two close models; whether that is more
than chance depends on the photos where they disagree, not on the rates. Input: the ``per_image``
records of ``metrics.json`` (``geostyle evaluate``), matched by photo stem, so rows from one run
or from two runs on the same photos can be compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from math import comb, isfinite
from typing import Any

from geostyle.eval.anime import THRESHOLD

Record = Mapping[str, Any]


def sign_test(a_only: int, b_only: int) -> float:
    """Exact two-sided sign-test p-value of ``a_only`` against ``b_only`` discordant photos
    (1.0 when there are none)."""
    if a_only < 0 or b_only < 0:
        raise ValueError(f"counts must be >= 0, got {a_only}, {b_only}")
    n = a_only + b_only
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(a_only, b_only) + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class Split:
    """One pass/fail measure over the photos both rows have."""

    measure: str
    photos: int
    a: int  # photos row A passes
    b: int
    a_only: int
    b_only: int
    p: float


def _anime(flag: str, likelihood: str) -> Callable[[Record], bool | None]:
    def passes(r: Record) -> bool | None:
        if r.get(flag) is not None:  # the evaluator's own decision (reports since it was stored)
            return bool(r[flag])
        v = r.get(likelihood)  # older reports: the likelihood (rounded to 6 places; null on a timeout)
        return None if v is None else v >= THRESHOLD

    return passes


def _flag(key: str) -> Callable[[Record], bool | None]:
    return lambda r: None if r.get(key) is None else bool(r[key])


# measure name -> pass/fail of one record (None: not measured for that photo)
MEASURES: dict[str, Callable[[Record], bool | None]] = {
    "anime full": _anime("anime", "anime_likelihood"),
    "anime crop": _anime("anime_crop", "anime_likelihood_crop"),
    "identity full": _flag("identity_hit"),
    "identity crop": _flag("identity_hit_crop"),
}


def _by_photo(records: Iterable[Record]) -> dict[str, Record]:
    out: dict[str, Record] = {}
    for r in records:
        if r["photo"] in out:
            raise ValueError(f"photo {r['photo']!r} appears twice in one row")
        out[r["photo"]] = r
    return out


def _matched(a: Iterable[Record], b: Iterable[Record]) -> list[tuple[Record, Record]]:
    """The two rows' records of each photo both have (matched by ``photo``, in its order)."""
    by_a, by_b = _by_photo(a), _by_photo(b)
    return [(by_a[s], by_b[s]) for s in sorted(by_a.keys() & by_b.keys())]


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    """A Markdown table of ``header`` and ``rows`` (cells already formatted)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def compare_rows(a: Iterable[Record], b: Iterable[Record]) -> list[Split]:
    """Every measure both rows carry, on the photos both have (matched by ``photo``); a photo a
    measure has no value for in either row is left out of that measure."""
    matched = _matched(a, b)
    splits = []
    for name, passes in MEASURES.items():
        measured = [(passes(x), passes(y)) for x, y in matched]
        pairs = [(x, y) for x, y in measured if x is not None and y is not None]
        if not pairs:
            continue
        a_only = sum(x and not y for x, y in pairs)
        b_only = sum(y and not x for x, y in pairs)
        splits.append(
            Split(
                measure=name,
                photos=len(pairs),
                a=sum(x for x, _ in pairs),
                b=sum(y for _, y in pairs),
                a_only=a_only,
                b_only=b_only,
                p=sign_test(a_only, b_only),
            )
        )
    return splits


# closeness to the artist's drawing (paired reports) -> (per-image key, whether higher is closer)
CLOSENESS: dict[str, tuple[str, bool]] = {
    "SSIM": ("ssim", True),
    "ST-LPIPS": ("lpips", False),
    "Inception distance": ("feature_distance", False),
}


@dataclass(frozen=True)
class Closer:
    """One closeness measure over the photos both rows have a value for: the means, and on how many
    photos each row is the closer (a tie counts for neither)."""

    measure: str
    photos: int
    a_mean: float
    b_mean: float
    a_closer: int
    b_closer: int
    p: float


def compare_closeness(a: Iterable[Record], b: Iterable[Record]) -> list[Closer]:
    """Every :data:`CLOSENESS` measure both rows carry, on the photos both have a finite value for."""
    matched = _matched(a, b)
    out = []
    for name, (key, higher) in CLOSENESS.items():
        values = [(x.get(key), y.get(key)) for x, y in matched]
        pairs = [
            (float(x), float(y))
            for x, y in values
            if x is not None and y is not None and isfinite(x) and isfinite(y)
        ]
        if not pairs:
            continue
        a_closer = sum((x > y) if higher else (x < y) for x, y in pairs)
        b_closer = sum((y > x) if higher else (y < x) for x, y in pairs)
        out.append(
            Closer(
                measure=name,
                photos=len(pairs),
                a_mean=sum(x for x, _ in pairs) / len(pairs),
                b_mean=sum(y for _, y in pairs) / len(pairs),
                a_closer=a_closer,
                b_closer=b_closer,
                p=sign_test(a_closer, b_closer),
            )
        )
    return out


def closeness_table(a_label: str, b_label: str, rows: list[Closer]) -> str:
    """The closeness comparisons as a Markdown table."""
    header = ["to the artist", "photos", f"{a_label} mean", f"{b_label} mean"]
    header += [f"{a_label} closer", f"{b_label} closer", "sign test p"]
    cells = (
        [r.measure, str(r.photos), f"{r.a_mean:.3f}", f"{r.b_mean:.3f}"]
        + [str(r.a_closer), str(r.b_closer), f"{r.p:.3g}"]
        for r in rows
    )
    return _table(header, cells)


def splits_table(a_label: str, b_label: str, splits: list[Split]) -> str:
    """The splits as a Markdown table."""
    header = ["measure", "photos", a_label, b_label, f"{a_label} only", f"{b_label} only", "sign test p"]
    cells = (
        [s.measure, str(s.photos), str(s.a), str(s.b), str(s.a_only), str(s.b_only), f"{s.p:.3g}"]
        for s in splits
    )
    return _table(header, cells)


def splits_json(splits: Iterable[Split | Closer]) -> list[dict[str, Any]]:
    return [asdict(s) for s in splits]
