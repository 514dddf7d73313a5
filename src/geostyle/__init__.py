"""geostyle: real-time, data-efficient portrait stylization by geometric alignment."""

__version__ = "0.1.0"
