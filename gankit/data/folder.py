"""folder:PATH data sets: image files read with Pillow; sub-folders, when there are, are the classes
(sorted by name, as torchvision's ImageFolder does)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import numpy as np
import torch
from PIL import Image, ImageFile

from gankit.data import disk_cache
from gankit.data.convert import resize, to_channels
from gankit.data.imagedata import ImageData
from gankit.infra.device import available_memory, check_fits_in_memory
from gankit.infra.errors import GankitError, describe
from gankit.infra.log import Log

# Modes whose pixels are one value; a palette image counts when its palette is gray.
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
# Pillow registers these extensions but cannot decode the pixels without outside help
# (Ghostscript for PostScript; MPEG is read for its header only).
_UNDECODABLE = {".eps", ".ps", ".mpeg", ".mpg"}


@lru_cache(maxsize=1)
def image_extensions() -> frozenset[str]:
    """Every extension Pillow opens, less the stub formats that need a handler installed."""
    Image.init()
    exts = set()
    for ext, fmt in Image.registered_extensions().items():
        factory = Image.OPEN.get(fmt, (None,))[0]
        if factory is None or (isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile)):
            continue
        exts.add(ext.lower())
    return frozenset(exts - _UNDECODABLE)


def _is_image(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix.lower() in image_extensions() and path.is_file()


def _images_under(folder: Path) -> list[Path]:
    """Image files anywhere under `folder`, in sorted order, hidden files and folders left out."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [path for name in sorted(files) if _is_image(path := Path(top) / name)]
    return found


def scan(root: Path) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """(image paths, their class indices, class names); no classes when the images lie directly in `root`."""
    try:
        entries = sorted(root.iterdir())
    except OSError as exc:
        raise GankitError(f"cannot list folder {root} ({exc.strerror or exc}): "
                          "give folder:PATH a readable folder of images") from None
    flat = [path for path in entries if _is_image(path)]
    classes = [(d.name, images) for d in entries
               if d.is_dir() and not d.name.startswith(".") and (images := _images_under(d))]
    if flat and classes:
        raise GankitError(f"folder {root} has both images and class sub-folders with images: "
                          "move the loose images into a sub-folder, or point folder: at one of the two")
    if classes:
        paths = [path for _, images in classes for path in images]
        labels = [index for index, (_, images) in enumerate(classes) for _ in images]
        return paths, labels, [name for name, _ in classes]
    if flat:
        return flat, None, None
    raise GankitError(f"folder {root} has no images (.png, .jpg, .bmp, .gif, .webp, .tif...), neither directly "
                      "nor in sub-folders: give folder:PATH a folder of image files")


MAX_IMAGE_PIXELS = 4096 * 4096  # per image, decoded: a guard against decompression bombs (--max-image-pixels)


CACHES = ("auto", "disk", "memory")  # where decoded images are held (--image-cache)
T = TypeVar("T")


def load(root: Path, name: str, limit: int | None, image_size: int | None, channels: int | None,
         log: Log, max_image_pixels: int = MAX_IMAGE_PIXELS, fit: str = "crop", cache: str = "auto",
         cache_dir: Path | None = None) -> ImageData:
    """The images under `root`, the first `limit` of them, as (N, channels, H, W) uint8.

    Default channels: 1 when every image is grayscale, else 3. Default size: the images' own, which
    must then be the same for all. Every size is checked from the file headers before any pixel is decoded.
    `cache`: memory decodes into this process; disk decodes once into a file under `cache_dir` and maps it
    (later runs start at once, and a folder larger than memory trains); auto is disk when the decoded images
    would take more than a quarter of the memory free now."""
    paths, labels, class_names = scan(root)
    if limit is not None:
        paths, labels = paths[:limit], None if labels is None else labels[:limit]
    headers = [header for _, header in _read_each(paths, _header)]  # cheap: Pillow reads only the headers here
    _check_pixels(paths, [size for _, size in headers], max_image_pixels)
    channels = channels or (1 if all(gray for gray, _ in headers) else 3)
    height, width = _target_size(paths, [size for _, size in headers], image_size, root)
    shape, nbytes = (channels, height, width), len(paths) * channels * height * width
    what = f"{len(paths)} images of {channels}x{height}x{width}"

    def fill(out: torch.Tensor) -> None:
        for i, pixels in _read_each(paths, _decode):
            out[i] = resize(to_channels(pixels, channels), height, width, fit)

    file = None
    if cache_dir is not None and _on_disk(cache, nbytes):
        images, file = disk_cache.cached(root, paths, shape, fill, cache_dir, {"fit": fit}, log)
    else:
        check_fits_in_memory(nbytes, what, "pass --image-cache disk to train from a decoded copy on disk, or a "
                             "smaller --image-size or --limit")
        images = torch.empty((len(paths), *shape), dtype=torch.uint8)
        fill(images)
    classes = f" in {len(class_names)} classes" if class_names else " (no classes)"
    log(f"{name}: {len(paths)} images{classes}, as {channels}x{height}x{width}" + (" (mapped from disk)" if file else ""))
    return ImageData(images, None if labels is None else torch.tensor(labels, dtype=torch.int64),
                     len(class_names) if class_names else 0, name, class_names, file)


