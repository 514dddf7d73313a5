"""Image stylization with a release checkpoint: detect -> landmarks -> align -> TPS field -> G -> crop
(or paste back into the frame).

Models are found by name among the checkpoints that ship with the package (``--model anime``) or by
path to any ``.safetensors`` release checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from geostyle.data.images import from_uint8, to_uint8
from geostyle.errors import CheckpointError, NoFaceError
from geostyle.faces.align import Alignment, apply_affine, estimate_alignment, paste_back, warp_to_crop
from geostyle.faces.landmarks import Face, normalized_to_pixels, pixels_to_normalized
from geostyle.nets.release import ReleaseModel, load_release
from geostyle.warp.alignment import BatchAligner
from geostyle.warp.geometry import GeometryModel

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
# Models train at full style geometry (1.0), but at inference half strength keeps people far more
# recognisable while the eyes/nose/mouth proportions still read as the style (docs/training.md).
DEFAULT_STRENGTH = 0.5


def available_models() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.safetensors"))


def resolve_model(name_or_path: str | Path) -> Path:
    """A bundled model name (``anime``) or a path to a release checkpoint."""
    path = Path(name_or_path)
    if path.suffix == ".safetensors" or path.exists():
        if not path.is_file():
            raise CheckpointError(f"{path}: no such model file")
        return path
    bundled = MODELS_DIR / f"{name_or_path}.safetensors"
    if bundled.is_file():
        return bundled
    names = ", ".join(available_models()) or "none bundled"
    raise CheckpointError(
        f"unknown model {name_or_path!r}; bundled models: {names}; or pass a .safetensors path"
    )


@dataclass
class Aligned:
    crop: np.ndarray  # (S, S, 3) uint8, aligned photo crop
    landmarks: np.ndarray  # (K, 2), pixel frame of the crop, NaN = missing
    alignment: Alignment
    face: Face


@dataclass
class Stylized:
    crop: np.ndarray  # (S, S, 3) uint8, stylized aligned crop
    source_crop: np.ndarray  # (S, S, 3) uint8, the aligned photo crop it came from
    alignment: Alignment
    face: Face


class Stylizer:
    """Holds one loaded model; turns RGB images into stylized crops or full frames."""

    def __init__(
        self, model: str | Path, strength: float | None = None, backend: str = "mediapipe", threads: int = 0
    ):
        if threads > 0:
            torch.set_num_threads(threads)
        self.path = resolve_model(model)
        self.release: ReleaseModel = load_release(self.path)
        if self.release.geometry is None:
            raise CheckpointError(f"{self.path}: model has no geometry model")
        self.geometry = GeometryModel.from_dict(self.release.geometry)
        extra = self.release.metadata.get("extra", {})
        self.zoom = float(extra.get("zoom", 1.0))
        self.size = self.release.resolution
        self.trained_strength = float(extra.get("strength", 1.0))
        self.strength = DEFAULT_STRENGTH if strength is None else float(strength)
        cfg = self.release.metadata.get("config", {}).get("geometry", {})
        self.aligner = BatchAligner(
            self.geometry,
            self.size,
            strength=self.strength,
            per_part=cfg.get("per_part", True),
            regularization=cfg.get("regularization", 1e-3),
            grid_resolution=cfg.get("grid_resolution", 64),
            anchors_per_side=cfg.get("anchors_per_side", 5),
            enabled=cfg.get("tps_alignment", True),
        )
        self.backend_name = backend
        self._backend = None

    @property
    def backend(self):
        if self._backend is None:
            from geostyle.faces.backends.chain import build_backend

            self._backend = build_backend(self.backend_name)
        return self._backend

    def target_field(
        self, landmarks: np.ndarray, size: int, strength: float | None = None
    ) -> tuple[torch.Tensor | None, np.ndarray]:
        """TPS field of a ``size`` crop toward the style geometry, and the target landmarks.

        ``landmarks (K, 2)``: pixel frame of the crop, NaN = missing. Returns the backward field
        ``(1, size, size, 2)`` (None when the model was trained without TPS alignment) and the target
        landmarks ``(K, 2)`` in the same pixel frame (NaN where missing).
        """
        pts = pixels_to_normalized(np.asarray(landmarks, np.float64), size, size)
        present = np.isfinite(pts).all(-1)
        mask = torch.from_numpy(present)[None]
        p = torch.from_numpy(np.nan_to_num(pts, nan=0.0)).float()[None]
        t = self.aligner.photo_target(p, mask, strength=self.strength if strength is None else strength)
        target = np.where(present[:, None], normalized_to_pixels(t[0].double().numpy(), size, size), np.nan)
        if not self.aligner.enabled:
            return None, target
        return self.aligner.field(t, p, mask), target

    @torch.no_grad()
    def stylize_crop(
        self, crop: np.ndarray, landmarks: np.ndarray, strength: float | None = None
    ) -> np.ndarray:
        """Stylize an aligned ``(S, S, 3)`` crop whose landmarks ``(K, 2)`` are in its pixel frame."""
        grid, _ = self.target_field(landmarks, crop.shape[0], strength)
        return to_uint8(self.release.generator(from_uint8(crop), grid))[0]

    def detect(self, image: np.ndarray, path: Path | None = None) -> Face:
        faces = self.backend.detect(image, path)
        if not faces:
            raise NoFaceError("no face found")
        return faces[0]

    def align(self, image: np.ndarray, path: Path | None = None) -> Aligned:
        """Detect the largest face and cut the crop the model was trained on."""
        face = self.detect(image, path)
        alignment = estimate_alignment(face.landmarks, self.size, self.zoom)
        crop = warp_to_crop(image, alignment)
        return Aligned(crop, apply_affine(alignment.matrix, face.landmarks), alignment, face)

    def stylize(self, image: np.ndarray, path: Path | None = None, strength: float | None = None) -> Stylized:
        aligned = self.align(image, path)
        out = self.stylize_crop(aligned.crop, aligned.landmarks, strength)
        return Stylized(out, aligned.crop, aligned.alignment, aligned.face)

    def stylize_frame(self, image: np.ndarray, path: Path | None = None, feather: float = 0.12) -> np.ndarray:
        """Stylize the largest face and paste it back into the full image."""
        result = self.stylize(image, path)
        return paste_back(image, result.crop, result.alignment, feather=feather)
