"""The sequence GAN: its losses, its API (fit, sample, save, load, resume) and its checks, on small data."""

import numpy as np
import pytest
import torch

from gankit.infra.errors import GankitError
from gankit.timeseries.data import sines
from gankit.timeseries.gan import SeriesConfig, TimeSeriesGAN
from gankit.timeseries.models import ConvDiscriminator, ConvGenerator, TimeGANNets, upsampling_stages
from gankit.timeseries.recipes import ConvRecipe, TimeGANRecipe, moment_loss

SMALL = dict(steps=6, batch_size=16, z_dim=8, width=32, log_every=3)


def _quiet(_):
    pass


def _labelled(n=60, length=16):
    """Two classes: slow and fast sines, in units far from [0, 1] (so scaling matters)."""
    t = np.arange(length)[None, :, None]
    labels = np.arange(n) % 2
    freq = np.where(labels == 0, 0.2, 1.0)[:, None, None]
    values = 50 + 10 * np.sin(freq * t + np.random.default_rng(0).uniform(0, 3, (n, 1, 2)))
    return values.astype(np.float32), labels


@pytest.mark.parametrize("length", [7, 24, 100, 150])
def test_conv_networks_make_and_score_series_of_any_length(length):
    G, D = ConvGenerator(length, 3, 8, 32, num_classes=2), ConvDiscriminator(length, 3, 32, num_classes=2)
    labels = torch.tensor([0, 1, 1])
    x = G(torch.randn(3, 8), labels)
    assert x.shape == (3, length, 3) and 0 <= x.min() and x.max() <= 1
    assert D(x, labels).shape == (3,)
    assert 2 ** upsampling_stages(length) <= max(length, 1)


def test_timegan_networks_map_noise_to_series_of_its_shape():
    nets = TimeGANNets(features=4, hidden=6, layers=3)
    out = nets(torch.rand(5, 11, 4))
    assert out.shape == (5, 11, 4) and 0 <= out.min() and out.max() <= 1
    assert nets.supervisor.gru.num_layers == 2  # the released code's supervisor has one layer fewer


def _train_losses(recipe, draw, steps, key, progress=0.0):
    return [recipe.step(draw, progress)[key] for _ in range(steps)]


def test_timegan_reconstruction_and_supervision_losses_fall_on_fixed_data():
    torch.manual_seed(0)
    x = torch.from_numpy(sines(64, 12, 3))
    recipe = TimeGANRecipe(12, 3, 0, hidden=8, layers=2, lr=1e-2)
    e = _train_losses(recipe, lambda: (x, None), 60, "e_loss", progress=0.0)
    s = _train_losses(recipe, lambda: (x, None), 60, "s_loss", progress=0.5)
    assert np.mean(e[-10:]) < 0.5 * np.mean(e[:5])
    assert np.mean(s[-10:]) < 0.5 * np.mean(s[:5])
    joint = recipe.step(lambda: (x, None), 0.9)
    assert set(joint) == {"g_loss", "s_loss", "moments", "e_loss", "d_loss"}
    assert [recipe.phase(p) for p in (0.0, 0.4, 0.7)] == ["embedding", "supervised", "joint"]


def test_timegan_moment_loss_is_zero_for_equal_moments_and_grows_with_the_gap():
    x = torch.rand(16, 8, 2)
    assert moment_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert moment_loss(x[torch.randperm(16)], x).item() == pytest.approx(0.0, abs=1e-6)  # order in the batch: no
    shifted, spread = moment_loss(x + 0.1, x).item(), moment_loss(0.5 + 2 * (x - 0.5), x).item()
    assert shifted == pytest.approx(0.1, abs=1e-5) and spread > 0.1
    assert moment_loss(x + 0.2, x).item() > shifted


def test_conv_hinge_critic_learns_to_separate_real_from_generated():
    torch.manual_seed(0)
    x = torch.from_numpy(sines(64, 16, 2))
    recipe = ConvRecipe(16, 2, 0, z_dim=8, width=32, lr=1e-3)
    recipe.opt_g.param_groups[0]["lr"] = 0.0  # G stays put: D's hinge loss alone must fall
    losses = _train_losses(recipe, lambda: (x, None), 40, "d_loss")
    assert np.mean(losses[-5:]) < 0.5 * losses[0]


def test_config_refuses_bad_options_in_one_line():
    for bad in (dict(recipe="lstm"), dict(steps=0), dict(batch_size=True), dict(minutes=-1), dict(lr=float("nan"))):
        with pytest.raises(GankitError) as e:
            SeriesConfig(**bad)
        assert "\n" not in str(e.value)
    with pytest.raises(GankitError, match="unknown sequence options"):
        SeriesConfig.from_dict({"epochs": 3})


def test_samples_come_back_in_the_datas_units_and_shape():
    values, _ = _labelled()
    gan = TimeSeriesGAN(**SMALL).fit(values, log=_quiet)
    out = gan.sample(10, seed=1)
    assert out.shape == (10, 16, 2) and out.dtype == np.float32
    lo, hi = values.min(axis=(0, 1)), values.max(axis=(0, 1))
    assert (out >= lo - 1e-3).all() and (out <= hi + 1e-3).all()
    assert out.mean() > 30  # unscaled: a model sampling [0, 1] would sit near 0.5
    np.testing.assert_array_equal(out, gan.sample(10, seed=1))
    assert not np.array_equal(out, gan.sample(10, seed=2))


