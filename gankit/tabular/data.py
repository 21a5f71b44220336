"""Tables by name: the built-in `adult` and the user's own `csv:PATH`, read into a DataFrame or refused with one
line that names the problem."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from gankit.infra.errors import GankitError
from gankit.infra.log import Log

# What a built-in table knows of itself: the column it is usually asked to predict, and that it has a test split.
BUILTIN = {"adult": {"target": "income", "test_split": True}}


def default_target(dataset: str) -> str | None:
    """The class column a built-in table is scored on (ML efficacy) when a run names none."""
    return BUILTIN.get(dataset, {}).get("target")


def has_test_split(dataset: str) -> bool:
    return bool(BUILTIN.get(dataset, {}).get("test_split"))


def read_table(dataset: str, split: str = "train", data_dir: str | None = None, log: Log = print) -> pd.DataFrame:
    """A tabular data set by name: `adult` (its train or test split) or `csv:PATH`."""
    if dataset == "adult":
        from gankit.tabular import adult

        return adult.load(split, data_dir, log=log)
    if not dataset.startswith("csv:"):
        raise GankitError(f"unknown tabular data set '{dataset}': use adult or csv:PATH")
    return read_csv(Path(dataset[4:]))


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV file as a DataFrame: UTF-8 with or without a byte-order mark, or UTF-16 with one (what spreadsheet
    programs write); anything else is refused with the fix."""
    if not path.is_file():
        raise GankitError(f"CSV file {path} not found: check the path after csv:")
    raw = path.read_bytes()
    utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
    if (b"\x00" in raw[:4096] and not utf16) or (utf16 and "\x00" in raw[:4096].decode("utf-16", "replace")):
        raise GankitError(f"{path} is not a CSV file (it holds binary data): give a comma-separated text file")
    text = _decoded(raw, path)
    if not text.strip():
        raise GankitError(f"{path} is empty: give a CSV with a header row and data rows")
    try:
        df = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise GankitError(f"{path} has no columns: give a CSV with a header row and data rows") from None
    except (pd.errors.ParserError, ValueError) as e:
        first = str(e).strip().splitlines()[0][:120]
        raise GankitError(f"{path} is not a readable CSV ({first}): give a comma-separated file with a header") from None
    if len(df) == 0:
        raise GankitError(f"{path} has a header but no rows: give a CSV with data rows")
    return df


def _decoded(raw: bytes, path: Path) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"  # drops a UTF-8 byte-order mark
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise GankitError(f"{path} is not UTF-8 text (byte {e.start} cannot be decoded): save it as UTF-8, e.g. "
                          f"iconv -f latin1 -t utf-8 {path.name} > fixed.csv") from None
