"""The time-series scores tell apart what differs and find nothing between two draws of one process; the report
carries each score's floor; the figures are PNG files."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.infra.errors import GankitError
from gankit.timeseries import metrics
from gankit.timeseries.figures import embedding_png, series_png
from gankit.timeseries.metrics import (
    autocorrelation,
    autocorrelation_distance,
    classifier_accuracy,
    discriminative_score,
    evaluate_series,
    marginal_distance,
    minmax_scale,
    predictive_score,
)


def sines(n: int, seed: int, steps: int = 24, features: int = 5, noise: float = 0.02):
    """n series of sines that share each series' random frequency and phase, shifted a little per feature (so the
    last feature is predictable from the others a step earlier), in about [0, 1]; and a label per series: 1 for
    the faster half of the frequencies."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.03, 0.12, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    shift = np.linspace(0, np.pi / 2, features)[None, None, :]
    x = 0.5 + 0.45 * np.sin(2 * np.pi * freq * np.arange(steps)[None, :, None] + phase + shift)
    x = x + rng.normal(0, noise, x.shape)
    return x.astype(np.float32), (freq[:, 0, 0] > 0.075).astype(int)


def shuffled_in_time(x: np.ndarray, seed: int) -> np.ndarray:
    """Each series' time steps in a random order (all features moved together): same values, no dynamics."""
    order = np.argsort(np.random.default_rng(seed).random(x.shape[:2]), axis=1)
    return x[np.arange(len(x))[:, None], order]


@pytest.fixture(scope="module")
def shuffled_report():
    """evaluate_series of real series against the same kind of series shuffled in time, with labels; the
    discriminative score at half its default iterations (enough to tell shuffled series apart), the predictive
    at few (its own test trains it further)."""
    torch.set_num_threads(2)  # as the conftest does for each test; the scores run on one thread anyway
    (real, y), (other, y_other), (test, y_test) = sines(5000, 1), sines(5000, 2), sines(5000, 3)
    lines = []
    report = evaluate_series(real, shuffled_in_time(other, 0), test, labels=y, synth_labels=y_other,
                             test_labels=y_test, seeds=(0,), iterations=(1000, 50), log=lines.append)
    return report, lines


# ---- scaling --------------------------------------------------------------------------------------------------

def test_minmax_scale_uses_the_reference_range_per_feature():
    ref = np.stack([np.linspace(0, 10, 12).reshape(3, 4), np.linspace(-1, 1, 12).reshape(3, 4)], axis=2)
    other = np.array([[[5.0, 0.0], [20.0, -3.0]]])
    scaled_ref, scaled_other = minmax_scale(ref.astype(np.float32), other)
    assert scaled_ref.dtype == np.float32 and scaled_other.dtype == np.float64
    assert np.allclose(scaled_ref.min(axis=(0, 1)), 0) and np.allclose(scaled_ref.max(axis=(0, 1)), 1, atol=1e-6)
    assert np.allclose(scaled_other, [[[0.5, 0.5], [2.0, -1.0]]])


def test_minmax_scale_of_a_constant_feature_is_zero_not_nan():
    (scaled,) = minmax_scale(np.ones((2, 3, 1)))
    assert np.array_equal(scaled, np.zeros((2, 3, 1)))


# ---- discriminative score -------------------------------------------------------------------------------------

def test_discriminative_score_is_near_zero_for_one_process_and_high_for_shuffled_series(shuffled_report):
    report, _ = shuffled_report
    # Measured 0.001 (floor) and 0.4995 (shuffled). Any fixed classifier is at 0.5 +- 0.011 (one standard error)
    # on 1000 + 1000 held-out series of one process: 0.05 is 4.5 standard errors.
    assert report.discriminative.floor[0] < 0.05
    assert report.discriminative.values[0] > 0.3


def test_discriminative_score_is_seeded_and_leaves_the_global_state_alone():
    real, synth = sines(200, 1)[0], shuffled_in_time(sines(200, 2)[0], 0)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    first = discriminative_score(real, synth, seed=5, iterations=30)
    assert torch.equal(torch.rand(3), expected) and torch.get_num_threads() == threads
    assert discriminative_score(real, synth, seed=5, iterations=30) == first
    assert 0 <= first <= 0.5


