"""Tables by name: the built-in `adult` and the user's own `csv:PATH`, read into a DataFrame or refused with one
line that names the problem."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from gankit.infra.errors import GankitError
from gankit.infra.log import Log


def read_table(dataset: str, split: str = "train", data_dir: str | None = None, log: Log = print) -> pd.DataFrame:
    """A tabular data set by name: `adult` (its train or test split) or `csv:PATH`."""
    if dataset == "adult":
        from gankit.tabular import adult

        return adult.load(split, data_dir, log=log)
    if not dataset.startswith("csv:"):
        raise GankitError(f"unknown tabular data set '{dataset}': use adult or csv:PATH")
    return read_csv(Path(dataset[4:]))


def read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise GankitError(f"CSV file {path} not found: check the path after csv:")
    raw = path.read_bytes()
    if not raw.strip():
        raise GankitError(f"{path} is empty: give a CSV with a header row and data rows")
    if b"\x00" in raw[:4096]:
        raise GankitError(f"{path} is not a CSV file (it holds binary data): give a comma-separated text file")
    try:
        df = pd.read_csv(io.BytesIO(raw))
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        first = str(e).strip().splitlines()[0][:120]
        raise GankitError(f"{path} is not a readable CSV ({first}): give a comma-separated file with a header") from None
    if len(df) == 0:
        raise GankitError(f"{path} has a header but no rows: give a CSV with data rows")
    return df
