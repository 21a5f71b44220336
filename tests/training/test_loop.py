"""The training loop end to end on a small data set: run directory contents, resume, budgets, sampling."""

import csv
import json

import numpy as np
import pytest
import torch

import gankit
from gankit.infra import checkpoint
from gankit.infra.errors import GankitError
from gankit.training.config import TrainConfig
from gankit.training.loop import train
from tests.helpers import blob_images, small_config, weights


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

    images, _ = blob_images(64, size=16)
    other = tmp_path / "small.npz"
    np.savez(other, images=images)
    train(small_config(blob_npz, epochs=1), tmp_path / "run", log=lambda s: None)
    # swap the data file under the run: same path in the config, other image size
    np.savez(blob_npz.removeprefix("npz:"), images=images)
    with pytest.raises(GankitError, match=r"shape \(1, 28, 28\).*\(1, 16, 16\)"):
        train(TrainConfig(), tmp_path / "run", resume=True, overrides={"epochs": 2}, log=lambda s: None)


def test_sampling_api_is_deterministic_per_seed_and_uint8(tmp_path, blob_npz):
    run = gankit.train("seed", run_dir=tmp_path / "run", dataset=blob_npz, epochs=1, batch_size=32, progress=False, log=lambda s: None)
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
    gankit.train("seed", run_dir=tmp_path / "run", dataset=blob_npz, epochs=1, batch_size=64, progress=False, log=lambda s: None)
    run = gankit.train(run_dir=tmp_path / "run", resume=True, epochs=2, log=lambda s: None)
    assert run.epochs_done == 2 and run.steps_run == 4


def test_a_run_that_failed_before_writing_anything_does_not_block_a_retry(tmp_path, blob_npz):
    (tmp_path / "run" / "samples").mkdir(parents=True)  # what a start-up failure leaves behind
    (tmp_path / "run" / "checkpoints").mkdir()
    run = train(small_config(blob_npz, epochs=1), tmp_path / "run", log=lambda s: None)
    assert (run.run_dir / "checkpoints" / "last.pt").is_file()


def _logged_lrs(run_dir) -> list[tuple[int, float, float]]:
    with open(run_dir / "steps.csv", newline="") as f:
        return [(int(r["step"]), float(r["lr_g"]), float(r["lr_d"])) for r in csv.DictReader(f)]


def test_lr_decay_holds_then_falls_linearly_to_zero_over_the_last_fraction(tmp_path, blob_npz):
    run = train(small_config(blob_npz, epochs=4, log_every=4, lr_g=1e-4, lr_d=3e-4, lr_decay=0.5),
                tmp_path / "run", log=lambda s: None)
    rows = _logged_lrs(run.run_dir)
    assert [s for s, _, _ in rows] == [4, 8, 12, 16, 20, 24, 28, 32]
    for step, lr_g, lr_d in rows:  # the rate the steps after each log point train at
        factor = min(1.0, (1 - step / 32) / 0.5)
        assert lr_g == pytest.approx(1e-4 * factor) and lr_d == pytest.approx(3e-4 * factor), step
    state = checkpoint.load(run.run_dir / "checkpoints" / "last.pt")
    assert state["opt_g"]["param_groups"][0]["lr"] == 0.0 and state["opt_d"]["param_groups"][0]["lr"] == 0.0


def test_lr_decay_follows_the_minutes_budget_when_it_ends_the_run_first(tmp_path, blob_npz):
    run = train(small_config(blob_npz, epochs=10_000, log_every=2, lr_decay=1.0, minutes=0.05),
                tmp_path / "run", log=lambda s: None)
    assert run.stopped_by == "minutes"
    rows = _logged_lrs(run.run_dir)
    lrs = [lr for _, lr, _ in rows]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 0.2 * 2e-4  # by the clock: steps alone would give ~2e-4
    assert rows[-1][0] < 0.01 * 10_000 * 8


def test_a_resumed_run_recomputes_the_lr_decay_from_its_position(tmp_path, blob_npz):
    cut = train(small_config(blob_npz, epochs=4, log_every=4, lr_decay=0.75, minutes=1e-9), tmp_path / "cut",
                log=lambda s: None)
    state = checkpoint.load(cut.run_dir / "checkpoints" / "last.pt")
    assert state["opt_g"]["param_groups"][0]["lr"] == 0.0  # its budget was spent: the rate had reached 0
    train(TrainConfig(), tmp_path / "cut", resume=True, overrides={"minutes": 60.0}, log=lambda s: None)
    for step, lr_g, _ in _logged_lrs(cut.run_dir):  # now by steps: an hour's budget has barely begun
        assert lr_g == pytest.approx(2e-4 * min(1.0, (1 - step / 32) / 0.75), rel=1e-3), step


def test_lr_decay_outside_zero_to_one_is_refused(tmp_path, blob_npz):
    with pytest.raises(GankitError, match="--lr-decay"):
        train(small_config(blob_npz, lr_decay=1.5), tmp_path / "run", log=lambda s: None)
    assert not (tmp_path / "run").exists()


