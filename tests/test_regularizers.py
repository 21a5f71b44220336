"""Gradient penalties against functions with known gradients; the EMA against its recurrence; DiffAugment's
geometry, randomness and gradients."""

import pytest
import torch
from torch import nn

from gankit.infra.errors import GankitError
from gankit.models import mlp
from gankit.training.diffaugment import diff_augment
from gankit.training.ema import EMA
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

def _net(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).to(dtype)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _set_params(module, values):
    with torch.no_grad():
        for p, v in zip(module.parameters(), values):
            p.copy_(v)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-15), (torch.float32, 1e-7)])
def test_ema_one_update_is_the_convex_combination(dtype, tol):
    G = _net(dtype)
    theta0 = _params(G)
    ema = EMA(G, beta=0.9, warmup=False)
    theta1 = _params(_net(dtype, seed=1))
    _set_params(G, theta1)
    ema.update(G)
    for e, a, b in zip(ema.module.parameters(), theta0, theta1):
        assert torch.allclose(e, 0.9 * a + 0.1 * b, rtol=0, atol=tol)
    assert all(torch.equal(p, b) for p, b in zip(G.parameters(), theta1))  # G itself untouched


def test_ema_two_updates_follow_the_recurrence():
    G = _net(torch.float64)
    thetas = [_params(G), _params(_net(torch.float64, 1)), _params(_net(torch.float64, 2))]
    ema = EMA(G, beta=0.99, warmup=False)
    for theta in thetas[1:]:
        _set_params(G, theta)
        ema.update(G)
    for i, e in enumerate(ema.module.parameters()):
        expected = 0.99**2 * thetas[0][i] + 0.99 * 0.01 * thetas[1][i] + 0.01 * thetas[2][i]
        assert torch.allclose(e, expected, rtol=0, atol=1e-14)


def test_ema_warmup_rule():
    G = _net(torch.float64)
    theta0 = _params(G)
    ema = EMA(G, beta=0.999)
    assert ema.current_beta() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    theta1 = _params(_net(torch.float64, 1))
    _set_params(G, theta1)
    ema.update(G)
    for e, a, b in zip(ema.module.parameters(), theta0, theta1):
        assert torch.allclose(e, 0.1 * a + 0.9 * b, rtol=0, atol=1e-14)
    assert ema.current_beta() == pytest.approx(2 / 11)
    ema.num_updates = 100_000
    assert ema.current_beta() == 0.999  # β caps the ramp (reached near t = 8990)


def test_ema_copies_buffers_and_keeps_its_own_storage():
    G = _net()
    ema = EMA(G, warmup=False)
    G.train()
    G(torch.randn(16, 3) * 3 + 1)  # moves the batch-norm running statistics
    bn, ema_bn = G[1], ema.module[1]
    assert not torch.equal(bn.running_mean, ema_bn.running_mean)
    ema.update(G)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.equal(getattr(ema_bn, name), getattr(bn, name)), name
    with torch.no_grad():
        G[0].weight.add_(1.0)
        bn.running_mean.add_(1.0)
    assert not torch.equal(ema.module[0].weight, G[0].weight) and not torch.equal(ema_bn.running_mean, bn.running_mean)


def test_ema_recalibrate_gives_the_averaged_weights_their_own_batch_norm_statistics():
    G = _net()
    ema = EMA(G, warmup=False)
    G.train()
    G(torch.randn(64, 3) * 3 + 1)
    ema.update(G)  # the average now carries G's running statistics
    with torch.no_grad():
        ema.module[0].weight.mul_(2.0)  # ...which no longer describe the averaged weights' activations
    batches = [torch.randn(32, 3, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    feeds = iter(batches)
    weights_before = _params(ema.module)
    assert ema.recalibrate(lambda: (next(feeds), None), batches=3)
    with torch.no_grad():
        h = [ema.module[0](x) for x in batches]
    bn = ema.module[1]
    # the plain mean over the batches of each batch's mean and unbiased variance, as BatchNorm with momentum None
    assert torch.allclose(bn.running_mean, torch.stack([x.mean(0) for x in h]).mean(0), atol=1e-6)
    assert torch.allclose(bn.running_var, torch.stack([x.var(0) for x in h]).mean(0), atol=1e-5)
    assert bn.momentum == 0.1 and not ema.module.training  # settings put back
    assert all(torch.equal(a, b) for a, b in zip(weights_before, ema.module.parameters()))
    assert not EMA(nn.Linear(3, 2)).recalibrate(lambda: (torch.randn(4, 3), None))  # nothing to recompute


def test_ema_module_is_a_frozen_eval_copy_for_sampling():
    G = _net()
    ema = EMA(G)
    assert not ema.module.training and not any(p.requires_grad for p in ema.module.parameters())
    G.eval()
    z = torch.randn(5, 3)
    assert torch.equal(ema.module(z), G(z))  # no update yet: the EMA is G's starting point


def test_ema_copy_to_writes_average_into_a_model():
    G = _net()
    ema = EMA(G, beta=0.5, warmup=False)
    _set_params(G, _params(_net(seed=1)))
    ema.update(G)
    target = _net(seed=2)
    ema.copy_to(target)
    assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(), ema.module.state_dict().values()))


