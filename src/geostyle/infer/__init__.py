"""geostyle.infer."""
