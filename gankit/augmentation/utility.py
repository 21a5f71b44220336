"""`gankit utility`: do a conditional GAN's images help a classifier that has few real ones? The experiment.

For each seed and each real budget B (images per class, drawn with the seed from the training split):
  1. a conditional GAN (best-cond, with DiffAugment for few images) trains on those B x K images alone, for a
     fixed wall-clock budget; its data set is an .npz of exactly those images, kept in its run directory, so
     what it saw can be checked. No arm is filtered by the domain classifier or chosen by a FID against more
     data: nothing that saw more than B images per class touches an arm;
  2. it draws `synthetic_per_class` images of every class (its last checkpoint, EMA weights);
  3. one fixed small CNN (CLASSIFIER below) trains for the same number of steps in each arm:
        real        the B x K real images
        synthetic   the generated images only (train on synthetic, test on real)
        real+synth  each batch half real, half generated
        real+aug    the real images with random shifts (up to 2 px) and rotations (up to 10 degrees)
  4. each classifier is scored on the real test split.
The report gives mean +- std accuracy over seeds per (budget, arm), says for each budget whether real+synth
beats real (and real+aug) by more than the seeds' spread, and plots accuracy against budget.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gankit import data
from gankit.augmentation.classic import classic_augment
from gankit.data.pixels import to_model_range
from gankit.infra.errors import GankitError
from gankit.infra.io import atomic_path, write_text
from gankit.infra.log import Log
from gankit.training.config import config_from
from gankit.training.loop import train

ARMS = ("real", "synthetic", "real+synth", "real+aug")
EPOCH_IMAGES = 6400


@dataclass
class UtilityConfig:
    dataset: str = "mnist"
    budgets: tuple[int, ...] = (10, 50, 100, 500)  # real images per class
    seeds: tuple[int, ...] = (0, 1, 2)
    gan_minutes: float = 5.0
    synthetic_per_class: int = 1000
    classifier_steps: int = 2000
    classifier_batch: int = 64
    test_limit: int | None = None  # score on the first N test images (the --fast mode)
    data_dir: str | None = None

    @classmethod
    def fast(cls, **overrides) -> "UtilityConfig":
        """Small enough for CI: one budget, one seed, seconds of GAN training."""
        return cls(**{**dict(budgets=(10,), seeds=(0,), gan_minutes=0.2, synthetic_per_class=50,
                             classifier_steps=150, test_limit=2000), **overrides})


# --- the classifier: its whole recipe ---

def make_classifier(num_classes: int = 10) -> nn.Module:
    """Two 3x3 conv blocks with max-pooling, a 128-unit hidden layer with dropout: about 99% on full MNIST."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, num_classes))


