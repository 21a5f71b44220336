import os

import numpy as np
import pytest
import torch

from tests.helpers import blob_images

# Tests never wait on a download that cannot succeed here.
os.environ.setdefault("GANKIT_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _few_threads():
    # Results of CPU training must not depend on what else the machine runs.
    torch.set_num_threads(2)


@pytest.fixture
def blob_npz(tmp_path) -> str:
    images, labels = blob_images(256)
    path = tmp_path / "blobs.npz"
    np.savez(path, images=images, labels=labels)
    return f"npz:{path}"
