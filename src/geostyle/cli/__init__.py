"""geostyle.cli."""
