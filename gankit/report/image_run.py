"""The report of an image run, from its files alone: config, grids over epochs, curves, validation scores, the last
`gankit evaluate` beside the real-data floor, health warnings, timing."""

from __future__ import annotations

import json
import math
from pathlib import Path

from gankit.metrics import KEYS
from gankit.report.page import esc, image, saved_evaluation, slider, table
from gankit.training.runlog import read_csv


def sections(run_dir: Path, config: dict) -> list[tuple[str, str]]:
    epochs = read_csv(run_dir / "metrics.csv")
    return [("Summary", _summary(config, epochs)),
            ("Samples over epochs", slider(_grids(run_dir))),
            ("Losses and D's outputs", image(run_dir / "curves.png", "curves") if (run_dir / "curves.png").is_file()
             else '<p class="muted">no curves yet</p>'),
            ("Validation during training", _validation(run_dir, epochs)),
            ("Evaluation beside the real-data floor", _evaluation(run_dir)),
            ("Health", _health(run_dir)),
            ("Config", table(["option", "value"], sorted((k, json.dumps(v)) for k, v in config.items())))]


def _summary(config: dict, epochs: list[dict]) -> str:
    last = epochs[-1] if epochs else {}
    rows = [("preset", config.get("preset")), ("model", config.get("model")), ("data set", config.get("dataset")),
            ("epochs done", int(last["epoch"]) if last else 0), ("of", config.get("epochs")),
            ("steps", int(last["step"]) if last else 0),
            ("minutes of training", round(last.get("elapsed_s", 0.0) / 60, 2) if last else 0.0),
            ("images/s, last epoch", round(last.get("images_per_s", 0.0)) if last else 0)]
    return table(["", ""], rows, keys=[r[0] for r in rows])


def _grids(run_dir: Path) -> list[tuple[str, Path]]:
    grids = sorted((run_dir / "samples").glob("epoch_*.png"))
    return [(f"epoch {int(p.stem.split('_')[1])}", p) for p in grids]


def _validation(run_dir: Path, epochs: list[dict]) -> str:
    scored = [r for r in epochs if math.isfinite(r.get("fid", math.nan))]
    if not scored:
        return '<p class="muted">not measured (train with --eval-every K)</p>'
    names = [k.name for k in KEYS.values() if k.tracked and k.name in scored[0]]
    plot = image(run_dir / "fid.png", "FID over epochs") if (run_dir / "fid.png").is_file() else ""
    return plot + table(["epoch", *names], [[int(r["epoch"]), *(r[n] for n in names)] for r in scored],
                        keys=[f"epoch-{int(r['epoch'])}" for r in scored])


def _evaluation(run_dir: Path) -> str:
    saved = saved_evaluation(run_dir)
    if isinstance(saved, str):
        return saved
    metrics, floor, protocol = saved["metrics"], saved["floor"], saved["protocol"]
    names = [k for k in metrics if isinstance(metrics[k], (int, float)) or metrics[k] is None]
    better = {name: k.better for name, k in KEYS.items()}
    rows = [[k, metrics[k], floor.get(k), better.get(k, "")] for k in names]
    head = (f"<p>{esc(protocol.get('n_fake'))} generated against {esc(protocol.get('n_real'))} real images of "
            f"{esc(protocol.get('dataset'))} {esc(protocol.get('reference_split'))}, "
            f"{esc(protocol.get('features'))} features</p>")
    return head + table(["metric", "generated", "real (floor)", "better"], rows, keys=names)


def _health(run_dir: Path) -> str:
    path = run_dir / "warnings.txt"
    lines = path.read_text().splitlines() if path.is_file() else []
    if not lines:
        return "<p>no warnings</p>"
    return "".join(f'<p class="warn">{esc(line)}</p>' for line in lines)
