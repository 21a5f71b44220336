"""Gradient penalties on the discriminator: terms added to D's loss, never to G's.

Both functions return the bare penalty, unweighted: the caller multiplies, so that the two share one rule and
each weight stays visible where the loss is assembled:

    d_loss = loss.discriminator(r, f) + WGAN_GP_WEIGHT * gradient_penalty(D, real, fake)   # λ = 10
    d_loss = loss.discriminator(r, f) + gamma / 2 * r1_penalty(r, real)                    # γ/2

Lazy regularisation (Karras et al. 2020, StyleGAN2): adding a penalty only every k-th D step, multiplied by k,
keeps its average strength and saves most of its cost (the double backward pass). Nothing here needs to know:
the caller chooses the steps and multiplies the weight by k (StyleGAN2: k = 16).
"""

from __future__ import annotations

from typing import Callable

import torch

from gankit.infra.errors import GankitError

Tensor = torch.Tensor

# Gulrajani et al. 2017 use λ = 10 for every data set they report.
WGAN_GP_WEIGHT = 10.0


def gradient_penalty(D: Callable[..., Tensor], real: Tensor, fake: Tensor, labels: Tensor | None = None, *,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): mean over samples of (‖∇D(x̂)‖₂ − 1)², x̂ = ε·real + (1−ε)·fake.

    ε ~ U(0, 1) is drawn once per sample (from `generator` if given, on its own device). The gradient is taken
    with create_graph=True, so backward() of the result reaches D's parameters. `labels`, for a conditional D,
    are passed as D(x̂, labels). Unweighted: multiply by λ (WGAN_GP_WEIGHT, 10).

    D must treat samples independently (no batch norm in training mode; the paper's critic uses none):
    otherwise each sample's gradient mixes in the rest of the batch and the penalty is not the paper's.
    """
    if real.shape != fake.shape:
        raise GankitError(f"gradient_penalty needs real and fake of one shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps_device = generator.device if generator is not None else real.device
    eps = torch.rand(eps_shape, generator=generator, device=eps_device).to(device=real.device, dtype=real.dtype)
    # Detached: x̂ is a point to probe D at, not a function of G; G's graph must not grow from D's penalty.
    x_hat = torch.lerp(fake.detach(), real.detach(), eps).requires_grad_(True)
    out = D(x_hat) if labels is None else D(x_hat, labels)
    # Summing is exact: each output depends on its own sample only, so ∂sum/∂x̂ᵢ = ∂D(x̂ᵢ)/∂x̂ᵢ.
    (grad,) = torch.autograd.grad(out.float().sum(), x_hat, create_graph=True)
    norms = torch.linalg.vector_norm(grad.float().flatten(1), dim=1)
    return ((norms - 1) ** 2).mean()


def r1_penalty(real_logits: Tensor, real_images: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): mean over samples of ‖∇ₓD(x)‖² on real data.

    The caller computes `real_logits = D(real_images)` after `real_images.requires_grad_(True)` (on a detached
    copy of the batch), so D's forward pass on reals serves both its loss and this penalty. With DiffAugment,
    set requires_grad before augmenting, as the reference does: the gradient is then w.r.t. the un-augmented
    images, through the augmentation. create_graph=True, so the penalty trains D. Unweighted: the paper's
    term is γ/2 times this; γ depends on the data set and resolution (StyleGAN2: 10 on FFHQ at 1024²).
    """
    if not real_images.requires_grad:
        raise GankitError("r1_penalty needs D(real) computed on real images that require grad: "
                          "call real.requires_grad_(True) before D(real)")
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real_images, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean()
