"""The noise a trained G is given: plain, truncated (BigGAN's truncation trick), or walked between points.

A self-conditioned G reads its cluster from z[:, 0] (models.self_conditioned): truncation and interpolation act
on the rest of the noise, so the clusters keep their shares and a walk changes cluster once, at mid-segment,
instead of sweeping through the clusters between two points.
"""

from __future__ import annotations

import torch

from gankit.infra.errors import GankitError


def draw(n: int, z_dim: int, gen: torch.Generator, truncation: float | None = None,
         first_is_cluster: bool = False) -> torch.Tensor:
    """(n, z_dim) standard normal noise; with `truncation` T, entries beyond +-T drawn again until none is."""
    z = torch.randn(n, z_dim, generator=gen)
    if truncation is None:
        return z
    if not truncation > 0:
        raise GankitError(f"--truncation must be positive (e.g. 0.7; smaller is less varied), got {truncation}")
    start = 1 if first_is_cluster else 0
    while True:
        outside = z[:, start:].abs() > truncation
        if not outside.any():
            return z
        z[:, start:][outside] = torch.randn(int(outside.sum()), generator=gen)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of rows a and b at fractions t (T,): the points stay at a Gaussian's typical radius,
    where a linear path would cut through the low-density middle."""
    a_n, b_n = a / a.norm(), b / b.norm()
    omega = torch.arccos((a_n * b_n).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    t = t[:, None]
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def walk(anchors: torch.Tensor, steps: int, first_is_cluster: bool = False) -> torch.Tensor:
    """((K - 1) * steps + 1, z_dim): `steps` points from each anchor to the next, then the last anchor."""
    if len(anchors) < 2 or steps < 1:
        raise GankitError(f"an interpolation needs 2 or more points and 1 or more steps between them, got "
                          f"{len(anchors)} and {steps}")
    start = 1 if first_is_cluster else 0
    t = torch.arange(steps, dtype=anchors.dtype) / steps
    parts = []
    for a, b in zip(anchors[:-1], anchors[1:]):
        segment = torch.empty(steps, anchors.shape[1], dtype=anchors.dtype)
        segment[:, start:] = slerp(a[start:], b[start:], t)
        if first_is_cluster:
            segment[:, 0] = torch.where(t < 0.5, a[0], b[0])
        parts.append(segment)
    return torch.cat(parts + [anchors[-1:]])
