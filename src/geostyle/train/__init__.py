"""geostyle.train."""
