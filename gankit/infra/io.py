"""Files written whole or not at all (a reader sees the old file or the new one, never half of one), and their
checksums."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from gankit.infra.errors import GankitError

# A write that failed for want of room (or of a working disk): the user can fix it and rerun.
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


class DiskFull(GankitError):
    """A write failed because the disk is full (or failing). What was there before the write is intact."""

    def __init__(self, path: str | Path, reason: str, then: str = "rerun"):
        self.path, self.reason = Path(path), reason
        what = "disk full" if reason != os.strerror(errno.EIO) else "disk error"
        super().__init__(f"{what} at {self.path} ({reason}): free space and {then}")


@contextmanager
def disk_errors(path: str | Path) -> Iterator[None]:
    """Turn a full or failing disk, met while writing `path`, into DiskFull."""
    try:
        yield
    except OSError as exc:
        if exc.errno in DISK_ERRNOS:
            raise DiskFull(path, exc.strerror or str(exc)) from None
        raise


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix, so writers that infer the format from it
    work); on success it replaces `path` in one step, on failure it is removed. A full disk is DiskFull."""
    path = Path(path)
    with disk_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets the mode open() would give it
        try:
            yield Path(tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def make_dir(path: Path, fix: str = "set GANKIT_DATA or --data-dir to a writable folder") -> Path:
    """Create `path` (and its parents); a failure is one line ending in `fix`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GankitError(f"cannot create folder {path} ({exc.strerror or exc}): {fix}") from None
    return path


def atomic_write(path: Path, data: bytes | bytearray | memoryview,
                 fix: str = "free some disk space or set GANKIT_DATA to a writable folder") -> None:
    """Write all of `data` or nothing, synced to the disk: a crash or a second process never leaves a half file
    behind."""
    make_dir(path.parent)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # the rename must not reach the disk before the bytes do
    except DiskFull:
        raise
    except OSError as exc:
        raise GankitError(f"cannot write {path} ({exc.strerror or exc}): {fix}") from None


def sha256(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
