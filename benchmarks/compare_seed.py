"""gankit's seed preset against the tutorial's own loop (gankit/reference/tutorial.py), several seeds each,
side by side in one process: per-epoch mean D and G losses, as mean ± std over seeds.

    python benchmarks/compare_seed.py --epochs 2 --seeds 0 1 2

The two must agree within the seeds' spread over the first epochs; later epochs may part where the
tutorial's sigmoid + BCELoss saturates and the logit form does not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gankit  # noqa: E402
from gankit.data import default_data_dir, prepare  # noqa: E402
from gankit.reference import tutorial as tutorial_reference  # noqa: E402
from gankit.training.runlog import read_csv  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    prepare("mnist", log=lambda s: None)
    rows: dict[str, list[list[dict]]] = {"tutorial": [], "gankit": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:  # alternate the two so machine drift hits both alike
            history, _ = tutorial_reference.run(str(default_data_dir()), args.epochs, seed)
            rows["tutorial"].append(history)
            run = gankit.train("seed", run_dir=Path(tmp) / f"s{seed}", epochs=args.epochs, seed=seed, progress=False, log=lambda s: None)
            rows["gankit"].append(read_csv(run.run_dir / "metrics.csv"))
    print(f"\nper-epoch mean losses over seeds {args.seeds} (mean ± std across seeds)")
    print(f"{'epoch':>5}  {'loop':8}  {'d_loss':>16}  {'g_loss':>16}  {'s/epoch':>8}")
    for e in range(args.epochs):
        for name, runs in rows.items():
            d = [r[e]["d_loss"] for r in runs]
            g = [r[e]["g_loss"] for r in runs]
            sec = statistics.mean(r[e]["seconds"] for r in runs)
            print(f"{e + 1:>5}  {name:8}  {statistics.mean(d):7.4f} ± {statistics.stdev(d):6.4f}  "
                  f"{statistics.mean(g):7.4f} ± {statistics.stdev(g):6.4f}  {sec:8.1f}")


if __name__ == "__main__":
    main()