def train_classifier(parts: list[tuple[torch.Tensor, torch.Tensor]], steps: int, batch: int, seed: int,
                     augment: bool = False) -> nn.Module:
    """Train on `parts` (uint8 images, labels): each batch takes an equal share from every part, so a few
    real images are not drowned by many generated ones."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = make_classifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    share = batch // len(parts)
    model.train()
    for _ in range(steps):
        xs, ys = [], []
        for images, labels in parts:
            idx = torch.randint(len(images), (share,), generator=gen)
            xs.append(to_model_range(images[idx]))
            ys.append(labels[idx])
        x, y = torch.cat(xs), torch.cat(ys)
        if augment:
            x = classic_augment(x, gen)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    correct = sum(int((model(to_model_range(images[i:i + 1000])).argmax(1) == labels[i:i + 1000]).sum())
                  for i in range(0, len(images), 1000))
    return correct / len(images)


# --- the real budget and the GAN that sees only it ---

def budget_indices(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """`per_class` training indices of every class, drawn with `seed`, sorted."""
    gen = torch.Generator().manual_seed(seed)
    picked = []
    for k in range(int(labels.max()) + 1):
        pool = (labels == k).nonzero().squeeze(1)
        if len(pool) < per_class:
            raise GankitError(f"class {k} has only {len(pool)} training images, fewer than the budget {per_class}")
        picked.append(pool[torch.randperm(len(pool), generator=gen)[:per_class]])
    return torch.cat(picked).sort().values


def train_budget_gan(images: torch.Tensor, labels: torch.Tensor, run_dir: Path, minutes: float, seed: int,
                     log: Log) -> Path:
    """A best-cond run on these images only; they are saved as the run's own data set (budget.npz), repeated
    to at least EPOCH_IMAGES per epoch: the same images, but the per-epoch work (checkpoint, sample grid) comes
    every hundred steps rather than every step."""
    run_dir.mkdir(parents=True, exist_ok=True)
    npz = run_dir / "budget.npz"
    repeat = max(1, math.ceil(EPOCH_IMAGES / len(images)))
    with atomic_path(npz) as tmp:
        np.savez(tmp, images=images.repeat(repeat, 1, 1, 1).numpy(), labels=labels.repeat(repeat).numpy())
    few = len(images) < 5000
    cfg = config_from("best-cond", options=dict(
        dataset=f"npz:{npz}", minutes=minutes, epochs=1_000_000, seed=seed, progress=False,
        grid_size=min(64, len(images)), batch_size=min(64, len(images)), augment="translation,cutout" if few else ""))
    train(cfg, run_dir / "gan", force=True, log=lambda m: None)
    return run_dir / "gan"


# --- the experiment ---

@dataclass
class UtilityResult:
    config: dict
    rows: list[dict] = field(default_factory=list)  # one per (seed, budget, arm)

    def table(self) -> list[dict]:
        """Mean and std over seeds per (budget, arm), and the verdicts."""
        out = []
        for budget in sorted({r["budget"] for r in self.rows}):
            entry: dict = {"budget": budget}
            for arm in ARMS:
                acc = [r["accuracy"] for r in self.rows if r["budget"] == budget and r["arm"] == arm]
                entry[arm] = {"mean": float(np.mean(acc)), "std": float(np.std(acc)), "n": len(acc)}
            entry["synth_helps"] = _beats(entry["real+synth"], entry["real"])
            entry["synth_beats_classic"] = _beats(entry["real+synth"], entry["real+aug"])
            out.append(entry)
        return out

    def markdown(self) -> str:
        lines = ["| real per class | " + " | ".join(ARMS) + " | real+synth > real? | real+synth > real+aug? |",
                 "|" + " --- |" * (len(ARMS) + 3)]
        for e in self.table():
            cells = [f"{100 * e[a]['mean']:.2f} ± {100 * e[a]['std']:.2f}" for a in ARMS]
            lines.append(f"| {e['budget']} | " + " | ".join(cells) + f" | {_word(e['synth_helps'])} | "
                         f"{_word(e['synth_beats_classic'])} |")
        return "\n".join(lines)


def _beats(a: dict, b: dict) -> bool | None:
    """True when a's mean exceeds b's by more than the larger seed spread; None with a single seed."""
    if a["n"] < 2:
        return None
    return a["mean"] - b["mean"] > max(a["std"], b["std"])


def _word(verdict: bool | None) -> str:
    return "n/a (one seed)" if verdict is None else "yes" if verdict else "no"


def run_utility(cfg: UtilityConfig, out_dir: str | Path, log: Log = print,
                runs_dir: str | Path | None = None, keep: UtilityResult | None = None) -> UtilityResult:
    """The report goes to `out_dir`; each GAN's run (with its budget.npz and indices.json) to `runs_dir`,
    by default `out_dir` too. `keep`, an earlier report of the same experiment, lends its rows; each
    (seed, budget) this run redoes replaces the earlier rows once it is done, so budgets can be measured one
    at a time and a run cut short loses nothing."""
    out_dir = Path(out_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else out_dir
    train_set = data.load_images(cfg.dataset, cfg.data_dir, log=log)
    test_set = data.load_images(cfg.dataset, cfg.data_dir, split="test", limit=cfg.test_limit, log=log)
    if train_set.labels is None:
        raise GankitError(f"{cfg.dataset} has no labels: the utility experiment needs a labelled data set")
    result = UtilityResult(config=_config_json(cfg)) if keep is None else merged(keep, cfg)
    for seed in cfg.seeds:
        for budget in cfg.budgets:
            start = time.monotonic()
            idx = budget_indices(train_set.labels, budget, seed)
            real = (train_set.images[idx], train_set.labels[idx])
            arm_dir = runs_dir / f"seed{seed}-budget{budget}"
            run = train_budget_gan(*real, arm_dir, cfg.gan_minutes, seed, log)
            write_text(arm_dir / "indices.json", json.dumps(idx.tolist()) + "\n")
            synth = synthetic_set(run, cfg.synthetic_per_class, seed)
            arms = {"real": ([real], False), "synthetic": ([synth], False), "real+synth": ([real, synth], False),
                    "real+aug": ([real], True)}
            new = []
            for arm, (parts, augment) in arms.items():
                model = train_classifier(parts, cfg.classifier_steps, cfg.classifier_batch, seed, augment)
                new.append({"seed": seed, "budget": budget, "arm": arm,
                            "accuracy": accuracy(model, test_set.images, test_set.labels)})
            result.rows = [r for r in result.rows if (r["seed"], r["budget"]) != (seed, budget)] + new
            log(f"seed {seed}, {budget} per class: " + ", ".join(f"{r['arm']} {100 * r['accuracy']:.2f}%" for r in new)
                + f" ({time.monotonic() - start:.0f} s)")
            _save(result, out_dir)
    return result


def load_result(path: str | Path) -> UtilityResult:
    d = json.loads(Path(path).read_text())
    return UtilityResult(config=d["config"], rows=d["rows"])


def merged(earlier: UtilityResult, cfg: UtilityConfig) -> UtilityResult:
    """The earlier report's rows under a config naming both runs' budgets and seeds (run_utility replaces
    a pair's rows when it redoes the pair); a GankitError if any other setting differs: the rows would not compare."""
    now = _config_json(cfg)
    differ = sorted(k for k in set(now) | set(earlier.config) if k not in ("budgets", "seeds")
                    and now.get(k) != earlier.config.get(k))
    if differ:
        was = ", ".join(f"{k} {earlier.config.get(k)!r} (now {now.get(k)!r})" for k in differ)
        raise GankitError(f"the earlier report was made with {was}: drop its rows (--fresh) or report "
                          "elsewhere (--out)")
    rows = list(earlier.rows)
    config = {**now, "budgets": sorted({*earlier.config["budgets"], *cfg.budgets}),
              "seeds": sorted({*earlier.config["seeds"], *cfg.seeds})}
    return UtilityResult(config=config, rows=rows)


def synthetic_set(run: Path, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from gankit.generate.sample import load

    g = load(run)
    labels = torch.arange(g.num_classes).repeat_interleave(per_class)
    return g.sample(len(labels), seed, labels=labels), labels


def _config_json(cfg: UtilityConfig) -> dict:
    d = asdict(cfg)
    d["budgets"], d["seeds"] = list(cfg.budgets), list(cfg.seeds)
    return d


def _save(result: UtilityResult, out_dir: Path) -> None:
    write_text(out_dir / "utility.json", json.dumps({"config": result.config, "rows": result.rows,
                                                      "table": result.table()}, indent=1) + "\n")
    write_text(out_dir / "utility.md", result.markdown() + "\n")
    plot(result, out_dir / "utility.png")


def plot(result: UtilityResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = result.table()
    fig, ax = plt.subplots(figsize=(6, 4))
    budgets = [e["budget"] for e in table]
    for arm in ARMS:
        mean = np.array([100 * e[arm]["mean"] for e in table])
        std = np.array([100 * e[arm]["std"] for e in table])
        ax.errorbar(budgets, mean, yerr=std, marker="o", capsize=3, label=arm)
    ax.set_xscale("log")
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.minorticks_off()
    ax.set_xlabel("real images per class")
    ax.set_ylabel(f"test accuracy (%), {result.config['dataset']}")
    ax.legend()
    ax.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
