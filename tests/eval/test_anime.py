"""The animeface judge: high on real anime faces, about zero on photos."""

from __future__ import annotations

from geostyle.eval.anime import AnimeFaceJudge, anime_rate


def test_anime_rate_high_on_anime_and_near_zero_on_photos(anime_images, selfie_images):
    judge = AnimeFaceJudge()
    assert anime_rate(anime_images[:12], judge) >= 0.8
    assert anime_rate(selfie_images[:12], judge) <= 0.1
    assert anime_rate([], judge) is None
