"""Training speed: the tutorial's own loop against gankit's engine, side by side in one process.

    python benchmarks/train_speed.py                     # CPU, MNIST, batch 64, all arms
    python benchmarks/train_speed.py --device cuda --data synthetic --json

Arms (same model, batch size, optimizer settings and data):
  tutorial      gankit/reference/tutorial.py's loop: DataLoader + ToTensor + Normalize per image,
                sigmoid + BCELoss, per-parameter Adam (on a GPU: batch and noise moved there)
  gankit        the engine's step and batch drawing (gankit.training.loop, gankit.training.step), fp32: the seed preset
  +compile      the same with --compile
  +bf16         the same with --precision bf16 (autocast)
The arms run in turns (A B C A B C ...), each turn about --turn-seconds long after a warm-up, so drift in
the machine's speed hits every arm alike. Reported: median images/s over turns (min-max in brackets), the
ratio to the tutorial, and each as a fraction of the FLOP floor: the measured matmul rate divided by the
FLOPs of one tutorial step per image (counted by torch.utils.flop_counter).
`--memory` also runs each loop in a child process and reports its peak resident memory.
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

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.infra.device import BF16_CPU_FLAGS, cpu_flags  # noqa: E402
from gankit.models import mlp  # noqa: E402
from gankit.reference import tutorial as tut  # noqa: E402
from gankit.training import losses  # noqa: E402
from gankit.training.config import preset_config  # noqa: E402
from gankit.training.loop import draw_batch, make_adam  # noqa: E402
from gankit.training.step import GanStep, StepOptions  # noqa: E402

ALL_ARMS = ("tutorial", "gankit", "gankit+compile", "gankit+bf16", "gankit+bf16+compile")


class TutorialArm:
    def __init__(self, data_dir: str, device: torch.device, batch: int, seed: int):
        self.G, self.D, self.criterion, self.opt_g, self.opt_d = tut.make_tutorial(seed)
        self.G.to(device), self.D.to(device)
        self.loader, self.device, self.it = tut.make_loader(data_dir, batch), device, iter(())

    def run(self, steps: int) -> None:
        for _ in range(steps):
            try:
                real, _ = next(self.it)
            except StopIteration:
                self.it = iter(self.loader)
                real, _ = next(self.it)
            real = real.to(self.device)
            noise = torch.randn(real.size(0), 100, device=self.device)
            tut.tutorial_step(self.G, self.D, self.criterion, self.opt_g, self.opt_d, real, noise)


class EngineArm:
    def __init__(self, images: torch.Tensor, device: torch.device, batch: int, seed: int, precision: str, compile: bool):
        torch.manual_seed(seed)
        G, D = mlp.Generator().to(device), mlp.Discriminator().to(device)
        cfg = preset_config("seed")
        self.step = GanStep(G, D, make_adam(G, cfg, device), make_adam(D, cfg, device), losses.get("bce"),
                            options=StepOptions(precision=precision, compile=compile))
        self.images, self.batch = images.to(device), batch
        self.steps_per_epoch = len(images) // batch
        self.perm, self.i = None, self.steps_per_epoch
        self.stats = torch.zeros(4, device=device)  # summed on the device as the engine's meter does

    def run(self, steps: int) -> None:
        for _ in range(steps):
            if self.i == self.steps_per_epoch:
                self.perm, self.i = torch.randperm(len(self.images)).to(self.images.device), 0
            self.stats += torch.stack(list(self.step(*draw_batch(self.images, self.perm, self.i, self.batch, 100)).values()))
            self.i += 1


def make_arm(name: str, data_dir: str, images: torch.Tensor, device, batch: int, seed: int):
    if name == "tutorial":
        return TutorialArm(data_dir, device, batch, seed)
    return EngineArm(images, device, batch, seed, "bf16" if "bf16" in name else "fp32", "compile" in name)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(device: torch.device, dtype: torch.dtype, seconds: float = 1.0) -> float:
    """The rate of square matrix products, at 2048 or smaller where one product would take over 0.1 s
    (bf16 on a CPU without AMX runs at well under 1 GFLOP/s)."""
    n = 256
    while True:
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        a @ b
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        if n >= 2048 or time.perf_counter() - t0 > 0.1:
            break
        n *= 2
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10 if device.type == "cuda" else 1):
            a @ b
            count += 1
        sync(device)
    return 2 * n**3 * count / (time.perf_counter() - t0) / 1e9


def tutorial_flops_per_image(batch: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    G, D, criterion, opt_g, opt_d = tut.make_tutorial(0)
    real, noise = torch.rand(batch, 1, 28, 28) * 2 - 1, torch.randn(batch, 100)
    with FlopCounterMode(display=False) as counter:
        tut.tutorial_step(G, D, criterion, opt_g, opt_d, real, noise)
    return counter.get_total_flops() / batch


def train_images(data_dir: str) -> torch.Tensor:
    """The bytes the tutorial's loader reads, as the engine holds them: uint8 (N, 1, 28, 28)."""
    import torchvision

    return torchvision.datasets.MNIST(data_dir, train=True, download=False).data.unsqueeze(1)


