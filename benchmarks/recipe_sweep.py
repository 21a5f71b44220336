"""Recipe exploration: train several configs for a fixed number of images each and score them as they go.

    python benchmarks/recipe_sweep.py --device cuda --parallel 6 --out sweep/     # a GPU runs the CPU's budget fast
    python benchmarks/recipe_sweep.py --configs best best-ttur --scale 0.1       # a short look on a CPU

Each config trains on the MNIST training split minus the validation slice, for the number of images this
2-core CPU gets through in 15 minutes at that config's speed (IMAGES_15MIN, measured with the engine's step,
batch 64 unless stated), times --scale. At each tenth of the budget its generator is scored with the domain
features, 10k samples against the 10k test images, four ways:
  online       G's weights, batch norm in eval mode (running statistics)
  ema          the EMA's weights with G's running statistics copied (what gankit samples from)
  ema-recal    the EMA's weights with running statistics re-estimated for them (20 batches of 500)
  ema-batch    the EMA's weights, normalising each batch of 1,000 samples by its own statistics
This is for choosing presets; the figures the README quotes come from full CPU runs of `gankit train`.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit import data, models  # noqa: E402
from gankit.data.pixels import to_uint8  # noqa: E402
from gankit.data.split import training_data  # noqa: E402
from gankit.infra.device import cpu_flags, resolve_precision  # noqa: E402
from gankit.metrics import Features, compute  # noqa: E402
from gankit.metrics.domain import load_domain_classifier  # noqa: E402
from gankit.metrics.reference import reference_features  # noqa: E402
from gankit.training import losses  # noqa: E402
from gankit.training.config import preset_config, replace  # noqa: E402
from gankit.training.ema import EMA  # noqa: E402
from gankit.training.loop import draw_batch, make_adam  # noqa: E402
from gankit.training.step import GanStep, StepOptions  # noqa: E402

# name -> (overrides of the best preset, images per 15 CPU-minutes here)
LS = {"loss": "least-squares"}
CONFIGS = {
    "best": ({}, 850_000),
    "best-ttur": ({"betas": (0.0, 0.9), "lr_g": 1e-4, "lr_d": 4e-4}, 850_000),
    "best-b128": ({"batch_size": 128}, 900_000),
    "best-w16": ({"width": 16}, 1_800_000),
    "best-w48": ({"width": 48}, 530_000),
    "ns-sn": ({"loss": "bce"}, 850_000),
    "ls-sn": (LS, 850_000),
    "ns-r1": ({"loss": "bce", "d_norm": "none", "r1_gamma": 0.1, "betas": (0.0, 0.99)}, 570_000),
    "hinge-nonorm": ({"d_norm": "none"}, 990_000),
    "best-ema9999": ({"ema": 0.9999}, 850_000),
    "ls-lr5e-4": ({**LS, "lr": 5e-4}, 850_000),
    "ls-lr1e-3-b0": ({**LS, "lr": 1e-3, "betas": (0.0, 0.99)}, 850_000),
    "ls-lr5e-4-b0": ({**LS, "lr": 5e-4, "betas": (0.0, 0.99)}, 850_000),
    "ls-near": ({**LS, "g_upsample": "nearest"}, 650_000),
    "ls-near-lr5e-4": ({**LS, "g_upsample": "nearest", "lr": 5e-4}, 650_000),
    "ls-near24": ({**LS, "g_upsample": "nearest", "width": 24}, 870_000),
    "ls-b32": ({**LS, "batch_size": 32}, 780_000),
    "hinge-lr5e-4": ({"lr": 5e-4}, 850_000),
}
VARIANTS = ("online", "ema", "ema-recal", "ema-batch")


@torch.no_grad()
def recalibrated(G: nn.Module, z_dim: int, device: torch.device) -> nn.Module:
    """A copy of G whose batch-norm running statistics are the plain average over 20 batches of its own."""
    G = copy.deepcopy(G).train()
    for m in G.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    gen = torch.Generator(device="cpu").manual_seed(123)
    for _ in range(20):
        G(torch.randn(500, z_dim, generator=gen).to(device))
    return G.eval()


@torch.no_grad()
def samples(G: nn.Module, noise: torch.Tensor, device: torch.device, train_mode: bool) -> torch.Tensor:
    was = G.training
    G.train(train_mode)
    out = torch.cat([to_uint8(G(noise[i:i + 1000].to(device))).cpu() for i in range(0, len(noise), 1000)])
    G.train(was)
    return out


def run_one(name: str, scale: float, device: torch.device, seed: int, out: Path, variants: list[str]) -> None:
    """Train `name`, writing OUT/NAME.json after each scoring (a cut-off run keeps what it scored)."""
    overrides, budget = CONFIGS[name]
    # unconditional: this loop draws no cluster labels (the sweep predates self-conditioning)
    cfg = replace(preset_config("best"), {"self_condition": 0, **overrides, "seed": seed})
    budget = int(budget * scale)
    torch.manual_seed(cfg.seed)
    train = data.load_images("mnist", log=lambda m: None)
    images = training_data(train, 5000, None).images.to(device)
    G, D = models.build_for(cfg, train.shape, 0)
    G, D = G.to(device), D.to(device)
    ema = EMA(G, cfg.ema)
    step = GanStep(G, D, make_adam(G, cfg, device, cfg.lr_g), make_adam(D, cfg, device, cfg.lr_d),
                   losses.get(cfg.loss), ema=ema, options=StepOptions(
                       r1_gamma=cfg.r1_gamma, n_critic=cfg.n_critic, precision=resolve_precision(
                           cfg.precision, device, cpu_flags(), platform.machine())))
    extractor = load_domain_classifier("mnist", device)
    real = reference_features(extractor, "mnist", "test", 10_000, 0, None, lambda m: None)
    noise = torch.randn(10_000, cfg.z_dim, generator=torch.Generator().manual_seed(7))
    gen = torch.Generator().manual_seed(cfg.seed)
    b, seen, rows, t0 = cfg.batch_size, 0, [], time.perf_counter()
    milestones = [budget * k // 10 for k in range(1, 11)]
    while seen < budget:
        perm = torch.randperm(len(images), generator=gen).to(device)
        for i in range(len(images) // b):
            real_b, z, _ = draw_batch(images, perm, i, b, cfg.z_dim)
            step(real_b, z)
            seen += b
            if milestones and seen >= milestones[0]:
                milestones.pop(0)
                row = {"images": seen, "epochs": round(seen / len(images), 2), "train_s": round(time.perf_counter() - t0)}
                nets = {"online": lambda: (G, False), "ema": lambda: (ema.module, False),
                        "ema-recal": lambda: (recalibrated(ema.module, cfg.z_dim, device), False),
                        "ema-batch": lambda: (ema.module, True)}
                for variant in variants:
                    net, train_mode = nets[variant]()
                    fake = Features(*extractor.extract(samples(net, noise, device, train_mode)))
                    s = compute(["fid", "pr", "classes"], real, fake, seed=0)
                    row[variant] = {k: round(float(s[k]), 3) for k in ("fid", "precision", "recall", "classes_covered")}
                rows.append(row)
                print(name, json.dumps(row), flush=True)
                result = {"name": name, "overrides": {k: list(v) if isinstance(v, tuple) else v
                                                      for k, v in overrides.items()},
                          "budget_images": budget, "rows": rows}
                (out / f"{name}.json").write_text(json.dumps(result, indent=1))
            if seen >= budget:
                break


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--device", default="cpu")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of each config's 15-minute image budget")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parallel", type=int, default=1, help="configs trained at once, each in its own process")
    p.add_argument("--out", default="sweep")
    p.add_argument("--variants", nargs="+", default=["online", "ema"], choices=VARIANTS, help="which weights to score")
    p.add_argument("--one", help=argparse.SUPPRESS)
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.one:
        run_one(a.one, a.scale, torch.device(a.device), a.seed, out, a.variants)
        return
    pending, running = list(a.configs), []
    while pending or running:
        while pending and len(running) < a.parallel:
            name = pending.pop(0)
            running.append(subprocess.Popen([sys.executable, __file__, "--one", name, "--device", a.device,
                                             "--scale", str(a.scale), "--seed", str(a.seed), "--out", str(out),
                                             "--variants", *a.variants]))
        time.sleep(1)
        running = [r for r in running if r.poll() is None]
    for name in a.configs:
        f = out / f"{name}.json"
        if f.exists():
            last = json.loads(f.read_text())["rows"][-1]
            print(f"{name:14}", "  ".join(f"{v} {last[v]['fid']:8.1f}" for v in a.variants))


if __name__ == "__main__":
    main()
