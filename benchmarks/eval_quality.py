"""What `gankit evaluate` says about real, corrupted and generated MNIST, and the seed preset by epoch.

    python benchmarks/eval_quality.py                  # about 25 minutes on a 2-core CPU
    python benchmarks/eval_quality.py --epochs 1 2 5   # a shorter seed table

Part 1 ranks sets whose quality is known by construction: real training images (none of those the
floor uses), the same with light and heavy Gaussian pixel noise, blurred, and a seed-preset run after
1 epoch. Part 2 trains the seed preset (the tutorial's GAN) and scores it after each listed epoch.
Every score is against the MNIST test set, N = -n, domain features, beside the real-data floor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gankit  # noqa: E402
from gankit.data import load_images  # noqa: E402
from gankit.eval.evaluate import evaluate  # noqa: E402

COLUMNS = ("fid", "kid", "precision", "recall", "density", "coverage", "classes_covered")
QUIET = lambda s: None  # noqa: E731


def row(name: str, scores: dict) -> str:
    return f"| {name} | " + " | ".join(_fmt(scores.get(c)) for c in COLUMNS) + " |"


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3f}" if abs(v) < 10 else f"{v:.2f}"


def header(first: str) -> str:
    return f"| {first} | " + " | ".join(COLUMNS) + " |\n|" + "---|" * (len(COLUMNS) + 1)


def corrupted_sets(n: int) -> dict[str, torch.Tensor]:
    images = load_images("mnist", split="train", log=QUIET).images
    # evaluate's floor takes 2 x n training images by a seeded permutation (seed + 1); use others
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(1))
    real = images[order[2 * n:3 * n]] if 3 * n <= len(images) else images[order[-n:]]
    gen = torch.Generator().manual_seed(0)

    def noisy(sigma: float) -> torch.Tensor:
        return (real.float() + sigma * torch.randn(real.shape, generator=gen)).round().clamp(0, 255).to(torch.uint8)

    return {"real training images (held apart)": real, "light noise (sigma 20/255)": noisy(20),
            "heavy noise (sigma 80/255)": noisy(80), "blur (5x5, sigma 1.5)": TF.gaussian_blur(real, 5, 1.5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 5, 10, 20, 30])
    args = parser.parse_args()
    print(f"expected duration: about {3 + 0.7 * max(args.epochs) + 0.2 * len(args.epochs):.0f} minutes on a 2-core CPU")
    t0 = time.monotonic()
    metrics = ["fid", "kid", "pr", "dc", "classes"]
    with tempfile.TemporaryDirectory() as tmp:
        print("\n## Ranking sets of known quality\n")
        print(header("set"))
        floor = None
        for name, images in corrupted_sets(args.n).items():
            path = Path(tmp) / "set.npz"
            np.savez(path, images=images.numpy())
            report = evaluate(path, dataset="mnist", n=args.n, metrics=metrics, log=QUIET)
            floor = report.floor
            print(row(name, report.metrics), flush=True)
        run_dir = Path(tmp) / "seed"
        done = 0
        seed_rows = []
        for epoch in sorted(args.epochs):
            gankit.train("seed", run_dir=run_dir, epochs=epoch, resume=done > 0, progress=False, log=QUIET)
            done = epoch
            report = evaluate(run_dir, n=args.n, metrics=metrics, log=QUIET)
            seed_rows.append(row(f"seed preset, epoch {epoch}", report.metrics))
            if epoch == 1:
                print(seed_rows[-1])
        print(row("**real-data floor** (training vs test images)", floor))
        print("\n## The seed preset (the tutorial's GAN) by epoch\n")
        print(header("run"))
        print("\n".join(seed_rows))
        print(row("**real-data floor**", floor))
    print(f"\nN = {args.n} generated and {args.n} real test images, domain features ({report.protocol['features']}, "
          f"sha256 {report.protocol['features_sha256'][:12]}), seed 0; took {(time.monotonic() - t0) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
