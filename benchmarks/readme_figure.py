"""The README's picture: samples of trained runs side by side, each under its name.

    python benchmarks/results_table.py --datasets mnist --presets seed best --seed 0   # the runs (about 35 minutes)
    python benchmarks/readme_figure.py                                                  # docs/images/seed_vs_best.png

Each run's generator (EMA weights where the run kept them) draws 64 images from the same seed into an 8 x 8 grid;
the grids are placed left to right, scaled up 2x (nearest neighbour, so no pixel is invented), with each run's
label above it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torchvision
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gankit  # noqa: E402
from gankit.infra.io import atomic_path  # noqa: E402

RUNS = ("runs/results-table/mnist-seed", "runs/results-table/mnist-best")
LABELS = ("the tutorial's GAN (--preset seed)", "--preset best")


def grid(run: str, seed: int) -> Image.Image:
    images = gankit.load(run, device="cpu").sample(64, seed=seed)
    tiles = torchvision.utils.make_grid(images, nrow=8, padding=2, pad_value=255)
    return Image.fromarray(tiles.permute(1, 2, 0).numpy().astype(np.uint8)).convert("RGB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", default=list(RUNS))
    p.add_argument("--labels", nargs="+", default=list(LABELS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/images/seed_vs_best.png")
    a = p.parse_args()
    if len(a.labels) != len(a.runs):
        raise SystemExit("give one --labels entry per --runs entry")
    grids = [grid(run, a.seed) for run in a.runs]
    grids = [g.resize((g.width * 2, g.height * 2), Image.NEAREST) for g in grids]
    gap, top = 24, 28
    width = sum(g.width for g in grids) + gap * (len(grids) + 1)
    canvas = Image.new("RGB", (width, max(g.height for g in grids) + top + gap), "white")
    draw, x = ImageDraw.Draw(canvas), gap
    for g, label in zip(grids, a.labels):
        draw.text((x, 8), label, fill="black")
        canvas.paste(g, (x, top))
        x += g.width + gap
    out = Path(a.out)
    with atomic_path(out) as tmp:
        canvas.save(tmp)
    print(f"wrote {out} ({canvas.width} x {canvas.height})")


if __name__ == "__main__":
    main()
