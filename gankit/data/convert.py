"""Channel conversion and square resizing of uint8 image tensors, shared by folder: and npz: data."""

from __future__ import annotations

import torch

_BATCH = 1024  # images converted at a time: bounds the float copies the conversions make


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """(..., C, H, W) uint8 with C in {1, 3} to `channels` (1 or 3): gray is replicated, colour goes
    to luma with the ITU-R 601 weights that Pillow and torchvision use."""
    have = images.shape[-3]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return images.expand(*images.shape[:-3], 3, *images.shape[-2:]).contiguous()
    if have == 3 and channels == 1:
        from torchvision.transforms.v2 import functional as TF  # here: importing it costs seconds

        return TF.rgb_to_grayscale(images, num_output_channels=1)
    raise ValueError(f"cannot convert {have} channels to {channels}")


def resize(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear with antialiasing, so that shrinking averages pixels instead of skipping them."""
    if tuple(images.shape[-2:]) == (height, width):
        return images
    from torchvision.transforms.v2 import functional as TF  # here: importing it costs seconds

    return TF.resize(images, [height, width], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)


def convert(images: torch.Tensor, channels: int | None, image_size: int | None) -> torch.Tensor:
    """(N, C, H, W) uint8 to `channels` and to image_size x image_size; None keeps what there is."""
    same_channels = channels is None or channels == images.shape[1]
    same_size = image_size is None or tuple(images.shape[2:]) == (image_size, image_size)
    if same_channels and same_size:
        return images
    parts = []
    for batch in images.split(_BATCH):
        batch = batch if channels is None else to_channels(batch, channels)
        parts.append(batch if image_size is None else resize(batch, image_size, image_size))
    return torch.cat(parts).contiguous()
