"""`gankit report RUN`: RUN/report.html, one self-contained page (images inlined, no network) about a run."""

from __future__ import annotations

import json
from pathlib import Path

from gankit.infra.errors import GankitError
from gankit.infra.io import write_text
from gankit.report import page


def write_report(run_dir: str | Path, data_dir: str | None = None) -> Path:
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.is_file():
        raise GankitError(f"{run_dir} is not a gankit run (no config.json): give a directory written by gankit train")
    config = json.loads(path.read_text())
    if config.get("kind") == "tabular":
        from gankit.report import table_run

        sections = table_run.sections(run_dir, config, data_dir)
    elif config.get("kind") == "timeseries":
        from gankit.report import series_run

        sections = series_run.sections(run_dir, config)
    else:
        from gankit.report import image_run

        sections = image_run.sections(run_dir, config)
    out = run_dir / "report.html"
    write_text(out, page.document(f"gankit run {run_dir.name}", sections))
    return out
