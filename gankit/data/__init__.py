"""Data sets as uint8 image tensors: the built-in MNIST and Fashion-MNIST (found or fetched offline
and verified), a folder of images (folder:PATH) or a NumPy archive (npz:PATH).

    data = load_images("mnist", limit=1000)        # ImageData: images (N, C, H, W) uint8, labels
    prepare("fashion-mnist")                        # `gankit data fashion-mnist`
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

from gankit.data import emoji, folder, mnist, npz
from gankit.data.convert import convert
from gankit.data.imagedata import ImageData, first
from gankit.data.spec import check as _check
from gankit.data.spec import dataset_names
from gankit.data.split import training_data
from gankit.infra.datadir import default_data_dir, resolve_data_dir
from gankit.infra.errors import GankitError
from gankit.infra.log import Log

__all__ = ["ImageData", "check_spec", "dataset_names", "default_data_dir", "has_test_split", "load_images",
           "load_training_images", "prepare"]

_SPLITS = ("train", "test")
DECODED_DIR = "decoded"  # under the data dir: folders decoded once into memory-mappable files


def has_test_split(spec: str) -> bool:
    """Whether the data set has a test split (MNIST and Fashion-MNIST); the others are one training split."""
    parsed = _check(spec)
    return parsed.kind == "builtin" and parsed.name not in emoji.PACKAGES


def check_spec(spec: str) -> None:
    """Refuse an unknown dataset, or a folder:/npz: path that is not there, without loading anything."""
    _check(spec)


def prepare(spec: str, data_dir: str | os.PathLike | None = None, log: Log = print) -> Path:
    """Make a built-in data set ready and verified on disk; return the folder holding its files.
    folder: and npz: data are read where they are: their folder is returned as it is."""
    parsed = _check(spec)
    if parsed.name in emoji.PACKAGES:
        return emoji.ensure(parsed.name, resolve_data_dir(data_dir), log)
    if parsed.kind == "builtin":
        return mnist.ensure(parsed.name, resolve_data_dir(data_dir), log)
    log(f"{parsed.name} is read in place: nothing to prepare")
    return parsed.path if parsed.kind == "folder" else parsed.path.parent


def load_images(spec: str, data_dir: str | os.PathLike | None = None, *, split: str = "train",
                limit: int | None = None, image_size: int | None = None, channels: int | None = None,
                max_image_pixels: int | None = None, fit: str = "crop", cache: str = "auto",
                log: Log = print) -> ImageData:
    """The images of `spec`: the first `limit` (in file order) of `split`, resized to image_size x
    image_size (a non-square image by `fit`: crop, pad or stretch) and converted to `channels` (1 or 3) where the
    source allows it. A folder's decoded images are held in memory or mapped from a file decoded once into
    the data dir (`cache`: memory, disk, or auto: disk when they would fill more than a quarter of free memory)."""
    parsed = _check(spec)
    _check_options(split, limit, image_size, channels)
    if parsed.name in emoji.PACKAGES:  # colour, 64 x 64, one split: resizable and convertible like a folder
        if split != "train":
            raise GankitError(f"{parsed.name} has only a train split, not '{split}': use split='train'")
        loaded = emoji.load(parsed.name, resolve_data_dir(data_dir), log)
        return first(ImageData(convert(loaded.images, channels, image_size, fit).contiguous(), loaded.labels,
                               loaded.num_classes, loaded.name, loaded.class_names), limit)
    if parsed.kind == "builtin":
        if image_size not in (None, 28) or channels not in (None, 1):
            raise GankitError(f"{parsed.name} images are 1x28x28, not resizable or convertible here: "
                              "leave image_size and channels unset (or 28 and 1)")
        return first(mnist.load(parsed.name, resolve_data_dir(data_dir), split, log), limit)
    if split != "train":
        raise GankitError(f"{parsed.name} has only a train split, not '{split}': use split='train'")
    if parsed.kind == "folder":
        return folder.load(parsed.path, parsed.name, limit, image_size, channels, log,
                           max_image_pixels or folder.MAX_IMAGE_PIXELS, fit, cache,
                           resolve_data_dir(data_dir) / DECODED_DIR)
    return npz.load(parsed.path, parsed.name, limit, image_size, channels, log, fit)


def load_training_images(spec: str, data_dir: str | os.PathLike | None = None, *, holdout: int | None = 0,
                         limit: int | None = None, image_size: int | None = None, channels: int | None = None,
                         max_image_pixels: int | None = None, fit: str = "crop", cache: str = "auto",
                         log: Log = print) -> ImageData:
    """The training split of `spec` as a run trains on it: without its validation slice of `holdout` images
    (gankit.data.split; None: its default size; 0: none), then the first `limit`."""
    loaded = load_images(spec, data_dir, limit=None if holdout != 0 else limit, image_size=image_size,
                         channels=channels, max_image_pixels=max_image_pixels, fit=fit, cache=cache, log=log)
    return training_data(loaded, holdout, limit, log)


def from_arrays(images, labels=None, log: Log = print) -> ImageData:
    """In-memory images (uint8, (N, H, W), (N, C, H, W) or (N, H, W, C); optional labels (N,)) as (N, C, H, W),
    checked as an npz file's are."""
    return npz.from_arrays(images, labels, "data", "data", log=log)


def training_images_from(loaded: ImageData, *, holdout: int | None = 0, limit: int | None = None,
                         image_size: int | None = None, channels: int | None = None, fit: str = "crop") -> ImageData:
    """Images already in memory (`from_arrays`) as a run trains on them: converted, less the validation slice."""
    _check_options("train", limit, image_size, channels)
    converted = ImageData(convert(loaded.images, channels, image_size, fit), loaded.labels, loaded.num_classes,
                          loaded.name, loaded.class_names)
    return training_data(converted, holdout, limit)


def _check_options(split: str, limit: int | None, image_size: int | None, channels: int | None) -> None:
    if split not in _SPLITS:
        raise GankitError(f"unknown split '{split}': use train or test")
    for option, value in (("limit", limit), ("image_size", image_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
            raise GankitError(f"{option} must be a whole number of at least 1, not {value!r}: fix {option}")
    if channels not in (None, 1, 3) or isinstance(channels, bool):
        raise GankitError(f"channels must be 1 or 3, not {channels!r}: fix channels")
