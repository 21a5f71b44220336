"""Sequence runs on disk: `gankit train --dataset sines|ucr:NAME|series:FILE`, and sample and evaluate on them.

    RUN_DIR/config.json           {"kind": "timeseries", "dataset", "data": how it was read, "options": SeriesConfig}
    RUN_DIR/checkpoints/last.pt   the networks, the optimisers, RNG states and the scaling (weights_only)
    RUN_DIR/history.csv           losses per log window
    RUN_DIR/samples.png           generated series beside real ones, at the end of training
    RUN_DIR/evaluation.json       the scores of the last `gankit evaluate`, with the real-data floor
    RUN_DIR/embedding.png         its PCA picture of real and generated series (TimeGAN's figure)
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from gankit.infra import checkpoint
from gankit.infra.errors import GankitError
from gankit.infra.io import DiskFull, atomic_write, write_text
from gankit.infra.log import Log
from gankit.infra.rundir import RunLock, check_new_run_dir, last_checkpoint, prepare_run_dir, read_config
from gankit.infra.signals import StopSignal
from gankit.timeseries.data import SeriesData, read_splits
from gankit.timeseries.gan import SeriesConfig, TimeSeriesGAN

RESUMABLE = {"steps", "minutes"}
DATA_OPTIONS = ("window", "stride", "series_id", "time")


def train_series(dataset: str, options: dict[str, Any], run_dir: str | Path | None, *,
                 data: dict[str, Any] | None = None, resume: bool = False, force: bool = False,
                 data_dir: str | None = None, log: Log = print) -> Path:
    """Train a TimeSeriesGAN on `dataset` (read with `data`: window, stride, series_id, time) in `run_dir`; with
    `resume`, continue from the last checkpoint. Everything is checked before the directory is made."""
    run_dir = Path(run_dir) if run_dir else Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{options.get('recipe', 'conv')}"
    data = {k: v for k, v in (data or {}).items() if v is not None}
    if not resume:
        check_new_run_dir(run_dir, force=force)
        config, train = _checked_input(dataset, options, data, data_dir, log)
    with RunLock(run_dir):
        state = None
        if resume:
            saved = load_run_config(run_dir)
            changed = {k for k, v in options.items() if saved["options"].get(k) != v} - RESUMABLE
            if changed or (data and data != saved["data"]) or dataset not in ("", saved["dataset"]):
                raise GankitError(f"--resume may change only {sorted(RESUMABLE)}; this run was started with other "
                                  f"values of {sorted(changed) or ['dataset and how it is read']}: drop those flags")
            dataset, data, options = saved["dataset"], saved["data"], {**saved["options"], **options}
            state = last_checkpoint(run_dir, log)
            config, train = _checked_input(dataset, options, data, data_dir, log)
        prepare_run_dir(run_dir, resume=resume, force=force)
        write_text(run_dir / "config.json", json.dumps({"kind": "timeseries", "dataset": dataset, "data": data,
                                                        "options": asdict(config)}, indent=2, sort_keys=True) + "\n")
        log(f"training a sequence GAN on {dataset} in {run_dir}")

        def save(gan: TimeSeriesGAN, training_state: dict) -> None:
            checkpoint.save(run_dir / "checkpoints" / "last.pt", training_state)
            if gan.history:
                _write_history(run_dir / "history.csv", gan.history)

        try:
            with StopSignal() as stop:
                stop.arm()
                gan = TimeSeriesGAN(config).fit(train, log=log, state=state, on_checkpoint=save,
                                                stop=lambda: stop.requested)
            _samples_figure(gan, train, run_dir / "samples.png")
        except DiskFull as e:
            raise DiskFull(e.path, e.reason, f"rerun with: gankit train --run-dir {run_dir} --resume") from None
    return run_dir


def _checked_input(dataset: str, options: dict[str, Any], data: dict[str, Any], data_dir: str | None,
                   log: Log) -> tuple[SeriesConfig, SeriesData]:
    config = SeriesConfig.from_dict(options)
    return config, read_splits(dataset, data_dir, log=log, **data)[0]


def load_run_config(run_dir: str | Path) -> dict[str, Any]:
    return read_config(run_dir, "timeseries", "use gankit sample/evaluate as for its own kind")


def load_run(run_dir: str | Path) -> TimeSeriesGAN:
    load_run_config(run_dir)
    return TimeSeriesGAN.load(Path(run_dir) / "checkpoints" / "last.pt")


def sample_file(run_dir: str | Path, n: int, out: str | Path, *, seed: int = 0, label: int | None = None,
                data_dir: str | None = None) -> Path:
    """.npz: `series` (n, T, F) float32, `features`, and `labels` with `classes` for a labelled run; .csv: one row
    per step (series_id, step, the features, and label); .png: generated series beside real ones."""
    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".npz", ".csv", ".png"):
        raise GankitError(f"a sequence run writes .npz, .csv or .png, not {out.name}: use e.g. --out synth.npz")
    gan = load_run(run_dir)
    values, labels = gan.sample(n, seed=seed, label=label, return_labels=True)
    if kind == ".png":
        config = load_run_config(run_dir)
        train, _ = read_splits(config["dataset"], data_dir, log=lambda m: None, **config["data"])
        from gankit.timeseries.figures import series_png

        series_png(train.values, values, out, n=min(n, 6), features=_plotted(gan), seed=seed)
        return out
    features, classes = gan.meta["features"], gan.meta["classes"]
    if kind == ".npz":
        buf = io.BytesIO()
        extra = {} if labels is None else {"labels": labels, "classes": np.asarray(classes)}
        np.savez(buf, series=values, features=np.asarray(features), **extra)
        atomic_write(out, buf.getvalue())
    else:
        write_text(out, _long_csv(values, labels, features, classes))
    return out


def _long_csv(values: np.ndarray, labels: np.ndarray | None, features: list[str], classes: list[str] | None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["series_id", "step", *features] + (["label"] if labels is not None else []))
    for i, series in enumerate(values):
        tail = [classes[labels[i]]] if labels is not None else []
        for t, row in enumerate(series):
            writer.writerow([i, t, *(f"{v:.6g}" for v in row), *tail])
    return buf.getvalue()


def evaluate_run(run_dir: str | Path, *, n: int | None = None, seed: int = 0, seeds: int = 5,
                 iterations: tuple[int, int] = (2000, 5000), data_dir: str | None = None, log: Log = print):
    """Score a run against its held-out real series, with the real-data floor (training series against held-out
    ones) beside every score; saves RUN/evaluation.json."""
    from gankit.timeseries.metrics import evaluate_series

    config = load_run_config(run_dir)
    train, test = read_splits(config["dataset"], data_dir, log=log, **config["data"])
    gan = load_run(run_dir)
    synth, synth_labels = gan.sample(n or len(train.values), seed=seed, return_labels=True)
    labelled = synth_labels is not None and train.labels is not None and test.labels is not None
    log(f"scoring {len(synth)} generated series against {len(train.values)} training and {len(test.values)} "
        f"held-out real ones, over {seeds} seeds")
    report = evaluate_series(train.values, synth, test.values, seeds=tuple(range(seed, seed + seeds)),
                             labels=train.labels if labelled else None, synth_labels=synth_labels if labelled else None,
                             test_labels=test.labels if labelled else None, iterations=iterations, log=log)
    write_text(Path(run_dir) / "evaluation.json", json.dumps(report.to_json(), indent=2, allow_nan=False) + "\n")
    from gankit.timeseries.figures import embedding_png

    embedding_png(train.values, synth, Path(run_dir) / "embedding.png", method="pca", seed=seed)  # TimeGAN's picture
    return report


def _samples_figure(gan: TimeSeriesGAN, train: SeriesData, path: Path) -> None:
    from gankit.timeseries.figures import series_png

    series_png(train.values, gan.sample(6, seed=0), path, n=6, features=_plotted(gan))


def _plotted(gan: TimeSeriesGAN) -> list[int]:
    return list(range(min(6, len(gan.meta["features"]))))  # more lines than 6 per panel are unreadable


def _write_history(path: Path, rows: list[dict]) -> None:
    names = list(dict.fromkeys(k for row in rows for k in row))  # the timegan recipe's losses change by phase
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=names)
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())
