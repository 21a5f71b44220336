"""The two pixel conventions and the conversions between them: uint8 [0, 255] (data sets, saved samples) and
float [-1, 1] (what the models take and make)."""

from __future__ import annotations

import torch


def to_model_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]: the tutorial's ToTensor + Normalize((0.5,), (0.5,))."""
    return images_uint8.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> [0, 255] uint8, rounding as torchvision's save_image does."""
    return ((images.float() + 1) * 127.5 + 0.5).clamp_(0, 255).to(torch.uint8)
