"""The data directory: where it is, and writing files into it safely."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from gankit.errors import GankitError
from gankit.io import atomic_path


def default_data_dir() -> Path:
    """$GANKIT_DATA, else $XDG_CACHE_HOME/gankit/data, else ~/.cache/gankit/data (empty variables count as unset)."""
    explicit = os.environ.get("GANKIT_DATA")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "gankit" / "data"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    return default_data_dir() if data_dir is None else Path(data_dir).expanduser()


def make_dir(path: Path, fix: str = "set GANKIT_DATA or --data-dir to a writable folder") -> Path:
    """Create `path` (and its parents); a failure is one line ending in `fix`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GankitError(f"cannot create folder {path} ({exc.strerror or exc}): {fix}") from None
    return path


def atomic_write(path: Path, data: bytes | bytearray | memoryview) -> None:
    """Write all of `data` or nothing: a crash or a second process never leaves a half file behind."""
    make_dir(path.parent)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # the rename must not reach the disk before the bytes do
    except OSError as exc:
        raise GankitError(f"cannot write {path} ({exc.strerror or exc}): "
                          "free some disk space or set GANKIT_DATA to a writable folder") from None


@contextmanager
def scratch_dir(data_dir: Path) -> Iterator[Path]:
    """A temporary folder inside the data dir (same file system, and downloads land where space was
    planned for them), removed afterwards whatever happens."""
    make_dir(data_dir)
    try:
        tmp = tempfile.TemporaryDirectory(prefix=".gankit-tmp-", dir=data_dir)
    except OSError as exc:
        raise GankitError(f"cannot create a temporary folder in {data_dir} ({exc.strerror or exc}): "
                          "set GANKIT_DATA to a writable folder") from None
    with tmp as name:
        yield Path(name)
