"""Where a conv preset's training time goes, how near it runs to the machine's FLOP rate, and (for the dcgan
preset) how fast it trains beside pytorch/examples' dcgan/main.py on the same model, batch and images.

    python benchmarks/preset_speed.py --preset best                        # MNIST
    python benchmarks/preset_speed.py --preset rgb --image-size 64         # emoji
    python benchmarks/preset_speed.py --preset dcgan --dataset emoji --image-size 64 --dcgan ../examples/dcgan/main.py
    python benchmarks/preset_speed.py --preset best --compare channels-last   # the loop both ways, in turns
    python benchmarks/preset_speed.py --preset best --compare precision channels-last   # fp32 against bf16 + NHWC

gankit's own loop (`gankit.train`) runs for --epochs epochs on --limit training images:
- timed, no profiler, once per turn: images/s of the steps (the loop's meter) and the per-epoch work (standing
  statistics of the EMA generator, the grid, metrics.csv, the checkpoint) from metrics.csv, epochs after the
  first and before the last;
- then once under torch.profiler, whose named ranges (gankit.draw_batch, .generate, .d_step, .g_step, .augment,
  .ema, .log, .standing_stats, .grid, .checkpoint) give each phase's exclusive time, per step or per epoch.
Shares are those of one epoch of the whole data set (its steps at the measured per-step costs plus one of each
per-epoch cost), so a short --limit does not inflate the per-epoch work. The FLOP floor is the training step's
convolution and matmul FLOPs (torch.utils.flop_counter) at the machine's measured matmul rate, in the precision
the preset resolves to here.
The peer (--dcgan) runs its own script, unmodified, on a folder of the same composited images; its rate is read
from the times its per-iteration lines arrive, after its first 5. Arms run one after another, never at once.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gankit  # noqa: E402
from benchmarks.emoji_vs_dcgan import write_folder  # noqa: E402
from benchmarks.train_speed import cpu_name, matmul_gflops  # noqa: E402
from gankit import data, models  # noqa: E402
from gankit.infra.device import cpu_flags, resolve_precision  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.training import losses  # noqa: E402
from gankit.training.config import TrainConfig, config_from  # noqa: E402
from gankit.training.ema import EMA  # noqa: E402
from gankit.training.loop import make_adam, step_options  # noqa: E402
from gankit.training.runlog import read_csv  # noqa: E402
from gankit.training.step import GanStep  # noqa: E402

STEP_PHASES = ("draw_batch", "generate", "d_step", "g_step", "augment", "ema", "log")
EPOCH_PHASES = ("standing_stats", "grid", "checkpoint")
DEFAULT_DATA = {"rgb": "emoji"}


def add_preset_arguments(p: argparse.ArgumentParser) -> None:
    """--preset, --dataset and --image-size: which step a conv-preset benchmark builds (see options)."""
    p.add_argument("--preset", default="best", choices=("best", "best-cond", "rgb", "dcgan"))
    p.add_argument("--dataset", default=None, help="default: emoji for rgb, mnist otherwise")
    p.add_argument("--image-size", type=int, default=None)


def options(a: argparse.Namespace, extra: dict) -> dict:
    o = {"dataset": a.dataset or DEFAULT_DATA.get(a.preset, "mnist"), "seed": 0, **extra}
    if a.image_size:
        o["image_size"] = a.image_size
    return o


def timed_run(preset: str, opts: dict, limit: int, epochs: int, tmp: Path) -> dict:
    """Images/s of the steps and seconds of per-epoch work, over the epochs after the first (warm-up) and before
    the last (whose standing statistics are the full estimate, once per run)."""
    run = tmp / f"timed-{time.monotonic_ns()}"
    gankit.train(preset, run_dir=run, limit=limit, epochs=epochs, progress=False, log=lambda s: None, **opts)
    every = read_csv(run / "metrics.csv")
    rows = every[1:-1]
    walls = [float(b["elapsed_s"]) - float(a["elapsed_s"]) for a, b in zip(every, rows)]
    return {"step_images_per_s": statistics.median(float(r["images_per_s"]) for r in rows),
            "epoch_work_s": statistics.median(w - float(r["seconds"]) for w, r in zip(walls, rows))}


def profiled_run(preset: str, opts: dict, limit: int, epochs: int, tmp: Path) -> dict:
    """Exclusive seconds of each named phase: per step for the step's phases, per epoch for the others (the run's
    last checkpoint, with its full standing statistics, left out: it comes once per run)."""
    run = tmp / f"profiled-{time.monotonic_ns()}"
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        result = gankit.train(preset, run_dir=run, limit=limit, epochs=epochs, progress=False, log=lambda s: None,
                              **opts)
    seconds: dict[str, list[float]] = {}
    for event in prof.events():
        if event.name.startswith("gankit."):
            seconds.setdefault(event.name.removeprefix("gankit."), []).append(exclusive_us(event) / 1e6)
    totals = {name: sum(s) for name, s in seconds.items()}
    steps = result.steps_run
    per_step = {p: totals.get(p, 0.0) / steps for p in STEP_PHASES}
    per_epoch = {p: statistics.mean(seconds[p][:-1]) if len(seconds.get(p, ())) > 1 else 0.0 for p in EPOCH_PHASES}
    per_step["other"] = totals["train_loop"] / steps  # the loop's own time: Python between the parts, the bar
    return {"per_step_s": per_step, "per_epoch_s": per_epoch, "top_ops_ms_per_step": top_ops(prof, steps)}


def top_ops(prof, steps: int, n: int = 15) -> dict[str, float]:
    """The n operators with the most self time (their own, not their callees'), in ms per step of the profiled run
    (its per-epoch work spread over the steps): where the time goes below the phases, e.g. the convolutions'
    kernels against casts, copies and the optimiser."""
    ops = [e for e in prof.key_averages() if not e.key.startswith(("gankit.", "ProfilerStep"))]
    ops.sort(key=lambda e: -e.self_cpu_time_total)
    return {e.key: round(e.self_cpu_time_total / 1e3 / steps, 3) for e in ops[:n]}


def exclusive_us(event) -> float:
    """An event's time less that of the gankit ranges nested in it, however deep."""
    inner, stack = 0.0, list(event.cpu_children)
    while stack:
        child = stack.pop()
        if child.name.startswith("gankit."):
            inner += child.time_range.elapsed_us()
        else:
            stack.extend(child.cpu_children)
    return event.time_range.elapsed_us() - inner


def run_config(preset: str, opts: dict) -> TrainConfig:
    """The config a run of the preset with these options trains with, its values for the image size included
    (`dataset` names the data, which gankit.train takes as its own argument)."""
    return config_from(preset, options={k: v for k, v in opts.items() if k != "dataset"})


def build_step(preset: str, opts: dict) -> tuple[GanStep, tuple, str]:
    """The preset's training step built as the loop builds it, one batch of inputs for it (random images of the
    data's shape: the step's cost does not depend on their values) and the precision it runs in."""
    cfg = run_config(preset, opts)
    shape = data.load_images(opts["dataset"], image_size=cfg.image_size, channels=cfg.channels,
                             log=lambda s: None).shape
    labelled = 10 if cfg.conditional else 0  # MNIST's classes: FLOPs do not depend on the labels' values
    G, D = models.build_for(cfg, shape, 0 if cfg.self_condition else labelled)
    classes = cfg.self_condition or labelled  # what G and D are conditioned on
    device = torch.device("cpu")
    precision = resolve_precision(cfg.precision, device, cpu_flags(), platform.machine())
    step = GanStep(G, D, make_adam(G, cfg, device), make_adam(D, cfg, device), losses.get(cfg.loss),
                   ema=EMA(G, cfg.ema) if cfg.ema else None, options=step_options(cfg, precision))
    b = cfg.batch_size
    real, z = torch.rand(b, *shape) * 2 - 1, torch.randn(b, cfg.z_dim)
    labels = torch.randint(classes, (b,)) if classes else None
    return step, (real, z, labels), precision


def step_flops(preset: str, opts: dict) -> tuple[float, str]:
    """FLOPs per image of one training step built as the loop builds it, and the precision it runs in."""
    step, inputs, precision = build_step(preset, opts)
    with FlopCounterMode(display=False) as counter:
        step(*inputs)
    return counter.get_total_flops() / len(inputs[0]), precision


def peer_rate(script: Path, seconds: float, tmp: Path) -> float:
    """Images/s of pytorch/examples' dcgan/main.py on the composited emoji, from its per-iteration lines."""
    folder = tmp / "folder"
    if not folder.exists():
        write_folder(folder, 64)
    out = tmp / f"peer-{time.monotonic_ns()}"
    out.mkdir()
    # -u: unbuffered, so its lines arrive when it prints them, not in blocks
    args = [sys.executable, "-u", str(script), "--dataset", "folder", "--dataroot", str(folder), "--imageSize", "64",
            "--niter", "1000", "--manualSeed", "0", "--outf", str(out)]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    times, start = [], time.monotonic()
    for line in child.stdout:
        if line.startswith("[") and "Loss_D" in line:
            times.append(time.monotonic())
        if time.monotonic() - start > seconds:
            break
    child.terminate()
    child.wait()
    if len(times) < 7:
        raise SystemExit(f"the peer ran {len(times)} iterations in {seconds:.0f} s: give it more --peer-seconds")
    return 64 * (len(times) - 6) / (times[-1] - times[5])


def summarise(timed: dict, prof: dict, n_full: int, batch: int) -> dict:
    steps_full = -(-n_full // batch)
    step_s = batch / timed["step_images_per_s"]
    epoch_s = steps_full * step_s + timed["epoch_work_s"]
    parts = {**{p: s * steps_full for p, s in prof["per_step_s"].items()}, **prof["per_epoch_s"]}
    profiled_total = sum(parts.values())
    return {**timed, "epoch_images_per_s": n_full / epoch_s,
            "shares": {p: v / profiled_total for p, v in parts.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_preset_arguments(p)
    p.add_argument("--limit", type=int, default=3200, help="training images per run (default 3,200: 50 steps)")
    p.add_argument("--epochs", type=int, default=4, help="epochs of each run; the first and last are not counted")
    p.add_argument("--turns", type=int, default=1)
    p.add_argument("--compare", nargs="+", choices=("channels-last", "compile", "precision"), default=None,
                   help="time the loop with these options all off, then all on (precision: fp32, then bf16 "
                        "autocast), in turns")
    p.add_argument("--dcgan", type=Path, default=None, help="pytorch/examples' dcgan/main.py (--preset dcgan, 64 px)")
    p.add_argument("--peer-seconds", type=float, default=150.0)
    p.add_argument("--out", default=None, help="default: benchmarks/results/preset_speed_<preset>.json")
    a = p.parse_args()
    if a.epochs < 3:
        raise SystemExit("--epochs must be at least 3: the first and the last are not counted")
    if a.dcgan and (a.preset != "dcgan" or a.image_size != 64 or a.dataset != "emoji"):
        raise SystemExit("the peer runs on the emoji with the dcgan preset's model at 64 x 64: add --preset dcgan "
                         "--dataset emoji --image-size 64")
    arms = {"default": {}}
    if a.compare:  # every option named off (precision: fp32), then every one on (bf16)
        off = {k.replace("-", "_"): ("fp32" if k == "precision" else False) for k in a.compare}
        on = {k.replace("-", "_"): ("bf16" if k == "precision" else True) for k in a.compare}
        names = " + ".join(a.compare)
        arms = {f"no {names}": off, names: on}
    base = options(a, {})
    n_full = len(data.load_images(base["dataset"], image_size=a.image_size, log=lambda s: None).images)
    machine = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "torch": torch.__version__,
               "matmul_gflops_fp32": matmul_gflops(torch.device("cpu"), torch.float32),
               "matmul_gflops_bf16": matmul_gflops(torch.device("cpu"), torch.bfloat16)}
    flops, precision = step_flops(a.preset, base)
    print(f"{machine['cpu']}: {flops / 1e9:.3f} GFLOP per image per step, {precision}", flush=True)
    results: dict = {name: {"timed": [], "profiled": None} for name in arms}
    peer: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for turn in range(a.turns):
            for name, extra in arms.items():
                timed = timed_run(a.preset, options(a, extra), a.limit, a.epochs, Path(tmp))
                results[name]["timed"].append(timed)
                print(f"turn {turn + 1} {name}: {json.dumps(timed)}", flush=True)
            if a.dcgan:
                peer.append(peer_rate(a.dcgan.resolve(), a.peer_seconds, Path(tmp)))
                print(f"turn {turn + 1} peer: {peer[-1]:.1f} images/s", flush=True)
        for name, extra in arms.items():
            results[name]["profiled"] = profiled_run(a.preset, options(a, extra), a.limit, a.epochs, Path(tmp))
    batch = run_config(a.preset, base).batch_size
    floor = machine[f"matmul_gflops_{precision}"] * 1e9 / flops
    out = {"machine": machine, "preset": a.preset, "options": base, "limit": a.limit, "images_in_data": n_full,
           "precision": precision, "step_flops_per_image": flops, "floor_images_per_s": floor,
           "command": "python benchmarks/preset_speed.py " + " ".join(sys.argv[1:]), "arms": {}}
    for name, r in results.items():
        timed = {k: statistics.median(t[k] for t in r["timed"]) for k in r["timed"][0]}
        s = summarise(timed, r["profiled"], n_full, batch)
        out["arms"][name] = {**s, "fraction_of_floor": s["step_images_per_s"] / floor, "turns": r["timed"],
                             "profile": r["profiled"]}
        print(f"{name}: steps {s['step_images_per_s']:,.0f} images/s ({s['step_images_per_s'] / floor:.1%} of the "
              f"FLOP floor), whole epochs {s['epoch_images_per_s']:,.0f}; shares "
              + ", ".join(f"{k} {v:.1%}" for k, v in sorted(s["shares"].items(), key=lambda kv: -kv[1])))
    if a.compare:
        off, on = (out["arms"][n]["step_images_per_s"] for n in arms)
        out["speedup"] = on / off
        print(f"{' + '.join(a.compare)}: {on / off:.2f}x the steps' images/s")
    if peer:
        out["peer_images_per_s"] = statistics.median(peer)
        out["peer_turns"] = peer
        mine = next(iter(out["arms"].values()))["epoch_images_per_s"]
        out["ratio_to_peer"] = mine / out["peer_images_per_s"]
        print(f"pytorch/examples dcgan: {out['peer_images_per_s']:.1f} images/s; gankit {mine:.1f}: "
              f"{out['ratio_to_peer']:.2f}x")
    write_text(ROOT / (a.out or f"benchmarks/results/preset_speed_{a.preset}.json"), json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
