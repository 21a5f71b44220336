"""What several test modules build on: a data set a GAN learns in seconds, a small training config, a run's
weights."""

import numpy as np
import torch

from gankit.infra import checkpoint
from gankit.training.config import TrainConfig, preset_config, replace


def blob_images(n: int, size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n small grayscale images of a bright square whose position encodes one of 4 labels: a data set
    a GAN can learn in seconds."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    images = np.zeros((n, 1, size, size), np.uint8)
    half = size // 2
    for i, lab in enumerate(labels):
        r, c = divmod(int(lab), 2)
        images[i, 0, r * half + 3:r * half + half - 3, c * half + 3:c * half + half - 3] = 255
    images = np.clip(images.astype(int) + rng.integers(0, 30, images.shape), 0, 255).astype(np.uint8)
    return images, labels


def small_config(dataset: str, **kw) -> TrainConfig:
    base = dict(dataset=dataset, epochs=2, batch_size=32, log_every=3, progress=False, grid_size=16)
    base.update(kw)
    return replace(preset_config("seed"), base)


def weights(run_dir) -> dict[str, torch.Tensor]:
    state = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    return {**{"G." + k: v for k, v in state["generator"].items()}, **{"D." + k: v for k, v in state["discriminator"].items()}}
