"""gankit's step computes what the tutorial's loop computes: same losses, same gradients, same updated weights."""

import copy
import os
import shutil

import pytest
import torch
from torch import nn

from gankit import models
from gankit.models import mlp
from gankit.reference.tutorial import make_tutorial, tutorial_step
from gankit.training import losses
from gankit.training.config import preset_config
from gankit.training.loop import make_adam, to_model_range
from gankit.training.step import GanStep, StepOptions, mixes_batch


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
        assert torch.allclose(stats["d_loss"], t_d, rtol=1e-10, atol=0)
        assert torch.allclose(stats["g_loss"], t_g, rtol=1e-10, atol=0)
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


def _d_call_sizes(D: nn.Module) -> list[int]:
    """The batch size of every forward call of D, recorded by a hook."""
    sizes: list[int] = []
    D.register_forward_hook(lambda module, args, out: sizes.append(len(args[0])))
    return sizes


def test_a_batch_norm_d_sees_real_and_fake_apart_and_a_plain_d_together():
    real, z = torch.rand(16, 1, 28, 28) * 2 - 1, torch.randn(16, 100)
    bn_D = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.BatchNorm1d(8), nn.Linear(8, 1), nn.Flatten(0))
    for D, d_step_calls in ((bn_D, [16, 16]), (mlp.Discriminator(), [32])):
        G = mlp.Generator()
        sizes = _d_call_sizes(D)
        step = GanStep(G, D, torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters()), losses.get("bce"))
        stats = step(real, z)
        assert sizes == [*d_step_calls, 16]  # the D step's calls, then the G step's one call on the fakes
        assert torch.isfinite(torch.stack(list(stats.values()))).all()
    assert mixes_batch(bn_D) and not mixes_batch(mlp.Discriminator())


def test_a_layer_that_says_it_mixes_the_batch_gets_real_and_fake_apart():
    class GroupSpread(nn.Module):
        mixes_batch = True

        def forward(self, x):
            return x - x.mean(0, keepdim=True)

    D = nn.Sequential(nn.Flatten(), GroupSpread(), nn.Linear(784, 1), nn.Flatten(0))
    G = mlp.Generator()
    sizes = _d_call_sizes(D)
    GanStep(G, D, torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters()),
            losses.get("bce"))(torch.rand(8, 1, 28, 28) * 2 - 1, torch.randn(8, 100))
    assert sizes == [8, 8, 8]


@pytest.mark.parametrize("loss, as_probability", [("bce", True), ("least-squares", False), ("hinge", False)])
def test_the_step_reports_d_outputs_as_the_loss_means_them(loss, as_probability):
    _, (G, D, opt_g, opt_d) = _pair_from_tutorial(seed=0)
    real, z = torch.rand(32, 1, 28, 28) * 2 - 1, torch.randn(32, 100)
    with torch.no_grad():  # D's outputs before its update: what the D step saw
        logits_real, logits_fake = D(real), D(G(z))
    stats = GanStep(G, D, opt_g, opt_d, losses.get(loss))(real, z)
    shown = torch.sigmoid if as_probability else (lambda t: t)
    assert set(stats) == set(GanStep.STATS) and not any(v.requires_grad for v in stats.values())
    assert torch.allclose(stats["d_real"], shown(logits_real).mean(), rtol=1e-4, atol=1e-6)
    assert torch.allclose(stats["d_fake"], shown(logits_fake).mean(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("penalty", ["gp_weight", "r1_gamma"])
def test_a_gradient_penalty_reaches_ds_update(penalty):
    """From the same weights and batch, D's update with the penalty differs from the update without it: a
    penalty computed but left out of D's loss, or cut from the graph, would fail this."""
    real, z = torch.rand(16, 1, 28, 28) * 2 - 1, torch.randn(16, 100)
    updated = {}
    for weight in (0.0, 10.0):
        torch.manual_seed(0)
        G, D = mlp.Generator(), mlp.Discriminator()
        step = GanStep(G, D, torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1),
                       losses.get("wasserstein"), options=StepOptions(**{penalty: weight}))
        stats = step(real, z)
        updated[weight] = (stats["d_loss"], [p.detach().clone() for p in D.parameters()])
    assert updated[0.0][0] != updated[10.0][0]
    # every weight matrix moves differently (the biases need not: D's gradient in x does not depend on them)
    assert all(not torch.equal(a, b) for a, b in zip(updated[0.0][1], updated[10.0][1]) if a.dim() == 2)


def test_the_step_saves_and_restores_its_place_in_the_critic_cycle():
    _, (G, D, opt_g, opt_d) = _pair_from_tutorial(seed=0)
    step = GanStep(G, D, opt_g, opt_d, losses.get("bce"), options=StepOptions(n_critic=2))
    real, z = torch.rand(8, 1, 28, 28) * 2 - 1, torch.randn(8, 100)
    first = step(real, z)["g_loss"]
    assert step(real, z)["g_loss"] == first  # no G step on the second call: the last G loss is reported
    state = step.state_dict()
    fresh = GanStep(G, D, opt_g, opt_d, losses.get("bce"), options=StepOptions(n_critic=2))
    fresh.load_state_dict(state)
    before = [p.clone() for p in G.parameters()]
    fresh(real, z)  # the third call is a G step again
    assert state["calls"] == 2 and any(not torch.equal(a, b) for a, b in zip(before, G.parameters()))
    fresh.load_state_dict({"calls": 3})
    fresh(real, z)  # the fourth is not
    assert fresh.state_dict()["calls"] == 4


@pytest.mark.numerics
@pytest.mark.parametrize("precision", ["bf16"])
def test_bf16_step_stays_close_to_fp32(precision):
    (_, ours32), (_, ours16) = _pair_from_tutorial(seed=2), _pair_from_tutorial(seed=2)
    real, z = next(_batches(1, torch.Generator().manual_seed(1)))
    s32 = GanStep(*ours32, losses.get("bce"))(real, z)
    s16 = GanStep(*ours16, losses.get("bce"), options=StepOptions(precision=precision))(real, z)
    assert torch.allclose(torch.stack(list(s32.values())), torch.stack(list(s16.values())), rtol=0.05, atol=0.02)
    assert all(p.dtype == torch.float32 for p in ours16[0].parameters())  # autocast keeps fp32 master weights


@pytest.mark.numerics
def test_a_channels_last_conv_step_computes_what_the_contiguous_one_does():
    torch.manual_seed(0)
    cfg, cpu = preset_config("rgb"), torch.device("cpu")
    G, D = models.build_for(cfg, (3, 32, 32))
    real, z = torch.rand(16, 3, 32, 32) * 2 - 1, torch.randn(16, cfg.z_dim)
    runs = []
    for memory_format in (torch.contiguous_format, torch.channels_last):
        g, d = (copy.deepcopy(m).to(memory_format=memory_format) for m in (G, D))
        stats = GanStep(g, d, make_adam(g, cfg, cpu), make_adam(d, cfg, cpu), losses.get(cfg.loss))(real, z)
        runs.append((torch.stack(list(stats.values())), [p.grad for m in (g, d) for p in m.parameters()]))
    assert next(p for p in g.parameters() if p.dim() == 4).is_contiguous(memory_format=torch.channels_last)
    (stats_a, grads_a), (stats_b, grads_b) = runs
    assert torch.allclose(stats_a, stats_b, rtol=1e-4, atol=1e-6)
    for a, b in zip(grads_a, grads_b):
        assert (a - b).norm() <= 1e-4 * a.norm() + 1e-9