def write_synthetic_mnist(root: Path, n: int = 60000) -> None:
    """Random images in torchvision's MNIST layout, so both loops read them as they read MNIST."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, count in (("train", n), ("t10k", 1000)):  # torchvision wants both splits present
        pixels = rng.integers(0, 256, count * 784, dtype=np.uint8).tobytes()
        labels = rng.integers(0, 10, count, dtype=np.uint8).tobytes()
        (raw / f"{split}-images-idx3-ubyte").write_bytes(np.array([2051, count, 28, 28], ">i4").tobytes() + pixels)
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(np.array([2049, count], ">i4").tobytes() + labels)


def mnist_dir(kind: str, tmp: Path) -> str:
    """A folder holding MNIST in torchvision's layout: the real one (fetched and verified by gankit), or
    random images written into `tmp` ("synthetic": speed does not depend on the pixels)."""
    if kind == "synthetic":
        write_synthetic_mnist(tmp)
        return str(tmp)
    from gankit.data import default_data_dir, prepare

    prepare("mnist", log=lambda s: None)
    return str(default_data_dir())


def check_no_host_sync(device: torch.device, images: torch.Tensor, batch: int, steps: int = 20) -> int:
    """Run engine steps with CUDA's sync debug mode set to raise: any host sync inside the step fails."""
    arm = EngineArm(images, device, batch, 0, "fp32", False)
    arm.run(1)  # the epoch's permutation is copied to the device outside the step
    torch.cuda.set_sync_debug_mode("error")
    try:
        arm.run(steps)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return steps


def measure_speed(arms: list[str], data_dir: str, device: torch.device, batch: int, turns: int,
                  turn_seconds: float, warmup: int, log) -> dict[str, list[float]]:
    images = train_images(data_dir)
    runners, steps = {}, {}
    for name in arms:
        runners[name] = make_arm(name, data_dir, images, device, batch, seed=0)
        runners[name].run(warmup)  # compiles, warms caches and the allocator
        sync(device)
        t0 = time.perf_counter()
        runners[name].run(warmup)
        sync(device)
        rate = warmup / (time.perf_counter() - t0)
        steps[name] = max(5, int(rate * turn_seconds))
        log(f"  warmed up {name}: about {rate * batch:,.0f} images/s, {steps[name]} steps per turn")
    rates: dict[str, list[float]] = {name: [] for name in arms}
    for turn in range(turns):
        for name in arms:
            sync(device)
            t0 = time.perf_counter()
            runners[name].run(steps[name])
            sync(device)
            rates[name].append(steps[name] * batch / (time.perf_counter() - t0))
        log(f"  turn {turn + 1}/{turns}: " + ", ".join(f"{n} {r[-1]:,.0f}" for n, r in rates.items()))
    return rates


# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child would report at least the
# resident size of the parent that forked it (this benchmark's own, with every arm loaded).
CHILD = """
import sys
sys.path.insert(0, {root!r})
{body}
print("PEAK_RSS_KB", [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0])
"""


def peak_rss_mb(body: str, root: Path) -> float:
    """Peak resident memory of `body` run in a fresh Python process (Linux)."""
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(root), body=body)], capture_output=True,
                         text=True, check=True).stdout
    return int(out.rsplit("PEAK_RSS_KB", 1)[1].split()[0]) / 1024


