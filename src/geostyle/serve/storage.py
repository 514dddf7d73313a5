"""The data folder of the web app: one sub-folder per kind of object, one folder per object id.

Layout (``ROOT`` = ``--data``, default ``~/.geostyle``)::

    ROOT/uploads/<id>/   meta.json, input.png | input.<mp4|webm|mov|mkv|avi>, out/<result files>
    ROOT/styles/<id>/    set.json, images/NNNN.png (+ NNNN.json: hand-fixed landmarks), detected/NNNN.json
    ROOT/photos/<id>/    set.json, images/NNNN.png
    ROOT/jobs/<id>/      job.json, state.json, log.txt, prep/{photos,styles}/, run/

Ids are made here (random hex), never taken from a client; every path a request names is rebuilt from
validated ids and fixed file names and checked to lie inside ``ROOT`` (:meth:`DataDir.inside`), so no
upload name or URL can reach a file outside it. JSON is written atomically (temp file + rename), so a
reader never sees half a file and two writers never interleave.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from geostyle.errors import GeostyleError

KINDS = ("uploads", "styles", "photos", "jobs")
_ID = re.compile(r"^[0-9a-f]{16}$")
_ITEM = re.compile(r"^[0-9]{4}$")


class NotFoundError(GeostyleError):
    """A requested object (upload, style set, item, job, file) does not exist."""


def new_id() -> str:
    """16 random hex digits: unguessable, so two users' objects never share a folder."""
    return secrets.token_hex(8)


def check_id(value: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise NotFoundError(f"no such object: {str(value)[:40]!r}")
    return value


def check_item(value: str) -> str:
    if not isinstance(value, str) or not _ITEM.match(value):
        raise NotFoundError(f"no such item: {str(value)[:40]!r}")
    return value


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON write: a reader sees the old or the new file, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, ValueError):
        return default


class DataDir:
    """The root folder and the id -> folder mapping for each kind of object."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        for kind in KINDS:
            (self.root / kind).mkdir(parents=True, exist_ok=True)

    def inside(self, path: Path) -> Path:
        """``path`` resolved, or :class:`NotFoundError` if it leaves the data folder."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise NotFoundError("path outside the data folder")
        return resolved

    def folder(self, kind: str, object_id: str, must_exist: bool = True) -> Path:
        if kind not in KINDS:
            raise ValueError(kind)
        path = self.inside(self.root / kind / check_id(object_id))
        if must_exist and not path.is_dir():
            raise NotFoundError(f"no such {kind[:-1]}: {object_id}")
        return path

    def create(self, kind: str) -> tuple[str, Path]:
        """A fresh, empty folder for a new object."""
        for _ in range(8):
            object_id = new_id()
            path = self.folder(kind, object_id, must_exist=False)
            try:
                path.mkdir(parents=True)
            except FileExistsError:
                continue
            return object_id, path
        raise GeostyleError("could not allocate a new id")

    def ids(self, kind: str) -> list[str]:
        """Existing object ids of ``kind`` (callers order them by their own ``created`` field)."""
        base = self.root / kind
        return sorted(p.name for p in base.iterdir() if p.is_dir() and _ID.match(p.name))
