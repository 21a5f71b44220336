"""`gankit info RUN`: what a run directory holds, in a few lines, read from its files alone (no data, no model)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from gankit.infra import checkpoint
from gankit.infra.errors import GankitError
from gankit.training.config import TrainConfig
from gankit.training.runlog import read_csv


def describe_run(run_dir: str | Path) -> str:
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise GankitError(f"{run_dir} is not a gankit run (no config.json): give a directory written by gankit train")
    try:
        saved = json.loads(config_path.read_text())
    except ValueError:
        raise GankitError(f"{config_path} is not valid JSON: the run directory is damaged") from None
    lines = [f"run directory {run_dir}"]
    if saved.get("kind") == "tabular":
        lines += _tabular(run_dir, saved)
    elif saved.get("kind") == "timeseries":
        lines += _series(run_dir, saved)
    else:
        lines += _images(run_dir, TrainConfig.from_dict(saved))
    files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    grids = [f for f in files if f.startswith("samples/")]
    shown = [f for f in files if not f.startswith("samples/")] + ([f"samples/ ({len(grids)} grids)"] if grids else [])
    lines.append("files: " + ", ".join(shown))
    return "\n".join(lines)


def _images(run_dir: Path, cfg: TrainConfig) -> list[str]:
    options = ", ".join(f"{k} {v}" for k, v in sorted(cfg.model_options.items()))
    lines = [f"preset {cfg.preset}: model {cfg.model}{f' ({options})' if options else ''}, loss {cfg.loss}, "
             f"dataset {cfg.dataset}, batch {cfg.batch_size}, lr {cfg.lr:g}, seed {cfg.seed}"
             + (f", {cfg.minutes:g}-minute budget" if cfg.minutes else "")]
    last = run_dir / "checkpoints" / "last.pt"
    if last.is_file():
        state = checkpoint.load(last)
        lines.append(f"trained: epoch {state['epoch']} of {cfg.epochs}, step {state['step']}, "
                     f"{state.get('elapsed_s', 0.0) / 60:.1f} minutes, precision {state.get('precision', 'fp32')}")
    else:
        lines.append("trained: no checkpoint yet (resume starts the run over from its config.json)")
    scored = [r for r in read_csv(run_dir / "metrics.csv") if math.isfinite(r.get("fid", math.nan))]
    if scored:
        best = min(scored, key=lambda r: r["fid"])
        lines.append(f"best validation FID {best['fid']:.4g} at epoch {int(best['epoch'])} "
                     f"({len(scored)} evaluations; checkpoints/best.pt)")
    return lines


def _tabular(run_dir: Path, saved: dict) -> list[str]:
    options = saved.get("options", {})
    lines = [f"tabular run on {saved.get('dataset')}: target {saved.get('target') or '-'}, batch "
             f"{options.get('batch_size')}, seed {options.get('seed')}"]
    history = run_dir / "history.csv"
    epochs = max(0, len(history.read_text().splitlines()) - 1) if history.is_file() else 0
    lines.append(f"trained: {epochs} of {options.get('epochs')} epochs")
    return lines


def _series(run_dir: Path, saved: dict) -> list[str]:
    options = saved.get("options", {})
    data = ", ".join(f"{k} {v}" for k, v in sorted(saved.get("data", {}).items()))
    lines = [f"sequence run on {saved.get('dataset')}{f' ({data})' if data else ''}: recipe {options.get('recipe')}, "
             f"batch {options.get('batch_size')}, seed {options.get('seed')}"
             + (f", {options['minutes']:g}-minute budget" if options.get("minutes") else "")]
    last = run_dir / "checkpoints" / "last.pt"
    if last.is_file():
        state = checkpoint.load(last)
        lines.append(f"trained: step {state['step']} of {options.get('steps')}, {state['elapsed'] / 60:.1f} minutes")
    else:
        lines.append("trained: no checkpoint yet (resume starts the run over from its config.json)")
    return lines
