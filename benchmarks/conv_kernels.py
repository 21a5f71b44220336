"""How fast a conv preset's convolutions run: every oneDNN kernel of one training step, its time and its rate
against the machine's matrix-product rate, beside what the rest of the step (elementwise operators, batch norm,
autograd, the optimiser) costs; with gankit's choice of kernels (gankit.models.conv) and with PyTorch's own
for every product (`plain_kernels()`), side by side in one run.

    python benchmarks/conv_kernels.py --preset best
    python benchmarks/conv_kernels.py --preset rgb --image-size 64 --alternatives   # every product both ways

The step is built as the training loop builds it (benchmarks/preset_speed.py's build_step) and run on random
images of the data's shape. Each arm's wall time is the median of --blocks blocks of 20 steps, the arms in
turns. Then --steps steps of each run with oneDNN's verbose mode on, which prints each primitive it executes
with its problem size and its own time: convolutions (forward, backward data, backward weights),
deconvolutions (G's transposed convs), matrix products, and the reorders between PyTorch's memory layout and
oneDNN's blocked ones. A kernel's rate is its multiply-adds (x2) over its time; the matmul rate is that of
square products in the step's precision (benchmarks/train_speed.py's matmul_gflops).
--alternatives times each product of each convolution of the step both ways on its own: the weight gradient
as oneDNN's backward-weights kernel and as a forward convolution, a transposed product (a transposed conv's
output, a conv's input gradient) as oneDNN's kernel and as a matrix product and a fold, whatever the rule in
gankit.models.conv would pick: the measurements the rules come from.
--allocator runs the step in child processes with glibc's default allocator settings and with gankit's
(gankit.infra.allocator, which training turns on), in turns: ms, page faults and system time per step.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.preset_speed import add_preset_arguments, build_step, options  # noqa: E402
from benchmarks.train_speed import cpu_name, matmul_gflops  # noqa: E402
from gankit.infra.allocator import keep_freed_memory  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.models.conv import plain_kernels, transposed_by_fold, weight_grad_as_conv  # noqa: E402

COMPUTE = ("convolution", "deconvolution", "matmul", "inner_product")


@contextmanager
def stdout_to(path: Path):
    """File descriptor 1 (where oneDNN's C code prints) into `path` for the block."""
    sys.stdout.flush()
    libc = ctypes.CDLL(None)
    saved = os.dup(1)
    with open(path, "wb") as f:
        os.dup2(f.fileno(), 1)
        try:
            yield
        finally:
            libc.fflush(None)
            os.dup2(saved, 1)
            os.close(saved)


def parse_verbose(text: str) -> list[dict]:
    """oneDNN's `exec` lines: kind, implementation, propagation, problem and milliseconds."""
    rows = []
    for line in text.splitlines():
        fields = line.split(",")
        if not line.startswith("onednn_verbose") or "exec" not in fields:
            continue
        i = fields.index("exec")
        rows.append({"kind": fields[i + 2], "impl": fields[i + 3], "prop": fields[i + 4], "problem": fields[-2],
                     "ms": float(fields[-1])})
    return rows


def multiply_adds(kind: str, problem: str) -> int:
    """Multiply-adds of a convolution, deconvolution or matrix product from oneDNN's problem string; 0 for
    others. The three passes of a convolution (forward, backward data, backward weights) each take as many."""
    if kind in ("convolution", "deconvolution"):
        d = {k: int(v) for k, v in re.findall(r"([a-z]+)(\d+)", problem)}
        spatial = (d["ih"] * d["iw"]) if kind == "deconvolution" else (d["oh"] * d["ow"])
        return d["mb"] * d["ic"] * d["oc"] * d["kh"] * d["kw"] * spatial // d.get("g", 1)
    if kind == "matmul":
        a, b = (list(map(int, side.split("x"))) for side in problem.split(":"))
        return math.prod(a[:-2]) * a[-2] * a[-1] * b[-1]
    return 0


def kernels(rows: list[dict], steps: int, rate_gflops: float) -> tuple[list[dict], dict]:
    """The compute kernels grouped by (kind, propagation, problem), per step, slowest first; totals."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        if r["kind"] not in COMPUTE:
            continue
        g = groups.setdefault((r["kind"], r["prop"], r["problem"]),
                              {"kind": r["kind"], "prop": r["prop"], "problem": r["problem"], "impl": r["impl"],
                               "calls": 0, "ms": 0.0})
        g["calls"] += 1
        g["ms"] += r["ms"]
    out = []
    for g in groups.values():
        gflops = 2 * multiply_adds(g["kind"], g["problem"]) * g["calls"] / (g["ms"] / 1e3) / 1e9
        out.append({**g, "calls": g["calls"] / steps, "ms": round(g["ms"] / steps, 4), "gflops": round(gflops, 1),
                    "of_matmul_rate": round(gflops / rate_gflops, 3)})
    out.sort(key=lambda g: -g["ms"])
    compute = sum(g["ms"] for g in out)
    reorder = sum(r["ms"] for r in rows if r["kind"] == "reorder") / steps
    flops = sum(2 * multiply_adds(r["kind"], r["problem"]) for r in rows) / steps
    return out, {"compute_ms": compute, "reorder_ms": reorder, "gflop": flops / 1e9,
                 "compute_gflops": flops / (compute / 1e3) / 1e9}


def interleaved_ms(step, inputs, blocks: int) -> dict[str, float]:
    """Median ms per step of each arm over `blocks` blocks of 20 steps, plain and chosen kernels in turn."""
    times: dict[str, list[float]] = {"plain": [], "chosen": []}
    for _ in range(blocks + 1):  # the first round warms both arms up
        for arm in times:
            with plain_kernels() if arm == "plain" else nullcontext():
                t0 = time.perf_counter()
                for _ in range(20):
                    step(*inputs)
                times[arm].append((time.perf_counter() - t0) / 20 * 1e3)
    return {arm: statistics.median(t[1:]) for arm, t in times.items()}


def verbose_rows(step, inputs, steps: int, plain: bool) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "verbose.txt"
        with plain_kernels() if plain else nullcontext():
            with stdout_to(log), torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                for _ in range(steps):
                    step(*inputs)
        return parse_verbose(log.read_text(errors="replace"))


def conv_layers(step, inputs) -> list[tuple[nn.Module, tuple]]:
    """The convolutions (both kinds) G and D call in a step, with their input shapes, each once."""
    seen: dict[nn.Module, tuple] = {}

    def note(m, args):
        seen.setdefault(m, tuple(args[0].shape))

    hooks = [m.register_forward_pre_hook(note)
             for net in (step.G, step.D_shared) for m in net.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    step(*inputs)
    for h in hooks:
        h.remove()
    return list(seen.items())


def alternatives(step, inputs, dtype: torch.dtype) -> list[dict]:
    """Each product of each convolution the step calls, in PyTorch's kernel and in the other form."""
    out = []
    for m, shape in conv_layers(step, inputs):
        transposed = isinstance(m, nn.ConvTranspose2d)
        s, p = m.stride[0], m.padding[0]
        x = torch.randn(shape, dtype=dtype)
        w = m.weight.detach().to(dtype)
        y = F.conv_transpose2d(x, w, None, s, p) if transposed else F.conv2d(x, w, None, s, p)
        gy = torch.randn_like(y)
        k = w.shape[-1]
        row = {"layer": f"{type(m).__name__} {shape[1]}->{y.shape[1]}, {shape[2]}x{shape[3]}->{y.shape[2]}x"
                        f"{y.shape[3]}, batch {shape[0]}"}
        backward = torch.ops.aten.convolution_backward
        geometry = ([s, s], [p, p], [1, 1], transposed, [0, 0], 1)
        row["weight_grad_ms"] = _ms(lambda: backward(gy, x, w, None, *geometry, [False, True, False]))
        inp, gout = (gy, x) if transposed else (x, gy)
        row["weight_grad_as_conv_ms"] = _ms(lambda: weight_grad_as_conv(inp, gout, k, s, p))
        if transposed:
            row["output_ms"] = _ms(lambda: F.conv_transpose2d(x, w, None, s, p))
            row["output_by_fold_ms"] = _ms(lambda: transposed_by_fold(x, w, tuple(y.shape[-2:]), k, s, p))
        else:
            row["input_grad_ms"] = _ms(lambda: backward(gy, x, w, None, *geometry, [True, False, False]))
            row["input_grad_by_fold_ms"] = _ms(lambda: transposed_by_fold(gy, w, tuple(x.shape[-2:]), k, s, p))
        out.append(row)
    return out


def _ms(fn, repeats: int = 10) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        times.append((time.perf_counter() - t0) / repeats * 1e3)
    return round(statistics.median(times), 3)


ALLOCATOR_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import torch
from benchmarks.preset_speed import build_step
from gankit.infra.allocator import keep_freed_memory
kept = keep_freed_memory() if {keep} else False
torch.manual_seed(0)
step, inputs, _ = build_step({preset!r}, {opts!r})
for _ in range(10):
    step(*inputs)
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for _ in range(40):
    step(*inputs)
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
print(json.dumps({{"kept": kept, "step_ms": (t1 - t0) / 40 * 1e3, "page_faults": (r1.ru_minflt - r0.ru_minflt) / 40,
                  "system_ms": (r1.ru_stime - r0.ru_stime) / 40 * 1e3}}))
"""


def allocator_turns(preset: str, opts: dict, turns: int = 2) -> dict[str, list[dict]]:
    """Steps in child processes (the allocator's settings are the process's), glibc's defaults and
    keep_freed_memory in turns: ms, minor page faults and system-time ms per step."""
    out: dict[str, list[dict]] = {"default": [], "kept": []}
    for _ in range(turns):
        for arm in out:
            code = ALLOCATOR_CHILD.format(root=str(ROOT), keep=arm == "kept", preset=preset, opts=opts)
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            out[arm].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_preset_arguments(p)
    p.add_argument("--steps", type=int, default=5, help="steps run with oneDNN's verbose mode on, per arm")
    p.add_argument("--blocks", type=int, default=12, help="blocks of 20 steps timed per arm, in turns")
    p.add_argument("--alternatives", action="store_true")
    p.add_argument("--allocator", action="store_true",
                   help="also steps in child processes with glibc's default allocator settings and with "
                        "gankit's (keep_freed_memory), in turns: page faults and system time per step")
    p.add_argument("--out", default=None, help="default: benchmarks/results/conv_kernels_<preset>.json")
    a = p.parse_args()
    keep_freed_memory()  # as training does
    torch.manual_seed(0)
    opts = options(a, {})
    step, inputs, precision = build_step(a.preset, opts)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    rate = matmul_gflops(torch.device("cpu"), dtype)
    walls = interleaved_ms(step, inputs, a.blocks)
    out = {"machine": {"cpu": cpu_name(), "threads": torch.get_num_threads(), "torch": torch.__version__,
                       f"matmul_gflops_{precision}": rate},
           "preset": a.preset, "options": opts, "precision": precision, "batch": len(inputs[0]),
           "command": "python benchmarks/conv_kernels.py " + " ".join(sys.argv[1:]), "arms": {}}
    print(f"{out['machine']['cpu']}, {a.preset} in {precision}, batch {len(inputs[0])}, matmul {rate:.0f} GFLOP/s")
    for arm, wall in walls.items():
        rows = verbose_rows(step, inputs, a.steps, plain=arm == "plain")
        if not rows:
            raise SystemExit("oneDNN printed no kernels: this PyTorch build runs these convolutions without it")
        table, totals = kernels(rows, a.steps, rate)
        rest = wall - totals["compute_ms"] - totals["reorder_ms"]
        out["arms"][arm] = {"step_ms": wall, "images_per_s": len(inputs[0]) / wall * 1e3, **totals,
                            "rest_ms": rest, "kernels": table}
        print(f"{arm}: step {wall:.1f} ms; oneDNN's kernels {totals['compute_ms']:.1f} ms ({totals['gflop']:.2f} "
              f"GFLOP at {totals['compute_gflops']:.0f} GFLOP/s, {totals['compute_gflops'] / rate:.0%} of the matmul "
              f"rate), reorders {totals['reorder_ms']:.1f} ms, the rest {rest:.1f} ms")
        for k in table[:12]:
            print(f"  {k['ms']:6.2f} ms {k['gflops']:6.0f} GFLOP/s ({k['of_matmul_rate']:4.0%})  {k['kind']} "
                  f"{k['prop']} {k['problem']} x{k['calls']:g}")
    out["speedup"] = walls["plain"] / walls["chosen"]
    print(f"chosen kernels: {out['speedup']:.2f}x the plain ones' steps per second")
    if a.allocator:
        out["allocator"] = turns = allocator_turns(a.preset, opts)
        for arm, rows in turns.items():
            print(f"allocator {arm}: " + "; ".join(f"{r['step_ms']:.1f} ms, {r['page_faults']:,.0f} page faults, "
                                                   f"{r['system_ms']:.1f} ms system time per step" for r in rows))
    if a.alternatives:
        out["alternatives"] = alternatives(step, inputs, dtype)
        for r in out["alternatives"]:
            print("  " + r["layer"] + ": " + ", ".join(f"{k[:-3]} {v:.2f}" for k, v in r.items() if k != "layer"))
    write_text(ROOT / (a.out or f"benchmarks/results/conv_kernels_{a.preset}.json"), json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
