"""IDX files, the format of MNIST and Fashion-MNIST: read (plain or .gz), write, check a pinned checksum.

Layout: two zero bytes, a type code, the number of dimensions, each dimension as a big-endian uint32,
then the values, big-endian, row-major.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from gankit.infra.errors import GankitError, describe
from gankit.infra.io import atomic_write, sha256

_TYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _TYPES.items()}

REFETCH = "delete it and fetch it again"


def read_bytes(path: Path, fix: str = REFETCH) -> bytearray:
    """The file's bytes, decompressed when its name ends in .gz. A bytearray, so the arrays built
    on it are writable and torch.from_numpy does not warn."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return bytearray(f.read())
        with open(path, "rb") as f:
            return bytearray(f.read())
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise GankitError(f"{path} is not a valid gzip file ({describe(exc)}): {fix}") from None
    except OSError as exc:
        raise GankitError(f"cannot read {path} ({exc.strerror or exc}): {fix}") from None


def parse(data: bytes | bytearray, source: str | Path, fix: str = REFETCH) -> np.ndarray:
    """The array stored in IDX bytes, in native byte order. Truncated or padded data is refused."""
    def bad(reason: str) -> GankitError:
        return GankitError(f"{source} is not a valid IDX file ({reason}): {fix}")

    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise bad("no IDX magic number")
    dtype = _TYPES.get(data[2])
    if dtype is None:
        raise bad(f"unknown type code 0x{data[2]:02x}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise bad("truncated header" if ndim else "zero dimensions")
    dims = struct.unpack(f">{ndim}I", bytes(data[4:header]))
    expected, found = math.prod(dims) * dtype.itemsize, len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "extra bytes at the end"
        raise bad(f"{what}: the header promises {expected} bytes of data, the file has {found}")
    array = np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=header).reshape(dims)
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def read(path: Path, fix: str = REFETCH) -> np.ndarray:
    return parse(read_bytes(path, fix), path, fix)


def to_bytes(array: np.ndarray) -> bytes:
    """The IDX serialisation of `array` (uint8, int8, int16, int32, float32 or float64)."""
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0:
        raise ValueError(f"IDX cannot store a {array.ndim}-d {array.dtype} array")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=_TYPES[code]).tobytes()


def write(path: Path, array: np.ndarray) -> None:
    atomic_write(path, to_bytes(array))


def verify(data: bytes | bytearray, expected_sha256: str, source: str | Path, fix: str = REFETCH) -> None:
    """Refuse bytes whose sha256 is not the pinned one: a corrupt, truncated or different file."""
    actual = sha256(data)
    if actual != expected_sha256:
        raise GankitError(f"{source} does not match its official checksum (sha256 {actual[:12]}..., "
                          f"expected {expected_sha256[:12]}...; corrupt, truncated or another file): {fix}")
