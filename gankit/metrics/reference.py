"""Features of real images, computed once per (data set, split, feature network, N, seed) and cached on disk:
the reference sets every score compares generated images with.

    real = reference_features(extractor, "mnist", "test", 10_000, seed=0, data_dir=None, log=print)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import torch

from gankit import data
from gankit.data import disk_cache, folder
from gankit.data.spec import parse
from gankit.data.split import validation_split
from gankit.infra.datadir import default_data_dir
from gankit.infra.io import atomic_path
from gankit.infra.log import Log
from gankit.metrics.features import Features

FEATURES_VERSION = 2  # bump when the cached files' contents change meaning


def _subset(count: int, n: int, seed: int) -> torch.Tensor:
    """n indices of `count`, the same for the same seed; all of them, in order, when n >= count."""
    if n >= count:
        return torch.arange(count)
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n]


def dataset_key(dataset: str, options: dict | None = None) -> str:
    """The data set's part of a cache file's name: a built-in's name; for folder: and npz: data, the kind, the
    file or folder name and a digest of their files' paths, sizes and modification times, so that changed data
    get new features. `options` (image_size, channels, fit: how the images are loaded) are in it too."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    parsed = parse(dataset)
    if parsed.kind == "builtin":
        if not options:
            return parsed.name
        return f"{parsed.name}-{hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:8]}"
    files = folder.scan(parsed.path)[0] if parsed.kind == "folder" else [parsed.path]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in parsed.path.name)[:40]
    return f"{parsed.kind}-{name}-{disk_cache.content_digest(files, options)}"


def reference_features(extractor, dataset: str, split: str, n: int, seed: int, data_dir: str | None,
                       log: Log, holdout: int | None = 0, load_options: dict | None = None) -> Features:
    """Features of up to n images of `split` (a seeded subset when the split is larger), cached on disk.
    `holdout=H` takes the validation slice of the training split instead (None: its default size; see
    gankit.data.split).
    `load_options`: image_size, channels and fit, for data loaded as a run trains on them."""
    tag = split if holdout == 0 else f"holdout{'auto' if holdout is None else holdout}"
    key = (f"{dataset_key(dataset, load_options)}-{tag}-{extractor.name}-{extractor.sha256[:16]}-n{n}-seed{seed}"
           f"-v{FEATURES_VERSION}")

    def make() -> dict[str, torch.Tensor]:
        images = data.load_images(dataset, data_dir, split="train" if holdout != 0 else split, log=log,
                                  **_load_kwargs(load_options)).images
        if holdout != 0:
            images = images[validation_split(len(images), holdout)[1]]
        feats, probs = extractor.extract(images[_subset(len(images), n, seed)])
        return _pack(feats, probs)

    return _unpack(_cached(key, make, log))


def train_reference(extractor, dataset: str, n: int, seed: int, data_dir: str | None,
                    log: Log, load_options: dict | None = None) -> tuple[Features, Features]:
    """Two disjoint seeded sets of up to n training images (each at most half of them): A is what memorisation
    is measured against, B stands in for a perfect generator (the floor)."""
    key = (f"{dataset_key(dataset, load_options)}-train-pair-{extractor.name}-{extractor.sha256[:16]}-n{n}"
           f"-seed{seed}-v{FEATURES_VERSION}")

    def make() -> dict[str, torch.Tensor]:
        images = data.load_images(dataset, data_dir, split="train", log=log, **_load_kwargs(load_options)).images
        half = min(n, len(images) // 2)
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed + 1))
        a, b = (extractor.extract(images[order[i * half:(i + 1) * half]]) for i in (0, 1))
        return {**_pack(*a, prefix="a_"), **_pack(*b, prefix="b_")}

    packed = _cached(key, make, log)
    return _unpack(packed, "a_"), _unpack(packed, "b_")


def _load_kwargs(options: dict | None) -> dict:
    o = options or {}
    return {"image_size": o.get("image_size"), "channels": o.get("channels"), "fit": o.get("fit") or "crop"}


def cache_dir() -> Path:
    """$GANKIT_CACHE, else beside the data directory: ~/.cache/gankit/features."""
    explicit = os.environ.get("GANKIT_CACHE")
    path = Path(explicit).expanduser() if explicit else default_data_dir().parent / "features"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cached(key: str, make: Callable[[], dict[str, torch.Tensor]], log: Log) -> dict[str, torch.Tensor]:
    import safetensors.torch

    path = cache_dir() / f"{key}.safetensors"
    if path.is_file():
        try:
            return safetensors.torch.load_file(path)
        except Exception:  # noqa: BLE001 - a damaged cache file is recomputed, never trusted
            log(f"cached features {path.name} unreadable: computing them again")
    log(f"computing reference features {key} (cached for next time)")
    tensors = make()
    with atomic_path(path) as tmp:
        safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    return tensors


def _pack(feats: torch.Tensor, probs: torch.Tensor | None, prefix: str = "") -> dict[str, torch.Tensor]:
    out = {f"{prefix}feats": feats}
    if probs is not None:
        out[f"{prefix}probs"] = probs
    return out


def _unpack(packed: dict[str, torch.Tensor], prefix: str = "") -> Features:
    return Features(packed[f"{prefix}feats"], packed.get(f"{prefix}probs"))
