"""Every loss in gankit.training.losses against its closed form on hand-picked logits."""

import math

import pytest
import torch
import torch.nn.functional as F

from gankit.infra.errors import GankitError
from gankit.training import losses

REAL = torch.tensor([2.0, 0.5, -1.0])
FAKE = torch.tensor([-2.0, 0.0, 0.5])


def _close(a, b, tol=1e-6):
    return abs(float(a) - float(b)) < tol


def test_every_registered_loss_is_covered_here():
    # A new loss must come with its closed form below.
    assert set(losses.LOSSES) == {"bce", "bce-saturating", "hinge", "wasserstein", "least-squares"}


def test_bce_d_is_near_zero_for_confident_correct_logits():
    d = losses.get("bce").discriminator(torch.full((8,), 30.0), torch.full((8,), -30.0))
    assert 0 <= float(d) < 1e-12


def test_bce_d_at_zero_logits_is_two_ln2():
    zeros = torch.zeros(5)
    assert _close(losses.get("bce").discriminator(zeros, zeros), 2 * math.log(2))


def test_bce_d_closed_form():
    # -log σ(r) = softplus(-r), -log(1 - σ(f)) = softplus(f)
    expected = sum(math.log1p(math.exp(-r)) for r in REAL.tolist()) / 3 + \
        sum(math.log1p(math.exp(f)) for f in FAKE.tolist()) / 3
    assert _close(losses.get("bce").discriminator(REAL, FAKE), expected)


def test_bce_g_nonsaturating_is_mean_softplus_of_minus_logit():
    expected = sum(math.log1p(math.exp(-f)) for f in FAKE.tolist()) / 3
    assert _close(losses.get("bce").generator(FAKE), expected)
    assert _close(losses.get("bce").generator(torch.zeros(4)), math.log(2))


def test_bce_g_saturating_is_mean_log_one_minus_sigmoid():
    expected = sum(math.log(1 - 1 / (1 + math.exp(-f))) for f in FAKE.tolist()) / 3  # = -mean softplus(f)
    assert _close(losses.get("bce-saturating").generator(FAKE), expected)
    assert _close(losses.get("bce-saturating").generator(torch.zeros(4)), -math.log(2))
    assert losses.get("bce-saturating").discriminator is losses.get("bce").discriminator


def test_saturating_g_gradient_vanishes_where_nonsaturating_does_not():
    # The reason for the non-saturating form: when D confidently rejects fakes, log(1 - D) is flat.
    f = torch.tensor([-10.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(losses.get("bce-saturating").generator(f), f)
    (g_ns,) = torch.autograd.grad(losses.get("bce").generator(f), f)
    assert abs(float(g_sat)) < 1e-4  # σ(f) ≈ 4.5e-5
    assert float(g_ns) < -0.999  # -(1 - σ(f))


@pytest.mark.numerics
@pytest.mark.parametrize("scale", [0.1, 1.0, 4.0])
def test_bce_equals_tutorials_bceloss_on_sigmoid_outputs(scale):
    gen = torch.Generator().manual_seed(0)
    r = torch.randn(64, generator=gen) * scale
    f = torch.randn(64, generator=gen) * scale
    bce = torch.nn.BCELoss()
    tutorial_d = bce(torch.sigmoid(r), torch.ones(64)) + bce(torch.sigmoid(f), torch.zeros(64))
    tutorial_g = bce(torch.sigmoid(f), torch.ones(64))
    assert torch.allclose(losses.get("bce").discriminator(r, f), tutorial_d, atol=1e-6)
    assert torch.allclose(losses.get("bce").generator(f), tutorial_g, atol=1e-6)


def test_hinge_on_hand_values():
    # relu(1 - r) = [0, 0.5, 2], relu(1 + f) = [0, 1, 1.5]
    assert _close(losses.get("hinge").discriminator(REAL, FAKE), 2.5 / 3 + 2.5 / 3)
    assert _close(losses.get("hinge").generator(FAKE), 0.5)  # -mean(f) = -(-1.5 / 3)
    # beyond the margin D gets nothing more: its loss is 0 and flat
    far = torch.tensor([3.0, 5.0], requires_grad=True)
    d = losses.get("hinge").discriminator(far, -far)
    (g,) = torch.autograd.grad(d, far)
    assert float(d.detach()) == 0 and torch.equal(g, torch.zeros(2))


def test_wasserstein_on_hand_values():
    # mean(f) - mean(r) = (-1.5 / 3) - (1.5 / 3)
    assert _close(losses.get("wasserstein").discriminator(REAL, FAKE), -1.0)
    assert _close(losses.get("wasserstein").generator(FAKE), 0.5)


def test_least_squares_on_hand_values():
    # (r - 1)^2 = [1, 0.25, 4], f^2 = [4, 0, 0.25], (f - 1)^2 = [9, 1, 0.25]
    assert _close(losses.get("least-squares").discriminator(REAL, FAKE), 0.5 * 5.25 / 3 + 0.5 * 4.25 / 3)
    assert _close(losses.get("least-squares").generator(FAKE), 0.5 * 10.25 / 3)
    assert _close(losses.get("least-squares").discriminator(torch.ones(3), torch.zeros(3)), 0.0)


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_every_loss_is_a_differentiable_scalar(name):
    loss = losses.get(name)
    # Logits where every loss still has something to teach: real below 1 (hinge's margin, LS's target),
    # fake above 0 (LS's target for fakes).
    r = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    f = torch.tensor([0.1, 0.3, 0.6], requires_grad=True)
    d, g = loss.discriminator(r, f), loss.generator(f)
    assert d.shape == () and g.shape == ()
    d_grad_r, d_grad_f = torch.autograd.grad(d, (r, f))
    (g_grad_f,) = torch.autograd.grad(g, f)
    # D pushes real logits up and fake logits down; G pushes fake logits up (descent moves against the gradient).
    assert (d_grad_r <= 0).all() and (d_grad_f >= 0).all() and (g_grad_f <= 0).all()
    assert d_grad_r.abs().sum() > 0 and d_grad_f.abs().sum() > 0 and g_grad_f.abs().sum() > 0


@pytest.mark.numerics
def test_bce_matches_softplus_identities_on_random_logits():
    gen = torch.Generator().manual_seed(1)
    r, f = torch.randn(100, generator=gen) * 3, torch.randn(100, generator=gen) * 3
    assert torch.allclose(losses.get("bce").discriminator(r, f), F.softplus(-r).mean() + F.softplus(f).mean(), atol=1e-6)
    assert torch.allclose(losses.get("bce").generator(f), F.softplus(-f).mean(), atol=1e-6)
    assert torch.allclose(losses.get("bce-saturating").generator(f), -F.softplus(f).mean(), atol=1e-6)


def test_unknown_loss_is_a_one_line_error():
    with pytest.raises(GankitError, match="unknown loss 'nope'.*bce") as err:
        losses.get("nope")
    assert "\n" not in str(err.value)
