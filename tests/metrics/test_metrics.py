"""The metric math of `gankit evaluate`: known values, limits, and the dense references in benchmarks/."""

import math

import numpy as np
import pytest
import torch

from gankit.infra.errors import GankitError
from gankit.metrics import Features, Options, compute, fid_from_stats, gaussian_stats, manifold, skipped


def reference():
    """gankit/reference/metrics.py, which needs scipy: gankit does not, so only these cross-checks skip."""
    pytest.importorskip("scipy")
    from gankit.reference import metrics as metrics_reference

    return metrics_reference


@pytest.fixture(autouse=True)
def _one_thread():
    # These matrices are tiny: on a shared 2-core machine a second thread mostly waits, up to 10x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gauss(n, d=8, shift=0.0, scale=1.0, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)) * scale + shift


def onehot(labels, k):
    return np.eye(k)[labels]


def score(names, real, fake, **kw):
    return compute(names, Features(real), Features(fake), **kw)


# --- FID ---

def test_fid_of_a_set_against_itself_is_zero():
    x = gauss(500, 16, shift=2.0, scale=3.0)
    assert abs(score(["fid"], x, x)["fid"]) < 1e-6 * np.trace(np.cov(x, rowvar=False))


def test_fid_grows_with_noise():
    x = gauss(1000, 8)
    noise = gauss(1000, 8, seed=1)
    fids = [score(["fid"], x, x + s * noise)["fid"] for s in (0.1, 0.3, 1.0, 3.0)]
    assert fids == sorted(fids) and fids[0] > 0


@pytest.mark.numerics
def test_fid_matches_scipy_sqrtm_reference():
    real = gauss(400, 20) @ gauss(20, 20, seed=2)  # correlated features
    fake = gauss(300, 20, shift=0.5, seed=3) @ gauss(20, 20, seed=4)
    assert score(["fid"], real, fake)["fid"] == pytest.approx(reference().fid_sqrtm(real, fake), rel=1e-6)


def test_fid_between_known_diagonal_gaussians_is_the_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert fid_from_stats(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-12)


def test_gaussian_stats_are_float64_mean_and_unbiased_covariance():
    x = gauss(50, 4).astype(np.float32)
    mu, sigma = gaussian_stats(torch.from_numpy(x))
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-12)


