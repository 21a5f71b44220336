"""Condition vectors for sampling a table: the vectorised draw against the per-row loop it replaced, side by side
in one process, on Adult's discrete columns (their real category counts), and a check that both give the same rows.

    python benchmarks/condition_sampling.py            # 100,000 rows, 5 turns each
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.train_speed import cpu_name  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.tabular import adult  # noqa: E402
from gankit.tabular.columns import TableTransformer  # noqa: E402
from gankit.tabular.model import ConditionSampler  # noqa: E402


def per_row_loop(sampler: ConditionSampler, n: int, rng: np.random.Generator) -> np.ndarray:
    """The draw as it was: one rng.choice per row (the baseline)."""
    cols = rng.integers(len(sampler.columns), size=n)
    cats = np.array([rng.choice(len(sampler.counts[j]), p=np.asarray(sampler.counts[j]) / sum(sampler.counts[j]))
                     for j in cols], dtype=int)
    return sampler.vectors(cols, cats)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--turns", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/condition_sampling.json")
    a = p.parse_args()
    table = adult.load("train", log=lambda m: None)
    transformer = TableTransformer().fit(table)
    sampler = ConditionSampler(transformer, transformer.transform(table, np.random.default_rng(0)))
    same = np.array_equal(per_row_loop(sampler, a.rows, np.random.default_rng(1)),
                          sampler.sample_batch(a.rows, np.random.default_rng(1)))
    times = {"per_row_loop": [], "vectorised": []}
    for turn in range(a.turns):  # in turns, so drift on the machine falls on both
        for name, draw in (("per_row_loop", lambda r: per_row_loop(sampler, a.rows, r)),
                           ("vectorised", lambda r: sampler.sample_batch(a.rows, r))):
            start = time.perf_counter()
            draw(np.random.default_rng(turn))
            times[name].append(time.perf_counter() - start)
    medians = {k: float(np.median(v)) for k, v in times.items()}
    out = {"cpu": cpu_name(), "rows": a.rows, "turns": a.turns, "discrete_columns": len(sampler.columns),
           "same_rows": bool(same), "median_seconds": medians,
           "speedup": round(medians["per_row_loop"] / medians["vectorised"], 1),
           "command": "python benchmarks/condition_sampling.py " + " ".join(sys.argv[1:])}
    write_text(ROOT / a.out, json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("same_rows", "median_seconds", "speedup")}))


if __name__ == "__main__":
    main()
