"""A run directory's life: created or refused before any work, replaced only when it is gankit's own."""

from __future__ import annotations

import shutil
from pathlib import Path

from gankit.infra.errors import GankitError


def prepare_run_dir(path: Path, *, resume: bool, force: bool) -> None:
    """Refuse to reuse a run directory unless asked; check it is writable before any work."""
    # A folder of empty folders (a run that failed before writing anything) counts as empty.
    exists = any(p.is_file() for p in path.rglob("*")) if path.is_dir() else path.exists()
    if exists and not resume:
        if not force:
            raise GankitError(f"run directory {path} already exists: use --resume to continue it, --force to replace it, or another --run-dir")
        if not (path / "config.json").is_file():
            raise GankitError(f"{path} exists and is not a gankit run directory, so --force will not delete it: choose another --run-dir")
        shutil.rmtree(path)
    if resume and not (path / "checkpoints" / "last.pt").is_file():
        raise GankitError(f"nothing to resume in {path}: it has no checkpoints/last.pt; start a new run without --resume")
    try:
        (path / "samples").mkdir(parents=True, exist_ok=True)
        (path / "checkpoints").mkdir(exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise GankitError(f"cannot write to run directory {path} ({e.strerror}): choose a writable --run-dir") from None