def test_a_steps_csv_from_before_the_learning_rate_columns_keeps_its_own_columns(tmp_path, blob_npz):
    run = train(small_config(blob_npz, epochs=1), tmp_path / "run", log=lambda s: None)
    steps = run.run_dir / "steps.csv"
    with open(steps, newline="") as f:  # rewrite it as an older gankit wrote it
        rows = [{k: r[k] for k in ("step", "epoch", "d_loss", "g_loss", "d_real", "d_fake")} for r in csv.DictReader(f)]
    with open(steps, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    train(TrainConfig(), run.run_dir, resume=True, overrides={"epochs": 2}, log=lambda s: None)
    with open(steps, newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"]
    assert len(table) > len(rows) + 1 and all(len(r) == 6 for r in table)


def test_training_on_an_array_in_memory_equals_training_on_the_same_npz_and_keeps_the_array(tmp_path, blob_npz):
    from tests.helpers import blob_images, weights

    images, labels = blob_images(256)
    quiet = dict(epochs=1, batch_size=32, progress=False, grid_size=16, log=lambda m: None)
    from_file = gankit.train("seed", tmp_path / "file", dataset=blob_npz, **quiet)
    from_array = gankit.train("seed", tmp_path / "array", data=torch.from_numpy(images), labels=labels, **quiet)
    a, b = weights(from_file.run_dir), weights(from_array.run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
    saved = np.load(from_array.run_dir / "data.npz")
    assert np.array_equal(saved["images"], images) and np.array_equal(saved["labels"], labels)
    config = json.loads((from_array.run_dir / "config.json").read_text())
    assert config["dataset"] == f"npz:{(from_array.run_dir / 'data.npz').resolve()}"
    resumed = gankit.train(run_dir=from_array.run_dir, resume=True, epochs=2, progress=False, log=lambda m: None)
    assert resumed.epochs_done == 2  # the run reads its own copy of the array
    with pytest.raises(GankitError, match="is float32, not uint8"):
        gankit.train("seed", tmp_path / "bad", data=images.astype(np.float32), **quiet)
    assert not (tmp_path / "bad").exists()


def test_a_folder_of_128_px_colour_images_trains_channels_last_and_samples_end_to_end(tmp_path, capsys):
    from PIL import Image

    from gankit.cli import main

    folder = tmp_path / "big"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        pixels = np.zeros((150, 130, 3), np.uint8)  # not square and not 128: resized to 128 x 128
        pixels[20 + i:80 + i, 30:90] = rng.integers(0, 255, 3)
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
    run = tmp_path / "run"
    assert main(["train", "--preset", "rgb", "--dataset", f"folder:{folder}", "--image-size", "128", "--width", "8",
                 "--epochs", "1", "--batch-size", "8", "--grid-size", "4", "--run-dir", str(run), "--no-progress",
                 "--channels-last"]) == 0
    assert main(["sample", str(run), "-n", "3", "--out", str(tmp_path / "s.npz")]) == 0  # into a contiguous G
    assert np.load(tmp_path / "s.npz")["images"].shape == (3, 3, 128, 128)


def test_mirror_flips_about_half_the_real_images_and_nothing_else():
    from gankit.training.loop import draw_batch

    images = torch.arange(2 * 1 * 2 * 3, dtype=torch.uint8).reshape(2, 1, 2, 3).repeat(200, 1, 1, 1)
    perm = torch.arange(len(images))
    torch.manual_seed(0)
    plain, z_plain, _ = draw_batch(images, perm, 0, 400, 8)
    torch.manual_seed(0)
    mirrored, z_mirrored, _ = draw_batch(images, perm, 0, 400, 8, mirror=True)
    assert torch.equal(z_plain, z_mirrored)  # the noise is drawn before the coin flips
    flipped = (mirrored != plain).flatten(1).any(1)
    assert 150 < int(flipped.sum()) < 250
    assert torch.equal(mirrored[flipped], plain[flipped].flip(-1)) and torch.equal(mirrored[~flipped], plain[~flipped])


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_finished_runs_checkpoint_has_the_full_standing_statistics_not_the_quick_per_epoch_ones(
        tmp_path, blob_npz, precision):
    from gankit.infra.checkpoint import load
    from gankit.models import build_for
    from gankit.training.config import TrainConfig
    from gankit.training.ema import EMA
    from gankit.training.loop import QUICK_STANDING_BATCHES, STANDING_BATCHES

    quiet = {"progress": False, "log": lambda m: None}
    run = gankit.train("dcgan", tmp_path / "run", dataset=blob_npz, epochs=2, ema=0.999, batch_size=64,
                       precision=precision, **quiet)
    saved = load(run.run_dir / "checkpoints" / "last.pt")
    cfg = TrainConfig.from_dict(saved["config"])

    def standing(batches, precision):
        """The EMA G's statistics from `batches` of the step-seeded draws the loop makes, in `precision`."""
        G = build_for(cfg, tuple(saved["image_shape"]))[0]
        G.load_state_dict(saved["generator_ema"])
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + saved["step"])
        ema = EMA(G)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            ema.recalibrate(lambda: (torch.randn(256, cfg.z_dim, generator=gen), None), batches)
        return [b for name, b in ema.module.state_dict().items() if name.endswith("running_var")]

    kept = [b for name, b in saved["generator_ema"].items() if name.endswith("running_var")]
    full, quick = standing(STANDING_BATCHES, precision), standing(QUICK_STANDING_BATCHES, precision)
    assert kept and all(torch.allclose(k, f, rtol=1e-4, atol=1e-6) for k, f in zip(kept, full))
    assert not all(torch.allclose(k, q, rtol=1e-4, atol=1e-6) for k, q in zip(kept, quick))
    if precision == "bf16":  # a bf16 run estimates them in bf16, as its steps run G: near fp32's, not equal
        fp32 = standing(STANDING_BATCHES, "fp32")
        assert not all(torch.allclose(k, f, rtol=1e-4, atol=1e-6) for k, f in zip(kept, fp32))
        assert all(torch.allclose(k, f, rtol=0.05, atol=1e-4) for k, f in zip(kept, fp32))