def test_stacked_networks_score_what_lone_ones_score():
    # evaluate_series trains all its networks as one block-diagonal GRU; each must be the network trained alone.
    (a, _), (b, _) = sines(150, 1), sines(120, 2)
    c = shuffled_in_time(b, 3)
    lone = [discriminative_score(a, b, seed=0, iterations=40), discriminative_score(a, c, seed=7, iterations=40)]
    stacked = metrics._discriminative_scores([(a, b, 0), (a, c, 7)], 40, 128, None, 1e-3)
    assert stacked == pytest.approx(lone, abs=0.05)  # up to float rounding, which may move a series or two
    d = shuffled_in_time(a, 4)  # as many series as a: the two predictors draw equal batches, so they stack
    lone = [predictive_score(a, b, seed=0, iterations=40), predictive_score(d, b, seed=7, iterations=40)]
    stacked = metrics._predictive_scores([(a, b, 0), (d, b, 7)], 40, 128, None, 1e-3)
    assert stacked == pytest.approx(lone, rel=1e-3)


def test_discriminative_score_needs_two_series_a_side():
    with pytest.raises(GankitError, match="at least 2"):
        discriminative_score(np.zeros((1, 5, 2)), np.zeros((4, 5, 2)), iterations=1)


# ---- predictive score -----------------------------------------------------------------------------------------

def test_predictive_score_is_low_trained_on_the_process_and_high_on_noise_or_shuffled_series():
    (real, _), (other, _), (test, _) = sines(2000, 1), sines(2000, 2), sines(2000, 3)
    noise = np.random.default_rng(4).uniform(0, 1, real.shape).astype(np.float32)
    jobs = [(real, test, 0), (noise, test, 0), (shuffled_in_time(other, 0), test, 0)]
    # Three predictors trained side by side (as evaluate_series does): the time of one. 1000 of the 5000 default
    # iterations: enough for the one trained on the process to be far below the others.
    on_real, on_noise, on_shuffled = metrics._predictive_scores(jobs, 1000, 128, None, 1e-3)
    assert on_real < 0.15  # measured 0.07
    assert on_noise > on_real + 0.1 and on_shuffled > on_real + 0.1  # measured 0.28 and 0.28


def test_predictive_score_of_one_feature_predicts_the_feature_itself():
    x = sines(100, 1, features=1)[0]
    score = predictive_score(x, x, iterations=20)
    assert 0 < score < 1


def test_predictive_score_needs_two_steps():
    with pytest.raises(GankitError, match="2 or more"):
        predictive_score(np.zeros((4, 1, 2)), np.zeros((4, 1, 2)), iterations=1)


# ---- distances ------------------------------------------------------------------------------------------------

def test_marginal_distance_is_zero_for_the_same_values_and_grows_with_a_shift():
    x = sines(300, 1)[0]
    assert np.array_equal(marginal_distance(x, x), np.zeros(5))
    assert np.array_equal(marginal_distance(x, shuffled_in_time(x, 0)), np.zeros(5))  # same values, reordered
    near, far = marginal_distance(x, x + 0.1), marginal_distance(x, x + 0.3)
    assert near.shape == (5,) and np.allclose(near, 0.1, atol=1e-5) and np.allclose(far, 0.3, atol=1e-5)


def test_autocorrelation_distance_is_small_for_one_process_and_large_for_shuffled_series():
    (a, _), (b, _) = sines(2000, 1), sines(2000, 2)
    same, shuffled = autocorrelation_distance(a, b), autocorrelation_distance(a, shuffled_in_time(b, 0))
    assert same < 0.02 and shuffled > 0.1  # measured 0.006 and 0.17


def test_autocorrelation_counts_a_constant_series_as_zero():
    x = np.concatenate([np.ones((1, 10, 2)), np.tile(np.arange(10.0), (1, 2, 1)).transpose(0, 2, 1)])
    acf = autocorrelation(x, 3)
    lone = autocorrelation(x[1:], 3)
    assert np.isfinite(acf).all() and np.allclose(acf, lone / 2)


def test_autocorrelation_distance_rejects_a_lag_beyond_the_series():
    with pytest.raises(GankitError, match="from 1 to 4"):
        autocorrelation_distance(np.zeros((3, 5, 1)), np.zeros((3, 5, 1)), max_lag=5)


# ---- classifier accuracy --------------------------------------------------------------------------------------

