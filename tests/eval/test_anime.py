"""The animeface judge: high on real anime faces, about zero on photos."""

from __future__ import annotations

from geostyle.eval.anime import AnimeFaceJudge, anime_rate


def test_anime_rate_high_on_anime_and_near_zero_on_photos(anime_images, selfie_images):
    judge = AnimeFaceJudge()
    assert anime_rate(anime_images[:12], judge) >= 0.8
    assert anime_rate(selfie_images[:12], judge) <= 0.1
    assert anime_rate([], judge) is None


def test_a_detector_that_does_not_return_is_timed_out_and_restarted(anime_images):
    judge = AnimeFaceJudge(timeout=1e-4)  # no answer can come this fast: a stand-in for a hang
    value = judge.likelihood(anime_images[0])
    assert value != value and judge.timeouts == 1  # NaN: counted as no anime face
    assert not judge(anime_images[0]) and judge.timeouts == 2
    judge.timeout = 60.0
    assert judge(anime_images[0])  # a fresh worker answers again
    judge.close()
