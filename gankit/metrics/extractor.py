"""What every feature network shares: the images it takes, batched inference, and weight files that
are checked byte for byte before anything reads them.

An extractor (the domain classifiers in domain.py, Inception in inception.py) has `name`, `sha256`
(of its weights file) and `extract(images, batch_size) -> (features (N, D), probs (N, K) or None)`,
both float32 on the CPU. It takes uint8 images in [0, 255] (data sets, saved samples) or float images
in [-1, 1] (a generator's output); a float image that is exactly a uint8 image scaled like
`to_model_range` gives the same result as that uint8 image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Protocol

import numpy as np
import torch

from gankit.data.pixels import to_model_range
from gankit.infra.errors import GankitError
from gankit.infra.io import sha256

# Float images may sit this far outside [-1, 1] (arithmetic after a tanh); further out is a wrong scale.
RANGE_SLACK = 1e-3


class Extractor(Protocol):
    name: str
    sha256: str

    def extract(self, images: torch.Tensor | np.ndarray,
                batch_size: int = ...) -> tuple[torch.Tensor, torch.Tensor | None]:
        ...


def check_images(images: torch.Tensor | np.ndarray, what: str) -> torch.Tensor:
    """`images` as a (N, C, H, W) uint8 or floating tensor in [-1, 1]; anything else is refused before
    any work. `what` names the extractor in the message."""
    x = torch.as_tensor(images)
    if x.ndim != 4 or len(x) == 0:
        raise GankitError(f"{what} takes a non-empty (N, C, H, W) batch of images, got shape {tuple(x.shape)}: "
                          "add the channel axis or pass more images")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise GankitError(f"{what} takes uint8 images in [0, 255] or float images in [-1, 1], got "
                          f"{str(x.dtype).removeprefix('torch.')}: convert the images to uint8")
    lo, hi = float(x.amin()), float(x.amax())
    if not (lo >= -1 - RANGE_SLACK and hi <= 1 + RANGE_SLACK):  # NaN fails both comparisons
        raise GankitError(f"{what} takes float images in [-1, 1], got values in [{lo:.4g}, {hi:.4g}]: "
                          "pass uint8 images, or scale floats as x / 127.5 - 1")
    return x


def unit_range_batches(images: torch.Tensor, batch_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Checked images (see check_images) as float32 batches in [-1, 1] on `device`, in order. Converting
    batch by batch keeps the float copy of a large uint8 set out of memory."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise GankitError(f"batch_size must be a whole number of at least 1, not {batch_size!r}: fix batch_size")
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(device)
        if batch.dtype == torch.uint8:
            yield to_model_range(batch)
        else:
            yield batch.float().clamp(-1.0, 1.0)


def read_verified(path: Path, expected_sha256: str, what: str, fix: str) -> bytes:
    """The bytes of `path` if their SHA-256 is `expected_sha256`. The caller loads these very bytes, so
    the file cannot change between the check and the load."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise GankitError(f"{what} file {path} not found: {fix}") from None
    except OSError as exc:
        raise GankitError(f"cannot read {what} file {path} ({exc.strerror or exc}): {fix}") from None
    actual = sha256(data)
    if actual != expected_sha256.lower():
        raise GankitError(f"{what} file {path} is corrupt or modified (sha256 {actual[:16]}..., expected "
                          f"{expected_sha256[:16]}...): {fix}")
    return data