def test_ema_state_dict_round_trip_with_weights_only(tmp_path):
    G = _net()
    ema = EMA(G, beta=0.9)
    for seed in (1, 2, 3):
        _set_params(G, _params(_net(seed=seed)))
        G.train()
        G(torch.randn(8, 3))
        ema.update(G)
    torch.save({"ema": ema.state_dict()}, tmp_path / "ckpt.pt")
    loaded = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    resumed = EMA(_net(seed=4), beta=0.9)
    resumed.load_state_dict(loaded["ema"])
    assert resumed.num_updates == 3
    assert all(torch.equal(a, b) for a, b in zip(resumed.module.state_dict().values(), ema.module.state_dict().values()))
    _set_params(G, _params(_net(seed=5)))
    ema.update(G)
    resumed.update(G)  # the warm-up continues where it was, so both stay bit-identical
    assert all(torch.equal(a, b) for a, b in zip(resumed.module.parameters(), ema.module.parameters()))


def test_ema_refuses_another_model():
    ema = EMA(_net())
    other = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(GankitError, match="same G"):
        ema.update(other)
    with pytest.raises(GankitError, match="does not fit"):
        ema.load_state_dict(EMA(other).state_dict())
    with pytest.raises(GankitError, match="beta"):
        EMA(other, beta=1.0)


# --- DiffAugment --------------------------------------------------------------------------------------------

POLICY_LIST = ["color", "translation", "cutout", "translation,cutout", "color,translation,cutout"]


@pytest.mark.parametrize("policy", POLICY_LIST)
@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (4, 3, 32, 32), (2, 3, 17, 24)])
def test_augment_keeps_shape_dtype_and_passes_gradients(policy, shape):
    x = (torch.rand(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1).requires_grad_(True)
    out = diff_augment(x, policy, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    weights = torch.randn(shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    (out * weights).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_augment_gradients_reach_the_generator():
    G = nn.Linear(8, 3 * 8 * 8)
    fake = torch.tanh(G(torch.randn(4, 8))).view(4, 3, 8, 8)
    diff_augment(fake, "color,translation,cutout", torch.Generator().manual_seed(0)).square().sum().backward()
    assert G.weight.grad is not None and G.weight.grad.abs().sum() > 0


def test_translation_moves_a_bright_pixel_by_at_most_an_eighth_and_fills_with_zero():
    n, h, w, r, c = 200, 28, 28, 13, 9
    x = torch.full((n, 1, h, w), 0.5)
    x[:, 0, r, c] = 1.0
    out = diff_augment(x, "translation", torch.Generator().manual_seed(0))
    bound = 4  # round(28 / 8)
    shifts = set()
    for img in out[:, 0]:
        (pos,) = (img == 1.0).nonzero().tolist()
        dy, dx = pos[0] - r, pos[1] - c
        assert abs(dy) <= bound and abs(dx) <= bound
        shifts.add((dy, dx))
        # the whole image moved by (dy, dx), the uncovered border is 0
        expected = torch.zeros(h + 2 * bound, w + 2 * bound)
        expected[bound + dy:bound + dy + h, bound + dx:bound + dx + w] = x[0, 0]
        assert torch.equal(img, expected[bound:bound + h, bound:bound + w])
    assert {abs(dy) for dy, _ in shifts} == set(range(bound + 1))  # every shift up to the bound occurs
    assert {abs(dx) for _, dx in shifts} == set(range(bound + 1))


def test_cutout_zeroes_one_square_of_half_the_side_clipped_at_the_edges():
    n, h = 300, 28
    x = -torch.ones(n, 1, h, h)  # black in [-1, 1]: the hole shows as 0 (mid-gray), not as more black
    out = diff_augment(x, "cutout", torch.Generator().manual_seed(0))
    assert set(out.unique().tolist()) == {-1.0, 0.0}
    full = 0
    for img in out[:, 0]:
        hole = img == 0
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        top, bottom, left, right = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        assert hole.sum() == (bottom - top) * (right - left) and hole[top:bottom, left:right].all()  # a rectangle
        assert bottom - top <= h // 2 and right - left <= h // 2
        if top > 0 and left > 0 and bottom < h and right < h:
            assert hole.sum() == (h // 2) ** 2  # 196: the whole square where no edge clips it
            full += 1
    assert 0 < full < n


def test_color_draws_brightness_and_contrast_only_for_one_channel():
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = diff_augment(x, "color", torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    brightness, contrast = torch.rand(6, 1, 1, 1, generator=gen), torch.rand(6, 1, 1, 1, generator=gen)
    y = x + brightness - 0.5
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(out, (y - mean) * (contrast + 0.5) + mean, atol=1e-6)


def test_color_adds_saturation_for_three_channels():
    x = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = diff_augment(x, "color", torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    b, s, c = (torch.rand(6, 1, 1, 1, generator=gen) for _ in range(3))
    y = x + b - 0.5
    y = (y - y.mean(1, keepdim=True)) * (2 * s) + y.mean(1, keepdim=True)
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(out, (y - mean) * (c + 0.5) + mean, atol=1e-6)


def test_same_seed_same_augmentation_other_seed_other():
    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    policy = "color,translation,cutout"
    a = diff_augment(x, policy, torch.Generator().manual_seed(5))
    b = diff_augment(x, policy, torch.Generator().manual_seed(5))
    c = diff_augment(x, policy, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(5)
    d = diff_augment(x, policy)
    torch.manual_seed(5)
    assert torch.equal(d, diff_augment(x, policy))  # without a generator: the global one


def test_empty_policy_is_identity_and_unknown_policy_a_one_line_error():
    x = torch.rand(2, 1, 8, 8)
    assert diff_augment(x, "") is x
    with pytest.raises(GankitError, match="unknown DiffAugment policy 'flip'.*color, translation, cutout") as err:
        diff_augment(x, "translation,flip")
    assert "\n" not in str(err.value)
    with pytest.raises(GankitError, match=r"\(N, C, H, W\)"):
        diff_augment(torch.rand(8, 8), "cutout")
