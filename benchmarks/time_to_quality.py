"""Time to quality: how long the best preset takes to reach the best FID the tutorial's recipe reaches in 30 epochs.

    python benchmarks/time_to_quality.py                 # about 15 minutes on a 2-core CPU
    python benchmarks/time_to_quality.py --epochs 5      # a quick look

Arm 1, the tutorial's recipe: the seed preset for --epochs (30) epochs, scored after every epoch.
Arm 2, the best preset, for a tenth of arm 1's training time, scored after every epoch.
Both score with `--eval-every 1`: domain FID of 2,000 samples (fixed noise) against the fixed validation slice of
5,000 training images left out of training, so the two curves are measured alike; the time is the run's
wall clock at each epoch's end (`elapsed_s` in metrics.csv), which includes the earlier epochs' evaluations
in both arms (about 3 s each). The seed preset runs
on gankit's engine, about twice as fast as the tutorial's own loop (benchmarks/train_speed.py), so the tenth
is a tenth of the faster of the two. Prints both curves, the tutorial's best FID and when it came, and the
time the best preset first reached it; writes them to --out as JSON. Run it alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gankit  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.training.runlog import read_csv  # noqa: E402


def curve(run_dir: Path) -> list[dict]:
    """(epoch, minutes of training, validation FID) per evaluated epoch."""
    return [{"epoch": int(r["epoch"]), "minutes": round(r["elapsed_s"] / 60, 3), "fid": round(r["fid"], 2)}
            for r in read_csv(run_dir / "metrics.csv") if r.get("fid") == r.get("fid")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=30, help="the tutorial recipe's epochs (default: 30)")
    p.add_argument("--root", default="runs/time-to-quality")
    p.add_argument("--out", default="benchmarks/results/time_to_quality.json")
    a = p.parse_args()
    print(f"expect about {a.epochs * 0.45 * 1.1 + 3:.0f} minutes", flush=True)
    root = Path(a.root)
    quiet = dict(progress=False, eval_every=1, log=lambda m: None)
    gankit.train("seed", root / "seed", force=True, epochs=a.epochs, **quiet)
    tutorial = curve(root / "seed")
    budget = tutorial[-1]["minutes"] / 10
    gankit.train("best", root / "best", force=True, minutes=budget, epochs=1000, **quiet)
    best = curve(root / "best")
    target = min(tutorial, key=lambda r: r["fid"])
    reached = next((r for r in best if r["fid"] <= target["fid"]), None)
    result = {"tutorial_recipe": tutorial, "best_preset": best, "budget_minutes": round(budget, 3),
              "tutorial_best": target, "best_preset_reached_it_at": reached,
              "ratio_of_times": round(reached["minutes"] / target["minutes"], 4) if reached else None}
    write_text(a.out, json.dumps(result, indent=1) + "\n")
    print(f"tutorial recipe: best validation FID {target['fid']} at epoch {target['epoch']} "
          f"({target['minutes']:.1f} min of {tutorial[-1]['minutes']:.1f})")
    if reached:
        print(f"best preset: FID {reached['fid']} <= that at epoch {reached['epoch']}, {reached['minutes']:.2f} min: "
              f"{reached['minutes'] / target['minutes']:.3f} of the tutorial's time to its best "
              f"({reached['minutes'] / tutorial[-1]['minutes']:.3f} of its 30 epochs)")
    else:
        print(f"best preset did not reach FID {target['fid']} within {budget:.2f} minutes; its curve: {best}")


if __name__ == "__main__":
    main()
