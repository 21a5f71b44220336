"""`gankit evaluate`: how good a generator is, beside how good real data is, with the protocol written down.

    report = evaluate("runs/my-run")                          # samples the run's generator
    report = evaluate("samples.npz", dataset="mnist")         # or images saved elsewhere
    print(report.table()); json.dumps(report.to_json())

Generated images and a held-apart set of real training images (the floor) are each scored against the
reference split (the test set unless told otherwise) with the same metrics, feature network, N and seed.
Features of real data are computed once per (data set, split, feature network hash, N, seed) and cached
on disk; the floor's scores are cached beside them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import torch

from gankit import data
from gankit.infra.errors import GankitError
from gankit.infra.io import write_text
from gankit.infra.log import Log
from gankit.infra.version import __version__
from gankit.metrics import KEYS, Features, Options, compute, resolve, skipped
from gankit.metrics.reference import FEATURES_VERSION, cache_dir, dataset_key, reference_features, train_reference

DEFAULT_METRICS = ("fid", "kid", "is", "pr", "dc", "classes", "memorisation", "label_accuracy", "class_fid")
# auto: the data set's domain network where it has one, else Inception; inception-fp32: Inception in fp32 even
# where gankit runs it in bf16 (a CPU with AMX)
FEATURES = ("auto", "domain", "inception", "inception-fp32")
SPLITS = ("auto", "test", "train")  # auto: test where the data set has one, else train


@dataclass
class Report:
    metrics: dict
    floor: dict
    protocol: dict
    skipped: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"metrics": _finite(self.metrics), "floor": _finite(self.floor), "protocol": self.protocol}

    def table(self) -> str:
        p = self.protocol
        lines = [f"{p['source']} against {p['dataset']} {p['reference_split']} ({p['n_real']} real, {p['n_fake']} "
                 f"generated; {p['features']} features, sha256 {p['features_sha256'][:12]})",
                 f"{'metric':16} {'generated':>12} {'real (floor)':>13}  better"]
        for key, value in self.metrics.items():
            if key in ("class_hist", "class_fid_list"):
                continue
            lines.append(f"{key:16} {_fmt(value):>12} {_fmt(self.floor.get(key)):>13}  {KEYS[key].better if key in KEYS else ''}")
        if "class_hist" in self.metrics and isinstance(self.metrics["class_hist"], list):
            lines.append("class shares     " + " ".join(f"{v:.2f}" for v in self.metrics["class_hist"]))
        if isinstance(self.metrics.get("class_fid_list"), list):
            lines.append("FID per class    " + " ".join(_fmt(v) for v in self.metrics["class_fid_list"]))
        lines += [f"(skipped {name}: {why})" for name, why in self.skipped.items()]
        return "\n".join(lines)


def evaluate(source: str | Path, *, dataset: str | None = None, n: int = 10_000, metrics: Iterable[str] = DEFAULT_METRICS,
             features: str = "auto", seed: int = 0, reference_split: str = "auto", data_dir: str | None = None,
             device: str = "auto", checkpoint: str = "last", log: Log = print) -> Report:
    """Score `source` (a run directory, an .npz with `images` [and `labels`], or an image folder).

    Against the test split where the data set has one. Where it has not (emoji, folders, npz files), or with
    reference_split="train", the training images are split in two seeded halves: generated images are scored
    against half A at its size (at most n), and half B against half A is the floor."""
    names = [m.name for m in resolve(metrics)]
    if n < 10:
        raise GankitError(f"-n must be at least 10 samples, got {n}")
    if features not in FEATURES or reference_split not in SPLITS:
        raise GankitError(f"unknown features '{features}' or reference '{reference_split}': use features "
                          f"{', '.join(FEATURES)} and reference {', '.join(SPLITS)}")
    # With the data set named, a missing feature network is refused before any sampling or reading.
    extractor = _extractor(features, dataset, device, log) if dataset else None
    fake_images, labels, dataset, what, options = _load_source(Path(source), dataset, n, seed, device, checkpoint,
                                                               data_dir, log)
    extractor = extractor or _extractor(features, dataset, device, log)
    split = reference_split if reference_split != "auto" else "test" if data.has_test_split(dataset) else "train"
    n = len(fake_images)  # fewer than -n in a file: real sets and the floor use the same smaller N
    train_a, train_b = train_reference(extractor, dataset, n, seed, data_dir, log, options)
    if split == "train":  # half A is the reference, half B the floor, the generated set cut to their size
        real = train_a
        fake_images = fake_images[:len(real)]
        labels = labels[:len(real)] if labels is not None else None
    else:
        real = reference_features(extractor, dataset, split, n, seed, data_dir, log, load_options=options)
    fake = Features(*extractor.extract(fake_images), labels_requested=labels)
    log(f"scoring {len(fake)} generated images against {len(real)} real ({split})")
    scores = compute(names, real, fake, train=train_a, seed=seed)
    floor = _cached_floor(extractor, dataset, options, split, len(fake), seed, names, real, train_a, train_b)
    floor_what = f"{len(train_b)} other {dataset} training images"
    protocol = {"source": what, "dataset": dataset, "features": extractor.name, "features_sha256": extractor.sha256,
                "n_real": len(real), "n_fake": len(fake), "n_train_reference": len(train_a),
                "reference_split": split if split == "test" else "train (half A)",
                "floor": floor_what if split == "test" else f"{floor_what} (half B)", "load_options": options,
                "seed": seed, "metrics": names, "options": vars(Options()), "gankit_version": __version__}
    report = Report(scores, floor, protocol, skipped(names, real, fake, train_a))
    if (Path(source) / "checkpoints").is_dir():  # a run directory keeps its last evaluation, for its report
        write_text(Path(source) / "evaluation.json", json.dumps(report.to_json(), indent=2) + "\n")
    return report


def _load_source(path: Path, dataset: str | None, n: int, seed: int, device: str, checkpoint: str,
                 data_dir: str | None, log: Log) -> tuple[torch.Tensor, torch.Tensor | None, str, str, dict]:
    """(generated images, the labels they were asked for, the data set, what they are, how the data set's
    images are loaded to compare with them: a run's image_size, channels and fit)."""
    if (path / "checkpoints").is_dir():
        from gankit.generate.sample import load

        g = load(path, checkpoint, device)
        if dataset is not None and dataset != g.config.dataset:
            raise GankitError(f"{path} was trained on {g.config.dataset}, not {dataset}: leave --dataset out for a run")
        log(f"sampling {n} images from {path} ({checkpoint} checkpoint, seed {seed})")
        labels = g.labels_at_shares(n)  # a conditional run: its classes as often as real images hold them
        return g.sample(n, seed, labels=labels), labels, g.config.dataset, str(path), g.image_options
    if dataset is None:
        raise GankitError(f"evaluating {path} needs --dataset: the data set its images should look like (e.g. mnist)")
    grayscale_28 = dataset in ("mnist", "fashion-mnist")
    if path.suffix == ".npz" or path.is_dir():
        kind = "npz" if path.suffix == ".npz" else "folder"
        loaded = data.load_images(f"{kind}:{path}", channels=1 if grayscale_28 else None,
                                  image_size=28 if grayscale_28 else None, log=log)
        images = loaded.images
        labels = torch.as_tensor(loaded.labels).long() if kind == "npz" and loaded.labels is not None else None
    else:
        raise GankitError(f"cannot evaluate {path}: give a run directory, an .npz file or a folder of images")
    if len(images) < n:
        log(f"{path} holds {len(images)} images, fewer than -n {n}: scoring all of them, against as many real ones")
    return images[:n], (labels[:n] if labels is not None else None), dataset, str(path), {}


def _extractor(features: str, dataset: str, device: str, log: Log):
    from gankit.metrics.networks import load_extractor

    return load_extractor(features, dataset, _device(device), log)


def _device(name: str) -> torch.device:
    from gankit.infra.device import resolve_device

    return resolve_device(name)


def _cached_floor(extractor, dataset, options, split, n, seed, names, real, train_a, train_b) -> dict:
    path = cache_dir() / (f"floor-{dataset_key(dataset, options)}-{split}-{extractor.name}-{extractor.sha256[:16]}"
                          f"-n{n}-seed{seed}-v{FEATURES_VERSION}.json")
    cached = json.loads(path.read_text()) if path.is_file() else {}
    missing = [m for m in names if m not in cached.get("_metrics", [])]
    if missing:
        cached.update(compute(missing, real, train_b, train=train_a, seed=seed))
        cached["_metrics"] = sorted(set(cached.get("_metrics", [])) | set(missing))
        from gankit.infra.io import write_text

        write_text(path, json.dumps(cached, allow_nan=True))
    keys = [k for m in resolve(names) for k in m.keys]
    return {k: cached[k] for k in keys if k in cached}


def _finite(d: dict) -> dict:
    """NaN (a metric that did not apply) becomes null: JSON has no NaN."""
    def finite(v):
        if isinstance(v, list):
            return [finite(x) for x in v]
        return None if isinstance(v, float) and math.isnan(v) else v

    return {k: finite(v) for k, v in d.items()}


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and abs(value) < 0.01 and value != 0:
        return f"{value:.2e}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