def _on_disk(cache: str, nbytes: int) -> bool:
    if cache not in CACHES:
        raise GankitError(f"unknown image cache {cache!r}: use {', '.join(CACHES)}")
    if cache != "auto":
        return cache == "disk"
    free = available_memory()
    return free is not None and nbytes > free / 4


def _read_each(paths: list[Path], read: Callable[[Path], T]) -> Iterator[tuple[int, T]]:
    """(index, read(path)) for each file that reads; at the end, the refusal of those that did not."""
    failed = []
    for i, path in enumerate(paths):
        try:
            result = read(path)
        except MemoryError:
            raise
        except Exception as exc:  # Pillow signals a bad file with many exception types: all are "unreadable"
            failed.append((path, describe(exc)))
            continue
        yield i, result
    _refuse_unreadable(failed, len(paths))


def _header(path: Path) -> tuple[bool, tuple[int, int]]:
    """(is grayscale, (width, height)) of an image file, from its header."""
    with Image.open(path) as img:
        return _is_gray(img), img.size


def _refuse_unreadable(failed: list[tuple[Path, str]], total: int) -> None:
    """Every unreadable file counted and the first five named: a folder with broken files is refused rather
    than trained on in part, unnoticed."""
    if not failed:
        return
    names = "; ".join(f"{path} ({why})" for path, why in failed[:5]) + (
        f"; and {len(failed) - 5} more" if len(failed) > 5 else "")
    raise GankitError(f"cannot read {len(failed)} of {total} image files: {names}: remove or replace them")


def _check_pixels(paths: list[Path], sizes: list[tuple[int, int]], limit: int) -> None:
    big = next((i for i, (w, h) in enumerate(sizes) if w * h > limit), None)
    if big is not None:
        w, h = sizes[big]
        raise GankitError(f"{paths[big]} is {w}x{h} pixels, above the guard of {limit:,} pixels per image against "
                          f"decompression bombs: pass --max-image-pixels {w * h} if the image is meant to be that "
                          "large")


def _target_size(paths: list[Path], sizes: list[tuple[int, int]], image_size: int | None,
                 root: Path) -> tuple[int, int]:
    """(height, width) for every image: image_size square, else the common size of the images."""
    if image_size is not None:
        return image_size, image_size
    odd = next((i for i, size in enumerate(sizes) if size != sizes[0]), None)
    if odd is not None:
        (w0, h0), (w1, h1) = sizes[0], sizes[odd]
        raise GankitError(f"images in {root} differ in size ({paths[0].name} is {w0}x{h0}, {paths[odd].name} "
                          f"is {w1}x{h1}): pass --image-size N (image_size) to resize them all to NxN")
    width, height = sizes[0]
    return height, width


def _decode(path: Path) -> torch.Tensor:
    """The pixels of an image file as (1 or 3, H, W) uint8; Pillow's error where the file is unreadable."""
    with Image.open(path) as img:
        img.load()
        pixels = _pixels(img)
    tensor = torch.from_numpy(pixels)
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


def _pixels(img: Image.Image) -> np.ndarray:
    """(H, W) uint8 for grayscale images, (H, W, 3) uint8 for the rest."""
    if img.mode.startswith("I"):  # 16- or 32-bit integers; 16-bit PNGs open as I;16 or I
        values = np.array(img).astype(np.int64)
        if img.mode.startswith("I;16") or values.max(initial=0) > 255:
            values >>= 8  # keep the top 8 of 16 bits, rather than clipping everything to white
        return np.clip(values, 0, 255).astype(np.uint8)
    if img.mode == "F":
        values = np.array(img, dtype=np.float64)
        if values.max(initial=0.0) <= 1.0:  # float images usually hold 0-1
            values *= 255.0
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return np.array(img.convert("L" if _is_gray(img) else "RGB"))


def _is_gray(img: Image.Image) -> bool:
    if img.mode in _GRAY_MODES:
        return True
    if img.mode not in ("P", "PA"):
        return False
    palette = img.getpalette()
    if not palette:
        return False
    rgb = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    return bool((rgb == rgb[:, :1]).all())
