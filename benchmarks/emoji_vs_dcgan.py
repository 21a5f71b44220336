"""Emoji, 15 minutes of wall clock each: gankit's RGB recipe beside pytorch/examples' dcgan/main.py, run
unmodified from a checkout of pytorch/examples (not a gankit dependency), both scored with the same Inception
features and metrics.

    git clone https://github.com/pytorch/examples ../examples                   # once
    python benchmarks/emoji_vs_dcgan.py --dcgan ../examples/dcgan/main.py       # 64 x 64 (about an hour)
    python benchmarks/emoji_vs_dcgan.py --dcgan ../examples/dcgan/main.py --image-size 32 --arms gankit

Arms, one after the other, never at once:
- gankit: `gankit train --preset rgb --dataset emoji --image-size S --minutes M --seed 0`, sampled by its EMA G
  (a class-conditional run, --gankit-flags=--conditional, draws the 10 categories at the emoji's shares).
- dcgan: its own script on an ImageFolder of the same composited PNGs gankit trains on (one sub-folder), with
  `--dataset folder --imageSize S --niter 1000 --manualSeed 0` on the CPU, stopped at M minutes of wall clock; its
  last complete epoch's netG_epoch_K.pth is loaded into its own Generator (the class read from its main.py) and
  sampled on N(0, 1) noise of nz = 100.
Scores (DiffAugment's few-shot protocol): Inception FID, KID and precision/recall of --n generated images against
all 3,786 emoji; and at the size the set allows, each arm's first 1,893 images against half A of the emoji
beside half B against half A (the real-data floor), the halves `gankit evaluate` uses. Inception runs as
`gankit evaluate` runs it: in bf16, compiled, on a CPU with AMX (FID within 1% of fp32's), fp32 elsewhere.
"""

from __future__ import annotations

import argparse
import ast
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.train_speed import cpu_name  # noqa: E402
from gankit import data  # noqa: E402
from gankit.data.pixels import to_uint8  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.metrics import Features, compute  # noqa: E402
from gankit.metrics.inception import load_fast_inception  # noqa: E402
from gankit.metrics.reference import train_reference  # noqa: E402

METRICS = ("fid", "kid", "pr")
NZ = 100


def write_folder(root: Path, size: int) -> None:
    """The emoji as gankit loads them (composited on white), as PNGs in one class folder."""
    images = data.load_images("emoji", image_size=size, log=lambda line: None).images
    (root / "all").mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(root / "all" / f"{i:04d}.png")


