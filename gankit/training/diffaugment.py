"""DiffAugment (Zhao et al. 2020): random, differentiable augmentations of every image D sees.

The caller applies `diff_augment` with one policy to both the real and the generated batch, in D's step and
in G's step (each call draws its own random transforms). Being differentiable, the augmentation passes G's
gradients through, so D never sees an un-augmented image and G is not taught to produce augmented ones.

Images are NCHW in [-1, 1], the range the reference implementation is used with (its StyleGAN2 and BigGAN
pipelines feed [-1, 1]), so its constants carry over unchanged. The border that translation uncovers and the
square that cutout removes are filled with 0, as in the reference: mid-gray in this range. A fill of −1
(black) would make cutout all but invisible on MNIST, whose background is −1.
"""

from __future__ import annotations

import torch

from gankit.infra.errors import GankitError

Tensor = torch.Tensor

POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125  # largest shift, as a share of the side
CUTOUT_RATIO = 0.5  # side of the removed square, as a share of the side


def diff_augment(x: Tensor, policy: str = "color,translation,cutout", generator: torch.Generator | None = None) -> Tensor:
    """Augment a batch x (N, C, H, W) by `policy`, a comma-separated subset of color, translation, cutout,
    applied in the order given; "" returns x. Every image gets its own random parameters.

    color: brightness + U(−0.5, 0.5); saturation × U(0, 2) about the channel mean, for 3-channel images only
    (it has no meaning for 1 channel and is skipped there, so a grayscale batch gets brightness and contrast);
    contrast × U(0.5, 1.5) about the image mean. Values may leave [-1, 1]; D sees them as they are.
    translation: a shift of up to 1/8 of each side (rounded: 4 pixels at 28 and 32), in whole pixels.
    cutout: a square of half the side, centred anywhere in the image, clipped at its edges, set to 0.

    Random numbers come from `generator` (on any device; they are drawn there and moved to x's device) or
    from the global generator of x's device: the same generator state gives the same augmentation.
    """
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise GankitError(f"unknown DiffAugment policy '{unknown[0]}': use a comma-separated list of {', '.join(POLICIES)}")
    if x.dim() != 4:
        raise GankitError(f"diff_augment needs images of shape (N, C, H, W), got {tuple(x.shape)}")
    for name in names:
        x = _AUGMENTS[name](x, generator)
    return x


def _rand(n: int, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """n uniform numbers in [0, 1), shaped (n, 1, 1, 1) to scale whole images."""
    device = generator.device if generator is not None else x.device
    u = torch.rand(n, 1, 1, 1, generator=generator, device=device)
    return u.to(device=x.device, dtype=x.dtype)


def _randint(low: int, high: int, n: int, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """n integers in [low, high), shaped (n, 1, 1) to broadcast over rows and columns."""
    device = generator.device if generator is not None else x.device
    return torch.randint(low, high, (n, 1, 1), generator=generator, device=device).to(x.device)


def _color(x: Tensor, generator: torch.Generator | None) -> Tensor:
    n = x.shape[0]
    x = x + (_rand(n, x, generator) - 0.5)
    if x.shape[1] == 3:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_rand(n, x, generator) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(n, x, generator) + 0.5) + mean


def _translation(x: Tensor, generator: torch.Generator | None) -> Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    dy, dx = _randint(-sh, sh + 1, n, x, generator), _randint(-sw, sw + 1, n, x, generator)
    # out[i, j] = x[i + dy, j + dx], 0 where that is off the image: two products with 0/1 shift matrices, exact
    # (each sum has one term) in x's dtype. On a CPU forward and backward take half the time of a gather, whose
    # backward is a serial scatter (rgb at 64 x 64: 1.4 against 3.1 ms a batch of 32)
    with torch.autocast(x.device.type, enabled=False):
        return _shift(h, dy, x) @ x @ _shift(w, dx, x).transpose(-1, -2)


def _shift(size: int, d: Tensor, x: Tensor) -> Tensor:
    """(n, 1, size, size) matrices S with S[i, k] = 1 where k = i + d: S @ image moves row i + d to row i."""
    i = torch.arange(size, device=x.device)
    return (i.view(1, 1, size) == i.view(1, size, 1) + d).to(x.dtype).unsqueeze(1)


def _cutout(x: Tensor, generator: torch.Generator | None) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    # The reference's centre range: one more position for an even side, so both edges are reached equally.
    cy = _randint(0, h + (1 - ch % 2), n, x, generator)
    cx = _randint(0, w + (1 - cw % 2), n, x, generator)
    top, left = cy - ch // 2, cx - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_AUGMENTS = {"color": _color, "translation": _translation, "cutout": _cutout}
