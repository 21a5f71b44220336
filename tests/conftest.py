import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for gankit.reference.tutorial

# Tests never wait on a download that cannot succeed here.
os.environ.setdefault("GANKIT_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _few_threads():
    # Results of CPU training must not depend on what else the machine runs.
    torch.set_num_threads(2)


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


@pytest.fixture
def blob_npz(tmp_path) -> str:
    images, labels = blob_images(256)
    path = tmp_path / "blobs.npz"
    np.savez(path, images=images, labels=labels)
    return f"npz:{path}"
