"""Tabular runs on disk: `gankit train --dataset csv:PATH|adult`, and the sample and evaluate commands on them.

    RUN_DIR/config.json           {"kind": "tabular", "dataset", "target", "options": TabularConfig}
    RUN_DIR/checkpoints/last.pt   the model, the optimisers, RNG states and the fitted columns (weights_only)
    RUN_DIR/checkpoints/best.pt   with --keep-best: the generators of the best epochs so far (--mix-best of them);
                                  sample and evaluate use it, drawing from each in equal parts
    RUN_DIR/history.csv           losses per epoch
    RUN_DIR/validation.csv        with --keep-best: each check's epoch, F1 on the held-out rows, near-copy share
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from gankit.infra import checkpoint
from gankit.infra.errors import GankitError
from gankit.infra.io import DiskFull, write_text
from gankit.infra.log import Log
from gankit.infra.rundir import RunLock, check_new_run_dir, last_checkpoint, prepare_run_dir, read_config
from gankit.tabular.columns import check_table, check_values, infer_kinds
from gankit.tabular.data import default_target, has_test_split, read_csv, read_table
from gankit.tabular.gan import TabularConfig, TabularGAN, config_dict

RESUMABLE = {"epochs", "minutes"}
BEST, LAST = "best.pt", "last.pt"


def train_table(dataset: str, options: dict[str, Any], run_dir: str | Path | None, *, target: str | None = None,
                resume: bool = False, force: bool = False, data_dir: str | None = None, log: Log = print) -> Path:
    """Train a TabularGAN on `dataset` in `run_dir`; with `resume`, continue the run from its last checkpoint (or,
    stopped before its first, start it over from its config.json). Options, the table and its values are all
    checked before the directory is created; it is locked for the run's life."""
    run_dir = Path(run_dir) if run_dir else Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-tabular"
    if not resume:
        check_new_run_dir(run_dir, force=force)
        config, table = _checked_input(dataset, options, target, data_dir, log)
    if options.get("keep_best") and not resume and (target or default_target(dataset)) is None:
        raise GankitError("--keep-best judges epochs by a classifier of a target column: add --target COLUMN")
    if "mix_best" in options and not options.get("keep_best") and not resume:
        raise GankitError("--mix-best mixes the epochs --keep-best keeps: add --keep-best")
    with RunLock(run_dir):
        state = None
        if resume:
            saved = load_run_config(run_dir)
            changed = {k for k, v in options.items() if saved["options"].get(k) != v} - RESUMABLE
            if changed or (target is not None and target != saved["target"]) or dataset not in ("", saved["dataset"]):
                raise GankitError(f"--resume may change only {sorted(RESUMABLE)}; this run was started with other "
                                  f"values of {sorted(changed) or ['dataset/target']}: drop those flags")
            dataset, target = saved["dataset"], saved["target"]
            config, table = _checked_input(dataset, {**saved["options"], **options}, target, data_dir, log)
            state = last_checkpoint(run_dir, log)
        prepare_run_dir(run_dir, resume=resume, force=force)
        config_json = json.dumps({"kind": "tabular", "dataset": dataset, "target": target,
                                  "options": config_dict(config)}, indent=2, sort_keys=True)
        write_text(run_dir / "config.json", config_json + "\n")
        log(f"training a tabular GAN on {dataset} ({len(table)} rows) in {run_dir}")

        def on_epoch(gan: TabularGAN, training_state: dict) -> None:
            checkpoint.save(run_dir / "checkpoints" / LAST, training_state)
            _write_history(run_dir / "history.csv", gan.history)
            if gan.validation:
                _write_history(run_dir / "validation.csv", gan.validation)
            if any(check["epoch"] == training_state["epoch"] for check in gan.kept):  # the kept epochs changed
                checkpoint.save(run_dir / "checkpoints" / BEST, gan.best_state_dict())

        try:
            TabularGAN(config).fit(table, target=target or default_target(dataset), log=log, state=state,
                                   on_epoch=on_epoch)
        except DiskFull as e:
            raise DiskFull(e.path, e.reason, f"rerun with: gankit train --run-dir {run_dir} --resume") from None
    return run_dir


def _checked_input(dataset: str, options: dict[str, Any], target: str | None, data_dir: str | None,
                   log: Log) -> tuple[TabularConfig, pd.DataFrame]:
    """The run's options and table, with every column's values checked against its kind."""
    config = TabularConfig.from_dict(options)
    table = read_table(dataset, "train", data_dir, log)
    if target is not None and target not in table.columns:
        raise GankitError(f"--target {target!r} is not a column of {dataset}: use one of {list(table.columns)}")
    check_table(table)
    check_values(table, infer_kinds(table, config.kinds))
    return config, table


def load_run_config(run_dir: str | Path) -> dict[str, Any]:
    return read_config(run_dir, "tabular", "use gankit sample/evaluate as for its own kind")


def load_run(run_dir: str | Path) -> TabularGAN:
    """The run's model: its best epoch where --keep-best kept one, else its last."""
    load_run_config(run_dir)
    folder = Path(run_dir) / "checkpoints"
    path = folder / BEST if (folder / BEST).is_file() else folder / LAST
    return TabularGAN.from_state(checkpoint.load(path), path)


def parse_condition(text: str | None) -> dict[str, str] | None:
    if text is None:
        return None
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise GankitError(f"--condition {text!r} is not COLUMN=VALUE: e.g. --condition sex=Female")
    return {name: value}


def sample_csv(run_dir: str | Path, n: int, out: str | Path, seed: int | None = None,
               condition: str | None = None) -> Path:
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise GankitError(f"a tabular run writes .csv files, not {out.name}: use --out NAME.csv")
    table = load_run(run_dir).sample(n, seed=seed, condition=parse_condition(condition))
    write_text(out, table.to_csv(index=False))
    return out


def _write_history(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def evaluate_run(run_dir: str | Path, *, n: int | None = None, seed: int = 0, real_test: str | None = None,
                 data_dir: str | None = None, log: Log = print):
    """Score a tabular run: as many synthetic rows as the training table has (or n), against it; ML efficacy on
    `real_test` (a CSV) or the data set's own test split, for the run's target or, where the run named none, the
    data set's usual one (adult: income)."""
    from gankit.tabular.report import evaluate_table

    config = load_run_config(run_dir)
    dataset = config["dataset"]
    real = read_table(dataset, "train", data_dir, log)
    test = read_csv(Path(real_test)) if real_test else (
        read_table(dataset, "test", data_dir, log) if has_test_split(dataset) else None)
    target = config["target"] or default_target(dataset)
    synthetic = load_run(run_dir).sample(n or len(real), seed=seed)
    log(f"scoring {len(synthetic)} synthetic rows against {len(real)} real ones"
        + (f" (ML efficacy on {len(test)} test rows, target {target}"
           + (", the data set's own" if not config["target"] else "") + ")" if test is not None and target else ""))
    report = evaluate_table(real, synthetic, real_test=test, target=target, seed=seed)
    write_text(Path(run_dir) / "evaluation.json", json.dumps(report.to_json(), indent=2, allow_nan=False) + "\n")
    return report


def evaluate_files(real: str, synthetic: str, *, real_test: str | None = None, target: str | None = None,
                   seed: int = 0):
    from gankit.tabular.report import evaluate_table

    test = read_csv(Path(real_test)) if real_test else None
    return evaluate_table(read_csv(Path(real)), read_csv(Path(synthetic)), real_test=test, target=target, seed=seed)
