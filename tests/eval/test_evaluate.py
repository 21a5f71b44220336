"""gankit evaluate on real MNIST: scores rank corruptions in the order they imply, the floor sits far
below an undertrained generator, mode collapse shows in classes covered, and --json is one object."""

import json

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from gankit.cli import main
from gankit.data import load_images
from gankit.eval.evaluate import evaluate
from gankit.training.runlog import read_csv

N = 2000
QUIET = dict(log=lambda s: None)


@pytest.fixture(scope="module", autouse=True)
def _feature_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("features")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def mnist_train():
    return load_images("mnist", split="train", **QUIET)


def _npz(tmp_path, name, images, labels=None):
    path = tmp_path / f"{name}.npz"
    arrays = {"images": images.numpy()}
    if labels is not None:
        arrays["labels"] = labels.numpy()
    np.savez(path, **arrays)
    return path


def _noisy(images, sigma):
    gen = torch.Generator().manual_seed(0)
    return (images.float() + sigma * torch.randn(images.shape, generator=gen)).round().clamp(0, 255).to(torch.uint8)


@pytest.mark.mnist
def test_scores_rank_real_noisy_blurred_and_undertrained(tmp_path, mnist_train):
    # random training images outside the floor's two seeded subsets (evaluate draws them with seed + 1)
    real = mnist_train.images[torch.randperm(60000, generator=torch.Generator().manual_seed(1))[2 * N:3 * N]]
    sets = {"real": real, "light noise": _noisy(real, 20), "heavy noise": _noisy(real, 80),
            "blur": TF.gaussian_blur(real, kernel_size=5, sigma=1.5)}
    reports = {name: evaluate(_npz(tmp_path, name.replace(" ", "_"), imgs), dataset="mnist", n=N,
                              metrics=["fid", "kid", "pr"], **QUIET) for name, imgs in sets.items()}
    fid = {name: r.metrics["fid"] for name, r in reports.items()}
    kid = {name: r.metrics["kid"] for name, r in reports.items()}
    assert fid["real"] < fid["light noise"] < fid["heavy noise"], fid
    assert fid["real"] < fid["blur"], fid
    assert kid["real"] < kid["light noise"] < kid["heavy noise"], kid
    assert reports["real"].metrics["precision"] > reports["heavy noise"].metrics["precision"]
    assert reports["real"].metrics["recall"] > reports["heavy noise"].metrics["recall"]
    floor = reports["real"].floor
    # real images held apart from the floor's score close to it
    assert fid["real"] < 2 * floor["fid"] + 0.5 and abs(reports["real"].metrics["precision"] - floor["precision"]) < 0.05

    run = tmp_path / "seed1"
    assert main(["train", "--preset", "seed", "--epochs", "1", "--limit", "6400", "--run-dir", str(run),
                 "--no-progress"]) == 0  # 100 steps: undertrained
    seed = evaluate(run, n=N, metrics=["fid", "kid", "pr", "classes"], **QUIET)
    assert seed.metrics["fid"] > 10 * seed.floor["fid"], (seed.metrics, seed.floor)
    assert seed.metrics["kid"] > reports["real"].metrics["kid"]


@pytest.mark.mnist
def test_a_generator_of_one_class_covers_one_class(tmp_path, mnist_train):
    threes = mnist_train.images[mnist_train.labels == 3][:N]
    report = evaluate(_npz(tmp_path, "threes", threes), dataset="mnist", n=N, metrics=["classes", "is"], **QUIET)
    assert report.metrics["classes_covered"] == 1
    assert report.floor["classes_covered"] == 10
    assert report.metrics["is"] < 1.5 < report.floor["is"]


@pytest.mark.mnist
def test_conditional_samples_are_scored_on_their_labels(tmp_path, mnist_train):
    images, labels = mnist_train.images[:N], mnist_train.labels[:N]
    right = evaluate(_npz(tmp_path, "right", images, labels), dataset="mnist", n=N, metrics=["label_accuracy"], **QUIET)
    wrong = evaluate(_npz(tmp_path, "wrong", images, (labels + 1) % 10), dataset="mnist", n=N,
                     metrics=["label_accuracy"], **QUIET)
    assert right.metrics["label_accuracy"] > 0.98 and wrong.metrics["label_accuracy"] < 0.02