def run_gankit(size: int, minutes: float, n: int, work: Path, flags: list[str]) -> tuple[torch.Tensor, dict]:
    import gankit

    run = work / "gankit"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "gankit", "train", "--preset", "rgb", "--dataset", "emoji", "--image-size",
                    str(size), "--minutes", str(minutes), "--seed", "0", "--run-dir", str(run), "--no-progress", *flags],
                   check=True, cwd=ROOT)
    from gankit.training.runlog import read_csv

    rows = read_csv(run / "metrics.csv")
    speed = sorted(float(row["images_per_s"]) for row in rows)[len(rows) // 2]  # the steps' own rate, median epoch
    g = gankit.load(run, device="cpu")
    labels = g.labels_at_shares(n)  # a class-conditional run (--conditional): its classes at the emoji's shares
    info = {"seconds": time.monotonic() - start, "epochs": len(rows), "images_per_s": speed}
    return g.sample(n, seed=0, labels=labels), info


def run_dcgan(script: Path, folder: Path, size: int, minutes: float, n: int, work: Path) -> tuple[torch.Tensor, dict]:
    out = work / "dcgan"
    out.mkdir()
    args = [sys.executable, str(script), "--dataset", "folder", "--dataroot", str(folder), "--imageSize", str(size),
            "--niter", "1000", "--manualSeed", "0", "--outf", str(out)]
    with open(work / "dcgan.log", "w") as log:
        child = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            child.wait(timeout=minutes * 60)
        except subprocess.TimeoutExpired:
            child.terminate()
            child.wait()
    # netD_epoch_K is saved after netG_epoch_K: where it exists, netG's file is complete
    done = sorted(int(p.stem.rsplit("_", 1)[1]) for p in out.glob("netD_epoch_*.pth"))
    if not done:
        raise SystemExit(f"dcgan finished no epoch in {minutes} minutes: see {work / 'dcgan.log'}")
    G = peer_generator(script)
    G.load_state_dict(torch.load(out / f"netG_epoch_{done[-1]}.pth", weights_only=True))
    G.eval()
    noise = torch.randn(n, NZ, 1, 1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        images = torch.cat([to_uint8(G(z)) for z in noise.split(500)])
    return images, {"epochs": done[-1] + 1}


def peer_generator(script: Path) -> nn.Module:
    """The Generator class of the peer's script, read from its source (the script trains when imported)."""
    tree = ast.parse(script.read_text())
    source = next(ast.get_source_segment(script.read_text(), node) for node in tree.body
                  if isinstance(node, ast.ClassDef) and node.name == "Generator")
    scope = {"nn": nn, "torch": torch, "nz": NZ, "ngf": 64, "nc": 3}
    exec(source, scope)  # noqa: S102 - the peer's own class, from the file the user named
    return scope["Generator"](1)


def scores(extractor, images: torch.Tensor, real_all: Features, half_a: Features, seed: int) -> dict:
    fake = Features(extractor.extract(images)[0])
    at_half = Features(fake.feats[:len(half_a)])
    return {"all": compute(METRICS, real_all, fake, seed=seed), "half": compute(METRICS, half_a, at_half, seed=seed)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dcgan", type=Path, required=True, help="pytorch/examples' dcgan/main.py")
    p.add_argument("--image-size", type=int, default=64, choices=(32, 64))
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("--arms", nargs="+", default=["gankit", "dcgan"], choices=("gankit", "dcgan"))
    p.add_argument("--out", default=None, help="default: benchmarks/results/emoji_vs_dcgan_<size>.json")
    p.add_argument("--gankit-flags", default="", help="more `gankit train` flags, for recipe probes: e.g. "
                   "--gankit-flags='--epochs 6 --augment translation' (a fixed epoch count gives each probe the "
                   "same steps on a machine whose speed varies)")
    a = p.parse_args()
    if "dcgan" in a.arms and a.image_size != 64:  # its five transposed convolutions make 64 x 64, whatever --imageSize
        raise SystemExit("pytorch/examples' DCGAN trains only at 64 x 64: at 32, run --arms gankit")
    extractor = load_fast_inception("cpu", log=print)  # as `gankit evaluate` scores: bf16 where the CPU has AMX
    half_a, half_b = train_reference(extractor, "emoji", 1893, 0, None, print,
                                     {"image_size": a.image_size} if a.image_size != 64 else None)
    real_all = Features(torch.cat([half_a.feats, half_b.feats]))
    results = {"floor": {"half": compute(METRICS, half_a, half_b, seed=0)}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for arm in a.arms:
            if arm == "gankit":
                images, info = run_gankit(a.image_size, a.minutes, a.n, work, shlex.split(a.gankit_flags))
            else:
                write_folder(work / "emoji", a.image_size)
                images, info = run_dcgan(a.dcgan.resolve(), work / "emoji", a.image_size, a.minutes, a.n, work)
            results[arm] = {**info, **scores(extractor, images, real_all, half_a, seed=0)}
            print(arm, json.dumps(results[arm]), flush=True)
    out = {"cpu": cpu_name(), "torch": torch.__version__, "minutes": a.minutes, "image_size": a.image_size, "n": a.n,
           "features": extractor.name, "command": "python benchmarks/emoji_vs_dcgan.py " + " ".join(sys.argv[1:]),
           "results": results}
    if {"gankit", "dcgan"} <= set(results):
        out["fid_ratio_gankit_over_dcgan"] = results["gankit"]["all"]["fid"] / results["dcgan"]["all"]["fid"]
    write_text(ROOT / (a.out or f"benchmarks/results/emoji_vs_dcgan_{a.image_size}.json"), json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "results"}))


if __name__ == "__main__":
    main()
