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
Part 1 keeps the earlier report's rows and replaces a (seed, budget) pair's rows once it has redone that pair
(--fresh drops them all), so `--budgets 100 500` adds to a report of 10 and 50. Prints its expected duration
first. Run it alone: every GAN is bounded by the wall clock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gankit  # noqa: E402
from gankit import data  # noqa: E402
from gankit.augmentation.utility import (  # noqa: E402
    UtilityConfig,
    accuracy,
    budget_indices,
    load_result,
    run_utility,
    synthetic_set,
    train_classifier,
)
from gankit.infra.io import write_text  # noqa: E402

CLASSIFIER_MINUTES = 4.5  # four arms of 2,000 steps and their scoring, per (seed, budget), on this CPU (measured)


def train_on_synthetic(dataset: str, run: Path | None, minutes: float, steps: int, seeds: list[int]) -> dict:
    if run is None:
        run = Path("runs/utility-tos") / dataset
        gankit.train("best-cond", run, force=True, dataset=dataset, minutes=minutes, progress=False, log=print)
    train_set = data.load_images(dataset, log=lambda m: None)
    test_set = data.load_images(dataset, split="test", log=lambda m: None)
    synth = synthetic_set(run, 2000, seed=0)
    real_idx = budget_indices(train_set.labels, 1000, seed=0)
    real = (train_set.images[real_idx], train_set.labels[real_idx])
    # one classifier per seed on the same images: the spread is the classifier's, not the GAN's
    by_seed = {name: [accuracy(train_classifier([part], steps, 64, s), *_xy(test_set)) for s in seeds]
               for name, part in (("synthetic_2000_per_class", synth), ("real_1000_per_class", real))}
    return {"dataset": dataset, "run": str(run), "steps": steps, "classifier_seeds": seeds,
            **{name: float(np.mean(acc)) for name, acc in by_seed.items()},
            **{f"{name}_std": float(np.std(acc)) for name, acc in by_seed.items()},
            **{f"{name}_by_seed": acc for name, acc in by_seed.items()},
            "measured": time.strftime("%Y-%m-%d")}


def _xy(d):
    return d.images, d.labels


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist"])
    p.add_argument("--tos-run", type=Path, default=None, help="a best-cond run on the full training set to reuse")
    p.add_argument("--tos-minutes", type=float, default=15.0)
    p.add_argument("--tos-steps", type=int, default=6000, help="classifier steps for part 2 (about 6 epochs of 60k)")
    p.add_argument("--tos-seeds", type=int, nargs="+", default=[0], help="part 2's classifier seeds")
    p.add_argument("--tos-only", action="store_true", help="skip part 1")
    p.add_argument("--no-tos", action="store_true", help="skip part 2")
    p.add_argument("--budgets", type=int, nargs="+", default=None, help="part 1's real budgets (default 10 50 100 500)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="part 1's seeds (default 0 1 2)")
    p.add_argument("--out", default="benchmarks/results/utility")
    p.add_argument("--fresh", action="store_true",
                   help="drop the earlier report's rows (by default they stay until their pair is redone)")
    a = p.parse_args()
    chosen = {k: tuple(v) for k, v in dict(budgets=a.budgets, seeds=a.seeds).items() if v is not None}
    cfg = UtilityConfig(**chosen)
    per_dataset = 0 if a.tos_only else len(cfg.seeds) * len(cfg.budgets) * (cfg.gan_minutes + CLASSIFIER_MINUTES)
    tos = 0 if a.no_tos else (0 if a.tos_run else a.tos_minutes + 1) + 3 * len(a.tos_seeds) * a.tos_steps / 2000
    print(f"expect about {len(a.datasets) * (per_dataset + tos):.0f} minutes", flush=True)
    tos_path = Path(a.out) / "train_on_synthetic.json"
    results = json.loads(tos_path.read_text()) if tos_path.exists() else {}  # other data sets' results stay
    for dataset in a.datasets:
        out = Path(a.out) / dataset
        if not a.tos_only:
            earlier = out / "utility.json"
            keep = load_result(earlier) if earlier.exists() and not a.fresh else None
            result = run_utility(replace(cfg, dataset=dataset), out, runs_dir=Path("runs/utility") / dataset, keep=keep)
            print(result.markdown(), flush=True)
        if a.no_tos:
            continue
        results[dataset] = train_on_synthetic(dataset, a.tos_run if len(a.datasets) == 1 else None,
                                              a.tos_minutes, a.tos_steps, a.tos_seeds)
        print(json.dumps(results[dataset]), flush=True)
        write_text(tos_path, json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