def test_a_labelled_set_trains_a_conditional_model_that_samples_a_chosen_class():
    values, labels = _labelled()
    gan = TimeSeriesGAN(**SMALL).fit(values, labels.astype(str), log=_quiet)
    assert gan.meta["classes"] == ["0", "1"] and gan.meta["class_counts"] == [30, 30]
    _, drawn = gan.sample(400, seed=0, return_labels=True)
    assert 150 < (drawn == 1).sum() < 250
    _, only = gan.sample(5, seed=0, label="1", return_labels=True)
    assert (only == 1).all()
    with pytest.raises(GankitError, match="no class"):
        gan.sample(5, label="7")
    plain = TimeSeriesGAN(**SMALL, conditional=False).fit(values, labels, log=_quiet)
    with pytest.raises(GankitError, match="without labels"):
        plain.sample(5, label=0)


@pytest.mark.parametrize("recipe", ["conv", "timegan"])
def test_save_and_load_give_the_same_samples(tmp_path, recipe):
    values, _ = _labelled()
    gan = TimeSeriesGAN(**SMALL, recipe=recipe, hidden=6).fit(values, log=_quiet)
    gan.save(tmp_path / "m.pt")
    again = TimeSeriesGAN.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(gan.sample(8, seed=3), again.sample(8, seed=3))


@pytest.mark.parametrize("recipe", ["conv", "timegan"])
def test_a_resumed_fit_ends_where_an_unbroken_one_does(recipe):
    values, labels = _labelled()
    options = dict(SMALL, recipe=recipe, hidden=6, steps=8)
    whole = TimeSeriesGAN(**options).fit(values, labels, log=_quiet)
    states, calls = [], iter(range(100))
    # stopped after 4 of 8 steps (as by a signal): the timegan recipe's phases follow the share of steps done
    TimeSeriesGAN(**options).fit(values, labels, log=_quiet, on_checkpoint=lambda g, s: states.append(s),
                                 stop=lambda: next(calls) >= 4)
    assert states[-1]["step"] == 4
    resumed = TimeSeriesGAN(**options).fit(values, labels, log=_quiet, state=states[-1])
    for a, b in zip(whole.state_dict()["sampler"].values(), resumed.state_dict()["sampler"].values()):
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_the_minutes_budget_and_a_stop_request_end_training_early():
    values, _ = _labelled()
    logs = []
    gan = TimeSeriesGAN(**dict(SMALL, steps=10_000)).fit(values, log=logs.append, stop=lambda: True)
    assert any("stopped at step 0" in m for m in logs) and gan.sample(2).shape == (2, 16, 2)
    logs.clear()
    TimeSeriesGAN(**dict(SMALL, steps=10_000, minutes=0.001)).fit(values, log=logs.append)
    assert any("--minutes budget" in m for m in logs)


@pytest.mark.parametrize("data, message", [
    (np.zeros((4,)), "shaped"),
    (np.zeros((1, 5, 2)), "too few"),
    (np.array([[[1.0, np.nan]] * 3] * 3), "NaN"),
    ([[1.0, 2.0], [3.0]], "equal length"),
])
def test_fit_refuses_unusable_arrays_in_one_line(data, message):
    with pytest.raises(GankitError, match=message):
        TimeSeriesGAN(**SMALL).fit(data, log=_quiet)


def test_divergence_stops_training_with_a_message():
    values, _ = _labelled()
    gan = TimeSeriesGAN(**dict(SMALL, lr=1e30))
    with pytest.raises(GankitError, match="diverged"):
        gan.fit(values, log=_quiet)


def test_health_warns_once_when_d_wins_outright_or_the_series_collapse():
    from gankit.timeseries.health import SeriesHealth, spread

    logs = []
    health = SeriesHealth(logs.append, real_spread=0.2, patience=3)
    for step in range(5):
        health.check({"d_loss": 0.5, "d_real": 1.0}, step, generated_spread=0.2)
    assert logs == []
    for step in range(6):
        health.check({"d_loss": 0.01, "d_real": 3.0}, step, generated_spread=0.01)
    assert len(logs) == 2 and "wins outright" in logs[0] and "mode collapse" in logs[1]
    same = torch.ones(8, 5, 2)
    assert spread(same) == 0 and spread(torch.rand(64, 5, 2)) > 0.2



def test_dataframes_fit_wide_as_they_are_and_long_through_from_frame():
    import pandas as pd

    from gankit.timeseries.data import from_frame

    wide = pd.DataFrame(np.random.default_rng(0).random((12, 10)), columns=[f"t{i}" for i in range(10)])
    gan = TimeSeriesGAN(**SMALL).fit(wide, log=_quiet)
    assert gan.sample(3).shape == (3, 10, 1)
    rows = [(s, t, float(s + t), float(-t)) for s in range(6) for t in reversed(range(8))]  # times out of order
    long = pd.DataFrame(rows, columns=["sensor", "t", "a", "b"])
    data = from_frame(long, series_id="sensor", time="t", log=_quiet)
    assert data.values.shape == (6, 8, 2) and data.features == ["a", "b"]
    np.testing.assert_array_equal(data.values[2, :, 0], 2 + np.arange(8))
    windows = from_frame(long[long.sensor == 0].drop(columns="sensor"), window=4, stride=2, time="t", log=_quiet)
    assert windows.values.shape == (3, 4, 2)
