"""The report of a tabular run: config, losses over epochs, each column's real and synthetic distributions, the
difference of the numeric correlations as a heat map, and the scores of the last `gankit evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from gankit.report.page import figure, saved_evaluation, table

MAX_COLUMNS = 24  # columns drawn; a wider table shows its first 24
ROWS = 2000  # synthetic rows drawn for the plots


def sections(run_dir: Path, config: dict, data_dir: str | None = None) -> list[tuple[str, str]]:
    from gankit.tabular.data import read_table
    from gankit.tabular.run import load_run

    history = pd.read_csv(run_dir / "history.csv") if (run_dir / "history.csv").is_file() else pd.DataFrame()
    out = [("Summary", _summary(config, history)), ("Losses", _losses(history))]
    if (run_dir / "checkpoints" / "last.pt").is_file():
        real = read_table(config["dataset"], "train", data_dir, log=lambda m: None)
        synthetic = load_run(run_dir).sample(min(len(real), ROWS), seed=0)
        out += [("Columns: real and synthetic", _columns(real, synthetic)),
                ("Correlations: synthetic minus real", _correlations(real, synthetic))]
    out += [("Scores of the last gankit evaluate", _scores(run_dir)),
            ("Config", table(["option", "value"], sorted((k, json.dumps(v)) for k, v in config["options"].items())))]
    return out


def _summary(config: dict, history: pd.DataFrame) -> str:
    rows = [("data set", config.get("dataset")), ("target", config.get("target") or "-"),
            ("epochs done", len(history)), ("of", config["options"].get("epochs"))]
    return table(["", ""], rows, keys=[r[0] for r in rows])


def _losses(history: pd.DataFrame) -> str:
    if history.empty:
        return '<p class="muted">no epochs yet</p>'
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    for name in ("d_loss", "g_loss", "condition_loss"):
        if name in history:
            ax.plot(history["epoch"], history[name], label=name)
    ax.set_xlabel("epoch")
    ax.legend()
    return figure(fig, "losses over epochs")


def _columns(real: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    import matplotlib.pyplot as plt

    columns = list(real.columns[:MAX_COLUMNS])
    cols = 4
    rows = (len(columns) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, columns):
        r, s = real[name], synthetic[name]
        if pd.api.types.is_numeric_dtype(r) and r.nunique() > 10:
            bins = np.histogram_bin_edges(r.dropna(), bins=30)
            ax.hist(r.dropna(), bins=bins, alpha=0.5, density=True, label="real")
            ax.hist(pd.to_numeric(s, errors="coerce").dropna(), bins=bins, alpha=0.5, density=True, label="synthetic")
        else:
            top = r.astype(str).value_counts(normalize=True).head(10)
            shares = s.astype(str).value_counts(normalize=True).reindex(top.index, fill_value=0.0)
            x = np.arange(len(top))
            ax.bar(x - 0.2, top.values, 0.4, label="real")
            ax.bar(x + 0.2, shares.values, 0.4, label="synthetic")
            ax.set_xticks(x, [t[:10] for t in top.index], rotation=60, fontsize=7)
        ax.set_title(str(name), fontsize=9)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    note = f'<p class="muted">the first {MAX_COLUMNS} of {real.shape[1]} columns</p>' if real.shape[1] > MAX_COLUMNS \
        else ""
    return note + figure(fig, "real and synthetic distributions")


def _correlations(real: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    numeric = [c for c in real.columns[:MAX_COLUMNS] if pd.api.types.is_numeric_dtype(real[c])]
    if len(numeric) < 2:
        return '<p class="muted">fewer than two numeric columns</p>'
    import matplotlib.pyplot as plt

    diff = synthetic[numeric].apply(pd.to_numeric, errors="coerce").corr() - real[numeric].corr()
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(numeric), 0.8 + 0.5 * len(numeric)))
    shown = ax.imshow(diff.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(numeric)), [str(c)[:12] for c in numeric], rotation=60, fontsize=7)
    ax.set_yticks(range(len(numeric)), [str(c)[:12] for c in numeric], fontsize=7)
    fig.colorbar(shown, ax=ax)
    return figure(fig, "correlation difference")


def _scores(run_dir: Path) -> str:
    s = saved_evaluation(run_dir)
    if isinstance(s, str):
        return s
    ml = s.get("ml_efficacy") or {}
    rows = [("column shape", s["column_shape"]["mean"]), ("pair trends", s["pair_trends"]["mean"]),
            ("detection AUC", s["detection"]["auc"]),
            ("ML efficacy, synthetic", (ml.get("synthetic") or {}).get("mean")),
            ("ML efficacy, real", (ml.get("real") or {}).get("mean")),
            ("closer than held-out p5", s["privacy"]["share_closer_than_holdout_p5"]),
            ("exact copies", s["privacy"]["exact_copies"])]
    return table(["score", "value"], rows, keys=[r[0] for r in rows])
