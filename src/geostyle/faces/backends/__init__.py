"""Landmark backends: each maps its detector's output into the canonical landmark set."""
