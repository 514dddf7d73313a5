"""Typed errors. Library code raises these; the CLI turns them into one readable line."""


class GeostyleError(Exception):
    """Base class for every error a user can cause and fix."""


class ImageReadError(GeostyleError):
    """A file could not be read as an image (missing, corrupt, unsupported format)."""


class NoFaceError(GeostyleError):
    """A landmark backend found no face in an image."""


class BackendUnavailableError(GeostyleError):
    """A landmark backend cannot run here (package missing or broken)."""


class LandmarkFileError(GeostyleError):
    """A landmark file (.pts or .json) is malformed."""


class CheckpointError(GeostyleError):
    """A checkpoint is missing, truncated, corrupt or of an unknown format."""


class ConfigError(GeostyleError):
    """A configuration file or override is invalid."""


class VideoError(GeostyleError):
    """A file could not be read or written as a video (no video stream, truncated, corrupt, codec)."""


class ExportError(GeostyleError):
    """A model could not be exported or the exported graph does not match PyTorch."""


class LiveError(GeostyleError):
    """The live loop cannot run here (no camera, no window system)."""


class RunInUseError(GeostyleError):
    """Another trainer holds the run directory."""
