"""The EMA of G against its recurrence, its warm-up, its buffers and its standing batch-norm statistics."""

import pytest
import torch
from torch import nn

from gankit.infra.errors import GankitError
from gankit.training.ema import EMA


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
