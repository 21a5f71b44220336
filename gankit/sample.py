"""Load a trained generator from its run directory and draw images: no data set needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gankit import checkpoint, models
from gankit.config import TrainConfig
from gankit.device import resolve_device
from gankit.errors import GankitError
from gankit.io import atomic_path
from gankit.runlog import save_grid

CHECKPOINTS = ("last", "best")


@dataclass
class TrainedGenerator:
    """A generator with what it needs to sample: `g.sample(16)` gives uint8 images (N, C, H, W)."""

    generator: nn.Module
    config: TrainConfig
    device: torch.device
    run_dir: Path
    num_classes: int = 0

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, batch_size: int = 1000) -> torch.Tensor:
        """n images as uint8 (N, C, H, W) on the CPU; the same seed gives the same images."""
        if n <= 0:
            raise GankitError(f"number of samples must be positive, got {n}")
        gen = torch.Generator(device="cpu")
        if seed is not None:
            gen.manual_seed(seed)
        else:
            gen.seed()
        self.generator.eval()
        out = []
        for start in range(0, n, batch_size):
            z = torch.randn(min(batch_size, n - start), self.config.z_dim, generator=gen).to(self.device)
            out.append(to_uint8(self.generator(z)).cpu())
        return torch.cat(out)

    def save(self, path: str | Path, n: int, seed: int | None = None) -> Path:
        """Write n samples: `.png` a grid, `.npz` an array file with `images` uint8 (N, C, H, W)."""
        path = Path(path)
        if path.suffix not in (".png", ".npz"):
            raise GankitError(f"cannot write samples to '{path}': use a .png (grid) or .npz (array) file name")
        images = self.sample(n, seed)
        if path.suffix == ".png":
            save_grid(images.float() / 127.5 - 1, path)
        else:
            with atomic_path(path) as tmp:
                np.savez(tmp, images=images.numpy())
        return path


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> [0, 255] uint8, rounding as torchvision's save_image does."""
    return ((images.float() + 1) * 127.5 + 0.5).clamp_(0, 255).to(torch.uint8)


def load(run_dir: str | Path, checkpoint_name: str = "last", device: str = "auto") -> TrainedGenerator:
    """The generator of a run, with EMA weights when the run kept them. Works on a CPU for a GPU run."""
    run_dir = Path(run_dir)
    if checkpoint_name not in CHECKPOINTS:
        raise GankitError(f"unknown checkpoint '{checkpoint_name}': use last or best")
    if not run_dir.is_dir():
        raise GankitError(f"run directory {run_dir} not found: give the directory gankit train wrote")
    path = run_dir / "checkpoints" / f"{checkpoint_name}.pt"
    if checkpoint_name == "best" and not path.is_file():
        raise GankitError(f"{run_dir} has no best checkpoint (it is kept when training evaluates): use --checkpoint last")
    state = checkpoint.load(path)
    cfg = TrainConfig.from_dict(state["config"])
    dev = resolve_device(device)
    G, _ = models.build(cfg.model, tuple(state["image_shape"]), cfg.z_dim, state.get("num_classes", 0))
    checkpoint.load_weights(G, state.get("generator_ema", state["generator"]), "generator", path)
    return TrainedGenerator(G.to(dev), cfg, dev, run_dir, state.get("num_classes", 0))
