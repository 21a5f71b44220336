"""gankit's step computes what the tutorial's loop computes: same losses, same updated weights."""

import torch

from benchmarks.tutorial_reference import make_tutorial, tutorial_step
from gankit import losses
from gankit.models import mlp
from gankit.config import preset_config
from gankit.engine import make_adam, to_model_range, train_step


def _pair_from_tutorial(seed):
    tG, tD, criterion, t_opt_g, t_opt_d = make_tutorial(seed)
    G, D = mlp.Generator(), mlp.Discriminator()
    G.load_state_dict(tG.state_dict())
    D.load_state_dict({k: v for k, v in tD.state_dict().items()})  # same indices; ours has no Sigmoid layer
    cfg, cpu = preset_config("seed"), torch.device("cpu")
    opt_g, opt_d = make_adam(G, cfg, cpu), make_adam(D, cfg, cpu)  # the engine's optimizer, fused
    return (tG, tD, criterion, t_opt_g, t_opt_d), (G, D, opt_g, opt_d)


def test_to_model_range_matches_totensor_normalize():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    expected = (x.float() / 255 - 0.5) / 0.5
    assert torch.allclose(to_model_range(x), expected, atol=1e-6)


def test_step_matches_tutorial_losses_and_weights_over_several_steps():
    tut, ours = _pair_from_tutorial(seed=3)
    tG, tD, criterion, t_opt_g, t_opt_d = tut
    G, D, opt_g, opt_d = ours
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        real_u8 = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=gen)
        z = torch.randn(64, 100, generator=gen)
        real = to_model_range(real_u8)
        t_d, t_g = tutorial_step(tG, tD, criterion, t_opt_g, t_opt_d, real, z)
        stats = train_step(G, D, opt_g, opt_d, losses.get("bce"), real, z)
        assert torch.allclose(stats[0], t_d, rtol=1e-5, atol=1e-6)
        assert torch.allclose(stats[1], t_g, rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(G.named_parameters(), tG.parameters()):
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-6), name
    for (name, p), q in zip(D.named_parameters(), tD.parameters()):
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-6), name
    # and the step did train: weights moved from their start
    fresh = make_tutorial(3)[0]
    assert not torch.allclose(next(G.parameters()), next(fresh.parameters()))


def test_step_reports_d_outputs_as_probabilities():
    _, (G, D, opt_g, opt_d) = _pair_from_tutorial(seed=0)
    real = torch.rand(32, 1, 28, 28) * 2 - 1
    stats = train_step(G, D, opt_g, opt_d, losses.get("bce"), real, torch.randn(32, 100))
    assert stats.shape == (4,) and not stats.requires_grad
    assert 0 < stats[2] < 1 and 0 < stats[3] < 1
