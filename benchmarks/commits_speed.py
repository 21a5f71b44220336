"""A preset's whole-epoch training speed at several commits, side by side in one run: each commit's tree
(`git archive`) trains with its own CLI, the commits in turns, so a speed-up is measured against the code it
replaced on the same machine at the same time.

    python benchmarks/commits_speed.py --preset best --commits 93da8b3 HEAD --limit 12800 --epochs 4 --turns 2

Each run trains --limit images per epoch for --epochs epochs (seed 0, no progress bar); its speed is --limit over
the median wall time of an epoch (metrics.csv's elapsed_s, from one epoch's end to the next), the first epoch
(warm-up) and the last (whose standing statistics and checkpoint are the run's full ones) left out. Whole
epochs count the per-epoch work too (the EMA generator's standing statistics, the grid, metrics.csv, the
checkpoint), which weighs more in a short epoch than in one of the full data set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.train_speed import cpu_name  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.training.runlog import read_csv  # noqa: E402


def tree(commit: str, into: Path) -> tuple[str, Path]:
    """The commit's full hash and its files, unpacked under `into`."""
    full = subprocess.run(["git", "rev-parse", commit], cwd=ROOT, capture_output=True, text=True, check=True)
    sha = full.stdout.strip()
    where = into / sha[:12]
    where.mkdir()
    archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "x", "-C", str(where)], input=archive, check=True)
    return sha, where


def epoch_rate(src: Path, preset: str, limit: int, epochs: int, run: Path) -> float:
    cmd = [sys.executable, "-m", "gankit", "train", "--preset", preset, "--limit", str(limit), "--epochs",
           str(epochs), "--seed", "0", "--run-dir", str(run), "--no-progress"]
    done = subprocess.run(cmd, cwd=src, env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{src.name}: gankit train failed:\n{done.stderr[-2000:]}")
    elapsed = [float(r["elapsed_s"]) for r in read_csv(run / "metrics.csv")]
    walls = [b - a for a, b in zip(elapsed, elapsed[1:])][:-1]  # epochs 2 .. E-1
    return limit / statistics.median(walls)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="best")
    p.add_argument("--commits", nargs="+", required=True, help="oldest first; the last is the one measured against")
    p.add_argument("--limit", type=int, default=12800)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--turns", type=int, default=2)
    p.add_argument("--out", default=None, help="default: benchmarks/results/commits_speed_<preset>.json")
    a = p.parse_args()
    if a.epochs < 3:
        raise SystemExit("--epochs must be at least 3: the first and the last are not counted")
    rates: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees = [tree(c, Path(tmp)) for c in a.commits]
        for turn in range(a.turns):
            for sha, src in trees:
                run = Path(tmp) / f"run-{sha[:12]}-{turn}"
                rate = epoch_rate(src, a.preset, a.limit, a.epochs, run)
                rates.setdefault(sha, []).append(rate)
                print(f"turn {turn + 1} {sha[:12]}: {rate:,.0f} images/s (whole epochs)", flush=True)
    medians = {sha: statistics.median(r) for sha, r in rates.items()}
    last = trees[-1][0]
    out = {"machine": {"cpu": cpu_name(), "threads": torch.get_num_threads(), "torch": torch.__version__},
           "preset": a.preset, "limit": a.limit, "epochs": a.epochs, "date": time.strftime("%Y-%m-%d"),
           "commits": [{"commit": sha, "asked_as": c, "epoch_images_per_s": medians[sha], "turns": rates[sha],
                        "newest_speedup": medians[last] / medians[sha]} for (sha, _), c in zip(trees, a.commits)],
           "command": "python benchmarks/commits_speed.py " + " ".join(sys.argv[1:])}
    for c in out["commits"]:
        print(f"{c['commit'][:12]} ({c['asked_as']}): {c['epoch_images_per_s']:,.0f} images/s; the newest is "
              f"{c['newest_speedup']:.2f}x")
    write_text(ROOT / (a.out or f"benchmarks/results/commits_speed_{a.preset}.json"), json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
