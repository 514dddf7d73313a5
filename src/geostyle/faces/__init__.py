"""Face geometry: the canonical landmark set, detector backends, alignment."""