def test_classifier_accuracy_is_high_on_separable_classes_and_near_chance_on_random_labels():
    (train, y), (test, y_test) = (sines(n, seed, steps=100, features=6, noise=0.05) for n, seed in ((40, 1), (200, 2)))
    names = np.array(["slow", "fast"])
    separable = classifier_accuracy(train, names[y], test, names[y_test], epochs=100)  # any sortable labels
    # Random labels on both sides: whatever the classifier learns, the test labels do not depend on the series.
    rng = np.random.default_rng(9)
    random = classifier_accuracy(train, rng.integers(0, 2, 40), test, rng.integers(0, 2, 200), epochs=100)
    assert separable > 0.75  # measured 0.965
    assert abs(random - 0.5) < 0.2  # 200 test series: chance is 0.5 +- 0.035


def test_classifier_accuracy_wants_one_label_per_series():
    with pytest.raises(GankitError, match="one label per series"):
        classifier_accuracy(np.zeros((4, 8, 1)), [0, 1], np.zeros((2, 8, 1)), [0, 1])


# ---- evaluate_series ------------------------------------------------------------------------------------------

def test_report_holds_every_score_with_its_floor(shuffled_report):
    report, lines = shuffled_report
    for score in (report.discriminative, report.predictive, report.marginal, report.autocorrelation, report.tstr):
        assert len(score.values) == len(score.floor) == 1 and score.std == 0.0
    assert len(report.marginal_per_feature) == len(report.marginal_floor_per_feature) == 5
    assert report.autocorrelation.values[0] > 0.1 > 0.02 > report.autocorrelation.floor[0]
    assert report.marginal.values[0] < 0.02 and report.marginal.floor[0] < 0.02  # shuffling keeps the values
    assert 0.5 < report.tstr.floor[0] <= 1 and 0 <= report.tstr.values[0] <= 1  # TRTR, TSTR
    assert report.sizes == {"real": 5000, "synth": 5000, "real_test": 5000, "discriminative_n": 5000}
    assert any("discriminative" in line for line in lines) and any("TSTR" in line for line in lines)


def test_report_summary_shows_the_floor_and_json_is_plain(shuffled_report):
    report, _ = shuffled_report
    text = report.summary()
    disc = report.discriminative
    assert f"discriminative   {disc.mean:.3f}" in text and f"(real data: {disc.floor_mean:.3f}" in text
    assert "TSTR accuracy" in text and len(text.splitlines()) == 5
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert data["discriminative"]["floor"]["values"] == list(disc.floor)
    assert set(data) >= {"discriminative", "predictive", "marginal", "autocorrelation", "tstr", "seeds", "sizes"}


def test_report_over_seeds_gives_a_spread_without_labels():
    (real, _), (synth, _), (test, _) = sines(60, 1), sines(60, 2), sines(40, 3)
    report = evaluate_series(real, synth, test, seeds=(0, 1), iterations=(10, 10), log=lambda line: None)
    assert report.tstr is None and "TSTR" not in report.summary()
    assert len(report.discriminative.values) == 2 and report.sizes["discriminative_n"] == 40
    assert report.discriminative.std == pytest.approx(np.std(report.discriminative.values, ddof=1))
    assert " ± " in report.summary().splitlines()[0]
    assert json.dumps(report.to_json(), allow_nan=False)


def test_report_rejects_mismatched_shapes_too_few_series_and_partial_labels():
    x = np.zeros((20, 24, 5))
    with pytest.raises(GankitError, match=r"\(20, 24, 4\).*\(20, 24, 5\).*same length T and feature count F"):
        evaluate_series(x, np.zeros((20, 24, 4)), x)
    with pytest.raises(GankitError, match="at least 10"):
        evaluate_series(x, x, x[:9])
    with pytest.raises(GankitError, match="give all three"):
        evaluate_series(x, x, x, labels=np.zeros(20))
    with pytest.raises(GankitError, match="NaN"):
        evaluate_series(x, np.full_like(x, np.nan), x)


# ---- figures --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embedding_png_is_an_image(tmp_path, method):
    (real, _), (synth, _) = sines(60, 1), sines(50, 2)
    path = embedding_png(real, synth, tmp_path / "figs" / f"{method}.png", method=method)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (500, 500)
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{method}.png"]  # no temporary file left


def test_series_png_is_an_image(tmp_path):
    (real, _), (synth, _) = sines(10, 1), sines(3, 2)
    path = series_png(real, synth, tmp_path / "series.png", n=4, features=[0, 4])
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] == 800 and abs(image.size[1] - 620) <= 1  # 8 x 6.2 in
    with pytest.raises(GankitError, match="from 0 to 4"):
        series_png(real, synth, tmp_path / "bad.png", features=[5])
