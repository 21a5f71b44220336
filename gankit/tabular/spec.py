"""Which data sets and run directories are tables: cheap checks the command line makes before importing pandas."""

from __future__ import annotations

import json
from pathlib import Path

TABULAR_DATASETS = ("adult",)


def is_tabular(dataset: str | None) -> bool:
    return isinstance(dataset, str) and (dataset in TABULAR_DATASETS or dataset.startswith("csv:"))


def is_tabular_run(run_dir: str | Path | None) -> bool:
    if run_dir is None:
        return False
    path = Path(run_dir) / "config.json"
    try:
        return path.is_file() and json.loads(path.read_text()).get("kind") == "tabular"
    except (OSError, ValueError):
        return False
