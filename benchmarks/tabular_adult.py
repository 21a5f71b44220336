"""UCI Adult: gankit's tabular GAN beside CTGAN 0.12.1, over seeds, scored as SDGym scores CTGAN.

    python benchmarks/tabular_adult.py --seeds 0 1 2                 # both, 15 minutes each per seed (about 2 hours)
    python benchmarks/tabular_adult.py --seeds 0 --minutes 1 --arms gankit   # a quick look

Each arm trains on adult.data (32,561 rows) for --minutes of wall clock after its columns are fitted (both stop
at the end of the epoch that passes the budget), samples as many rows, and is scored by the same
`evaluate_table` call: column shape, pair trends, detection, ML efficacy on the real adult.test (16,281 rows;
target income, binary F1 of >50K averaged over a depth-15 decision tree, AdaBoost, logistic regression and an
MLP with one 50-unit layer; the real rows' figure beside it) and privacy (near-copies against adult.test).

- gankit: `TabularGAN(minutes=..., seed=...)`, its defaults (batch 500, pac 10, G and D 256x256), in this process;
  with --keep-best, as `gankit train --keep-best` trains (10% of adult.data held out to choose the epoch on; its
  checks count in the budget).
- ctgan: CTGAN 0.12.1 with its defaults (the same batch, pac and sizes) in a child process, in a virtual
  environment the benchmark makes (--venv; never a gankit dependency). Its code is untouched: only the tqdm
  iterator over its 300 epochs is replaced by one that stops after the epoch that passes the budget.

Seconds per epoch count training only. The arms run one after another, never at once (timings would mean
nothing). The JSON (--out) is rewritten after every run, so an interrupted benchmark keeps what it measured;
--resume skips the runs it already holds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.high_cardinality import CTGAN_VERSION, add_venv_option, ensure_ctgan  # noqa: E402
from benchmarks.train_speed import cpu_name  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.tabular import TabularGAN, adult, evaluate_table  # noqa: E402
from gankit.tabular.efficacy import ml_efficacy  # noqa: E402
from gankit.tabular.frames import prepared  # noqa: E402
from gankit.tabular.report import column_kinds  # noqa: E402

EVAL_MINUTES = 2.0  # per run: sampling and the report's eight classifiers
TARGET = "income"

CTGAN_CHILD = Path(__file__).with_name("ctgan_child.py")  # run in CTGAN's own virtual environment


def train_gankit(train: pd.DataFrame, minutes: float, seed: int, keep_best: bool, ema: float = 0.0,
                 lr_decay: float = 0.0, mix_best: int = 3) -> tuple[pd.DataFrame, dict, TabularGAN]:
    marks = {}

    def log(message: str) -> None:
        if message.startswith("columns fitted"):
            marks["train_start"] = time.monotonic()
        if not message.startswith("epoch") or "held-out" in message:
            print("  gankit:", message, flush=True)

    start = time.monotonic()
    gan = TabularGAN(epochs=10_000, minutes=minutes, seed=seed, keep_best=keep_best, ema=ema,
                     lr_decay=lr_decay, mix_best=mix_best).fit(train, target=TARGET, log=log)
    end = time.monotonic()
    info = {"epochs": len(gan.history), "train_s": end - marks["train_start"], "fit_s": end - start,
            "columns_s": marks["train_start"] - start, "keep_best": keep_best, "ema": ema, "lr_decay": lr_decay,
            "mix_best": mix_best if keep_best else None, "best": gan.best, "kept": gan.kept,
            "validation": gan.validation}
    return gan.sample(len(train), seed=seed), info, gan


def best_alone_f1(gan: TabularGAN, train: pd.DataFrame, test: pd.DataFrame, seed: int) -> float:
    """The report's ML-efficacy F1 of the rows of the one best kept epoch, beside the mixture the run samples."""
    alone = TabularGAN.from_state({**gan.best_state_dict(), "mixed_with": []})
    kinds = column_kinds(train, None)
    r, t = prepared(train, kinds, "real"), prepared(test, kinds, "real_test")
    s = prepared(alone.sample(len(train), seed=seed), kinds, "synthetic")
    return ml_efficacy(r, s, t, kinds, TARGET, seed, len(train) + 1, [])["synthetic"]["mean"]


