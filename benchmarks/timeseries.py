"""Sequences: gankit's conv recipe against the faithful TimeGAN baseline, scored with TimeGAN's own metrics beside
the real-data floor.

    python benchmarks/timeseries.py                                   # sines, both recipes, 15 minutes each
    python benchmarks/timeseries.py --dataset ucr:BasicMotions --recipes conv --out benchmarks/results/timeseries_basicmotions.json
    python benchmarks/timeseries.py --minutes 1 --out /tmp/quick.json  # a quick look

Each recipe trains for --minutes of wall clock per training seed on the data set's training split, samples as
many series as that split holds (labelled sets: classes as often as in the data), and is scored by
`evaluate_series` against the held-out split over 5 metric seeds: TimeGAN's discriminative score (a post-hoc
GRU telling real from generated, |accuracy - 0.5|) and predictive score (a GRU trained on generated series
predicting the last feature one step ahead, MAE on real held-out series), marginal and autocorrelation
distances, and for labelled sets the accuracy of one small 1-D CNN trained on generated series (TSTR) against
the same CNN trained on the real ones (TRTR). The floor is the real training split scored the same way against
the held-out one. All data are min-max scaled per feature by the real training split. The JSON is rewritten
after each arm; run it alone (training is bounded by the wall clock).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.train_speed import cpu_name  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.timeseries.data import read_splits  # noqa: E402
from gankit.timeseries.gan import TimeSeriesGAN  # noqa: E402
from gankit.timeseries.metrics import evaluate_series  # noqa: E402

PEER = "ydata-timegan"
SCORES = ("discriminative", "predictive", "marginal", "autocorrelation", "tstr")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="sines")
    p.add_argument("--recipes", nargs="+", default=["conv", "timegan"], choices=["conv", "timegan", PEER],
                   help=f"{PEER}: ydata-synthetic's TimeGAN in its own virtual environment (benchmarks/timeseries_peer.py)")
    p.add_argument("--minutes", type=float, default=15.0, help="training wall clock per recipe and seed")
    p.add_argument("--steps", type=int, default=None, help="train this many steps instead of a time budget "
                   "(e.g. TimeGAN's published 3 x 50,000)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    p.add_argument("--metric-seeds", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/timeseries_sines.json")
    a = p.parse_args()
    train, test = read_splits(a.dataset)
    result = {"dataset": a.dataset, "cpu": cpu_name(), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "minutes": None if a.steps else a.minutes, "steps": a.steps, "train_series": len(train.values),
              "held_out_series": len(test.values), "command": " ".join(sys.argv), "arms": []}
    for recipe in a.recipes:
        for seed in a.seeds:
            result["arms"].append(_arm(recipe, seed, train, test, a))
            write_text(a.out, json.dumps(result, indent=1, allow_nan=False) + "\n")
    _print_table(result)


def _arm(recipe: str, seed: int, train, test, a) -> dict:
    if recipe == PEER:
        return _peer_arm(seed, train, test, a)
    budget = dict(steps=a.steps) if a.steps else dict(steps=10**9, minutes=a.minutes)
    start = time.monotonic()
    gan = TimeSeriesGAN(recipe=recipe, seed=seed, log_every=1000, **budget).fit(train, log=_quiet_steps)
    train_s = time.monotonic() - start
    synth, labels = gan.sample(len(train.values), seed=seed, return_labels=True)
    labelled = labels is not None
    report = evaluate_series(train.values, synth, test.values, seeds=tuple(range(a.metric_seeds)),
                             labels=train.labels if labelled else None, synth_labels=labels,
                             test_labels=test.labels if labelled else None, log=print)
    steps = gan.steps_done
    print(f"{recipe} seed {seed}: {steps} steps in {train_s / 60:.1f} min\n{report.summary()}", flush=True)
    return {"recipe": recipe, "seed": seed, "train_minutes": round(train_s / 60, 2), "steps": steps,
            "report": report.to_json()}


def _peer_arm(seed: int, train, test, a) -> dict:
    from benchmarks.timeseries_peer import train_and_sample

    lo, hi = train.values.min(axis=(0, 1)), train.values.max(axis=(0, 1))
    scaled = (train.values - lo) / (hi - lo + 1e-7)
    synth, info = train_and_sample(scaled, len(train.values), a.minutes, seed)
    report = evaluate_series(train.values, synth * (hi - lo + 1e-7) + lo, test.values,
                             seeds=tuple(range(a.metric_seeds)), log=print)
    print(f"{PEER} seed {seed}: {info}\n{report.summary()}", flush=True)
    return {"recipe": PEER, "seed": seed, "train_minutes": a.minutes, "peer": info, "report": report.to_json()}


def _quiet_steps(message: str) -> None:
    if not message.startswith("step "):
        print(message, flush=True)


def _print_table(result: dict) -> None:
    arms = result["arms"]
    print(f"\n{result['dataset']}, {result['cpu']}")
    print(f"{'score':16} " + " ".join(f"{a['recipe'] + ' s' + str(a['seed']):>20}" for a in arms) + f" {'real data':>20}")
    for name in SCORES:
        cells = [a["report"].get(name) for a in arms]
        if not any(cells):
            continue
        row = [f"{c['mean']:.4f} ± {c['std']:.4f}" if c else "-" for c in cells]
        floor = next(c for c in cells if c)
        print(f"{name:16} " + " ".join(f"{r:>20}" for r in row)
              + f" {floor['floor']['mean']:.4f} ± {floor['floor']['std']:.4f}".rjust(21))


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
