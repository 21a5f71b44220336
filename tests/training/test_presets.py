"""Beyond the seed preset: conv models, conditional runs, EMA, penalties, DiffAugment, n_critic, presets.

Each option trains end to end on a small labelled data set, survives a resume bit for bit, and is refused
with its reason where it cannot apply."""

import os
import signal

import numpy as np
import pytest
import torch

from gankit.generate.sample import load
from gankit.infra import checkpoint
from gankit.infra.errors import GankitError
from gankit.training.config import PRESETS, TrainConfig, preset_config, replace, validate
from gankit.training.loop import train

QUIET = dict(log=lambda s: None)


def recipe(dataset, preset="best-cond", **kw):
    # fp32: the presets' precision auto would make these tests exercise bf16 on some CPUs and not others
    base = dict(dataset=dataset, epochs=2, batch_size=32, log_every=4, progress=False, grid_size=8, width=8,
                precision="fp32")
    base.update(kw)
    return replace(preset_config(preset), base)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_a_valid_config_and_each_override_changes_a_default(name):
    validate(preset_config(name))
    from gankit import models

    defaults = TrainConfig()  # and a model option's default is the model's
    unchanged = [k for k, v in PRESETS[name].items()
                 if (getattr(defaults, k) if hasattr(defaults, k) else models.option(k).default) == v]
    assert not unchanged, f"preset {name} restates defaults: {unchanged}"


def test_conditional_run_samples_the_requested_labels(tmp_path, blob_npz):
    run = train(recipe(blob_npz, r1_gamma=1.0, augment="translation,cutout", n_critic=2), tmp_path / "run", **QUIET)
    state = checkpoint.load(run.run_dir / "checkpoints" / "last.pt")
    assert state["num_classes"] == 4 and "generator_ema" in state and state["ema_updates"] == run.steps_done // 2
    g = load(run.run_dir)
    assert g.num_classes == 4
    assert g.labels_for(6, torch.tensor([3])).tolist() == [3] * 6
    path = g.save(tmp_path / "threes.npz", 6, seed=0, labels=torch.tensor([3]))
    with np.load(path) as f:
        assert f["images"].shape == (6, 1, 28, 28) and f["labels"].tolist() == [3] * 6
    with pytest.raises(GankitError, match="not a class"):
        g.labels_for(2, torch.tensor([9]))


def test_sampling_uses_the_ema_weights(tmp_path, blob_npz):
    run = train(recipe(blob_npz, conditional=False), tmp_path / "run", **QUIET)
    state = checkpoint.load(run.run_dir / "checkpoints" / "last.pt")
    g = load(run.run_dir)
    for name, value in g.generator.state_dict().items():
        assert torch.equal(value, state["generator_ema"][name]), name
    assert any(not torch.equal(state["generator_ema"][k], v) for k, v in state["generator"].items())


def test_saved_ema_generator_carries_batch_norm_statistics_of_its_own_weights(tmp_path, blob_npz):
    run = train(recipe(blob_npz, conditional=False), tmp_path / "run", **QUIET)
    state = checkpoint.load(run.run_dir / "checkpoints" / "last.pt")
    stats = [k for k in state["generator_ema"] if k.endswith("running_mean")]
    assert stats
    # recompute them independently: the EMA weights in training mode on fresh noise
    g = load(run.run_dir)
    G = g.generator.train()
    for m in G.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        for i in range(20):
            G(torch.randn(256, g.config.z_dim, generator=torch.Generator().manual_seed(1000 + i)))
    recomputed = G.state_dict()
    for k in stats:
        saved, live = state["generator_ema"][k], state["generator"][k]
        # closer to the EMA weights' own statistics than the live G's copied ones are
        assert (saved - recomputed[k]).norm() < 0.5 * (live - recomputed[k]).norm(), k


