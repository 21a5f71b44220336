"""Inception features, speed and agreement: the pinned TorchScript module against gankit's eager rebuild of it
(fp32; bf16 autocast too where the CPU has AMX or AVX512_BF16, or with --bf16; and that compiled with frozen
weights, as gankit scores on a CPU with AMX), in turns in one run.

    python benchmarks/inception_speed.py                     # 3 rounds of 100 images per arm; FID/KID of 500 vs 500
    python benchmarks/inception_speed.py --fid-n 1000        # 1,000 vs 1,000 (the TorchScript arm alone: ~10 minutes)
    python benchmarks/inception_speed.py --fid-n 1000 --generated samples.npz   # against generated images

Speed: each round extracts the same --images emoji (64 x 64, resized to 299 x 299 as every input is) with each
arm in turn, batch 50; images per second is the median over rounds, and each arm's speed-up is over the
TorchScript module's in this run; the compiled arm's compiling (its first call, before the rounds) is timed
apart (inductor's cache cold on a first run, warm after), and `seconds_for_5000` adds it to 5,000 images at
each arm's rate. Agreement: FID and KID (100 subsets of up to 1,000) of two fixed sets, --fid-n emoji against
--fid-n others of them blurred and noised (a stand-in for a generated set: FID in the hundreds),
from each arm's features, and their relative difference from the TorchScript module's; with --generated, the
first --fid-n images of a `gankit sample RUN -n N --out samples.npz` file stand in their place. Needs
`gankit data emoji`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.train_speed import cpu_name  # noqa: E402
from gankit import data  # noqa: E402
from gankit.infra.device import BF16_CPU_FLAGS, cpu_flags  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.metrics import frechet, kernel  # noqa: E402
from gankit.metrics.inception import load_inception  # noqa: E402

BATCH = 50


def degraded(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Blurred (a 5x5 box) and noised copies: a fixed set some way from the real one."""
    x = images.float()
    x = F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    x = x + 12 * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return x.round().clamp(0, 255).to(torch.uint8)


def generated(path: Path, n: int) -> torch.Tensor:
    """The first n images of a `gankit sample` .npz: uint8 (N, C, H, W)."""
    with np.load(path) as f:
        images = torch.from_numpy(f["images"][:n])
    if len(images) < n or images.dtype != torch.uint8:
        raise SystemExit(f"{path}: needs at least {n} uint8 images, has {len(images)} {images.dtype}; "
                         f"draw them with `gankit sample RUN -n {n} --out {path.name}`")
    return images


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--images", type=int, default=100, help="per arm and round")
    p.add_argument("--fid-n", type=int, default=500)
    p.add_argument("--generated", type=Path, default=None,
                   help="a .npz of generated images (`gankit sample RUN --out F.npz`) scored against --fid-n emoji")
    p.add_argument("--bf16", action="store_true", help="add the bf16 arm on a CPU without AMX or AVX512_BF16 too")
    p.add_argument("--out", default=None, help="default: benchmarks/results/inception_speed_<cpu kind>.json")
    a = p.parse_args()
    flags = cpu_flags() or set()
    fast_bf16 = bool(flags & set(BF16_CPU_FLAGS))
    arms = {"torchscript": load_inception("cpu", lambda line: None, runner="torchscript"),
            "eager": load_inception("cpu", lambda line: None)}
    if fast_bf16 or a.bf16:
        arms["eager_bf16"] = load_inception("cpu", lambda line: None, precision="bf16")
        arms["compiled_bf16"] = load_inception("cpu", print, precision="bf16", compile=True)
        arms["compiled_bf16"].compile_min_images = 0  # compiled at every size here, the rounds' 100 images too
    emoji = data.load_images("emoji").images
    perm = torch.randperm(len(emoji), generator=torch.Generator().manual_seed(0))
    timed = emoji[perm[:a.images]]
    compile_seconds = {arm: 0.0 for arm in arms}
    for arm in [arm for arm in arms if arm.startswith("compiled")]:
        start = time.perf_counter()
        arms[arm].extract(timed[:BATCH], batch_size=BATCH)
        compile_seconds[arm] = time.perf_counter() - start
        print(f"{arm}: compiled in {compile_seconds[arm]:.1f} s", flush=True)
    seconds = {arm: [] for arm in arms}
    for r in range(a.rounds):
        for arm, net in arms.items():
            start = time.perf_counter()
            net.extract(timed, batch_size=BATCH)
            seconds[arm].append(time.perf_counter() - start)
        print(f"round {r + 1}: " + ", ".join(f"{arm} {a.images / s[-1]:.1f} img/s" for arm, s in seconds.items()),
              flush=True)
    speed = {arm: a.images / statistics.median(s) for arm, s in seconds.items()}
    real = emoji[perm[:a.fid_n]]
    other = degraded(emoji[perm[a.fid_n:2 * a.fid_n]], seed=1) if a.generated is None \
        else generated(a.generated, a.fid_n)
    scores = {}
    for arm, net in arms.items():
        fx, fy = net.extract(real, batch_size=BATCH)[0], net.extract(other, batch_size=BATCH)[0]
        kid_mean, _ = kernel.kid(fx, fy, 100, 1000, np.random.default_rng(0))
        scores[arm] = {"fid": frechet.fid(fx.numpy(), fy.numpy()), "kid": kid_mean}
        print(f"{arm}: FID {scores[arm]['fid']:.3f}, KID {kid_mean:.5f}", flush=True)
    ref = scores["torchscript"]
    out = {"cpu": cpu_name(), "torch": torch.__version__, "threads": torch.get_num_threads(),
           "command": "python benchmarks/inception_speed.py " + " ".join(sys.argv[1:]), "batch": BATCH,
           "images_per_round": a.images, "images_per_s": speed,
           "speedup_over_torchscript": {arm: s / speed["torchscript"] for arm, s in speed.items()},
           "compile_seconds": compile_seconds,
           "seconds_for_5000": {arm: compile_seconds[arm] + 5000 / s for arm, s in speed.items()},
           "fid_n": a.fid_n,
           "second_set": "degraded emoji" if a.generated is None else f"generated ({a.generated.name})",
           "scores": scores,
           "relative_difference_from_torchscript": {
               arm: {k: abs(v - ref[k]) / abs(ref[k]) for k, v in s.items()} for arm, s in scores.items()},
           "seconds": seconds}
    kind = "amx" if "amx_bf16" in flags else "avx512_bf16" if "avx512_bf16" in flags else \
        "avx512" if "avx512f" in flags else "avx2"
    write_text(ROOT / (a.out or f"benchmarks/results/inception_speed_{kind}.json"), json.dumps(out, indent=1) + "\n")
    for arm in arms:
        diff = out["relative_difference_from_torchscript"][arm]
        print(f"{arm}: {speed[arm]:.1f} img/s ({out['speedup_over_torchscript'][arm]:.2f}x), FID {diff['fid']:.2e} "
              f"and KID {diff['kid']:.2e} relative to the TorchScript module's")


if __name__ == "__main__":
    main()
