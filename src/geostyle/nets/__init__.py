"""geostyle.nets."""