@pytest.mark.mnist
def test_json_is_one_object_with_the_protocol_and_reference_features_are_cached(tmp_path, mnist_train, capsys):
    path = _npz(tmp_path, "some", mnist_train.images[:500])
    assert main(["evaluate", str(path), "--dataset", "mnist", "-n", "500", "--metrics", "fid,pr,classes", "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)  # the whole of stdout is one object
    assert set(report) == {"metrics", "floor", "protocol"}
    assert set(report["metrics"]) >= {"fid", "precision", "recall", "classes_covered"}
    assert set(report["floor"]) == set(report["metrics"])
    p = report["protocol"]
    assert p["features"] == "domain-mnist" and len(p["features_sha256"]) == 64
    assert p["n_real"] == p["n_fake"] == 500 and p["reference_split"] == "test" and p["seed"] == 0
    assert main(["evaluate", str(path), "--dataset", "mnist", "-n", "500", "--metrics", "fid", "--json"]) == 0
    assert "computing reference features" not in capsys.readouterr().err


def _one_line_error(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gankit: error:") and needle in err[0], err


def test_bad_evaluate_inputs_are_one_line_errors(tmp_path, capsys):
    np.savez(tmp_path / "x.npz", pictures=np.zeros((20, 1, 28, 28), np.uint8))
    (tmp_path / "notes.txt").write_text("hello")
    _one_line_error(capsys, ["evaluate", str(tmp_path / "x.npz")], "needs --dataset")
    _one_line_error(capsys, ["evaluate", str(tmp_path / "x.npz"), "--dataset", "mnist"], "no 'images' array")
    _one_line_error(capsys, ["evaluate", str(tmp_path / "x.npz"), "--dataset", "mnist", "--metrics", "fidd"],
                    "unknown metric 'fidd'")
    _one_line_error(capsys, ["evaluate", str(tmp_path / "notes.txt"), "--dataset", "mnist"], "cannot evaluate")
    _one_line_error(capsys, ["evaluate", str(tmp_path / "x.npz"), "--dataset", "folder:/nowhere", "--features",
                             "domain"], "no domain network")


@pytest.mark.mnist
def test_eval_every_scores_validation_slice_and_keeps_best_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--preset", "seed", "--epochs", "2", "--limit", "3200", "--eval-every", "1", "--eval-n", "300",
                 "--eval-holdout", "1000", "--run-dir", str(run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "left out of training" in out and "validation: FID" in out
    rows = read_csv(run / "metrics.csv")
    assert len(rows) == 2 and all(r["fid"] > 0 and 1 <= r["classes_covered"] <= 10 for r in rows)
    assert (run / "fid.png").is_file() and (run / "checkpoints" / "best.pt").is_file()
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert best["best_fid"] == min(r["fid"] for r in rows)
    assert main(["evaluate", str(run), "--checkpoint", "best", "-n", "300", "--metrics", "fid", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["fid"] > 0


def test_eval_every_on_data_without_a_domain_network_uses_inception(inception_weights, blob_npz, tmp_path, capsys):
    run = tmp_path / "r"
    # few images: Inception takes about 0.1 s each on 2 CPU cores. No --eval-holdout: a small set keeps a tenth
    assert main(["train", "--preset", "seed", "--dataset", blob_npz, "--epochs", "1", "--eval-every", "1", "--eval-n",
                 "16", "--run-dir", str(run), "--no-progress"]) == 0
    rows = read_csv(run / "metrics.csv")
    assert len(rows) == 1 and rows[0]["fid"] > 0 and (run / "checkpoints" / "best.pt").is_file()
    out = capsys.readouterr().out
    assert "inception-2015-12-05" in out and "validation slice: 25 of the 256 training images" in out
    assert json.loads((run / "config.json").read_text())["eval_holdout"] is None  # resolved the same on resume
    # and the run evaluates with no flags: Inception features, half of the images against the other half
    assert main(["evaluate", str(run), "-n", "20", "--metrics", "fid,kid", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    p = report["protocol"]
    assert p["features"].startswith("inception-2015-12-05") and p["reference_split"] == "train (half A)"
    assert p["n_real"] == p["n_fake"] == 20 and report["floor"]["fid"] < report["metrics"]["fid"]


def test_validation_slice_is_disjoint_from_training_and_fixed():
    from gankit.data import ImageData
    from gankit.data.split import training_data, validation_split

    train_idx, val_idx = validation_split(1000, 100)
    assert len(val_idx) == 100 and len(train_idx) == 900
    assert not set(train_idx.tolist()) & set(val_idx.tolist())
    assert torch.equal(validation_split(1000, 100)[1], val_idx)  # the same slice for every run
    images = torch.arange(1000, dtype=torch.uint8).view(1000, 1, 1, 1)  # each image's value is its index % 256
    labels = torch.arange(1000) * 7
    part = training_data(ImageData(images, labels, 7000, "test"), 100, limit=50)
    assert torch.equal(part.images.flatten(), images.flatten()[train_idx[:50]])
    assert torch.equal(part.labels, labels[train_idx[:50]])  # labels are cut with their images, in one place
    assert torch.equal(training_data(ImageData(images, labels, 7000, "test"), 0, limit=50).labels, labels[:50])


def test_the_default_validation_slice_is_5000_images_or_a_tenth_of_a_smaller_set():
    from gankit.data.split import holdout_size, validation_split
    from gankit.infra.errors import GankitError

    assert holdout_size(60_000, None) == 5000 and holdout_size(3786, None) == 378 and holdout_size(10, None) == 1
    assert holdout_size(3786, 1000) == 1000  # a given size is taken as given
    assert len(validation_split(3786, None)[1]) == 378
    with pytest.raises(GankitError, match="too few"):
        holdout_size(9, None)
    with pytest.raises(GankitError, match="--eval-holdout 378"):  # the error names a size that works
        holdout_size(3786, 5000)


@pytest.mark.mnist
def test_the_top_level_evaluate_scores_images_and_survives_an_old_import_of_its_module_name(tmp_path, mnist_train):
    import warnings

    import gankit

    threes = mnist_train.images[mnist_train.labels == 3][:N]
    path = _npz(tmp_path, "threes", threes)
    report = gankit.evaluate(path, dataset="mnist", n=N, metrics=["classes"], **QUIET)
    assert report.metrics["classes_covered"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import gankit.evaluate as old  # 0.1's module name: gankit.evaluate is rebound to its stand-in
        from gankit.evaluate import evaluate as from_old
    assert from_old is evaluate and gankit.evaluate is old
    again = gankit.evaluate(path, dataset="mnist", n=N, metrics=["classes"], **QUIET)
    assert again.metrics == report.metrics
