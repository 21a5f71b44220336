"""Which data sets and run directories are sequences: cheap checks the command line makes before importing torch."""

from __future__ import annotations

import json
from pathlib import Path


def is_series(dataset: str | None) -> bool:
    return isinstance(dataset, str) and (dataset == "sines" or dataset.startswith(("ucr:", "series:")))


def is_series_run(run_dir: str | Path | None) -> bool:
    if run_dir is None:
        return False
    path = Path(run_dir) / "config.json"
    try:
        return path.is_file() and json.loads(path.read_text()).get("kind") == "timeseries"
    except (OSError, ValueError):
        return False
