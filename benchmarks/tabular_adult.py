"""UCI Adult: gankit's tabular GAN against the real data, scored as SDGym scores CTGAN.

    python benchmarks/tabular_adult.py                 # 15 minutes of training, then the report (about 20 minutes)
    python benchmarks/tabular_adult.py --minutes 1     # a quick look

Trains `TabularGAN` on adult.data (32,561 rows) for --minutes of wall clock (after the columns are fitted),
samples as many rows, and scores them with `evaluate_table` against the real training table, with ML efficacy
on the real adult.test (16,281 rows; target income, binary F1 of >50K averaged over a depth-15 decision tree,
AdaBoost, logistic regression and an MLP with one 50-unit layer), the real-data figure measured the same
way in the same run. Writes every score to --out as JSON and prints the summary. Run it alone: training is
bounded by the wall clock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.infra.io import write_text  # noqa: E402
from gankit.tabular import (  # noqa: E402
    TabularGAN,
    adult,  # noqa: E402
    evaluate_table,
)

EVAL_MINUTES = 4.0  # fitting the columns, sampling and the report's eight classifiers


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--epochs", type=int, default=10_000, help="an upper bound; --minutes normally ends training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=None, help="G's and D's learning rate (default: TabularGAN's)")
    p.add_argument("--out", default="benchmarks/results/adult.json")
    p.add_argument("--save", default=None, help="also save the trained model here")
    a = p.parse_args()
    print(f"expect about {a.minutes + EVAL_MINUTES:.0f} minutes", flush=True)
    train, test = adult.load("train"), adult.load("test")
    options = dict(epochs=a.epochs, minutes=a.minutes, seed=a.seed)
    if a.lr is not None:
        options.update(lr_g=a.lr, lr_d=a.lr)
    start = time.monotonic()
    epochs_seen = []
    gan = TabularGAN(**options).fit(train, log=lambda m: epochs_seen.append(m) if m.startswith("epoch") else print(m))
    fit_s = time.monotonic() - start
    print(f"trained {len(gan.history)} epochs in {fit_s / 60:.1f} minutes (columns fitted included)", flush=True)
    if a.save:
        gan.save(a.save)
    synthetic = gan.sample(len(train), seed=a.seed)
    # max_rows above the table size: ML efficacy trains on every row, as SDGym does
    report = evaluate_table(train, synthetic, real_test=test, target="income", seed=a.seed, max_rows=len(train) + 1)
    out = {"minutes_budget": a.minutes, "fit_minutes": round(fit_s / 60, 2), "epochs": len(gan.history),
           "options": {k: v for k, v in options.items()}, "torch": torch.__version__,
           "threads": torch.get_num_threads(), "report": report.to_json(), "history": gan.history[-5:]}
    write_text(a.out, json.dumps(out, indent=1) + "\n")
    print(report.summary())
    ml = report.scores["ml_efficacy"]
    print(json.dumps({k: ml[k] for k in ml if k != "per_classifier"} if ml else None))


if __name__ == "__main__":
    main()
