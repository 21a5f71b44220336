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


FITS = ("crop", "pad", "stretch")  # how a non-square image becomes square


def resize(images: torch.Tensor, height: int, width: int, fit: str = "crop") -> torch.Tensor:
    """Bilinear with antialiasing, so that shrinking averages pixels instead of skipping them. A non-square image
    is first made square: `crop` keeps the centred square (as torchvision's Resize + CenterCrop), `pad` adds black
    bars to the short side (nothing is lost), `stretch` resizes it as it is (shapes change)."""
    if tuple(images.shape[-2:]) == (height, width):
        return images
    if fit not in FITS:
        raise ValueError(f"unknown fit {fit!r}")
    h, w = images.shape[-2:]
    if h != w and height == width and fit != "stretch":
        side = min(h, w) if fit == "crop" else max(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        if fit == "crop":
            images = images[..., top:top + side, left:left + side]
        else:
            padded = images.new_zeros((*images.shape[:-2], side, side))
            padded[..., -top:-top + h, -left:-left + w] = images
            images = padded
    if tuple(images.shape[-2:]) == (height, width):
        return images.contiguous()
    from torchvision.transforms.v2 import functional as TF  # here: importing it costs seconds

    return TF.resize(images, [height, width], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)


def convert(images: torch.Tensor, channels: int | None, image_size: int | None, fit: str = "crop") -> torch.Tensor:
    """(N, C, H, W) uint8 to `channels` and to image_size x image_size (see `resize` for `fit`); None keeps what
    there is."""
    same_channels = channels is None or channels == images.shape[1]
    same_size = image_size is None or tuple(images.shape[2:]) == (image_size, image_size)
    if same_channels and same_size:
        return images
    parts = []
    for batch in images.split(_BATCH):
        batch = batch if channels is None else to_channels(batch, channels)
        parts.append(batch if image_size is None else resize(batch, image_size, image_size, fit))
    return torch.cat(parts).contiguous()
