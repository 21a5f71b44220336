"""Does a refactoring change what gankit computes? Train every preset briefly with two versions of gankit, on the
same machine, and compare the weights bit for bit.

    python benchmarks/same_weights.py --base 25be15a             # that commit against the working tree
    python benchmarks/same_weights.py --base v0.1.0 --new HEAD --presets seed best --steps 24

For each preset: a short run (--steps steps at batch 64 on the first images of MNIST; the rgb preset on the same
digits padded to 32 x 32 and tinted into 3 channels), on the CPU in fp32 with 2 threads, once with the base
commit's gankit (unpacked by `git archive` into a temporary folder) and once with this checkout's, each in a
child process of its own. Then every tensor of the two final checkpoints (G, D, EMA, optimiser states, fixed
noise, clusters) must be equal, bit for bit. Weights are compared between the two runs, never with stored
hashes: those differ from one CPU kind to another. The result is written as JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.train_speed import cpu_name  # noqa: E402

PRESETS = ("seed", "dcgan", "best", "best-cond", "rgb")

# Run in a child process with one gankit on its path: the API call every version since 0.1.0 understands.
TRAIN = """
import sys, torch
sys.path.insert(0, sys.argv[1])
torch.set_num_threads(2)
import gankit
gankit.train(sys.argv[2], sys.argv[3], force=True, dataset=sys.argv[4], epochs=1, batch_size=64, device="cpu",
             precision="fp32", progress=False, log=lambda line: None)
"""


def make_data(folder: Path, n: int) -> dict[str, str]:
    """Two npz data sets of the first n MNIST training images: as they are, and as 32 x 32 RGB."""
    from gankit import data

    loaded = data.load_images("mnist", limit=n)
    gray = loaded.images.numpy()
    padded = np.pad(gray, ((0, 0), (0, 0), (2, 2), (2, 2)))
    tint = np.array([1.0, 0.6, 0.3], np.float32)[None, :, None, None]
    rgb = (padded.astype(np.float32) * tint).round().astype(np.uint8)
    paths = {"gray": folder / "digits.npz", "rgb": folder / "digits_rgb.npz"}
    np.savez(paths["gray"], images=gray, labels=np.asarray(loaded.labels))
    np.savez(paths["rgb"], images=rgb, labels=np.asarray(loaded.labels))
    return {k: f"npz:{v}" for k, v in paths.items()}


def unpack(rev: str, into: Path, name: str) -> Path:
    archive = into / f"{name}.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), rev, "gankit"],
                   check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / name, filter="data")
    return into / name


def train(code_root: Path, preset: str, run_dir: Path, dataset: str) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", TRAIN, str(code_root), preset, str(run_dir), dataset], check=True)
    return time.monotonic() - start


def tensors(obj, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor in a checkpoint, by its path of keys."""
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    if isinstance(obj, dict):
        return {k: v for key, value in obj.items() for k, v in tensors(value, f"{prefix}/{key}").items()}
    if isinstance(obj, (list, tuple)):
        return {k: v for i, value in enumerate(obj) for k, v in tensors(value, f"{prefix}/{i}").items()}
    return {}


def compare(a: Path, b: Path) -> dict:
    ta = tensors(torch.load(a, map_location="cpu", weights_only=True))
    tb = tensors(torch.load(b, map_location="cpu", weights_only=True))
    ta = {k: v for k, v in ta.items() if not k.startswith("/rng")}  # RNG states are compared by their effect
    tb = {k: v for k, v in tb.items() if not k.startswith("/rng")}
    differ = sorted(k for k in ta.keys() & tb.keys() if not torch.equal(ta[k], tb[k]))
    return {"tensors": len(ta), "only_base": sorted(ta.keys() - tb.keys()), "only_new": sorted(tb.keys() - ta.keys()),
            "differ": differ, "identical": not differ and ta.keys() == tb.keys()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the commit to compare the working tree with")
    parser.add_argument("--new", help="the commit to compare it with (default: the working tree as it is)")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--steps", type=int, default=24, help="steps per run (of 64 images)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "same_weights.json"))
    args = parser.parse_args()
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base], check=True,
                         capture_output=True, text=True).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base_root = unpack(rev, tmp, "base")
        new_root = unpack(args.new, tmp, "new") if args.new else ROOT
        datasets = make_data(tmp, 64 * args.steps)
        for preset in args.presets:
            dataset = datasets["rgb" if preset == "rgb" else "gray"]  # rgb's preset asks for 3 x 32 x 32
            runs = {side: tmp / f"{preset}-{side}" for side in ("base", "new")}
            seconds = {"base": train(base_root, preset, runs["base"], dataset),
                       "new": train(new_root, preset, runs["new"], dataset)}
            result = compare(runs["base"] / "checkpoints" / "last.pt", runs["new"] / "checkpoints" / "last.pt")
            rows.append({"preset": preset, **result, "seconds": seconds})
            print(f"{preset:10} {'identical' if result['identical'] else 'DIFFERENT'}: {result['tensors']} tensors"
                  + (f"; differ: {', '.join(result['differ'][:5])}" if result["differ"] else "")
                  + (f"; missing: {result['only_base'] + result['only_new']}"
                     if result["only_base"] or result["only_new"] else ""), flush=True)
    report = {"base": rev, "new": args.new or "working tree", "steps": args.steps, "batch": 64, "cpu": cpu_name(), "torch": torch.__version__,
              "presets": rows, "all_identical": all(r["identical"] for r in rows)}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if report["all_identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