def test_resume_with_every_stabiliser_matches_a_straight_run(tmp_path, blob_npz):
    # 224 images / 32: 7 steps per epoch, so the n_critic cycle of 2 spans the resume
    options = dict(r1_gamma=0.5, augment="translation,cutout,color", n_critic=2, lr_d=4e-4, epochs=2, limit=224)
    assert recipe(blob_npz).lr_decay > 0  # the preset's decay too: the cut leaves the epochs as they were
    straight = train(recipe(blob_npz, **options), tmp_path / "straight", **QUIET)

    def stop_after_the_first_epoch(line: str) -> None:
        if line.startswith("Epoch [1/"):
            os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C: the run stops cleanly at the epoch's checkpoint

    cut = train(recipe(blob_npz, **options), tmp_path / "halves", log=stop_after_the_first_epoch)
    assert cut.stopped_by == "signal" and cut.steps_done == 7
    resumed = train(recipe(blob_npz, **options), tmp_path / "halves", resume=True, **QUIET)
    assert resumed.steps_done == straight.steps_done
    a = checkpoint.load(straight.run_dir / "checkpoints" / "last.pt")
    b = checkpoint.load(resumed.run_dir / "checkpoints" / "last.pt")
    for part in ("generator", "discriminator", "generator_ema"):
        for name, value in a[part].items():
            assert torch.equal(value, b[part][name]), (part, name)


def test_wasserstein_with_gradient_penalty_trains_a_batchnorm_free_critic(tmp_path, blob_npz):
    # (that the penalty reaches D's gradients is tests/training/test_step.py's)
    run = train(recipe(blob_npz, preset="dcgan", loss="wasserstein", gp_weight=10.0, d_norm="none", n_critic=3,
                       conditional=False), tmp_path / "run", **QUIET)
    assert np.isfinite(run.last_epoch_stats["d_loss"]) and run.epochs_done == 2


@pytest.mark.parametrize("options, reason", [
    (dict(preset="dcgan", gp_weight=10.0), "need a D without batch norm"),
    (dict(preset="seed", width=32), "model mlp has no option width"),
    (dict(augment="zoom"), "unknown --augment policy zoom"),
    (dict(ema=1.5), "--ema is the average's beta"),
    (dict(d_norm="layer"), "unknown norm 'layer'"),
])
def test_options_that_cannot_apply_are_refused_with_the_reason(blob_npz, options, reason):
    preset = options.pop("preset", "best")
    with pytest.raises(GankitError, match=reason):
        validate(recipe(blob_npz, preset=preset, **options))


def test_conditional_needs_labels(tmp_path):
    images = np.zeros((64, 1, 28, 28), np.uint8)
    np.savez(tmp_path / "nolabels.npz", images=images)
    with pytest.raises(GankitError, match="--conditional needs labels"):
        train(recipe(f"npz:{tmp_path / 'nolabels.npz'}"), tmp_path / "run", **QUIET)


def test_divergence_is_noticed_and_rolled_back(tmp_path, blob_npz):
    # a learning rate of 1e30 makes the seed MLP's weights, then its losses, overflow within a few steps
    lines = []
    cfg = replace(preset_config("seed"), dict(dataset=blob_npz, epochs=3, batch_size=32, log_every=2, progress=False,
                                              grid_size=8, lr=1e30, on_divergence="rollback"))
    train(cfg, tmp_path / "run", log=lines.append)
    assert any("training diverged" in line for line in lines), lines
    assert any("rolled back to the weights of epoch" in line and "learning rates halved" in line for line in lines)


def test_a_discriminator_that_wins_outright_is_reported():
    from gankit.training.health import HealthMonitor

    lines = []
    monitor = HealthMonitor(lines.append, patience=3)
    row = dict(d_loss=0.01, g_loss=9.0, d_real=0.99, d_fake=0.001)
    for step in range(5):
        assert not monitor.diverged(row, step)
    assert sum("wins outright" in line for line in lines) == 1
    monitor.check_classes(10, 1)
    monitor.check_classes(7, 2)
    assert any("mode collapse at epoch 2" in line for line in lines)


# --- gankit augment ---

