"""Where data sets and caches live on disk: the data directory, its folders, scratch space inside it."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from gankit.infra.errors import GankitError
from gankit.infra.io import make_dir


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