def test_fid_rejects_stats_of_different_widths():
    with pytest.raises(GankitError, match="same feature network"):
        fid_from_stats(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# --- KID ---

KID = Options(kid_subsets=50, kid_subset_size=200)


def test_kid_of_one_distribution_is_zero_within_three_std():
    r = score(["kid"], gauss(1000), gauss(1000, seed=1), options=KID)
    assert r["kid_std"] > 0 and abs(r["kid"]) < 3 * r["kid_std"]


def test_kid_of_a_shifted_distribution_is_clearly_positive():
    r = score(["kid"], gauss(1000), gauss(1000, shift=1.0, seed=1), options=KID)
    assert r["kid"] > 10 * r["kid_std"] > 0


def test_kid_is_reproducible_from_its_seed():
    a, b = gauss(300), gauss(300, seed=1)
    assert score(["kid"], a, b, seed=5, options=KID) == score(["kid"], a, b, seed=5, options=KID)
    assert score(["kid"], a, b, seed=5, options=KID) != score(["kid"], a, b, seed=6, options=KID)


# --- precision / recall, density / coverage ---

def test_precision_recall_of_one_distribution_are_near_one():
    r = score(["pr"], gauss(2000, 4), gauss(2000, 4, seed=1))
    assert r["precision"] > 0.9 and r["recall"] > 0.9


def test_precision_recall_of_disjoint_sets_are_zero():
    r = score(["pr"], gauss(500), gauss(500, shift=100.0, seed=1))
    assert r == {"precision": 0.0, "recall": 0.0}


def test_mode_dropping_keeps_precision_and_loses_recall():
    r = score(["pr"], gauss(2000, 4), gauss(2000, 4, scale=0.1, seed=1))
    assert r["precision"] > 0.9 and r["recall"] < 0.2


@pytest.mark.numerics
@pytest.mark.parametrize("block", [7, 4096])
def test_chunked_knn_metrics_equal_the_dense_reference(block):
    real, fake = gauss(150, 5), gauss(120, 5, shift=0.3, seed=1)
    ref = reference()
    r = score(["pr", "dc"], real, fake, options=Options(block_size=block))
    density, coverage = ref.density_coverage_dense(real, fake, k=5)
    assert (r["precision"], r["recall"]) == ref.precision_recall_dense(real, fake, k=3)
    assert r["density"] == pytest.approx(density, abs=1e-12) and r["coverage"] == coverage


def test_distances_are_computed_in_row_blocks(monkeypatch):
    shapes = []
    original = manifold.sq_dists

    def spy(a, b, b_sq):
        shapes.append(tuple(a.shape))
        return original(a, b, b_sq)

    monkeypatch.setattr(manifold, "sq_dists", spy)
    score(["pr", "dc"], gauss(100), gauss(90, seed=1), options=Options(block_size=16))
    assert shapes and max(rows for rows, _ in shapes) <= 16


def test_knn_radii_are_computed_once_per_set(monkeypatch):
    calls = []
    original = manifold.knn_sq_radii
    monkeypatch.setattr(manifold, "knn_sq_radii", lambda x, k, block: calls.append(k) or original(x, k, block))
    score(["precision", "recall", "dc"], gauss(100), gauss(90, seed=1))
    assert len(calls) == 2  # real (k=3 and k=5 from one pass) and fake


def test_density_coverage_of_one_distribution_and_of_disjoint_sets():
    r = score(["dc"], gauss(2000, 4), gauss(2000, 4, seed=1))
    assert r["coverage"] > 0.9 and abs(r["density"] - 1) < 0.2
    r = score(["dc"], gauss(500), gauss(500, shift=100.0, seed=1))
    assert r == {"density": 0.0, "coverage": 0.0}


def test_knn_metrics_need_more_samples_than_k():
    with pytest.raises(GankitError, match="more than 3 samples"):
        score(["pr"], gauss(3), gauss(10))


# --- classes, IS, label accuracy ---

def with_probs(labels, k=10):
    return Features(gauss(len(labels), 4), probs=onehot(labels, k))


def classes_of(fake_labels, real_labels=np.arange(1000) % 10):
    return compute(["classes"], with_probs(real_labels), with_probs(fake_labels))


def test_classes_covered_counts_classes_holding_two_percent():
    assert classes_of(np.zeros(1000, int))["classes_covered"] == 1
    uniform = classes_of(np.arange(1000) % 10)
    assert uniform["classes_covered"] == 10 and uniform["class_kl"] == pytest.approx(0, abs=1e-9)
    assert classes_of(np.r_[np.zeros(990, int), np.ones(10, int)])["classes_covered"] == 1  # 1% is not covered


def test_class_hist_is_a_list_of_shares_and_kl_grows_with_collapse():
    r = classes_of(np.r_[np.zeros(500, int), np.arange(500) % 10])
    assert isinstance(r["class_hist"], list) and len(r["class_hist"]) == 10
    assert sum(r["class_hist"]) == pytest.approx(1) and r["class_hist"][0] == pytest.approx(0.55)
    assert 0 < r["class_kl"] < classes_of(np.zeros(1000, int))["class_kl"]


def test_inception_score_of_confident_uniform_classes_is_k_and_of_one_class_is_one():
    real = with_probs(np.arange(1000) % 10)
    r = compute(["is"], real, with_probs(np.arange(1000) % 10))
    assert r["is"] == pytest.approx(10) and r["is_std"] == pytest.approx(0, abs=1e-9)
    assert compute(["is"], real, with_probs(np.full(1000, 3)))["is"] == pytest.approx(1)


def test_label_accuracy_on_known_labels():
    asked = np.arange(100) % 10
    got = asked.copy()
    got[:25] = (got[:25] + 1) % 10
    fake = Features(gauss(100, 4), probs=onehot(got, 10), labels_requested=asked)
    assert compute(["label_accuracy"], with_probs(asked), fake)["label_accuracy"] == pytest.approx(0.75)


def test_class_fid_sees_samples_drawn_from_the_wrong_class_that_overall_fid_cannot():
    labels = np.arange(2000) % 10
    centres = gauss(10, 4, scale=5.0, seed=3)

    def drawn(classes, seed):
        return centres[classes] + gauss(len(classes), 4, seed=seed)

    real = Features(drawn(labels, 0), probs=onehot(labels, 10))
    right = Features(drawn(labels, 1), probs=onehot(labels, 10), labels_requested=labels)
    # the same images, but each asked for the next class: same overall statistics, wrong within every class
    wrong = Features(right.feats, probs=right.probs, labels_requested=(labels + 1) % 10)
    r, w = (compute(["fid", "class_fid"], real, f) for f in (right, wrong))
    assert r["fid"] == pytest.approx(w["fid"])
    assert len(r["class_fid_list"]) == 10 and r["class_fid"] < 1.0 < 20 * r["class_fid"] < w["class_fid"]


# --- memorisation ---

def test_memorisation_of_copies_is_one_and_of_far_samples_is_zero():
    train = Features(gauss(500))
    copies = compute(["memorisation"], train, Features(train.feats[:200].clone()), train=train)
    far = compute(["memorisation"], train, Features(gauss(200, shift=50.0, seed=1)), train=train)
    assert copies["memorisation"] == 1.0 and far["memorisation"] == 0.0


def test_memorisation_counts_near_copies_but_not_fresh_samples_of_the_training_distribution():
    train = Features(gauss(1000, 16))
    fresh = compute(["memorisation"], train, Features(gauss(500, 16, seed=1)), train=train)
    near = compute(["memorisation"], train, Features(train.feats[:500] + torch.from_numpy(0.01 * gauss(500, 16, seed=2))), train=train)
    assert fresh["memorisation"] < 0.05 and near["memorisation"] > 0.95


# --- missing inputs: NaN, with a reason ---

def test_metrics_missing_their_inputs_give_nan_and_a_reason():
    real, fake = Features(gauss(100)), Features(gauss(100, seed=1))
    names = ["is", "classes", "label_accuracy", "memorisation", "fid"]
    r = compute(names, real, fake)
    assert all(math.isnan(r[key]) for key in ("is", "is_std", "classes_covered", "class_hist", "label_accuracy",
                                              "memorisation"))
    assert not math.isnan(r["fid"])
    reasons = skipped(names, real, fake)
    assert set(reasons) == {"is", "classes", "label_accuracy", "memorisation"}
    assert "class probabilities" in reasons["is"] and "training set" in reasons["memorisation"]


def test_label_accuracy_without_requested_labels_is_nan():
    labels = np.arange(100) % 10
    assert math.isnan(compute(["label_accuracy"], with_probs(labels), with_probs(labels))["label_accuracy"])


# --- names and bad input ---

def test_unknown_metric_name_is_refused_with_the_valid_ones():
    with pytest.raises(GankitError, match="unknown metric 'fdi'.*fid"):
        score(["fdi"], gauss(10), gauss(10))


def test_aliases_run_their_metric_once_and_keys_follow_the_order_asked():
    real, fake = gauss(200), gauss(200, seed=1)
    r = score(["recall", "fid", "precision"], real, fake)
    assert list(r) == ["precision", "recall", "fid"] and r == {**score(["pr"], real, fake), "fid": r["fid"]}


@pytest.mark.parametrize("make, message", [
    (lambda: Features(np.zeros(10)), "non-empty floating"),
    (lambda: Features(np.zeros((10, 3), int)), "non-empty floating"),
    (lambda: Features(np.full((10, 3), np.nan)), "NaN"),
    (lambda: Features(gauss(10), probs=np.ones((9, 3)) / 3), "class probabilities"),
    (lambda: Features(gauss(10), probs=gauss(10, 3)), "softmax"),
    (lambda: Features(gauss(10), labels_requested=np.zeros(10)), "integers"),
    (lambda: score(["fid"], gauss(10, 3), gauss(10, 4)), "feature widths differ"),
    (lambda: Options(pr_k=0), "pr_k"),
])
def test_bad_input_is_one_gankit_error(make, message):
    with pytest.raises(GankitError, match=message):
        make()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_features_on_a_gpu_give_the_cpu_numbers():
    labels = np.arange(600) % 10
    sets = [(gauss(600, 16, seed=s), onehot(np.roll(labels, s), 10)) for s in range(3)]
    names = ["fid", "kid", "pr", "dc", "classes", "is", "memorisation"]

    def run(device):
        real, fake, train = (Features(torch.tensor(f, device=device), torch.tensor(p, device=device)) for f, p in sets)
        return compute(names, real, fake, train=train, options=KID)

    cpu, gpu = run("cpu"), run("cuda")
    assert cpu.keys() == gpu.keys()
    for key in cpu:
        assert gpu[key] == pytest.approx(cpu[key], rel=1e-5, abs=1e-6), key
