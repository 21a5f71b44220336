"""Classic augmentation, the baseline a GAN's synthetic images must beat: random shifts and rotations."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def classic_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 pixels and rotations of up to 10 degrees, one of each per image."""
    n = len(x)
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(10)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 / (x.shape[-1] / 2))  # pixels in [-1, 1] units
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1  # background stays -1
