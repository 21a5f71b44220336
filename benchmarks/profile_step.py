"""Where a training step's time goes: data, forward, backward, optimizer, Python overhead.

    python benchmarks/profile_step.py                  # tutorial loop and gankit engine, CPU, batch 64
    python benchmarks/profile_step.py --arms gankit gankit+compile --steps 300

Runs each arm of benchmarks/train_speed.py under torch.profiler and sorts the top-level events into
  data       the DataLoader (tutorial) or the batch drawing and scaling (gankit),
  forward    operators run outside autograd's backward and the optimizer,
  backward   autograd's backward functions,
  optimizer  Optimizer.step and zero_grad,
  overhead   the wall time no top-level operator accounts for (Python, dispatch, the profiler itself).
Shares are of the arm's wall time under the profiler, which slows small operators: compare arms, not seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.train_speed import ALL_ARMS, make_arm, mnist_dir, train_images  # noqa: E402

DATA_OPS = ("DataLoader", "aten::index", "aten::div_", "aten::sub_", "aten::to", "aten::_to_copy", "aten::randperm",
            "aten::slice")  # batch drawing in the engine: images[idx], then the scaling to [-1, 1]


def category(name: str) -> str:
    if "DataLoader" in name or name in DATA_OPS:
        return "data"
    if name.startswith("autograd::engine") or "Backward" in name:
        return "backward"
    if name.startswith("Optimizer."):
        return "optimizer"
    return "forward"


def top_level(events):
    """Events with no parent: each span of time counted once."""
    return [e for e in events if e.cpu_parent is None and e.device_type.name == "CPU"]


def breakdown(arm, steps: int) -> dict[str, float]:
    arm.run(20)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        arm.run(steps)
        wall = (time.perf_counter() - t0) * 1e6
    shares = dict.fromkeys(("data", "forward", "backward", "optimizer"), 0.0)
    for e in top_level(prof.events()):
        shares[category(e.name)] += e.cpu_time_total
    shares["overhead"] = max(0.0, wall - sum(shares.values()))
    return {k: v / wall for k, v in shares.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", nargs="+", default=["tutorial", "gankit"], choices=ALL_ARMS)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", choices=["mnist", "synthetic"], default="mnist")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = mnist_dir(args.data, Path(tmp))
        images = train_images(data_dir)
        print(f"{'arm':22}" + "".join(f"{k:>11}" for k in ("data", "forward", "backward", "optimizer", "overhead")))
        for name in args.arms:
            shares = breakdown(make_arm(name, data_dir, images, torch.device("cpu"), args.batch_size, 0), args.steps)
            print(f"{name:22}" + "".join(f"{v:11.1%}" for v in shares.values()))


if __name__ == "__main__":
    main()