def measure_memory(data_dir: str, steps: int) -> dict[str, float]:
    root = Path(__file__).resolve().parents[1]
    tutorial = f"from gankit.reference import tutorial as t\nt.run({data_dir!r}, num_epochs=1, max_steps={steps})"
    with tempfile.TemporaryDirectory() as tmp:
        engine = (f"import gankit\ngankit.train('seed', run_dir={tmp + '/run'!r}, data_dir={data_dir!r}, epochs=1, "
                  f"progress=False, log=lambda s: None)")
        return {"tutorial": peak_rss_mb(tutorial, root), "gankit": peak_rss_mb(engine, root)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", nargs="+", default=list(ALL_ARMS), choices=ALL_ARMS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", choices=["mnist", "synthetic"], default="mnist",
                        help="synthetic: random images in MNIST's layout (speed does not depend on the pixels)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--turn-seconds", type=float, default=6.0)
    parser.add_argument("--warmup", type=int, default=30, help="steps before timing (compilation happens here)")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS of each loop (CPU, MNIST)")
    parser.add_argument("--check-sync", action="store_true", help="on CUDA: fail if the engine's step syncs with the host")
    parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    args = parser.parse_args()
    log = (lambda s: print(s, file=sys.stderr)) if args.json else print
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = mnist_dir(args.data, Path(tmp))
        machine = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
                   "threads": torch.get_num_threads(), "torch": torch.__version__,
                   "matmul_gflops_fp32": matmul_gflops(device, torch.float32),
                   "matmul_gflops_bf16": matmul_gflops(device, torch.bfloat16)}
        flops = tutorial_flops_per_image(args.batch_size)
        log(f"{machine['device']}, torch {machine['torch']}, {machine['threads']} threads: 2048x2048 matmul "
            f"{machine['matmul_gflops_fp32']:,.0f} GFLOP/s fp32, {machine['matmul_gflops_bf16']:,.0f} bf16; "
            f"tutorial step {flops / 1e6:.1f} MFLOP per image")
        if args.check_sync and device.type == "cuda":
            n = check_no_host_sync(device, train_images(data_dir), args.batch_size)
            log(f"no host sync in {n} engine steps on {device} (torch.cuda.set_sync_debug_mode('error'))")
        rates = measure_speed(args.arms, data_dir, device, args.batch_size, args.turns, args.turn_seconds,
                              args.warmup, log)
        memory = measure_memory(data_dir, 300) if args.memory else None

    base = statistics.median(rates["tutorial"]) if "tutorial" in rates else None
    result = {"machine": machine, "batch_size": args.batch_size, "data": args.data, "flops_per_image": flops,
              "floor_images_per_s": {p: machine[f"matmul_gflops_{p}"] * 1e9 / flops for p in ("fp32", "bf16")},
              "arms": {}, "peak_rss_mb": memory}
    for name, r in rates.items():
        med = statistics.median(r)
        result["arms"][name] = {"images_per_s": med, "min": min(r), "max": max(r),
                                "ratio_to_tutorial": med / base if base else None,
                                "fraction_of_fp32_floor": med / result["floor_images_per_s"]["fp32"],
                                "fraction_of_bf16_floor": med / result["floor_images_per_s"]["bf16"]}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


def print_table(result: dict) -> None:
    floor = result["floor_images_per_s"]
    print(f"\nbatch {result['batch_size']}, {result['data']} data; FLOP floor {floor['fp32']:,.0f} images/s fp32, "
          f"{floor['bf16']:,.0f} bf16")
    print(f"{'arm':22} {'images/s':>10} {'(min-max)':>17} {'x tutorial':>10} {'of fp32 floor':>14}")
    for name, a in result["arms"].items():
        ratio = f"{a['ratio_to_tutorial']:.2f}" if a["ratio_to_tutorial"] else "-"
        print(f"{name:22} {a['images_per_s']:10,.0f} {a['min']:8,.0f}-{a['max']:<8,.0f} {ratio:>10} "
              f"{a['fraction_of_fp32_floor']:14.1%}")
    if result["peak_rss_mb"]:
        m = result["peak_rss_mb"]
        print(f"peak resident memory: tutorial {m['tutorial']:,.0f} MB, gankit {m['gankit']:,.0f} MB "
              f"({m['gankit'] / m['tutorial'] - 1:+.0%})")


def cpu_name() -> str:
    """The CPU's model name and the extensions that decide its fp32 and bf16 rates."""
    name = "cpu"
    try:
        name = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), name)
    except OSError:
        pass
    extensions = ("avx2", "avx512f", *BF16_CPU_FLAGS)
    flags = cpu_flags() or set()
    found = ", ".join(f for f in extensions if f in flags) or "none of " + ", ".join(extensions)
    return f"{name} ({found}; torch capability {torch.backends.cpu.get_cpu_capability()})"


if __name__ == "__main__":
    main()
