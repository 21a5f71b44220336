"""Tables, speed: gankit's TabularGAN against CTGAN 0.12.1 on UCI Adult, trained in turns in one run.

    python benchmarks/tabular_speed.py                       # 3 rounds of 5 epochs each, about 5 minutes
    python benchmarks/tabular_speed.py --rounds 5 --epochs 10

Both use their defaults, which are the same sizes: batch 500, pac 10, noise 128, G and D 256x256. Each round
trains gankit for --epochs epochs in this process, then CTGAN for as many in a child process in its own
virtual environment (made on first use, never a gankit dependency; benchmarks/ctgan_child.py, CTGAN's code
untouched), one after the other, never at once. Seconds per epoch count the epochs only, not the fitting of
the columns. After the last round's training each arm samples --sample-rows rows, plain and with one
condition (sex=Female), timed alone.

The ratio is CTGAN's median seconds per epoch over gankit's: each round's pair ran minutes apart on the same
machine, so a machine that slows during the run slows both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.high_cardinality import CTGAN_VERSION, add_venv_option, ensure_ctgan  # noqa: E402
from benchmarks.tabular_adult import run_ctgan  # noqa: E402
from benchmarks.train_speed import cpu_name  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.tabular import TabularGAN, adult  # noqa: E402

CONDITION = ("sex", "Female")


def gankit_round(train, epochs: int, seed: int, sample_rows: int | None) -> dict:
    marks = {}

    def log(message: str) -> None:
        if message.startswith("columns fitted"):
            marks["train_start"] = time.monotonic()

    start = time.monotonic()
    gan = TabularGAN(epochs=epochs, seed=seed).fit(train, log=log)
    end = time.monotonic()
    result = {"epochs": len(gan.history), "train_s": end - marks["train_start"], "columns_s": marks["train_start"] - start}
    if sample_rows:
        start = time.monotonic()
        gan.sample(sample_rows, seed=seed)
        result["sample_s"] = time.monotonic() - start
        start = time.monotonic()
        gan.sample(sample_rows, seed=seed, condition=dict([CONDITION]))
        result["sample_conditional_s"] = time.monotonic() - start
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5, help="per arm and round")
    p.add_argument("--sample-rows", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    add_venv_option(p)
    p.add_argument("--out", default="benchmarks/results/tabular_speed.json")
    a = p.parse_args()
    python = ensure_ctgan(a.venv)
    train = adult.load("train")
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        train_csv = Path(tmp) / "train.csv"
        train.to_csv(train_csv, index=False)
        for r in range(a.rounds):
            sample_rows = a.sample_rows if r == a.rounds - 1 else None
            ours = gankit_round(train, a.epochs, a.seed, sample_rows)
            sampling = ["--time-sampling", str(sample_rows), "--condition", "=".join(CONDITION)] if sample_rows else []
            peer = run_ctgan(python, train_csv, "--epochs", str(a.epochs), "--seed", str(a.seed), *sampling)
            rounds.append({"gankit": ours, "ctgan": peer})
            per_epoch = {arm: run["train_s"] / run["epochs"] for arm, run in rounds[-1].items()}
            print(f"round {r + 1}: gankit {per_epoch['gankit']:.2f} s/epoch, CTGAN {per_epoch['ctgan']:.2f} s/epoch "
                  f"({per_epoch['ctgan'] / per_epoch['gankit']:.2f}x)", flush=True)
    median = {arm: statistics.median(run[arm]["train_s"] / run[arm]["epochs"] for run in rounds)
              for arm in ("gankit", "ctgan")}
    last = rounds[-1]
    sampling = {kind: {"gankit_s": last["gankit"][kind], "ctgan_s": last["ctgan"][kind],
                       "gankit_speedup": last["ctgan"][kind] / last["gankit"][kind]}
                for kind in ("sample_s", "sample_conditional_s")}
    out = {"cpu": cpu_name(), "torch": torch.__version__, "threads": torch.get_num_threads(), "ctgan": CTGAN_VERSION,
           "command": "python benchmarks/tabular_speed.py " + " ".join(sys.argv[1:]), "epochs_per_round": a.epochs,
           "median_seconds_per_epoch": median, "gankit_epochs_per_second_over_ctgan": median["ctgan"] / median["gankit"],
           "per_round_ratio": [run["ctgan"]["train_s"] / run["ctgan"]["epochs"]
                               / (run["gankit"]["train_s"] / run["gankit"]["epochs"]) for run in rounds],
           "sampling": {"rows": a.sample_rows, "condition": "=".join(CONDITION), **sampling}, "rounds": rounds}
    write_text(ROOT / a.out, json.dumps(out, indent=1) + "\n")
    print(f"median s/epoch: gankit {median['gankit']:.2f}, CTGAN {median['ctgan']:.2f}: "
          f"gankit {out['gankit_epochs_per_second_over_ctgan']:.2f}x CTGAN's epochs per second")
    for kind, row in sampling.items():
        print(f"{kind} of {a.sample_rows:,} rows: gankit {row['gankit_s']:.2f} s, CTGAN {row['ctgan_s']:.2f} s "
              f"({row['gankit_speedup']:.2f}x)")


if __name__ == "__main__":
    main()
