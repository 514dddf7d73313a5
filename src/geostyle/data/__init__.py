"""Images on disk, dataset preparation and training datasets."""
