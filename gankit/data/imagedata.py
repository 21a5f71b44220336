"""The one result type of every data source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class ImageData:
    images: torch.Tensor  # uint8, (N, C, H, W), CPU, contiguous
    labels: torch.Tensor | None  # int64 (N,), or None when the data has no labels
    num_classes: int  # 0 when unlabelled
    name: str  # the dataset spec it came from
    class_names: list[str] | None = None
    mapped_from: Path | None = None  # the decoded-image file `images` is memory-mapped from (data.disk_cache)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def labels_at_shares(counts: torch.Tensor, n: int) -> torch.Tensor:
    """n class labels (int64, in blocks by class) at the classes' shares of a training set, `counts` per class:
    what a conditional G is asked for when its samples are compared with real images, whose classes come at
    those shares (every class in turn would weigh a class of 5 images like one of 2,000). Largest remainders
    round the shares, so the draw is exact and needs no seed."""
    exact = counts.double() / counts.sum() * n
    per_class = exact.floor().long()
    per_class[torch.argsort(exact - per_class, descending=True, stable=True)[:n - int(per_class.sum())]] += 1
    return torch.repeat_interleave(torch.arange(len(counts)), per_class)


def first(data: ImageData, limit: int | None) -> ImageData:
    """The first `limit` images (all when None or when there are fewer). Copies, so the full set's
    memory is freed when the caller drops it."""
    if limit is None or limit >= len(data):
        return data
    if data.mapped_from is not None:  # a slice of a mapped file is a view of it, and costs no memory
        labels = None if data.labels is None else data.labels[:limit].clone()
        return ImageData(data.images[:limit], labels, data.num_classes, data.name, data.class_names, data.mapped_from)
    labels = None if data.labels is None else data.labels[:limit].clone()
    return ImageData(data.images[:limit].clone(), labels, data.num_classes, data.name, data.class_names)