def test_augment_writes_an_npz_and_an_image_folder_torchvision_reads(tmp_path, blob_npz, capsys):
    from torchvision.datasets import ImageFolder

    from gankit.cli import main

    run = train(recipe(blob_npz, epochs=1), tmp_path / "run", **QUIET).run_dir
    assert main(["augment", str(run), "--per-class", "5", "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as f:
        assert f["images"].shape == (20, 1, 28, 28) and f["images"].dtype == np.uint8
        assert np.bincount(f["labels"]).tolist() == [5, 5, 5, 5]
    assert main(["augment", str(run), "--per-class", "3", "--out", str(tmp_path / "folder")]) == 0
    folder = ImageFolder(str(tmp_path / "folder"))
    assert folder.classes == ["0", "1", "2", "3"] and len(folder) == 12
    assert sorted(folder.targets) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    # the same seed gives the same first image in both layouts, losslessly
    with np.load(tmp_path / "s.npz") as f:
        first = f["images"][0, 0]
    image, label = folder[0]
    assert label == 0 and np.array_equal(np.asarray(image.convert("L")), first)
    # nothing is overwritten, and a run without labels is refused
    assert main(["augment", str(run), "--per-class", "3", "--out", str(tmp_path / "folder")]) == 2
    assert "already exists" in capsys.readouterr().err and len(ImageFolder(str(tmp_path / "folder"))) == 12
    plain = train(recipe(blob_npz, epochs=1, conditional=False), tmp_path / "plain", **QUIET).run_dir
    assert main(["augment", str(plain), "--per-class", "3", "--out", str(tmp_path / "p.npz")]) == 2
    assert "not conditional" in capsys.readouterr().err
    assert main(["augment", str(run), "--per-class", "3", "--out", str(tmp_path / "p.npz"), "--filter"]) == 2
    assert "no domain classifier ships" in capsys.readouterr().err and not (tmp_path / "p.npz").exists()


def test_a_run_that_names_no_preset_trains_best_for_at_most_15_minutes(capsys):
    """The default is the recipe that works on a CPU in a first try's time; the tutorial's GAN is --preset seed.
    The CLI and the Python API take the same default: both refuse a bad g_refine as dcgan does, not as the MLP."""
    import gankit
    from gankit.cli import main
    from gankit.infra.errors import GankitError
    from gankit.training.config import config_from

    cfg = config_from()
    assert (cfg.preset, cfg.model, cfg.minutes, cfg.self_condition) == ("best", "dcgan", 15.0, 13)
    assert main(["train", "--g-refine", "-1", "--run-dir", "unused"]) == 2
    assert "refine must be a whole number" in capsys.readouterr().err
    with pytest.raises(GankitError, match="refine must be a whole number"):
        gankit.train(g_refine=-1)
    assert config_from("seed").model == "mlp" and config_from("seed").minutes is None


def test_rgb_keeps_its_channel_counts_at_every_image_size_unless_width_is_given(tmp_path):
    """At 64 and 128 px the rgb preset narrows `width` so each resolution has the channels it has at 32 px (and at
    64 px adds one refining conv on G's 4 x 4 map); a value from a flag or a config file wins, and no other preset
    changes with the image size."""
    from gankit import models
    from gankit.training.config import config_from

    def channels(cfg):  # (out channels of every stage's conv of G, of D), the 4 x 4 map first
        G, D = models.build_for(cfg, (3, cfg.image_size, cfg.image_size), 0)
        conv = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
        refine = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
        assert len(refine) == cfg.model_options.get("g_refine", 0)
        return ([m.out_channels for m in G.modules() if isinstance(m, conv) and m not in refine],
                [m.out_channels for m in D.modules() if isinstance(m, conv)])

    g32, d32 = channels(config_from("rgb"))
    for size, width, refine in ((64, 16, 1), (128, 8, 0)):
        cfg = config_from("rgb", options={"image_size": size})
        assert (cfg.model_options["width"], cfg.model_options.get("g_refine", 0)) == (width, refine)
        g, d = channels(cfg)
        assert g[:len(g32) - 1] == g32[:-1] and d[-len(d32):] == d32  # the 32 px model's stages, one cheap stage more
    assert config_from("rgb", options={"image_size": 64, "width": 32}).model_options["width"] == 32
    assert config_from("rgb", options={"image_size": 64, "g_refine": 0}).model_options["g_refine"] == 0
    at64 = config_from("rgb", options={"image_size": 64})
    # 64 px's own batch, loss and augmentation, not 32 px's
    assert (at64.batch_size, at64.loss, at64.augment) == (32, "least-squares", "color,translation")
    at32 = config_from("rgb")
    assert (at32.batch_size, at32.loss, at32.augment) == (64, "hinge", "color,translation,cutout")
    assert config_from("rgb", options={"image_size": 64, "loss": "hinge"}).loss == "hinge"
    assert config_from("rgb", options={"image_size": 64, "augment": "color"}).augment == "color"
    toml = tmp_path / "c.toml"
    toml.write_text("image_size = 64\nwidth = 24\n")
    assert config_from("rgb", toml).model_options["width"] == 24
    assert config_from("best", options={"image_size": 64}).model_options["width"] == 48
