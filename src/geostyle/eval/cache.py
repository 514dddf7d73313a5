"""Per-image results of a fixed file list (the style reference set) cached on disk, so reruns are fast.

The key hashes the resolved paths, sizes and modification times of the files plus a tag naming what
was computed (and how), so a changed, added or removed file, or another metric definition, misses the
cache. Files are plain ``.npz`` read back with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def file_list_key(paths: Sequence[Path], tag: str) -> str:
    entries = []
    for p in paths:
        st = Path(p).stat()
        entries.append([str(Path(p).resolve()), st.st_size, st.st_mtime_ns])
    blob = json.dumps({"tag": tag, "files": entries}, sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:20]


def cached_array(
    cache_dir: Path | None, tag: str, paths: Sequence[Path], compute: Callable[[], np.ndarray]
) -> tuple[np.ndarray, bool]:
    """``compute()`` (one row per path), or its cached result: ``(array, from_cache)``."""
    if cache_dir is None:
        return compute(), False
    name = tag.split("/")[0]
    cache = Path(cache_dir) / f"{name}_{file_list_key(paths, tag)}.npz"
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as data:
                values = data["values"]
            if len(values) == len(paths):
                return values, True
        except (OSError, ValueError, KeyError):
            pass  # a broken cache file is recomputed
    values = compute()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.stem + ".tmp.npz")
    np.savez(tmp, values=values, files=np.array([str(p) for p in paths]))
    tmp.replace(cache)
    return values, False
