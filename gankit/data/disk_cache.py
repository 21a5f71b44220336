"""Decoded images on disk: a folder decoded once into a file of uint8 pixels, memory-mapped for training.

A folder larger than memory trains from here: the pages of a mapped file are the kernel's page cache, read
on demand and dropped under pressure, not the process's own memory. The file's name holds a digest of
every image's path, size and modification time and of the decoding options, so a changed, added or removed
file makes a new one (the stale file of the same folder and options is deleted then); it is written under a
temporary name and renamed when complete, so an interrupted build leaves nothing that is read later.

    images, file = cached(root, paths, (3, 64, 64), fill, cache_dir, {"fit": "crop"}, log)  # (N, 3, 64, 64) uint8
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from gankit.infra.datadir import make_dir
from gankit.infra.errors import GankitError
from gankit.infra.io import atomic_path
from gankit.infra.log import Log

FORMAT = 1  # bump when the decoded pixels of the same files and options would change
SUFFIX = ".u8"


def content_digest(paths: list[Path], options: dict[str, Any]) -> str:
    """A digest of the images' paths, sizes and modification times (not their bytes: reading every file
    twice would cost what decoding them costs) and of the options that decide their pixels."""
    h = hashlib.sha256(json.dumps({"format": FORMAT, **options}, sort_keys=True).encode())
    for path in paths:
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def cache_file(cache_dir: Path, root: Path, options: dict[str, Any], digest: str) -> Path:
    """<folder name>-<folder and options digest>-<content digest>.u8: one live file per folder and options."""
    where = hashlib.sha256(json.dumps([str(root.resolve()), options], sort_keys=True).encode()).hexdigest()[:8]
    return cache_dir / f"{root.name or 'folder'}-{where}-{digest}{SUFFIX}"


def cached(root: Path, paths: list[Path], shape: tuple[int, int, int], fill: Callable[[torch.Tensor], None],
           cache_dir: Path, options: dict[str, Any], log: Log) -> tuple[torch.Tensor, Path]:
    """(the images as a memory-mapped (N, *shape) uint8 tensor, the file). When the cache has no file for
    exactly these files and options, `fill` decodes them into a new one; if it raises, no file is kept."""
    options = {**options, "shape": list(shape)}
    path = cache_file(cache_dir, root, options, content_digest(paths, options))
    if not path.is_file():
        _build(path, len(paths), shape, fill, log)
    return open_mapped(path, (len(paths), *shape)), path


def open_mapped(path: Path, shape: tuple[int, ...]) -> torch.Tensor:
    """The file as a uint8 tensor. Copy-on-write: the tensor is writable (as torch wants) and a write to it
    would stay in this process, never reach the file."""
    expected = int(np.prod(shape))
    if path.stat().st_size != expected:
        raise GankitError(f"decoded-image cache {path} has {path.stat().st_size:,} bytes, not the {expected:,} "
                          "its images need: delete it and run again to rebuild it")
    return torch.from_numpy(np.memmap(path, dtype=np.uint8, mode="c", shape=shape))


def _build(path: Path, count: int, shape: tuple[int, int, int], fill: Callable[[torch.Tensor], None],
           log: Log) -> None:
    make_dir(path.parent, "pass --data-dir (or set GANKIT_DATA) to a writable folder for the decoded-image cache")
    stale = [p for p in path.parent.glob(path.name.rsplit("-", 1)[0] + "-*" + SUFFIX) if p != path]
    log(f"decoding {count} images once into {path} ({count * int(np.prod(shape)) / 1e9:.2f} GB, memory-mapped "
        "for training)")
    _write_mapped(path, (count, *shape), fill)
    for old in stale:  # the same folder and options, decoded from files that have changed since
        old.unlink(missing_ok=True)


def subset(images: torch.Tensor, source: Path, index: torch.Tensor, tag: str, log: Log) -> tuple[torch.Tensor, Path]:
    """images[index] as a second mapped file beside `source` (a fancy index of a mapped tensor would copy
    the whole selection into memory), built once in chunks."""
    path = source.with_name(f"{source.stem}-{tag}{SUFFIX}")
    shape = (len(index), *images.shape[1:])
    if not path.is_file():
        log(f"writing the {len(index)} images training uses to {path}")

        def copy(out: torch.Tensor) -> None:
            for start in range(0, len(index), 1024):
                out[start:start + 1024] = images[index[start:start + 1024]]

        _write_mapped(path, shape, copy)
    return open_mapped(path, shape), path


def _write_mapped(path: Path, shape: tuple[int, ...], fill: Callable[[torch.Tensor], None]) -> None:
    """A uint8 file of `shape` that `fill` writes through a mapping, made whole or not at all."""
    with atomic_path(path) as tmp:
        out = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
        fill(torch.from_numpy(out))
        out.flush()
        del out
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # the rename must not reach the disk before the pixels do
