"""Train CTGAN on a CSV, in CTGAN's own virtual environment (run by the benchmarks as a child process; it never
imports gankit). CTGAN's code is untouched: only the tqdm iterator over its epochs is replaced by one that
times them and stops after the epoch that passes --minutes, or after --epochs.

    .bench-venvs/ctgan-0.12.1/bin/python benchmarks/ctgan_child.py train.csv --epochs 5 --seed 0 \
        --out synthetic.csv --time-sampling 100000 --condition sex=Female

Prints one line, `RESULT {json}`: epochs, train_s (the epochs' wall clock), fit_s (with column fitting),
columns_s, and with --time-sampling the seconds to sample that many rows, plain and conditional.
"""

import argparse
import json
import time

import ctgan.synthesizers.ctgan as module
import pandas as pd
from ctgan import CTGAN

timing = {"epochs": 0}


class Budget:
    """Stands in for tqdm(range(epochs)) in CTGAN.fit: times the epochs and ends them at the budget."""

    minutes = None

    def __init__(self, iterable, **_):
        self.iterable = iterable

    def __iter__(self):
        start = timing["train_start"] = time.monotonic()
        for i in self.iterable:
            yield i
            timing["epochs"] += 1
            if self.minutes is not None and time.monotonic() - start > self.minutes * 60:
                break
        timing["train_end"] = time.monotonic()

    def set_description(self, *_, **__):
        pass


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("train_csv")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=float)
    p.add_argument("--epochs", type=int, default=300)  # CTGAN's default
    p.add_argument("--out", help="write len(train) sampled rows here")
    p.add_argument("--time-sampling", type=int, metavar="ROWS")
    p.add_argument("--condition", metavar="COLUMN=VALUE", help="with --time-sampling: also time conditional rows")
    a = p.parse_args()
    module.tqdm, Budget.minutes = Budget, a.minutes
    df = pd.read_csv(a.train_csv)
    model = CTGAN(epochs=a.epochs)
    model.set_random_state(a.seed)
    start = time.monotonic()
    model.fit(df, discrete_columns=[c for c in df.columns if df[c].dtype == object])
    fit_s = time.monotonic() - start
    train_s = timing["train_end"] - timing["train_start"]
    result = {"epochs": timing["epochs"], "train_s": train_s, "fit_s": fit_s, "columns_s": fit_s - train_s}
    if a.out:
        model.sample(len(df)).to_csv(a.out, index=False)
    if a.time_sampling:
        start = time.monotonic()
        model.sample(a.time_sampling)
        result["sample_s"] = time.monotonic() - start
        if a.condition:
            column, value = a.condition.split("=", 1)
            start = time.monotonic()
            model.sample(a.time_sampling, condition_column=column, condition_value=value)
            result["sample_conditional_s"] = time.monotonic() - start
    print("RESULT", json.dumps(result))


if __name__ == "__main__":
    main()
