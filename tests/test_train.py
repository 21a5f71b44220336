"""The training loop end to end on a small data set: run directory contents, resume, budgets, sampling."""

import json

import numpy as np
import pytest
import torch

import gankit
from gankit import checkpoint
from gankit.config import TrainConfig, preset_config, replace
from gankit.errors import GankitError
from gankit.engine import train


def small_config(dataset: str, **kw) -> TrainConfig:
    base = dict(dataset=dataset, epochs=2, batch_size=32, log_every=3, progress=False, grid_size=16)
    base.update(kw)
    return replace(preset_config("seed"), base)


def weights(run_dir) -> dict[str, torch.Tensor]:
    state = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    return {**{"G." + k: v for k, v in state["generator"].items()}, **{"D." + k: v for k, v in state["discriminator"].items()}}


def test_run_directory_holds_everything(tmp_path, blob_npz):
    cfg = small_config(blob_npz)
    run = train(cfg, tmp_path / "run", log=lambda s: None)
    d = run.run_dir
    assert run.epochs_done == 2 and run.steps_done == 2 * 8 and run.stopped_by == "epochs"
    saved = json.loads((d / "config.json").read_text())
    assert saved == cfg.to_dict()  # the full config, enough to reproduce the run
    assert TrainConfig.from_dict(saved) == cfg
    assert (d / "samples" / "epoch_001.png").is_file() and (d / "samples" / "epoch_002.png").is_file()
    assert (d / "curves.png").is_file()
    epochs = (d / "metrics.csv").read_text().splitlines()
    assert epochs[0].startswith("epoch,step,d_loss,g_loss,d_real,d_fake,images_per_s")
    assert len(epochs) == 3
    steps = (d / "steps.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in steps[1:]] == [3, 6, 8, 9, 12, 15, 16]  # every 3 steps and each epoch's end
    state = torch.load(d / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and state["step"] == 16 and state["fixed_noise"].shape == (16, 100)
    assert {"generator", "discriminator", "opt_g", "opt_d", "rng", "config"} <= set(state)


def test_losses_are_finite_and_the_generator_learns_something(tmp_path, blob_npz):
    run = train(small_config(blob_npz, epochs=3), tmp_path / "run", log=lambda s: None)
    stats = run.last_epoch_stats
    assert all(np.isfinite(stats[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    assert stats["d_real"] > stats["d_fake"]  # D tells the blobs from noise after 24 steps


def test_resume_gives_the_same_weights_as_a_straight_run(tmp_path, blob_npz):
    straight = train(small_config(blob_npz, epochs=4), tmp_path / "straight", log=lambda s: None)
    half = train(small_config(blob_npz, epochs=2), tmp_path / "halves", log=lambda s: None)
    lines = []
    resumed = train(TrainConfig(), tmp_path / "halves", resume=True, overrides={"epochs": 4}, log=lines.append)
    assert half.steps_run == 16
    assert resumed.steps_run == 16 and resumed.steps_done == 32  # only the remaining epochs were trained
    assert any("resumed" in line and "epoch 3" in line for line in lines)
    a, b = weights(straight.run_dir), weights(resumed.run_dir)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the logs were continued, not restarted
    assert len((resumed.run_dir / "metrics.csv").read_text().splitlines()) == 5


def test_resume_mid_epoch_after_a_time_budget_matches_too(tmp_path, blob_npz):
    straight = train(small_config(blob_npz, epochs=2), tmp_path / "straight", log=lambda s: None)
    cut = train(small_config(blob_npz, epochs=2, minutes=1e-9), tmp_path / "cut", log=lambda s: None)
    assert cut.stopped_by == "minutes" and cut.steps_done == 1  # stops at the first step past the budget
    resumed = train(TrainConfig(), tmp_path / "cut", resume=True, overrides={"minutes": 60.0}, log=lambda s: None)
    assert resumed.steps_run == 15
    a, b = weights(straight.run_dir), weights(resumed.run_dir)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_finished_run_resumes_to_nothing(tmp_path, blob_npz):
    train(small_config(blob_npz, epochs=1), tmp_path / "run", log=lambda s: None)
    again = train(TrainConfig(), tmp_path / "run", resume=True, log=lambda s: None)
    assert again.steps_run == 0 and again.epochs_done == 1


def test_existing_run_directory_is_refused_and_kept(tmp_path, blob_npz):
    run = train(small_config(blob_npz, epochs=1), tmp_path / "run", log=lambda s: None)
    before = (run.run_dir / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(GankitError, match="already exists.*--resume.*--force"):
        train(small_config(blob_npz, epochs=1), tmp_path / "run", log=lambda s: None)
    assert (run.run_dir / "checkpoints" / "last.pt").read_bytes() == before
    forced = train(small_config(blob_npz, epochs=1, seed=5), tmp_path / "run", force=True, log=lambda s: None)
    assert json.loads((forced.run_dir / "config.json").read_text())["seed"] == 5


def test_force_never_deletes_a_folder_that_is_not_a_run(tmp_path, blob_npz):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    with pytest.raises(GankitError, match="not a gankit run directory"):
        train(small_config(blob_npz), precious, force=True, log=lambda s: None)
    assert (precious / "chapter1.tex").read_text() == "years of work"


def test_resume_refuses_to_change_the_recipe(tmp_path, blob_npz):
    train(small_config(blob_npz, epochs=1), tmp_path / "run", log=lambda s: None)
    with pytest.raises(GankitError, match="cannot change lr"):
        train(TrainConfig(), tmp_path / "run", resume=True, overrides={"lr": 1e-3}, log=lambda s: None)


def test_resume_refuses_data_of_another_shape(tmp_path, blob_npz):
    from tests.conftest import blob_images

    images, _ = blob_images(64, size=16)
    other = tmp_path / "small.npz"
    np.savez(other, images=images)
    train(small_config(blob_npz, epochs=1), tmp_path / "run", log=lambda s: None)
    # swap the data file under the run: same path in the config, other image size
    np.savez(blob_npz.removeprefix("npz:"), images=images)
    with pytest.raises(GankitError, match=r"shape \(1, 28, 28\).*\(1, 16, 16\)"):
        train(TrainConfig(), tmp_path / "run", resume=True, overrides={"epochs": 2}, log=lambda s: None)


def test_sampling_api_is_deterministic_per_seed_and_uint8(tmp_path, blob_npz):
    run = gankit.train(run_dir=tmp_path / "run", dataset=blob_npz, epochs=1, batch_size=32, progress=False, log=lambda s: None)
    g = gankit.load(run.run_dir, device="cpu")
    a, b, c = g.sample(10, seed=1), g.sample(10, seed=1), g.sample(10, seed=2)
    assert a.dtype == torch.uint8 and a.shape == (10, 1, 28, 28)
    assert torch.equal(a, b) and not torch.equal(a, c)
    g.save(tmp_path / "s.npz", 7, seed=0)
    with np.load(tmp_path / "s.npz") as f:
        assert f["images"].dtype == np.uint8 and f["images"].shape == (7, 1, 28, 28)
    with pytest.raises(GankitError, match=r"\.png.*\.npz"):
        g.save(tmp_path / "s.jpg", 4)


def test_python_api_resume_extends_epochs(tmp_path, blob_npz):
    gankit.train(run_dir=tmp_path / "run", dataset=blob_npz, epochs=1, batch_size=64, progress=False, log=lambda s: None)
    run = gankit.train(run_dir=tmp_path / "run", resume=True, epochs=2, log=lambda s: None)
    assert run.epochs_done == 2 and run.steps_run == 4


def test_a_run_that_failed_before_writing_anything_does_not_block_a_retry(tmp_path, blob_npz):
    (tmp_path / "run" / "samples").mkdir(parents=True)  # what a start-up failure leaves behind
    (tmp_path / "run" / "checkpoints").mkdir()
    run = train(small_config(blob_npz, epochs=1), tmp_path / "run", log=lambda s: None)
    assert (run.run_dir / "checkpoints" / "last.pt").is_file()
