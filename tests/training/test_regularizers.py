"""Gradient penalties (WGAN-GP, R1) against functions whose gradients are known."""

import pytest
import torch
from torch import nn

from gankit.infra.errors import GankitError
from gankit.models import mlp
from gankit.training.diffaugment import diff_augment
from gankit.training.regularizers import WGAN_GP_WEIGHT, gradient_penalty, r1_penalty

SHAPE = (1, 4, 4)  # 16 pixels: a weight of ±0.5 everywhere has norm exactly 2


class Linear(nn.Module):
    """D(x) = Σ w·x over the pixels, so ∇ₓD = w for every x."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x, labels=None):
        return (self.w * x).flatten(1).sum(1)


class ClassLinear(nn.Module):
    """D(x, y) = Σ w_y·x: the gradient is w of the sample's label."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x, labels):
        return (self.w[labels] * x).flatten(1).sum(1)


def _half_signs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 2, SHAPE, generator=gen).float() * 2 - 1) * 0.5  # ‖w‖ = sqrt(16 · 0.25) = 2


def _batch(n, seed, shape=SHAPE):
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))


# --- gradient penalty ---------------------------------------------------------------------------------------

def test_gp_of_linear_d_with_gradient_norm_two_is_exactly_one():
    D = Linear(_half_signs())
    gp = gradient_penalty(D, _batch(8, 1), _batch(8, 2))
    assert float(gp.detach()) == 1.0  # (‖w‖ − 1)² with ‖w‖ = 2, whatever ε is


def test_gp_trains_d_through_the_gradient():
    # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1) w / ‖w‖ = w at ‖w‖ = 2: reachable only with create_graph=True.
    D = Linear(_half_signs())
    gradient_penalty(D, _batch(8, 1), _batch(8, 2)).backward()
    assert torch.allclose(D.w.grad, D.w.detach(), atol=1e-7)


def test_gp_of_quadratic_d_interpolates_with_one_uniform_per_sample():
    # D(x) = ½‖x‖² per sample: ∇ = x̂ itself, so the penalty reveals where x̂ was taken.
    def D(x):
        return 0.5 * x.flatten(1).square().sum(1)

    real, fake = _batch(16, 1), _batch(16, 2)
    gp = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(7))
    eps = torch.rand(16, 1, 1, 1, generator=torch.Generator().manual_seed(7))
    x_hat = eps * real + (1 - eps) * fake
    expected = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert torch.allclose(gp, expected, rtol=1e-5)
    assert 0 < float(eps.min()) and float(eps.max()) < 1 and float(eps.std()) > 0.1  # per sample, not one ε


def test_gp_where_real_equals_fake_is_the_norm_at_that_point():
    def D(x):
        return 0.5 * x.flatten(1).square().sum(1)

    x = torch.zeros(3, *SHAPE)
    x[0, 0, 0, 0], x[1, 0, 0, 0], x[2, 0, 0, :2] = 1.0, 3.0, 3.0  # norms 1, 3, 3·√2
    expected = (0.0 + 4.0 + (3 * 2**0.5 - 1) ** 2) / 3
    assert torch.allclose(gradient_penalty(D, x, x), torch.tensor(expected), rtol=1e-6)


def test_gp_passes_labels_to_a_conditional_d():
    w = torch.stack([_half_signs(0), _half_signs(1) * 1.5])  # class 0: ‖w‖ = 2, class 1: ‖w‖ = 3
    D = ClassLinear(w)
    gp = gradient_penalty(D, _batch(4, 1), _batch(4, 2), torch.tensor([0, 1, 1, 0]))
    assert torch.allclose(gp, torch.tensor((1.0 + 4.0 + 4.0 + 1.0) / 4))


def test_gp_leaves_the_generator_alone():
    G = nn.Linear(3, 16)
    fake = G(torch.randn(8, 3)).view(8, *SHAPE)  # not detached by the caller
    D = Linear(_half_signs())
    gradient_penalty(D, _batch(8, 1), fake).backward()
    assert D.w.grad is not None and all(p.grad is None for p in G.parameters())


def test_gp_on_the_mlp_discriminator_gives_finite_gradients_to_all_its_weights():
    D = mlp.Discriminator()
    real, fake = _batch(4, 1, (1, 28, 28)).clamp(-1, 1), _batch(4, 2, (1, 28, 28)).clamp(-1, 1)
    (WGAN_GP_WEIGHT * gradient_penalty(D, real, fake)).backward()
    for name, p in D.named_parameters():
        if name.endswith("weight"):
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
        else:  # D is piecewise linear in x: its input gradient does not depend on the biases
            assert p.grad is None or not p.grad.any(), name


def test_gp_refuses_real_and_fake_of_different_shapes():
    with pytest.raises(GankitError, match="one shape"):
        gradient_penalty(Linear(_half_signs()), _batch(4, 1), _batch(5, 2))


# --- R1 -----------------------------------------------------------------------------------------------------

def test_r1_of_linear_d_is_squared_weight_norm():
    D = Linear(_half_signs())
    real = _batch(8, 1).requires_grad_(True)
    r1 = r1_penalty(D(real), real)
    assert float(r1.detach()) == 4.0  # ‖w‖² = 2²
    r1.backward()
    assert torch.allclose(D.w.grad, 2 * D.w.detach())  # d/dw ‖w‖² = 2w: the penalty trains D


def test_r1_of_quadratic_d_is_mean_squared_norm_of_the_reals():
    real = _batch(8, 3).requires_grad_(True)
    logits = 0.5 * real.flatten(1).square().sum(1)
    expected = real.detach().flatten(1).square().sum(1).mean()
    assert torch.allclose(r1_penalty(logits, real), expected, rtol=1e-6)


def test_r1_says_how_to_fix_reals_without_grad():
    D = Linear(_half_signs())
    real = _batch(4, 1)
    with pytest.raises(GankitError, match=r"requires_grad_\(True\)"):
        r1_penalty(D(real), real)


def test_r1_through_diff_augment_differentiates_the_unaugmented_reals():
    D = Linear(_half_signs())
    real = _batch(4, 1).requires_grad_(True)
    logits = D(diff_augment(real, "translation,cutout", torch.Generator().manual_seed(0)))
    r1 = r1_penalty(logits, real)
    # translation and cutout only move or drop pixels, so each image's gradient is w moved or partly dropped
    assert 0 < float(r1.detach()) <= 4.0


# --- EMA ----------------------------------------------------------------------------------------------------
