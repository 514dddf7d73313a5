"""Photo-by-photo comparison of two evaluated rows: known answers."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from geostyle.eval.versus import closeness_table, compare_closeness, compare_rows, sign_test, splits_table


@pytest.mark.parametrize(("a_only", "b_only"), [(25, 9), (14, 10), (13, 10), (0, 6), (7, 0), (3, 3), (1, 0)])
def test_sign_test_is_the_exact_binomial_test(a_only, b_only):
    expected = binomtest(a_only, a_only + b_only, 0.5, alternative="two-sided").pvalue
    assert sign_test(a_only, b_only) == pytest.approx(expected, rel=1e-12)


def test_sign_test_edges():
    assert sign_test(0, 0) == 1.0
    assert sign_test(0, 6) == pytest.approx(2 / 64)
    with pytest.raises(ValueError):
        sign_test(-1, 2)


def _record(photo, anime, crop, hit=None, hit_crop=None):
    r = {"photo": photo, "anime_likelihood": anime, "anime_likelihood_crop": crop}
    if hit is not None:
        r.update(identity_hit=hit, identity_hit_crop=hit_crop)
    return r


def test_compare_rows_counts_discordant_photos():
    a = [
        _record("p1", 0.995, 0.2, True, True),
        _record("p2", 0.999, 0.999, True, False),
        _record("p3", 0.5, 0.999, False, False),
        _record("only_in_a", 1.0, 1.0, True, True),
    ]
    b = [
        _record("p3", 0.98, 0.991, True, False),  # 0.98 is below the judge's 0.99
        _record("p2", 0.2, 0.999, True, True),
        _record("p1", 0.991, 0.1, False, False),
    ]
    splits = {s.measure: s for s in compare_rows(a, b)}
    full = splits["anime full"]
    assert (full.photos, full.a, full.b, full.a_only, full.b_only) == (3, 2, 1, 1, 0)
    crop = splits["anime crop"]
    assert (crop.a, crop.b, crop.a_only, crop.b_only) == (2, 2, 0, 0) and crop.p == 1.0
    ident = splits["identity full"]
    assert (ident.a, ident.b, ident.a_only, ident.b_only) == (2, 2, 1, 1)
    ident_crop = splits["identity crop"]
    assert (ident_crop.a_only, ident_crop.b_only) == (1, 1)
    assert "| anime full | 3 | 2 | 1 | 1 | 0 | 1 |" in splits_table("A", "B", list(splits.values()))


def test_reports_without_per_photo_identity_compare_the_anime_rate_only():
    a = [_record("p1", 0.999, 0.999), _record("p2", 0.1, 0.1)]
    b = [_record("p1", 0.1, 0.999, True, True), _record("p2", 0.1, 0.1, True, True)]
    assert [s.measure for s in compare_rows(a, b)] == ["anime full", "anime crop"]


def test_the_evaluators_decision_wins_over_the_rounded_likelihood():
    # 0.99 exactly passes; a stored decision is used as it is (a timeout: likelihood null, a fail)
    a = [_record("p1", 0.99, 0.99), {"photo": "p2", "anime": False, "anime_crop": False, "anime_likelihood": None}]
    b = [_record("p1", 0.2, None), {"photo": "p2", "anime": True, "anime_crop": True, "anime_likelihood": 0.999}]
    splits = {s.measure: s for s in compare_rows(a, b)}
    assert (splits["anime full"].photos, splits["anime full"].a_only, splits["anime full"].b_only) == (2, 1, 1)
    # p1's crop has no likelihood in b: only p2 is compared there
    assert (splits["anime crop"].photos, splits["anime crop"].b_only) == (1, 1)


def test_a_photo_twice_in_one_row_is_refused():
    a = [_record("p1", 0.999, 0.999), _record("p1", 0.1, 0.1)]
    with pytest.raises(ValueError, match="twice"):
        compare_rows(a, [_record("p1", 0.5, 0.5)])


def test_closeness_counts_which_row_is_nearer_the_artist_on_each_photo():
    # SSIM: higher is closer; ST-LPIPS and the Inception distance: lower is closer; a tie counts for
    # neither; a photo without a finite value in either row is left out of that measure.
    a = [
        {"photo": "p1", "ssim": 0.70, "lpips": 0.10, "feature_distance": 0.20},
        {"photo": "p2", "ssim": 0.60, "lpips": 0.30, "feature_distance": 0.10},
        {"photo": "p3", "ssim": 0.50, "lpips": 0.20, "feature_distance": None},
        {"photo": "p4", "ssim": float("nan"), "lpips": float("nan"), "feature_distance": float("nan")},
        {"photo": "only_in_a", "ssim": 1.0, "lpips": 0.0, "feature_distance": 0.0},
    ]
    b = [
        {"photo": "p3", "ssim": 0.40, "lpips": 0.20, "feature_distance": 0.05},
        {"photo": "p1", "ssim": 0.65, "lpips": 0.20, "feature_distance": 0.30},
        {"photo": "p2", "ssim": 0.65, "lpips": 0.25, "feature_distance": 0.15},
        {"photo": "p4", "ssim": 0.9, "lpips": 0.1, "feature_distance": 0.1},  # no value in a: left out
    ]
    rows = {r.measure: r for r in compare_closeness(a, b)}
    ssim = rows["SSIM"]
    assert (ssim.photos, ssim.a_closer, ssim.b_closer) == (3, 2, 1)
    assert ssim.a_mean == pytest.approx(0.6) and ssim.b_mean == pytest.approx(1.7 / 3)
    lpips = rows["ST-LPIPS"]
    assert (lpips.photos, lpips.a_closer, lpips.b_closer) == (3, 1, 1)  # p3 is a tie
    inception = rows["Inception distance"]
    assert (inception.photos, inception.a_closer, inception.b_closer) == (2, 2, 0)
    assert inception.p == sign_test(2, 0)
    assert "| SSIM | 3 | 0.600 | 0.567 | 2 | 1 | 1 |" in closeness_table("A", "B", list(rows.values()))
    # anime reports carry none of them
    assert compare_closeness([_record("p1", 0.9, 0.9)], [_record("p1", 0.9, 0.9)]) == []
