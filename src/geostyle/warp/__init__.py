"""geostyle.warp."""
