"""Dataset specs, the strings that name a data set: "mnist", "fashion-mnist", "emoji", "twemoji", "folder:PATH",
"npz:PATH"."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from gankit.infra.errors import GankitError

BUILTIN_NAMES = ("mnist", "fashion-mnist", "emoji", "twemoji")
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist"}
_KINDS = ("folder", "npz")
USAGE = "use mnist, fashion-mnist, emoji, twemoji, folder:PATH or npz:PATH"


@dataclass(frozen=True)
class Spec:
    kind: str  # "builtin", "folder" or "npz"
    name: str  # the canonical spec: "mnist", or "folder:PATH" as given
    path: Path | None = None  # for folder: and npz:


def dataset_names() -> list[str]:
    return [*BUILTIN_NAMES, *(f"{kind}:PATH" for kind in _KINDS)]


def parse(spec: str) -> Spec:
    """Split and check a spec without touching the disk."""
    if not isinstance(spec, str) or not spec.strip():
        raise GankitError(f"no dataset given: {USAGE}")
    spec = spec.strip()
    key = _ALIASES.get(spec.lower(), spec.lower())
    if key in BUILTIN_NAMES:
        return Spec("builtin", key)
    kind, colon, rest = spec.partition(":")
    if colon and kind.lower() in _KINDS:
        if not rest.strip():
            raise GankitError(f"dataset '{spec}' has no path: write {kind.lower()}:PATH")
        return Spec(kind.lower(), f"{kind.lower()}:{rest}", Path(rest).expanduser())
    raise GankitError(f"unknown dataset '{spec}': {USAGE}{_hint(spec)}")


def check(spec: str) -> Spec:
    """parse(), plus the cheap checks on disk: the folder or the .npz file exists."""
    parsed = parse(spec)
    if parsed.kind == "folder" and not parsed.path.is_dir():
        what = "is a file, not a folder" if parsed.path.exists() else "does not exist"
        raise GankitError(f"dataset folder {parsed.path} {what}: give folder:PATH the path of a folder of images")
    if parsed.kind == "npz" and not parsed.path.is_file():
        what = "is a folder" if parsed.path.exists() else "does not exist"
        raise GankitError(f"dataset file {parsed.path} {what}: give npz:PATH the path of a .npz file")
    return parsed


def _hint(spec: str) -> str:
    """' (did you mean ...?)' for a near miss or a bare path, else ''."""
    close = difflib.get_close_matches(spec.lower(), BUILTIN_NAMES, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    path = Path(spec).expanduser()
    if path.is_dir():
        return f" (did you mean folder:{spec}?)"
    if path.suffix == ".npz":
        return f" (did you mean npz:{spec}?)"
    return ""