def train_ctgan(python: Path, train: pd.DataFrame, minutes: float, seed: int) -> tuple[pd.DataFrame, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        train_csv, out_csv = Path(tmp) / "train.csv", Path(tmp) / "synthetic.csv"
        train.to_csv(train_csv, index=False)
        info = run_ctgan(python, train_csv, "--minutes", str(minutes), "--seed", str(seed), "--out", str(out_csv))
        synthetic = pd.read_csv(out_csv, keep_default_na=True)
    # the CSV loses dtypes: give each column the real table's (CTGAN keeps integers whole)
    return synthetic.astype(train.dtypes.to_dict()), info


def run_ctgan(python: Path, train_csv: Path, *args: str) -> dict:
    """ctgan_child.py's RESULT, run by CTGAN's venv's python with the given arguments."""
    done = subprocess.run([str(python), str(CTGAN_CHILD), str(train_csv), *args], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2"})
    if done.returncode:
        raise SystemExit(f"CTGAN's child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))[7:])


def score(train: pd.DataFrame, test: pd.DataFrame, synthetic: pd.DataFrame, seed: int) -> dict:
    # max_rows above the table size: ML efficacy trains on every row, as SDGym does
    report = evaluate_table(train, synthetic, real_test=test, target=TARGET, seed=seed, max_rows=len(train) + 1)
    print(report.summary(), flush=True)
    return report.to_json()


def headline(run: dict) -> dict:
    """The figures the summary table shows, from one run's report."""
    r = run["report"]
    shapes = r["column_shape"]["per_column"]
    worst = min(shapes, key=shapes.get)
    return {"ml_efficacy_f1": r["ml_efficacy"]["synthetic"]["mean"], "real_rows_f1": r["ml_efficacy"]["real"]["mean"],
            "column_shape_mean": r["column_shape"]["mean"], "column_shape_min": shapes[worst], "worst_column": worst,
            "capital_gain_shape": shapes["capital-gain"], "capital_loss_shape": shapes["capital-loss"],
            "pair_trends": r["pair_trends"]["mean"], "detection_auc": r["detection"]["auc"],
            "near_copy_share": r["privacy"]["share_closer_than_holdout_p5"],
            "exact_copies": r["privacy"]["exact_copies"], "epochs": run["epochs"],
            "seconds_per_epoch": run["train_s"] / run["epochs"],
            **({"best_alone_f1": run["best_alone_f1"]} if "best_alone_f1" in run else {})}


def summarise(runs: dict) -> dict:
    """Per arm, each headline figure's mean, standard deviation (over seeds, n - 1) and per-seed values."""
    out = {}
    for arm, by_seed in runs.items():
        rows = [headline(run) for _, run in sorted(by_seed.items(), key=lambda kv: int(kv[0]))]
        figures = {}
        for key in rows[0]:
            values = [row[key] for row in rows if key in row]
            if isinstance(values[0], str):
                figures[key] = values
                continue
            figures[key] = {"mean": statistics.fmean(values),
                            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "per_seed": values}
        out[arm] = figures
    return out


def table(summary: dict) -> str:
    keys = [("ml_efficacy_f1", "F1 (>50K)", 3), ("column_shape_min", "worst column shape", 3),
            ("capital_gain_shape", "capital-gain shape", 3), ("capital_loss_shape", "capital-loss shape", 3),
            ("column_shape_mean", "column shape", 3), ("near_copy_share", "near-copy share", 3),
            ("detection_auc", "detection AUC", 3), ("epochs", "epochs", 0), ("seconds_per_epoch", "s/epoch", 2)]
    arms = list(summary)
    lines = ["| figure | " + " | ".join(arms) + " |", "| --- |" + " --- |" * len(arms)]
    for key, label, digits in keys:
        cells = [f"{summary[a][key]['mean']:.{digits}f} ± {summary[a][key]['std']:.{digits}f}" for a in arms]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed_ratio(runs: dict) -> dict | None:
    """gankit's epochs per second over CTGAN's, per seed (each pair trained in this run) and their mean."""
    if not {"gankit", "ctgan"} <= set(runs):
        return None
    seeds = sorted(set(runs["gankit"]) & set(runs["ctgan"]), key=int)
    ratios = [(runs["ctgan"][s]["train_s"] / runs["ctgan"][s]["epochs"])
              / (runs["gankit"][s]["train_s"] / runs["gankit"][s]["epochs"]) for s in seeds]
    return {"per_seed": dict(zip(seeds, ratios)), "mean": statistics.fmean(ratios)} if ratios else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", choices=("gankit", "ctgan"), default=["gankit", "ctgan"])
    p.add_argument("--minutes", type=float, default=15.0)
    add_venv_option(p)
    p.add_argument("--out", default="benchmarks/results/adult.json")
    p.add_argument("--resume", action="store_true", help="keep the runs --out already holds and do the rest")
    p.add_argument("--keep-best", action="store_true", help="gankit keeps its best validated epoch (gankit train "
                   "--keep-best)")
    p.add_argument("--ema", type=float, default=0.0, help="gankit samples from an average of G's weights "
                   "(gankit train --ema)")
    p.add_argument("--mix-best", type=int, default=3, help="with --keep-best, gankit samples from its K best "
                   "validated epochs in equal parts (gankit train --mix-best); the one best epoch's F1 is reported "
                   "beside it")
    p.add_argument("--lr-decay", type=float, default=0.0, help="gankit's learning rates fall linearly to 0 over this "
                   "last fraction of its budget (gankit train --lr-decay)")
    a = p.parse_args()
    python = ensure_ctgan(a.venv) if "ctgan" in a.arms else None
    out_path = ROOT / a.out
    runs = json.loads(out_path.read_text())["runs"] if a.resume and out_path.is_file() else {}
    n = sum(str(seed) not in runs.get(arm, {}) for seed in a.seeds for arm in a.arms)
    print(f"{n} runs; expect about {n * (a.minutes + EVAL_MINUTES + 1):.0f} minutes", flush=True)
    train, test = adult.load("train"), adult.load("test")
    for seed in a.seeds:
        for arm in a.arms:
            if str(seed) in runs.get(arm, {}):
                continue
            print(f"== {arm}, seed {seed}", flush=True)
            if arm == "gankit":
                synthetic, info, gan = train_gankit(train, a.minutes, seed, a.keep_best, a.ema, a.lr_decay,
                                                    a.mix_best)
                if a.keep_best and a.mix_best > 1 and len(gan.kept) > 1:
                    info["best_alone_f1"] = best_alone_f1(gan, train, test, seed)
                    print(f"  the best epoch alone: F1 {info['best_alone_f1']:.3f}", flush=True)
            else:
                synthetic, info = train_ctgan(python, train, a.minutes, seed)
            print(f"  {info['epochs']} epochs, {info['train_s'] / info['epochs']:.2f} s per epoch", flush=True)
            runs.setdefault(arm, {})[str(seed)] = {**info, "report": score(train, test, synthetic, seed)}
            summary = summarise(runs)
            out = {"cpu": cpu_name(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                   "ctgan": CTGAN_VERSION, "minutes_budget": a.minutes, "seeds": a.seeds,
                   "command": "python benchmarks/tabular_adult.py " + " ".join(sys.argv[1:]),
                   "summary": summary, "gankit_epochs_per_second_over_ctgan": speed_ratio(runs), "runs": runs}
            write_text(out_path, json.dumps(out, indent=1) + "\n")
    print(table(summarise(runs)))
    print("gankit epochs/s over CTGAN's:", speed_ratio(runs))


if __name__ == "__main__":
    main()
