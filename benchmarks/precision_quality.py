"""Do --compile and --precision bf16 change what the seed preset learns? A quality check of the fast paths.

    python benchmarks/precision_quality.py --arms fp32 compile --epochs 3 --seeds 0 1 2    # ~15 min on 2 cores
    python benchmarks/precision_quality.py --arms fp32 bf16 --device cuda                # where bf16 is fast

Each arm trains the seed preset (batch 64) for --epochs on MNIST with each seed, in turns (seed 0 of every
arm, then seed 1, ...), and `gankit evaluate` scores its last checkpoint with the domain features (-n samples
against the test split). The verdict per arm, against fp32: the mean FIDs differ by less than the larger of the
two seed spreads (std over seeds), the definition of "within noise" used here. Writes --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gankit  # noqa: E402
from gankit.eval.evaluate import evaluate  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402

ARMS = {"fp32": {}, "compile": {"compile": True}, "bf16": {"precision": "bf16"},
        "bf16+compile": {"precision": "bf16", "compile": True}}


def within_noise(a: list[float], b: list[float]) -> bool:
    """The test: the means differ by less than the larger seed spread."""
    return abs(statistics.mean(a) - statistics.mean(b)) < max(statistics.stdev(a), statistics.stdev(b))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arms", nargs="+", default=["fp32", "compile"], choices=list(ARMS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("-n", type=int, default=5000, help="samples per evaluation")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="benchmarks/results/precision_quality.json")
    a = p.parse_args()
    if "fp32" not in a.arms or len(a.seeds) < 2:
        p.error("the verdict compares each arm with fp32 over seeds: include fp32 and at least 2 seeds")
    fid: dict[str, list[float]] = {arm: [] for arm in a.arms}
    minutes: dict[str, list[float]] = {arm: [] for arm in a.arms}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in a.seeds:
            for arm in a.arms:
                start = time.monotonic()
                run = gankit.train("seed", Path(tmp) / f"{arm}-{seed}", epochs=a.epochs, seed=seed, device=a.device,
                                   progress=False, log=lambda m: None, **ARMS[arm])
                minutes[arm].append((time.monotonic() - start) / 60)
                report = evaluate(run.run_dir, n=a.n, metrics=("fid",), device=a.device, log=lambda m: None)
                fid[arm].append(float(report.to_json()["metrics"]["fid"]))
                print(f"seed {seed} {arm}: FID {fid[arm][-1]:.1f} ({minutes[arm][-1]:.1f} min of training)", flush=True)
            rows = summary(fid, minutes)
            write_text(a.out, json.dumps({"epochs": a.epochs, "seeds": a.seeds[:len(fid["fp32"])], "n": a.n,
                                          "device": a.device, "measured": time.strftime("%Y-%m-%d"), "arms": rows},
                                         indent=1) + "\n")  # after every seed: a cut-off run keeps its seeds
    print("| arm | FID mean ± std | by seed | minus fp32, by seed | within noise of fp32? |")
    print("| --- | --- | --- | --- | --- |")
    for arm, r in rows.items():
        verdict = {None: "-", True: "yes", False: "no"}[r["within_noise_of_fp32"]]
        by_seed = ", ".join(f"{x:.1f}" for x in r["fid_by_seed"])
        minus = ", ".join(f"{x:+.1f}" for x in r["minus_fp32_by_seed"])
        print(f"| {arm} | {r['fid_mean']:.1f} ± {r['fid_std']:.1f} | {by_seed} | {minus} | {verdict} |")


def summary(fid: dict[str, list[float]], minutes: dict[str, list[float]]) -> dict[str, dict]:
    """Per arm: FID mean and spread, the paired differences from fp32 (same seed), and the verdict."""
    enough = len(fid["fp32"]) >= 2
    return {arm: {"fid_by_seed": fid[arm], "fid_mean": statistics.mean(fid[arm]),
                  "fid_std": statistics.stdev(fid[arm]) if enough else None,
                  "minus_fp32_by_seed": [x - y for x, y in zip(fid[arm], fid["fp32"])],
                  "training_minutes_mean": statistics.mean(minutes[arm]),
                  "within_noise_of_fp32": None if arm == "fp32" or not enough else within_noise(fid[arm], fid["fp32"])}
            for arm in fid}


if __name__ == "__main__":
    main()
