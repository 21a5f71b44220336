"""The report of a sequence run: config, losses over steps, generated series beside real ones, and the scores
of the last `gankit evaluate` beside the real-data floor."""

from __future__ import annotations

import json
import math
from pathlib import Path

from gankit.report.page import figure, image, saved_evaluation, table
from gankit.training.runlog import read_csv

SCORES = (("discriminative", "discriminative score (0 = indistinguishable)"),
          ("predictive", "predictive score (MAE)"), ("marginal", "marginal distance"),
          ("autocorrelation", "autocorrelation distance"), ("tstr", "TSTR accuracy (real data: TRTR)"))


def sections(run_dir: Path, config: dict) -> list[tuple[str, str]]:
    history = read_csv(run_dir / "history.csv")  # a loss logged in other phases only is NaN
    samples = run_dir / "samples.png"
    return [("Summary", _summary(config, history)), ("Losses", _losses(history)),
            ("Generated series beside real ones",
             image(samples, "real and generated series") if samples.is_file()
             else '<p class="muted">not yet: written when training ends</p>'),
            ("Scores of the last gankit evaluate", _scores(run_dir)),
            ("Real and generated series, PCA", image(run_dir / "embedding.png", "PCA of real and generated series")
             if (run_dir / "embedding.png").is_file() else '<p class="muted">written by gankit evaluate</p>'),
            ("Config", table(["option", "value"], sorted((k, json.dumps(v)) for k, v in
                                                          {**config["options"], **config["data"]}.items())))]


def _summary(config: dict, history: list[dict]) -> str:
    options = config["options"]
    rows = [("data set", config["dataset"]), ("recipe", options["recipe"]),
            ("steps logged", int(history[-1]["step"]) if history else 0), ("of", options["steps"]),
            ("minutes budget", options.get("minutes") or "-")]
    return table(["", ""], rows, keys=[r[0] for r in rows])


def _losses(history: list[dict]) -> str:
    if not history:
        return '<p class="muted">no log window yet</p>'
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    for name in sorted({k for row in history for k in row} - {"step", "seconds"}):
        points = [(row["step"], row[name]) for row in history if not math.isnan(row[name])]
        ax.plot(*zip(*points), label=name)
    ax.set_xlabel("step")
    ax.legend(fontsize=7)
    return figure(fig, "losses over steps")


def _scores(run_dir: Path) -> str:
    saved = saved_evaluation(run_dir)
    if isinstance(saved, str):
        return saved
    rows = [(label, saved[key]["mean"], saved[key]["std"], saved[key]["floor"]["mean"])
            for key, label in SCORES if saved.get(key)]
    return table(["score", "generated", "± over seeds", "real data"], rows, keys=[key for key, _ in SCORES
                                                                                  if saved.get(key)])
