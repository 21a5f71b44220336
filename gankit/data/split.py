"""The validation slice: a fixed random part of a training split that evaluation during training scores against
and training never sees. Cut here alone, for images and labels alike."""

from __future__ import annotations

import torch

from gankit.data import disk_cache
from gankit.data.imagedata import ImageData, first
from gankit.infra.errors import GankitError
from gankit.infra.log import Log

VALIDATION_SEED = 20261126  # fixed, so runs with different --seed are scored against the same slice
DEFAULT_HOLDOUT = 5000  # the validation slice of a set of 50,000 images or more; a tenth of a smaller one


def holdout_size(count: int, holdout: int | None) -> int:
    """How many of `count` training images the validation slice takes: `holdout`, or where it is None (no
    --eval-holdout given) 5,000, or a tenth of a set smaller than 50,000 (378 of the 3,786 emoji), so that a
    user's own folder needs no flag to be scored during training."""
    size = min(DEFAULT_HOLDOUT, count // 10) if holdout is None else holdout
    if holdout is None and size < 1:
        raise GankitError(f"{count} training images are too few to keep a tenth out as a validation slice: "
                          "train without --eval-every, or give --eval-holdout N")
    if size >= count:
        raise GankitError(f"--eval-holdout {size} leaves none of the {count} training images: use a smaller "
                          f"holdout (e.g. --eval-holdout {max(1, count // 10)}, a tenth), or leave it out")
    return size


def validation_split(count: int, holdout: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices in file order, validation indices): a seeded random `holdout_size(count, holdout)` of
    `count` training images is the validation slice. Random, not the split's tail: MNIST's last training images
    differ in style from the rest (FID 48 against the test set where a random 2,000 score 10)."""
    size = holdout_size(count, holdout)
    val = torch.randperm(count, generator=torch.Generator().manual_seed(VALIDATION_SEED))[:size]
    keep = torch.ones(count, dtype=torch.bool)
    keep[val] = False
    return keep.nonzero().squeeze(1), val


def training_data(dataset: ImageData, holdout: int | None, limit: int | None, log: Log = print) -> ImageData:
    """The images (and labels) a run trains on: the split minus its validation slice (`holdout` images, None:
    the default size; 0: no slice), then the first `limit` of what is left. Images mapped from disk stay there:
    the selection is a second file."""
    if holdout == 0:
        return first(dataset, limit)
    keep, val = validation_split(len(dataset), holdout)
    log(f"validation slice: {len(val)} of the {len(dataset)} training images, left out of training")
    keep = keep[:limit]
    labels = dataset.labels[keep] if dataset.labels is not None else None
    if dataset.mapped_from is not None:
        images, file = disk_cache.subset(dataset.images, dataset.mapped_from, keep, f"train-{len(val)}-{len(keep)}", log)
        return ImageData(images, labels, dataset.num_classes, dataset.name, dataset.class_names, file)
    return ImageData(dataset.images[keep], labels, dataset.num_classes, dataset.name, dataset.class_names)
