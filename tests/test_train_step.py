"""gankit's step computes what the tutorial's loop computes: same losses, same gradients, same updated weights."""

import os
import shutil

import pytest
import torch
from torch import nn

from gankit.models import mlp
from gankit.reference.tutorial import make_tutorial, tutorial_step
from gankit.training import losses
from gankit.training.config import preset_config
from gankit.training.loop import make_adam, to_model_range
from gankit.training.step import GanStep, StepOptions, has_batch_statistics


def _pair_from_tutorial(seed):
    tG, tD, criterion, t_opt_g, t_opt_d = make_tutorial(seed)
    G, D = mlp.Generator(), mlp.Discriminator()
    G.load_state_dict(tG.state_dict())
    D.load_state_dict(tD.state_dict())  # same indices; ours has no Sigmoid layer
    cfg, cpu = preset_config("seed"), torch.device("cpu")
    opt_g, opt_d = make_adam(G, cfg, cpu), make_adam(D, cfg, cpu)  # the engine's optimizer, fused
    return (tG, tD, criterion, t_opt_g, t_opt_d), (G, D, opt_g, opt_d)


def _batches(n, gen):
    for _ in range(n):
        images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=gen)
        yield to_model_range(images).to(torch.get_default_dtype()), torch.randn(64, 100, generator=gen)


def test_to_model_range_matches_totensor_normalize():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    expected = (x.float() / 255 - 0.5) / 0.5
    assert torch.allclose(to_model_range(x), expected, atol=1e-6)


@pytest.fixture
def float64():
    """Models, noise and losses in float64 for the test's duration."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.numerics
@pytest.mark.parametrize("compiled", [
    False,
    pytest.param(True, marks=pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                                                reason="torch.compile on the CPU needs a C++ compiler")),
], ids=["eager", "compiled"])
def test_fast_step_matches_tutorial_losses_and_weights_over_several_steps(compiled, float64):
    # In float32 the joint real+fake GEMM and the tutorial's two GEMMs round differently (by how much depends on
    # the CPU's kernels), and Adam turns a rounding difference d in a near-zero gradient into a weight difference
    # of up to lr * d / eps = 2e4 * d per step: 1e-9 gradients' rounding already moves weights by 2e-5. In
    # float64 d is ~1e-17, so after five steps the weights agree to ~1e-12 on any CPU, and any real difference
    # in what the step computes (a missing term, a different order of updates) stays visible at 1e-9.
    tut, ours = _pair_from_tutorial(seed=3)
    tG, tD, criterion, t_opt_g, t_opt_d = tut
    G, D, opt_g, opt_d = ours
    assert next(G.parameters()).dtype == torch.float64
    step = GanStep(G, D, opt_g, opt_d, losses.get("bce"), options=StepOptions(compile=compiled))
    assert step.joint_d_pass  # the MLP D has no batch statistics: one D pass over real and fake
    for real, z in _batches(5, torch.Generator().manual_seed(0)):
        t_d, t_g = tutorial_step(tG, tD, criterion, t_opt_g, t_opt_d, real, z)
        stats = step(real, z)
        assert torch.allclose(stats[0], t_d, rtol=1e-10, atol=0)
        assert torch.allclose(stats[1], t_g, rtol=1e-10, atol=0)
    for (name, p), q in zip([*G.named_parameters(), *D.named_parameters()], [*tG.parameters(), *tD.parameters()]):
        assert (p - q).abs().max() < 1e-9, name
    fresh = make_tutorial(3)[0]  # and the step did train: weights moved from their start
    assert (next(G.parameters()) - next(fresh.parameters())).abs().max() > 1e-4


class _NoStep(torch.optim.Optimizer):
    """Keeps the gradients for inspection: zero_grad clears, step does nothing."""

    def __init__(self, params):
        super().__init__(params, {})

    def step(self, closure=None):
        pass


@pytest.mark.numerics
def test_fast_step_computes_the_tutorials_gradients():
    (tG, tD, criterion, *_), (G, D, *_) = _pair_from_tutorial(seed=1)
    real, z = next(_batches(1, torch.Generator().manual_seed(5)))
    # The tutorial's D gradients are read before its G step adds to them (it zeroes only G's).
    t_opt_d, t_opt_g = _NoStep(tD.parameters()), _NoStep(tG.parameters())
    d_grads = {}
    original_step = t_opt_d.step
    t_opt_d.step = lambda closure=None: d_grads.update({n: p.grad.clone() for n, p in tD.named_parameters()})
    tutorial_step(tG, tD, criterion, t_opt_g, t_opt_d, real, z)
    t_opt_d.step = original_step
    GanStep(G, D, _NoStep(G.parameters()), _NoStep(D.parameters()), losses.get("bce"))(real, z)
    for name, p in D.named_parameters():
        assert torch.allclose(p.grad, d_grads[name], rtol=1e-4, atol=1e-7), name
    for (name, p), q in zip(G.named_parameters(), tG.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-7), name
    assert all(p.requires_grad for p in D.parameters())  # the G step's freeze is undone


def test_batchnorm_discriminator_sees_real_and_fake_apart():
    D = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.BatchNorm1d(8), nn.Linear(8, 1), nn.Flatten(0))
    G = mlp.Generator()
    step = GanStep(G, D, torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters()), losses.get("bce"))
    assert has_batch_statistics(D) and not step.joint_d_pass
    stats = step(torch.rand(16, 1, 28, 28) * 2 - 1, torch.randn(16, 100))
    assert torch.isfinite(stats).all()


def test_step_reports_d_outputs_as_probabilities():
    _, (G, D, opt_g, opt_d) = _pair_from_tutorial(seed=0)
    real = torch.rand(32, 1, 28, 28) * 2 - 1
    stats = GanStep(G, D, opt_g, opt_d, losses.get("bce"))(real, torch.randn(32, 100))
    assert stats.shape == (4,) and not stats.requires_grad
    assert 0 < stats[2] < 1 and 0 < stats[3] < 1


@pytest.mark.numerics
@pytest.mark.parametrize("precision", ["bf16"])
def test_bf16_step_stays_close_to_fp32(precision):
    (_, ours32), (_, ours16) = _pair_from_tutorial(seed=2), _pair_from_tutorial(seed=2)
    real, z = next(_batches(1, torch.Generator().manual_seed(1)))
    s32 = GanStep(*ours32, losses.get("bce"))(real, z)
    s16 = GanStep(*ours16, losses.get("bce"), options=StepOptions(precision=precision))(real, z)
    assert torch.allclose(s32, s16, rtol=0.05, atol=0.02)
    assert all(p.dtype == torch.float32 for p in ours16[0].parameters())  # autocast keeps fp32 master weights
