"""The README's augmentation table: does a conditional GAN's output help a classifier with few real images?

    python benchmarks/utility_table.py                        # MNIST: 4 budgets x 3 seeds, 5-minute GANs (hours)
    python benchmarks/utility_table.py --datasets mnist fashion-mnist
    python benchmarks/utility_table.py --tos-only --tos-run runs/results-table/mnist-best-cond
    python benchmarks/utility_table.py --budgets 10 50 --tos-run runs/results-table/mnist-best-cond   # ~45 min

Two parts, both printed and written to --out:
1. `gankit utility`'s experiment (gankit/utility.py) with its defaults: real budgets 10, 50, 100 and 500 per
   class, seeds 0-2, a best-cond GAN of 5 CPU-minutes per budget trained on that budget alone, four classifier
   arms (real, synthetic, real+synth, real+aug) scored on the real test set.
2. Train on synthetic at full scale: a best-cond run on the full training set (--tos-run, or 15 minutes of
   training here), 2,000 generated images per class, the same classifier recipe trained on them alone and on
   1,000 real images per class for scale, both scored on the real test set.
Prints its expected duration first. Run it alone: every GAN is bounded by the wall clock.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gankit  # noqa: E402
from gankit import data  # noqa: E402
from gankit.io import write_text  # noqa: E402
from gankit.utility import (UtilityConfig, accuracy, budget_indices, run_utility, synthetic_set,  # noqa: E402
                            train_classifier)

CLASSIFIER_MINUTES = 4.5  # four arms of 2,000 steps and their scoring, per (seed, budget), on this CPU (measured)


def train_on_synthetic(dataset: str, run: Path | None, minutes: float, steps: int) -> dict:
    if run is None:
        run = Path("runs/utility-tos") / dataset
        gankit.train("best-cond", run, force=True, dataset=dataset, minutes=minutes, progress=False, log=print)
    train_set = data.load_images(dataset, log=lambda m: None)
    test_set = data.load_images(dataset, split="test", log=lambda m: None)
    synth = synthetic_set(run, 2000, seed=0)
    real_idx = budget_indices(train_set.labels, 1000, seed=0)
    real = (train_set.images[real_idx], train_set.labels[real_idx])
    return {"dataset": dataset, "run": str(run), "steps": steps,
            "synthetic_2000_per_class": accuracy(train_classifier([synth], steps, 64, 0), *_xy(test_set)),
            "real_1000_per_class": accuracy(train_classifier([real], steps, 64, 0), *_xy(test_set))}


def _xy(d):
    return d.images, d.labels


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist"])
    p.add_argument("--tos-run", type=Path, default=None, help="a best-cond run on the full training set to reuse")
    p.add_argument("--tos-minutes", type=float, default=15.0)
    p.add_argument("--tos-steps", type=int, default=6000, help="classifier steps for part 2 (about 6 epochs of 60k)")
    p.add_argument("--tos-only", action="store_true", help="skip part 1")
    p.add_argument("--budgets", type=int, nargs="+", default=None, help="part 1's real budgets (default 10 50 100 500)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="part 1's seeds (default 0 1 2)")
    p.add_argument("--out", default="benchmarks/results/utility")
    a = p.parse_args()
    chosen = {k: tuple(v) for k, v in dict(budgets=a.budgets, seeds=a.seeds).items() if v is not None}
    cfg = UtilityConfig(**chosen)
    per_dataset = 0 if a.tos_only else len(cfg.seeds) * len(cfg.budgets) * (cfg.gan_minutes + CLASSIFIER_MINUTES)
    tos = (0 if a.tos_run else a.tos_minutes + 1) + 3 * a.tos_steps / 2000
    print(f"expect about {len(a.datasets) * (per_dataset + tos):.0f} minutes", flush=True)
    results = {}
    for dataset in a.datasets:
        out = Path(a.out) / dataset
        if not a.tos_only:
            result = run_utility(replace(cfg, dataset=dataset), out, runs_dir=Path("runs/utility") / dataset)
            print(result.markdown(), flush=True)
        results[dataset] = train_on_synthetic(dataset, a.tos_run if len(a.datasets) == 1 else None,
                                              a.tos_minutes, a.tos_steps)
        print(json.dumps(results[dataset]), flush=True)
        write_text(Path(a.out) / "train_on_synthetic.json", json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
