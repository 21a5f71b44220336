"""`gankit augment`: labelled synthetic images from a conditional run, as a training set for a classifier.

    report = write_labelled("runs/cond", per_class=500, out="synth.npz")        # images uint8 (N, C, H, W), labels
    report = write_labelled("runs/cond", per_class=500, out="synth/")           # synth/0/000000.png ... (ImageFolder)
    report = write_labelled("runs/cond", 500, "synth.npz", keep_agreeing=True)  # drop what the classifier disputes

Class folders are zero-padded ("00" ... "99" for up to 100 classes), so ImageFolder's alphabetical order is the
label order. Nothing existing is overwritten: the output appears whole (written beside it, then renamed) or not
at all. `keep_agreeing` asks the shipped domain classifier of the run's data set (MNIST, Fashion-MNIST) and keeps
the samples it assigns to their label; the report says how many were dropped. That classifier was trained on
the full training set, so a filtered set has seen more data than the GAN did: never filter an arm of an
experiment that compares against a smaller real budget.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.generate.sample import load
from gankit.infra.errors import GankitError
from gankit.infra.io import atomic_path


@dataclass
class LabelledReport:
    out: Path
    per_class: int
    written: int
    dropped: int
    dropped_by_class: list[int]

    def line(self) -> str:
        dropped = f"; the domain classifier disputed {self.dropped} and they were dropped" if self.dropped else ""
        return f"wrote {self.written} labelled images to {self.out} ({self.per_class} per class asked for{dropped})"


def write_labelled(run_dir: str | Path, per_class: int, out: str | Path, *, seed: int = 0,
                   keep_agreeing: bool = False, checkpoint: str = "last", device: str = "auto",
                   force: bool = False) -> LabelledReport:
    out = Path(out)
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class <= 0:
        raise GankitError(f"--per-class must be a positive whole number, got {per_class!r}")
    if out.suffix not in (".npz", ""):
        raise GankitError(f"cannot write labelled images to '{out}': use a .npz file or a folder name (no suffix)")
    if out.exists() and not force:
        raise GankitError(f"{out} already exists: choose another --out, or add --force to replace it")
    g = load(run_dir, checkpoint, device)
    if not g.num_classes:
        raise GankitError(f"{run_dir} is not conditional: train with --conditional (e.g. --preset best-cond)")
    labels = torch.arange(g.num_classes).repeat_interleave(per_class)
    images = g.sample(len(labels), seed, labels=labels)
    dropped_by_class = [0] * g.num_classes
    if keep_agreeing:
        agree = _classifier_agrees(images, labels, g.config.dataset, device)
        dropped_by_class = torch.bincount(labels[~agree], minlength=g.num_classes).tolist()
        images, labels = images[agree], labels[agree]
    if out.suffix == ".npz":
        with atomic_path(out) as tmp:
            np.savez(tmp, images=images.numpy(), labels=labels.numpy())
    else:
        _write_folder(out, images.numpy(), labels.numpy(), g.num_classes, force)
    return LabelledReport(out, per_class, len(labels), sum(dropped_by_class), dropped_by_class)


def _classifier_agrees(images: torch.Tensor, labels: torch.Tensor, dataset: str, device: str) -> torch.Tensor:
    from gankit.metrics.domain import SHA256, load_domain_classifier

    if dataset not in SHA256:
        raise GankitError(f"no domain classifier ships for {dataset} (only {', '.join(SHA256)}): leave out --filter")
    _, probs = load_domain_classifier(dataset, "cpu" if device == "auto" else device).extract(images)
    return probs.argmax(1) == labels


def _write_folder(out: Path, images: np.ndarray, labels: np.ndarray, num_classes: int, force: bool) -> None:
    digits = len(str(num_classes - 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for k in range(num_classes):
            (tmp / f"{k:0{digits}d}").mkdir()
        for i, (image, label) in enumerate(zip(images, labels)):
            pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
            Image.fromarray(pixels).save(tmp / f"{int(label):0{digits}d}" / f"{i:06d}.png")
        if out.exists() and force:
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
