"""A run directory's life: refused, created, locked, replaced or resumed, before any work.

One process at a time writes a run directory: `RunLock` holds an OS file lock (flock) on RUN_DIR/.lock for the
run's life. The kernel releases it when the process ends however it ends, kill -9 included, so a stale lock
never blocks `--resume`; a second writer meets the lock and is refused with the holder's PID.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from gankit.infra.checkpoint import load as load_checkpoint
from gankit.infra.errors import GankitError
from gankit.infra.io import disk_errors
from gankit.infra.log import Log

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; runs are not locked there
    fcntl = None

LOCK = ".lock"


def _has_files(path: Path) -> bool:
    # A folder of empty folders (a run that failed before writing anything) counts as empty; so does the lock.
    return any(p.is_file() and p.name != LOCK for p in path.rglob("*")) if path.is_dir() else path.exists()


class RunLock:
    """`with RunLock(path):` holds the run directory's lock (creating the directory) or refuses at once."""

    def __init__(self, path: Path):
        self.path, self.fd = Path(path), None

    def __enter__(self) -> RunLock:
        try:
            with disk_errors(self.path):
                self.path.mkdir(parents=True, exist_ok=True)
                self.fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise GankitError(f"cannot write to run directory {self.path} ({e.strerror}): choose a writable "
                              "--run-dir") from None
        if fcntl is None:
            return self
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            self.fd = None
            raise GankitError(f"run directory {self.path} is in use by another gankit process (PID {holder}): wait "
                              "for it to finish or stop it, or choose another --run-dir") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock; the file stays, harmless, for the next holder
            self.fd = None


def check_new_run_dir(path: Path, *, force: bool) -> None:
    """Refuse, before anything is created, to start a new run in a directory that holds something."""
    if not _has_files(path):  # one walk of the directory
        return
    if not force:
        raise GankitError(f"run directory {path} already exists: use --resume to continue it, --force to replace "
                          "it, or another --run-dir")
    if not (path / "config.json").is_file():
        raise GankitError(f"{path} exists and is not a gankit run directory, so --force will not delete it: choose "
                          "another --run-dir")


def prepare_run_dir(path: Path, *, resume: bool, force: bool) -> None:
    """Make `path` ready for a run (the caller holds its lock): a new run's directory emptied (with force) and
    created; a resumed run's checked. A writable directory is checked before any work."""
    if not resume:
        check_new_run_dir(path, force=force)  # again, under the lock: another process may have written it since
        if force and path.is_dir():
            for child in path.iterdir():
                if child.name != LOCK:
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    elif not (path / "checkpoints" / "last.pt").is_file() and not (path / "config.json").is_file():
        raise GankitError(f"nothing to resume in {path}: it has neither a checkpoint nor a config.json; start a new "
                          "run without --resume")
    else:
        remove_partial_files(path)
    try:
        with disk_errors(path):
            (path / "samples").mkdir(parents=True, exist_ok=True)
            (path / "checkpoints").mkdir(exist_ok=True)
            probe = path / ".write-test"
            probe.write_text("")
            probe.unlink()
    except OSError as e:
        raise GankitError(f"cannot write to run directory {path} ({e.strerror}): choose a writable --run-dir") from None


def remove_partial_files(path: Path) -> None:
    """The temporary files of writes a killed process left unfinished (io.atomic_path's `.NAME.*.tmp.SUFFIX`); the
    caller holds the lock, so no live writer owns them."""
    for partial in path.rglob(".*.tmp*"):
        if partial.is_file():
            partial.unlink()


def last_checkpoint(path: Path, log: Log) -> dict | None:
    """What a resume continues from: the run's last checkpoint, or, for a run stopped before its first one, None
    once the directory is back to its config.json alone (the run starts over)."""
    last = path / "checkpoints" / "last.pt"
    if last.is_file():
        return load_checkpoint(last)
    log(f"{path} has no checkpoint yet (it stopped before its first one): starting it over from its config.json")
    restart_from_config(path)
    return None


def restart_from_config(path: Path) -> None:
    """A run stopped before its first checkpoint: keep its config.json (and the lock), drop what it wrote since,
    so it starts over as it began."""
    for child in path.iterdir():
        if child.name in (LOCK, "config.json"):
            continue
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def read_config(run_dir: str | Path, kind: str, other: str) -> dict:
    """A run's config.json, which must be of `kind` ("tabular", "timeseries"); `other` says what to do with a run of
    another kind."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise GankitError(f"{run_dir} is not a gankit run (no config.json): give a directory written by gankit train")
    try:
        config = json.loads(path.read_text())
    except ValueError:
        raise GankitError(f"{path} is not valid JSON: the run directory is damaged") from None
    if config.get("kind") != kind:
        raise GankitError(f"{run_dir} is not a {kind} run: {other}")
    return config
