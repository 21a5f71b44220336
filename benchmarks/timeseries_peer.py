"""The peer arm of benchmarks/timeseries.py: ydata-synthetic 2.0.1's TimeGAN (TensorFlow 2.15), the TimeGAN
implementation people install from PyPI, run in a virtual environment of its own that this module makes
(never a gankit dependency).

PyPI's `timegan` package (a fork of the released code) cannot be installed here: it pins tensorflow 2.11.0,
which has no wheel for Python 3.11. ydata-synthetic's `fit` cuts windows out of one long series; TimeGAN's
sines are 10,000 separate series, so the child calls the model's own `train(data, train_steps)` on them, as
`fit` does after cutting. Its three phases each get a third of the wall-clock budget: the progress bars it
loops over are replaced by ones that end when the phase's time is spent (its code is otherwise untouched).
Its hyperparameters are those of its TimeGAN example: batch 128, lr 5e-4, hidden (latent) 24, gamma 1. Its
2.0.1 release's package `__init__` calls `warn` without importing it; the child defines it before the import.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VERSION = "2.0.1"
VENV = ROOT / ".bench-venvs" / f"ydata-synthetic-{VERSION}"

CHILD = r"""
import sys, time, numpy as np
budget_s, seed, n = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
import builtins, warnings
builtins.warn = warnings.warn  # 2.0.1's package __init__ calls warn() without importing it (NameError otherwise)
import tensorflow as tf
tf.random.set_seed(seed); np.random.seed(seed)
from ydata_synthetic.synthesizers.base import ModelParameters
from ydata_synthetic.synthesizers.timeseries.timegan import model as timegan

def budgeted(iterable, desc=""):
    # one third of the budget per phase, as gankit's timegan recipe splits it
    end = time.monotonic() + budget_s / 3
    count = 0
    for item in iterable:
        if time.monotonic() >= end:
            break
        count += 1
        yield item
    print(f"PHASE {desc}: {count} steps", flush=True)

timegan.tqdm = budgeted
data = np.load(sys.argv[1])["series"].astype(np.float32)
gan = timegan.TimeGAN(ModelParameters(batch_size=128, lr=5e-4, noise_dim=32, layers_dim=128, latent_dim=24, gamma=1))
gan.seq_len, gan.n_seq, gan.num_cols = data.shape[1], data.shape[2], [f"f{i}" for i in range(data.shape[2])]
start = time.monotonic()
gan.train(data=list(data), train_steps=10**9)
print(f"TRAIN_S {time.monotonic() - start:.1f}", flush=True)
synth = np.stack([frame.to_numpy() for frame in gan.sample(n)]).astype(np.float32)
np.savez(sys.argv[5], series=synth)
"""


def ensure_venv(venv: Path = VENV) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making {venv} with ydata-synthetic=={VERSION}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"ydata-synthetic=={VERSION}"], check=True)
    return python


def train_and_sample(scaled: np.ndarray, n: int, minutes: float, seed: int) -> tuple[np.ndarray, dict]:
    """Series in [0, 1] in, n generated series in [0, 1] out, with the child's phase step counts."""
    python = ensure_venv()
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "train.npz", Path(tmp) / "synth.npz"
        np.savez(data, series=scaled)
        start = time.monotonic()
        done = subprocess.run([str(python), "-c", CHILD, str(data), str(minutes * 60), str(seed), str(n), str(out)],
                              capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2", "TF_CPP_MIN_LOG_LEVEL": "2"})
        if done.returncode:
            raise SystemExit(f"ydata-synthetic child failed ({done.returncode}):\n{done.stderr[-3000:]}")
        lines = [line for line in done.stdout.splitlines() if line.startswith(("PHASE", "TRAIN_S"))]
        with np.load(out) as f:
            synth = f["series"]
    return synth, {"child_seconds": round(time.monotonic() - start, 1), "log": lines}
