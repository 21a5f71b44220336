"""What a run leaves in its directory for a person to watch: CSV metrics, sample grids, loss curves,
TensorBoard events on request. Called from the training loop; knows nothing of training itself.

    RUN_DIR/config.json          the full config the run started with
    RUN_DIR/steps.csv            means over each `log_every` steps
    RUN_DIR/metrics.csv          means over each epoch
    RUN_DIR/samples/epoch_XXX.png  a grid from one fixed noise batch, so epochs compare
    RUN_DIR/curves.png           loss curves and D's outputs over steps
    RUN_DIR/checkpoints/last.pt  (written by the trainer)
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import torch
import torchvision.utils

from gankit.infra.errors import GankitError
from gankit.infra.io import atomic_path, disk_errors, write_text
from gankit.metrics import TRACKED

STEP_FIELDS = ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", "lr_g", "lr_d"]
EVAL_FIELDS = [k.name for k in TRACKED]  # blank in epochs without evaluation
EPOCH_FIELDS = ["epoch", "step", "d_loss", "g_loss", "d_real", "d_fake", "images_per_s", "seconds", "elapsed_s",
                *EVAL_FIELDS]


class RunLog:
    def __init__(self, run_dir: Path, config_json: str, tensorboard: bool, resumed_step: int | None):
        self.run_dir = run_dir
        self.step_fields, self.epoch_fields = STEP_FIELDS, EPOCH_FIELDS
        if resumed_step is None:
            write_text(run_dir / "config.json", config_json + "\n")
        else:
            # Rows written after the checkpoint was taken would be logged twice: drop them. A run begun by an
            # older gankit goes on with its files' own columns.
            self.step_fields = _truncate_csv(run_dir / "steps.csv", "step", resumed_step) or STEP_FIELDS
            self.epoch_fields = _truncate_csv(run_dir / "metrics.csv", "step", resumed_step) or EPOCH_FIELDS
        self.tb = _tensorboard_writer(run_dir) if tensorboard else None

    def step_row(self, row: dict[str, float]) -> None:
        _append_csv(self.run_dir / "steps.csv", self.step_fields, row)
        if self.tb is not None:
            for key in ("d_loss", "g_loss", "d_real", "d_fake", "lr_g", "lr_d"):
                self.tb.add_scalar(f"train/{key}", row[key], int(row["step"]))

    def warning(self, text: str) -> None:
        """A health warning, kept in warnings.txt for the run's report."""
        with disk_errors(self.run_dir / "warnings.txt"), open(self.run_dir / "warnings.txt", "a") as f:
            f.write(text.strip() + "\n")

    def epoch_row(self, row: dict[str, float]) -> None:
        _append_csv(self.run_dir / "metrics.csv", self.epoch_fields, row)
        if self.tb is not None:
            self.tb.add_scalar("epoch/images_per_s", row["images_per_s"], int(row["step"]))
            for key in EVAL_FIELDS:
                if key in row:
                    self.tb.add_scalar(f"eval/{key}", row[key], int(row["step"]))

    def grid(self, images: torch.Tensor, epoch: int) -> Path:
        """images in [-1, 1], (N, C, H, W)."""
        path = self.run_dir / "samples" / f"epoch_{epoch:03d}.png"
        save_grid(images, path)
        if self.tb is not None:
            self.tb.add_image("samples", torchvision.utils.make_grid((images + 1) / 2, nrow=_nrow(len(images))), epoch)
        return path

    def curves(self) -> Path:
        path = self.run_dir / "curves.png"
        plot_curves(self.run_dir / "steps.csv", path)
        return path

    def fid_curves(self) -> Path | None:
        path = self.run_dir / "fid.png"
        return path if plot_fid(self.run_dir / "metrics.csv", path) else None

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> None:
    """Save images in [-1, 1] as one PNG grid of `nrow` images per row (default: square where the count allows)."""
    with atomic_path(path) as tmp:
        torchvision.utils.save_image((images.float().cpu() + 1) / 2, tmp, nrow=nrow or _nrow(len(images)), padding=2)


def _nrow(n: int) -> int:
    return max(1, int(math.ceil(math.sqrt(n))))


def plot_curves(steps_csv: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_csv(steps_csv)
    if not rows:
        return
    steps = [r["step"] for r in rows]
    fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(steps, [r["d_loss"] for r in rows], label="D loss")
    ax_loss.plot(steps, [r["g_loss"] for r in rows], label="G loss")
    ax_loss.set_xlabel("step")
    ax_loss.set_title("losses")
    ax_loss.legend()
    ax_d.plot(steps, [r["d_real"] for r in rows], label="D(x)")
    ax_d.plot(steps, [r["d_fake"] for r in rows], label="D(G(z))")
    ax_d.set_ylim(0, 1)
    ax_d.set_xlabel("step")
    ax_d.set_title("discriminator outputs (sigmoid)")
    ax_d.legend()
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)


def plot_fid(metrics_csv: Path, out: Path) -> bool:
    """FID of the periodic evaluations against epochs and against wall-clock minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_csv(metrics_csv) if math.isfinite(r.get("fid", math.nan))]
    if not rows:
        return False
    fig, (ax_epoch, ax_time) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, x, label in ((ax_epoch, [r["epoch"] for r in rows], "epoch"),
                         (ax_time, [r["elapsed_s"] / 60 for r in rows], "minutes of training")):
        ax.plot(x, [r["fid"] for r in rows], marker="o")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("FID (validation slice, domain features)")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return True


def read_csv(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) if v != "" else math.nan for k, v in row.items()} for row in csv.DictReader(f)]


def _append_csv(path: Path, fieldnames: list[str], row: dict[str, Any]) -> None:
    new = not path.exists()
    with disk_errors(path), open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in fieldnames})


def _truncate_csv(path: Path, key: str, last: int) -> list[str] | None:
    """Drop the rows past `last`; the file's columns, or None where there is no file."""
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fieldnames = reader.fieldnames or []
        rows = [r for r in reader if float(r[key]) <= last]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return fieldnames


def _tensorboard_writer(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise GankitError("--tensorboard needs the tensorboard package: pip install 'gankit[tensorboard]'") from None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))
