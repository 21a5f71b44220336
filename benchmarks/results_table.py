"""The README's quality table: each preset trained for the same wall-clock budget, then scored by `gankit evaluate`.

    python benchmarks/results_table.py                                  # MNIST and Fashion-MNIST, 15 minutes each
    python benchmarks/results_table.py --datasets mnist --presets best --minutes 1   # a quick look
    python benchmarks/results_table.py --datasets mnist --presets best --set width=32 --out other.json  # a variant

For each (data set, preset): `gankit.train(preset, dataset=..., minutes=M)` in runs/results-table/, then
`gankit.eval.evaluate` of its last checkpoint (EMA weights where the preset keeps them) with the domain features,
10,000 samples against the 10,000 test images, beside the real-data floor. The seed preset runs for the same
budget as the contrast. Prints the expected duration first; writes a markdown table to stdout and every
score (floor included) to --out as JSON. Rows already in --out for other (data set, preset) pairs at the same
budget are kept, each with the date it was measured, so one row can be redone alone. Run it alone: training
is timed by the wall clock, so anything else on the machine costs the presets epochs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gankit  # noqa: E402
from benchmarks.train_speed import cpu_name  # noqa: E402
from gankit.eval.evaluate import evaluate  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402

COLUMNS = ("fid", "kid", "precision", "recall", "classes_covered", "label_accuracy", "class_fid")
PRESET_ORDER = ("seed", "best", "best-cond")
OVERHEAD_MINUTES = 2.0  # data loading, the last checkpoint, sampling and scoring 10k images, per row


def run_row(dataset: str, preset: str, minutes: float, root: Path, seed: int, overrides: dict | None = None) -> dict:
    overrides = overrides or {}
    run_dir = root / f"{dataset}-{preset}"
    start = time.monotonic()
    result = gankit.train(preset, run_dir, force=True, dataset=dataset, minutes=minutes, seed=seed, progress=False,
                          log=lambda m: None, **overrides)
    trained_s = time.monotonic() - start
    report = evaluate(run_dir, n=10_000, log=lambda m: None)
    return {"dataset": dataset, "preset": preset, **({"overrides": overrides} if overrides else {}),
            "minutes": round(trained_s / 60, 1),
            "epochs": result.epochs_done, "steps": result.steps_done, "stopped_by": result.stopped_by,
            **report.to_json()}


def markdown(rows: list[dict]) -> str:
    head = "| data set | preset | minutes | epochs | FID (× floor) | KID | precision | recall | classes | label acc. | class FID |"
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    floors = {}
    for r in rows:
        m, f = r["metrics"], r["floor"]
        floors[r["dataset"]] = f
        cell = {k: _fmt(m.get(k)) for k in COLUMNS}
        ratio = f" ({_times(m['fid'] / f['fid'])})" if m.get("fid") and f.get("fid") else ""
        preset = r["preset"] + (f" ({', '.join(f'{k}={v}' for k, v in r['overrides'].items())})"
                                if r.get("overrides") else "")
        lines.append(f"| {r['dataset']} | {preset} | {r['minutes']} | {r['epochs']} | {cell['fid']}{ratio} | "
                     f"{cell['kid']} | {cell['precision']} | {cell['recall']} | {cell['classes_covered']} | "
                     f"{cell['label_accuracy']} | {cell['class_fid']} |")
    for dataset, f in floors.items():
        lines.append(f"| {dataset} | real data (floor) | | | {_fmt(f.get('fid'))} | {_fmt(f.get('kid'))} | "
                     f"{_fmt(f.get('precision'))} | {_fmt(f.get('recall'))} | {_fmt(f.get('classes_covered'))} | | |")
    return "\n".join(lines)


def _times(ratio: float) -> str:
    """2.5x stays 2.5x (the targets are 2x and 5x): one decimal below 10, whole numbers above."""
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3g}" if abs(v) < 1 else f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    p.add_argument("--presets", nargs="+", default=list(PRESET_ORDER))
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--root", default="runs/results-table", help="where the runs are written (overwritten)")
    p.add_argument("--out", default="benchmarks/results/quality.json")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", type=_override,
                   help="change one option of every preset run, e.g. --set width=48 (repeatable; use its own --out)")
    a = p.parse_args()
    overrides = dict(a.set)
    pairs = [(d, pr) for d in a.datasets for pr in a.presets]
    expected = len(pairs) * (a.minutes + OVERHEAD_MINUTES)
    print(f"{len(pairs)} runs of {a.minutes:g} minutes: expect about {expected:.0f} minutes in all", flush=True)
    rows = kept_rows(Path(a.out), pairs, a.minutes)
    for dataset, preset in pairs:
        r = {**run_row(dataset, preset, a.minutes, Path(a.root), a.seed, overrides),
             "measured": time.strftime("%Y-%m-%d")}
        rows.append(r)
        print(f"{dataset} {preset}: {r['epochs']} epochs, FID {r['metrics']['fid']:.1f} "
              f"(floor {r['floor']['fid']:.2f})", flush=True)
        out = {"machine": cpu_name(), "threads": torch.get_num_threads(),
               "torch": torch.__version__, "minutes": a.minutes, "seed": a.seed, "rows": _ordered(rows)}
        write_text(a.out, json.dumps(out, indent=1) + "\n")  # after every row: a cut-off run keeps its rows
    print(markdown(_ordered(rows)))


def _override(text: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE read as JSON where it can be (48, 0.5, true), else as a string (spectral)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.replace("-", "_"), value


def kept_rows(path: Path, pairs: list[tuple[str, str]], minutes: float) -> list[dict]:
    """The rows of an earlier run of this script that this one does not redo, so the table can be updated a
    row at a time; none when the budget differs (rows of other budgets do not compare)."""
    if not path.is_file():
        return []
    old = json.loads(path.read_text())
    if old.get("minutes") != minutes:
        return []
    return [r for r in old["rows"] if (r["dataset"], r["preset"]) not in pairs]


def _ordered(rows: list[dict]) -> list[dict]:
    presets = list(PRESET_ORDER)
    return sorted(rows, key=lambda r: (r["dataset"] != "mnist", r["dataset"],
                                       presets.index(r["preset"]) if r["preset"] in presets else len(presets)))


if __name__ == "__main__":
    main()
