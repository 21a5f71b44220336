"""Load a trained generator from its run directory and draw images: no data set needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from gankit import models
from gankit.data.imagedata import labels_at_shares
from gankit.data.pixels import to_model_range, to_uint8
from gankit.generate import noise
from gankit.infra import checkpoint
from gankit.infra.device import check_fits_in_memory, resolve_device
from gankit.infra.errors import GankitError
from gankit.infra.io import atomic_path
from gankit.training.config import TrainConfig, load_options
from gankit.training.runlog import save_grid

CHECKPOINTS = ("last", "best")


@dataclass
class TrainedGenerator:
    """A generator with what it needs to sample: `g.sample(16)` gives uint8 images (N, C, H, W)."""

    generator: nn.Module
    config: TrainConfig
    device: torch.device
    run_dir: Path
    num_classes: int = 0
    image_shape: tuple[int, int, int] = (1, 28, 28)
    class_counts: torch.Tensor | None = None  # a conditional run's training images per class

    @property
    def image_options(self) -> dict:
        """How the run loaded its training images (size, channels, fit): real images to compare with its samples
        are loaded the same way."""
        return load_options(self.config)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, batch_size: int = 1000,
               labels: torch.Tensor | None = None, truncation: float | None = None) -> torch.Tensor:
        """n images as uint8 (N, C, H, W) on the CPU; the same seed gives the same images. A conditional
        generator draws the given labels (N,), or every class in turn when none are given. `truncation` T: noise
        entries beyond +-T are drawn again (less variety, more typical images)."""
        if n <= 0:
            raise GankitError(f"number of samples must be positive, got {n}")
        c, h, w = self.image_shape
        check_fits_in_memory(n * c * h * w + 4 * batch_size * c * h * w, f"{n:,} samples of {c}x{h}x{w}",
                             "ask for fewer with -n, or sample in parts with different --seed values")
        labels = self.labels_for(n, labels)
        gen = self._generator(seed)
        out = []
        for start in range(0, n, batch_size):
            z = noise.draw(min(batch_size, n - start), self.config.z_dim, gen, truncation, self.clusters_in_noise)
            out.append(self._images(z, None if labels is None else labels[start:start + len(z)]))
        return torch.cat(out)

    @torch.no_grad()
    def interpolate(self, points: int, steps: int = 8, seed: int | None = None, label: int | None = None,
                    truncation: float | None = None) -> torch.Tensor:
        """A walk through noise space: `steps` images from each of `points` random noise vectors to the next
        (spherical interpolation), then the last: ((points - 1) * steps + 1) uint8 images. A conditional G keeps
        one class (`label`, default 0) along the walk."""
        anchors = noise.draw(points, self.config.z_dim, self._generator(seed), truncation, self.clusters_in_noise)
        z = noise.walk(anchors, steps, self.clusters_in_noise)
        asked = label is not None or self.num_classes
        labels = self.labels_for(len(z), torch.tensor([label if label is not None else 0])) if asked else None
        return torch.cat([self._images(z[i:i + 1000], None if labels is None else labels[i:i + 1000])
                          for i in range(0, len(z), 1000)])

    @property
    def clusters_in_noise(self) -> bool:
        return bool(self.config.self_condition)

    def _generator(self, seed: int | None) -> torch.Generator:
        gen = torch.Generator(device="cpu")
        if seed is not None:
            gen.manual_seed(seed)
        else:
            gen.seed()
        return gen

    def _images(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        self.generator.eval()
        z = z.to(self.device)
        images = self.generator(z) if labels is None else self.generator(z, labels.to(self.device))
        return to_uint8(images).cpu()

    def labels_at_shares(self, n: int) -> torch.Tensor | None:
        """For a conditional run, n labels at its classes' shares of the training set (what real images to
        compare with hold); equal shares for a run saved without its counts. None for any other run."""
        if not self.num_classes:
            return None
        counts = self.class_counts if self.class_counts is not None else torch.ones(self.num_classes)
        return labels_at_shares(counts, n)

    def labels_for(self, n: int, labels: torch.Tensor | None) -> torch.Tensor | None:
        if not self.num_classes:
            if labels is not None and self.config.self_condition:
                raise GankitError(f"{self.run_dir} is self-conditioned: its clusters are not classes you can ask "
                                  "for; leave out --label, or train with --conditional on labelled data")
            if labels is not None:
                raise GankitError(f"{self.run_dir} is not conditional (trained without --conditional): leave out --label")
            return None
        if labels is None:
            return torch.arange(n) % self.num_classes
        labels = torch.as_tensor(labels).long().reshape(-1)
        if len(labels) == 1:
            labels = labels.expand(n)
        if len(labels) != n:
            raise GankitError(f"{len(labels)} labels for {n} samples: give one label, or one per sample")
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if len(bad):
            raise GankitError(f"label {int(bad[0])} is not a class of {self.run_dir}: use 0 to {self.num_classes - 1}")
        return labels

    def save_walk(self, path: str | Path, points: int, steps: int = 8, seed: int | None = None,
                  label: int | None = None, truncation: float | None = None) -> Path:
        """An interpolation (see `interpolate`) as a .png grid (one row per segment) or an animated .gif/.webp."""
        path = Path(path)
        if path.suffix not in (".png", ".gif", ".webp"):
            raise GankitError(f"cannot write a walk to '{path}': use .png (a grid), .gif or .webp (animated)")
        images = self.interpolate(points, steps, seed, label, truncation)
        if path.suffix == ".png":
            save_grid(to_model_range(images), path, nrow=steps)
            return path
        frames = [Image.fromarray(_hwc(img)) for img in images]
        frames += frames[-2:0:-1]  # and back, so the loop has no jump
        with atomic_path(path) as tmp:
            frames[0].save(tmp, save_all=True, append_images=frames[1:], duration=80, loop=0)
        return path

    def save(self, path: str | Path, n: int, seed: int | None = None, labels: torch.Tensor | None = None,
             rows_by_class: bool = False, truncation: float | None = None) -> Path:
        """Write n samples: `.png` a grid, `.npz` an array file with `images` uint8 (N, C, H, W) and, for a
        conditional generator, `labels`. `rows_by_class`: n per class, one grid row per class."""
        path = Path(path)
        if path.suffix not in (".png", ".npz"):
            raise GankitError(f"cannot write samples to '{path}': use a .png (grid) or .npz (array) file name")
        if rows_by_class:
            if not self.num_classes:
                raise GankitError(f"{self.run_dir} is not conditional (trained without --conditional): "
                                  "--labels all needs a conditional run")
            labels = torch.arange(self.num_classes).repeat_interleave(n)
            n = len(labels)
        labels = self.labels_for(n, labels)
        images = self.sample(n, seed, labels=labels, truncation=truncation)
        if path.suffix == ".png":
            nrow = len(images) // self.num_classes if rows_by_class else None
            save_grid(to_model_range(images), path, nrow=nrow)
        else:
            arrays = {"images": images.numpy()}
            if labels is not None:
                arrays["labels"] = labels.numpy()
            with atomic_path(path) as tmp:
                np.savez(tmp, **arrays)
        return path


def _hwc(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) uint8 as an array PIL takes: (H, W) for one channel, (H, W, 3) for three."""
    array = image.numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


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
    G, _ = models.build_for(cfg, tuple(state["image_shape"]), state.get("num_classes", 0))
    checkpoint.load_weights(G, state.get("generator_ema", state["generator"]), "generator", path)
    return TrainedGenerator(G.to(dev), cfg, dev, run_dir, state.get("num_classes", 0), tuple(state["image_shape"]),
                            state.get("class_counts"))
