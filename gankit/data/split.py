"""The validation slice: a fixed random part of a training split that evaluation during training scores against
and training never sees. Cut here alone, for images and labels alike."""

from __future__ import annotations

import torch

from gankit.data import disk_cache
from gankit.data.imagedata import ImageData, first
from gankit.infra.errors import GankitError
from gankit.infra.log import Log

VALIDATION_SEED = 20261126  # fixed, so runs with different --seed are scored against the same slice


def validation_split(count: int, holdout: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices in file order, validation indices): a seeded random `holdout` of `count` training
    images is the validation slice. Random, not the split's tail: MNIST's last training images differ in
    style from the rest (FID 48 against the test set where a random 2,000 score 10)."""
    if holdout >= count:
        raise GankitError(f"--eval-holdout {holdout} leaves none of the {count} training images: use a smaller holdout")
    val = torch.randperm(count, generator=torch.Generator().manual_seed(VALIDATION_SEED))[:holdout]
    keep = torch.ones(count, dtype=torch.bool)
    keep[val] = False
    return keep.nonzero().squeeze(1), val


def training_data(dataset: ImageData, holdout: int, limit: int | None, log: Log = print) -> ImageData:
    """The images (and labels) a run trains on: the split minus its validation slice when `holdout` > 0, then
    the first `limit` of what is left. Images mapped from disk stay there: the selection is a second file."""
    if not holdout:
        return first(dataset, limit)
    keep = validation_split(len(dataset), holdout)[0][:limit]
    labels = dataset.labels[keep] if dataset.labels is not None else None
    if dataset.mapped_from is not None:
        images, file = disk_cache.subset(dataset.images, dataset.mapped_from, keep, f"train-{holdout}-{len(keep)}", log)
        return ImageData(images, labels, dataset.num_classes, dataset.name, dataset.class_names, file)
    return ImageData(dataset.images[keep], labels, dataset.num_classes, dataset.name, dataset.class_names)
