"""The augmentation-utility experiment: real budgets drawn per class, a GAN that provably saw only its budget,
four classifier arms scored on the real test set; and the classic augmentation it is compared with."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from gankit import data
from gankit.augmentation.utility import (
    ARMS,
    UtilityConfig,
    UtilityResult,
    budget_indices,
    classic_augment,
    merged,
    run_utility,
)
from gankit.cli import main
from gankit.infra.errors import GankitError

pytestmark = pytest.mark.mnist


def test_budget_indices_take_the_same_number_of_every_class_and_follow_the_seed():
    labels = torch.arange(1000) % 10
    idx = budget_indices(labels, 7, seed=0)
    assert torch.bincount(labels[idx]).tolist() == [7] * 10 and torch.equal(idx, idx.sort().values)
    assert torch.equal(idx, budget_indices(labels, 7, seed=0)) and not torch.equal(idx, budget_indices(labels, 7, 1))


def test_classic_augmentation_moves_the_digit_but_keeps_background_and_ink():
    x = -torch.ones(64, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0  # a centred square, far from the border
    out = classic_augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.allclose(out[:, :, :3, :], torch.full_like(out[:, :, :3, :], -1))
    ink = (out + 1).sum((1, 2, 3)) / (x + 1).sum((1, 2, 3))
    assert torch.allclose(ink, torch.ones(64), atol=0.05)  # rotations and shifts keep the amount of ink
    assert (out - x).abs().amax((1, 2, 3)).min() > 0.1  # every image moved


def test_beats_needs_a_margin_larger_than_the_seeds_spread():
    rows = [{"seed": s, "budget": 10, "arm": arm, "accuracy": acc}
            for s, (r, syn, both, aug) in enumerate([(0.60, 0.5, 0.70, 0.66), (0.62, 0.5, 0.71, 0.70),
                                                     (0.61, 0.5, 0.72, 0.74)])
            for arm, acc in zip(("real", "synthetic", "real+synth", "real+aug"), (r, syn, both, aug))]
    entry = UtilityResult(config={"dataset": "mnist"}, rows=rows).table()[0]
    assert entry["synth_helps"] is True  # 0.71 vs 0.61, spreads under 0.01
    assert entry["synth_beats_classic"] is False  # 0.71 vs 0.70, within real+aug's spread of 0.033
    assert entry["real"]["n"] == 3


def test_an_earlier_report_merges_only_under_the_same_settings():
    earlier = UtilityResult(config=asdict_json(UtilityConfig(budgets=(10, 50), seeds=(0, 1))),
                            rows=[{"seed": s, "budget": b, "arm": "real", "accuracy": 0.5}
                                  for s in (0, 1) for b in (10, 50)])
    out = merged(earlier, UtilityConfig(budgets=(50, 100), seeds=(1,)))
    assert out.rows == earlier.rows  # nothing is dropped before its pair is redone
    assert out.config["budgets"] == [10, 50, 100] and out.config["seeds"] == [0, 1]
    with pytest.raises(GankitError, match=r"gan_minutes 5.0 \(now 1.0\).*--fresh"):
        merged(earlier, UtilityConfig(budgets=(100,), gan_minutes=1.0))


def test_a_redone_pair_replaces_its_earlier_rows_and_the_others_stay(tmp_path):
    cfg = UtilityConfig.fast(gan_minutes=0.02, synthetic_per_class=5, classifier_steps=10, test_limit=200)
    stale = [{"seed": 0, "budget": 10, "arm": "real", "accuracy": -1.0},  # redone below: must go
             {"seed": 7, "budget": 10, "arm": "real", "accuracy": 0.25}]  # not redone: must stay
    earlier = UtilityResult(config={**asdict_json(cfg), "seeds": [0, 7]}, rows=stale)
    result = run_utility(cfg, tmp_path, log=lambda m: None, keep=earlier)
    assert stale[1] in result.rows and stale[0] not in result.rows
    assert sorted(r["arm"] for r in result.rows if r["seed"] == 0) == sorted(ARMS)
    saved = json.loads((tmp_path / "utility.json").read_text())
    assert saved["rows"] == result.rows and saved["config"]["seeds"] == [0, 7]


def asdict_json(cfg: UtilityConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def test_fast_utility_run_trains_each_gan_on_its_budget_alone(tmp_path, capsys):
    out = tmp_path / "utility"
    assert main(["utility", "--fast", "--out", str(out)]) == 0
    report = json.loads((out / "utility.json").read_text())
    assert {r["arm"] for r in report["rows"]} == {"real", "synthetic", "real+synth", "real+aug"}
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in report["rows"])
    real_arm = next(r for r in report["rows"] if r["arm"] == "real")
    assert real_arm["accuracy"] > 0.3  # 100 real images already beat chance (0.1) by far
    assert (out / "utility.png").stat().st_size > 0 and "| 10 |" in (out / "utility.md").read_text()
    # what the GAN saw: its data set is budget.npz, whose distinct images are exactly the drawn indices
    arm = out / "seed0-budget10"
    indices = json.loads((arm / "indices.json").read_text())
    assert len(indices) == 100
    config = json.loads((arm / "gan" / "config.json").read_text())
    assert config["dataset"] == f"npz:{arm / 'budget.npz'}" and config["limit"] is None
    with np.load(arm / "budget.npz") as f:
        seen = {(img.tobytes(), int(lab)) for img, lab in zip(f["images"], f["labels"])}
    train = data.load_images("mnist", log=lambda m: None)
    drawn = {(train.images[i].numpy().tobytes(), int(train.labels[i])) for i in indices}
    assert seen == drawn
