"""npz:PATH data sets: a NumPy .npz archive with `images` (uint8) and, optionally, `labels` (integers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from gankit.data.convert import convert
from gankit.data.imagedata import ImageData
from gankit.infra.device import check_fits_in_memory
from gankit.infra.errors import GankitError, describe
from gankit.infra.log import Log

LAYOUT = ("expected 'images' uint8 of shape (N,H,W), (N,C,H,W) or (N,H,W,C) with C 1 or 3, "
          "and optionally 'labels' integers >= 0 of shape (N,)")


def load(path: Path, name: str, limit: int | None, image_size: int | None, channels: int | None,
         log: Log, fit: str = "crop") -> ImageData:
    images, labels = _read(path)
    return from_arrays(images, labels, path, name, limit, image_size, channels, log, fit)


def from_arrays(images: Any, labels: Any = None, where: Path | str = "data", name: str = "data", limit: int | None = None,
                image_size: int | None = None, channels: int | None = None, log: Log = print,
                fit: str = "crop") -> ImageData:
    """Images (and labels) in memory, as NumPy arrays or tensors, checked as an npz file's are (`where` names
    them in errors)."""
    images, labels = _as_array(images, "images"), None if labels is None else _as_array(labels, "labels")
    images = _to_nchw(images, where)
    if labels is not None:
        _check_labels(labels, len(images), where)
    num_classes = 0 if labels is None else int(labels.max()) + 1  # over all images, not just the first `limit`
    if limit is not None:
        images, labels = images[:limit], None if labels is None else labels[:limit]
    tensor = convert(torch.from_numpy(np.ascontiguousarray(images)), channels, image_size, fit).contiguous()
    classes = f" with labels of {num_classes} classes" if labels is not None else " (no labels)"
    log(f"{name}: {len(tensor)} images{classes}, as {'x'.join(map(str, tensor.shape[1:]))}")
    return ImageData(tensor, None if labels is None else torch.from_numpy(labels.astype(np.int64)),
                     num_classes, name)


def _as_array(value: Any, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    raise GankitError(f"{what} must be a NumPy array or a torch tensor, got {type(value).__name__}: {LAYOUT}")


def _read(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The `images` and `labels` arrays, refusing pickles (allow_pickle=False: loading must not run code)."""
    archive = _guarded(path, lambda: np.load(path, allow_pickle=False))
    if not hasattr(archive, "files"):
        raise GankitError(f"{path} holds a single .npy array, not an .npz archive: save it with "
                          f"np.savez(path, images=..., labels=...); {LAYOUT}")
    with archive:
        if "images" not in archive.files:
            keys = ", ".join(archive.files) or "none"
            raise GankitError(f"{path} has no 'images' array (it has: {keys}): {LAYOUT}")
        _check_decoded_size(archive, path)
        images = _guarded(path, lambda: archive["images"])
        labels = _guarded(path, lambda: archive["labels"]) if "labels" in archive.files else None
    return images, labels


def _check_decoded_size(archive: Any, path: Path) -> None:
    """The arrays' sizes from their .npy headers, against free memory, before a compressed archive is inflated
    (a few kilobytes of zeros can claim terabytes)."""
    total = 0
    for key in ("images", "labels"):
        if key not in archive.files:
            continue
        with archive.zip.open(f"{key}.npy") as f:
            shape, _, dtype = _guarded(path, lambda: _npy_header(f))
        total += int(np.prod(shape, dtype=object)) * dtype.itemsize
    check_fits_in_memory(total, f"the arrays of {path.name}", "give a smaller .npz")


def _npy_header(f) -> tuple:
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read(f, max_header_size=100_000)


def _guarded(path: Path, read: Callable[[], Any]) -> Any:
    """read(), with numpy's and zipfile's many exception types for a bad file (not a zip, truncated,
    bad CRC, object arrays...) turned into one GankitError."""
    try:
        return read()
    except MemoryError:
        raise
    except Exception as exc:
        raise GankitError(f"cannot read {path} as .npz ({describe(exc)}): "
                          "save it with np.savez(path, images=..., labels=...)") from None


def _to_nchw(images: np.ndarray, path: Path) -> np.ndarray:
    """(N, C, H, W) from the accepted layouts. (N, H, W, C) is taken only when dim 1 cannot be C."""
    def bad(problem: str) -> GankitError:
        return GankitError(f"{path}: 'images' {problem}: {LAYOUT}")

    if images.dtype != np.uint8:
        raise bad(f"is {images.dtype}, not uint8 (scale to 0-255 and use .astype(np.uint8))")
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim != 4:
        raise bad(f"has shape {images.shape}")
    elif images.shape[1] not in (1, 3):
        if images.shape[3] not in (1, 3):
            raise bad(f"has shape {images.shape}, with no channel dimension of 1 or 3")
        images = images.transpose(0, 3, 1, 2)
    if images.shape[0] == 0:
        raise bad("holds no images")
    if 0 in images.shape[2:]:
        raise bad(f"has shape {images.shape}, with an empty side")
    return images


def _check_labels(labels: np.ndarray, n: int, path: Path) -> None:
    def bad(problem: str) -> GankitError:
        return GankitError(f"{path}: 'labels' {problem}: {LAYOUT}")

    if not np.issubdtype(labels.dtype, np.integer):
        raise bad(f"are {labels.dtype}, not integers")
    if labels.shape != (n,):
        raise bad(f"have shape {labels.shape}, not ({n},) like the images")
    if labels.min() < 0:
        raise bad(f"include {labels.min()}, below 0")
