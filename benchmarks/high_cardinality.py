"""A table with a 10,000-value categorical column (an ID): peak memory and checkpoint size of gankit's tabular GAN,
with its category cap and without, against CTGAN 0.12.1 with its defaults, trained for the same steps.

    python benchmarks/high_cardinality.py                   # makes CTGAN's environment on first use (a minute)
    python benchmarks/high_cardinality.py --rows 5000 --epochs 1

The table: --rows rows of `id` (every value distinct), `x` (normal) and `flag` (yes/no). Each model trains for
--epochs epochs at batch 500 (CTGAN's default batch; both draw rows with their conditional vectors the same way),
then saves itself: gankit its run directory's checkpoint, CTGAN `CTGAN.save` (a pickle). Each runs in a child
process of its own, one after another; the child reports its own peak resident memory (ru_maxrss). CTGAN lives in
a virtual environment the benchmark makes (--venv; never a gankit dependency). Writes --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.train_speed import cpu_name  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402

CTGAN_VERSION = "0.12.1"
TORCH_PIN = "torch==2.14.1"

MAKE_TABLE = """
import sys
import numpy as np, pandas as pd
rows, path = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
pd.DataFrame({"id": [f"user{i}" for i in rng.permutation(rows)], "x": rng.normal(size=rows),
              "flag": rng.choice(["yes", "no"], rows)}).to_csv(path, index=False)
"""

GANKIT = """
import resource, sys
from gankit.cli import main
csv, run, epochs, cap = sys.argv[1:5]
code = main(["train", "--dataset", "csv:" + csv, "--epochs", epochs, "--batch-size", "500", "--run-dir", run,
             "--max-categories", cap, "--no-progress"])
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""

CTGAN = """
import resource, sys
import pandas as pd
from ctgan import CTGAN
csv, path, epochs = sys.argv[1:4]
df = pd.read_csv(csv)
model = CTGAN(epochs=int(epochs), verbose=True)
model.fit(df, discrete_columns=["id", "flag"])
model.save(path)
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def add_venv_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--venv", type=Path, default=ROOT / ".bench-venvs" / f"ctgan-{CTGAN_VERSION}",
                   help="CTGAN's own virtual environment (made on first use)")


def ensure_ctgan(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making {venv} with ctgan=={CTGAN_VERSION}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"ctgan=={CTGAN_VERSION}", TORCH_PIN], check=True)
    return python


def run(python: str, script: str, *args: str) -> dict:
    start = time.monotonic()
    done = subprocess.run([python, "-c", script, *args], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2"})
    seconds = time.monotonic() - start
    if done.returncode:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    peak = next(int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("PEAK_KB"))
    return {"peak_memory_mb": round(peak / 1024, 1), "seconds": round(seconds, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=1)
    add_venv_option(p)
    p.add_argument("--out", default="benchmarks/results/high_cardinality.json")
    a = p.parse_args()
    ctgan_python = ensure_ctgan(a.venv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "ids.csv"
        subprocess.run([sys.executable, "-c", MAKE_TABLE, str(a.rows), str(csv)], check=True)
        for name, cap in (("gankit", "100"), ("gankit_uncapped", str(a.rows + 1))):
            run_dir = Path(tmp) / name
            results[name] = run(sys.executable, GANKIT, str(csv), str(run_dir), str(a.epochs), cap)
            results[name]["checkpoint_mb"] = round((run_dir / "checkpoints" / "last.pt").stat().st_size / 1e6, 2)
            print(name, results[name], flush=True)
        saved = Path(tmp) / "ctgan.pkl"
        results["ctgan"] = run(str(ctgan_python), CTGAN, str(csv), str(saved), str(a.epochs))
        results["ctgan"]["checkpoint_mb"] = round(saved.stat().st_size / 1e6, 2)
        print("ctgan", results["ctgan"], flush=True)
    out = {"cpu": cpu_name(), "rows": a.rows, "categories_in_id": a.rows, "epochs": a.epochs, "batch_size": 500,
           "ctgan": CTGAN_VERSION, "command": "python benchmarks/high_cardinality.py " + " ".join(sys.argv[1:]),
           "results": results,
           "ratios": {"ctgan_memory_over_gankit": round(results["ctgan"]["peak_memory_mb"]
                                                        / results["gankit"]["peak_memory_mb"], 2),
                      "ctgan_checkpoint_over_gankit": round(results["ctgan"]["checkpoint_mb"]
                                                            / results["gankit"]["checkpoint_mb"], 1)}}
    write_text(ROOT / a.out, json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["ratios"]))


if __name__ == "__main__":
    main()
