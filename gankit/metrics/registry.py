"""Metrics by name: each reads the real and generated Features (and, for some, the training set's) and
returns a dict of numbers. `compute` runs a list of them over features computed once.

A metric whose inputs are missing (class probabilities for Inception features, requested labels for an
unconditional generator, the training set) is not an error: each of its keys is NaN, and `skipped` says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Union

import numpy as np
import torch

from gankit.infra.errors import GankitError
from gankit.metrics import classes, frechet, kernel, manifold
from gankit.metrics.features import Features

Value = Union[float, list]  # every key is a float except `class_hist` and `class_fid_list`, lists of K floats


@dataclass(frozen=True)
class Options:
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    pr_k: int = 3  # Kynkäänniemi et al. 2019
    dc_k: int = 5  # Naeem et al. 2020
    covered_share: float = 0.02  # a class is covered when at least this share of generated samples is in it
    # A generated sample is memorised within this fraction of its nearest training sample's nearest-neighbour
    # distance. At 1, fresh samples of the training distribution itself count: 59% in 2-D, 30% in 16-D, 18% in
    # 64-D Gaussians. At 0.5: 23%, 0% and 0%; real feature sets have far more than 2 intrinsic dimensions.
    memorisation_ratio: float = 0.5
    block_size: int = 1024  # rows per distance block

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise GankitError(f"metric option {name} must be positive, got {value}")


@dataclass
class Context:
    """What metrics share within one `compute` call: options, the training set, the seeded RNG, and caches.

    Caches are keyed by the Features object's id; they live no longer than the call, which holds every set.
    """

    options: Options
    train: Features | None
    rng: np.random.Generator
    device: torch.device
    shift: torch.Tensor
    _points: dict[int, torch.Tensor] = field(default_factory=dict)
    _radii: dict[int, torch.Tensor] = field(default_factory=dict)

    def points(self, f: Features) -> torch.Tensor:
        """f's features as float32 on one device, minus the real set's mean: distances do not change, and
        ||a||² + ||b||² - 2a·b loses far less to float32 rounding near the origin (Inception features are
        all positive)."""
        if id(f) not in self._points:
            self._points[id(f)] = f.feats.to(self.device, torch.float32) - self.shift
        return self._points[id(f)]

    def sq_radii(self, f: Features, k: int) -> torch.Tensor:
        """(N,) squared distance of each point of f to its k-th nearest other point; one k-NN pass per set
        serves every k the options use."""
        cached = self._radii.get(id(f))
        if cached is None or cached.shape[1] < k:
            want = k if f is self.train else max(k, self.options.pr_k, self.options.dc_k)
            columns = max(k, min(want, len(f) - 1))  # extra columns only where the set has them; k is checked
            cached = manifold.knn_sq_radii(self.points(f), columns, self.options.block_size)
            self._radii[id(f)] = cached
        return cached[:, k - 1]


MetricFn = Callable[[Features, Features, Context], dict[str, Value]]


@dataclass(frozen=True)
class Key:
    """One number a metric reports, declared once: every table, CSV column, plot and TensorBoard tag reads it."""

    name: str
    better: str = ""  # "lower", "higher", "~1", "all"; "" for spreads and lists
    label: str = ""  # how logs name it (default: the name)
    fmt: str = ".4g"
    tracked: bool = False  # also scored during training (--eval-every): metrics.csv, fid.png, TensorBoard


@dataclass(frozen=True)
class Metric:
    name: str
    fn: MetricFn
    outputs: tuple[Key, ...]
    needs: tuple[str, ...]  # keys of NEEDS
    doc: str

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.outputs)


NEEDS: dict[str, tuple[Callable[[Features, Features, Features | None], bool], str]] = {
    "fake.probs": (lambda r, f, t: f.probs is not None,
                   "class probabilities of the generated set (a domain classifier; Inception features have none)"),
    "real.probs": (lambda r, f, t: r.probs is not None, "class probabilities of the real set"),
    "fake.labels": (lambda r, f, t: f.labels_requested is not None,
                    "the labels the generated samples were asked for (a conditional generator)"),
    "train": (lambda r, f, t: t is not None, "the training set's features"),
}


def _fid(real: Features, fake: Features, ctx: Context) -> dict[str, Value]:
    return {"fid": frechet.fid(real.feats, fake.feats)}


def _kid(real: Features, fake: Features, ctx: Context) -> dict[str, Value]:
    # Raw features: the polynomial kernel, unlike a distance, changes under a shift.
    x, y = (f.feats.to(ctx.device, torch.float32) for f in (real, fake))
    mean, std = kernel.kid(x, y, ctx.options.kid_subsets, ctx.options.kid_subset_size, ctx.rng)
    return {"kid": mean, "kid_std": std}


def _pr(real: Features, fake: Features, ctx: Context) -> dict[str, Value]:
    k, block = ctx.options.pr_k, ctx.options.block_size
    x, y = ctx.points(real), ctx.points(fake)
    in_real, _ = manifold.ball_hits(y, x, ctx.sq_radii(real, k), block)
    in_fake, _ = manifold.ball_hits(x, y, ctx.sq_radii(fake, k), block)
    return {"precision": _share(in_real > 0), "recall": _share(in_fake > 0)}


def _dc(real: Features, fake: Features, ctx: Context) -> dict[str, Value]:
    k = ctx.options.dc_k
    counts, covered = manifold.ball_hits(ctx.points(fake), ctx.points(real), ctx.sq_radii(real, k),
                                         ctx.options.block_size)
    return {"density": float(counts.sum()) / (k * len(fake)), "coverage": _share(covered)}


def _classes(real: Features, fake: Features, ctx: Context) -> dict[str, Value]:
    if real.probs.shape[1] != fake.probs.shape[1]:
        raise GankitError(f"real and generated class probabilities have {real.probs.shape[1]} and "
                          f"{fake.probs.shape[1]} classes: use one classifier for both")
    fake_hist, real_hist = classes.class_histogram(fake.probs), classes.class_histogram(real.probs)
    return {"classes_covered": float((fake_hist >= ctx.options.covered_share).sum()),
            "class_kl": classes.kl_divergence(fake_hist, real_hist),
            "class_hist": fake_hist.tolist()}


def _is(real: Features, fake: Features, ctx: Context) -> dict[str, Value]:
    mean, std = classes.inception_score(fake.probs, ctx.options.is_splits)
    return {"is": mean, "is_std": std}


def _memorisation(real: Features, fake: Features, ctx: Context) -> dict[str, Value]:
    """Share of generated samples y with d(y, t) < ratio * d(t, t'), where t is y's nearest training sample
    and t' is t's nearest other training sample: y sits much closer to t than any other training sample does.
    An exact duplicate in the training set makes d(t, t') = 0, so nothing counts as a copy of it."""
    train, ratio = ctx.train, ctx.options.memorisation_ratio
    d, nearest = manifold.nearest(ctx.points(fake), ctx.points(train), ctx.options.block_size)
    return {"memorisation": _share(d < ratio**2 * ctx.sq_radii(train, 1)[nearest])}


def _label_accuracy(real: Features, fake: Features, ctx: Context) -> dict[str, Value]:
    return {"label_accuracy": classes.label_accuracy(fake.probs, fake.labels_requested)}


def _class_fid(real: Features, fake: Features, ctx: Context) -> dict[str, Value]:
    """FID within each class: generated samples by the label they were asked for, real ones by the domain
    classifier's argmax (99.5% right on MNIST's test set), so a conditional G that draws one good image per
    class scores badly here even when its overall FID and label accuracy look fine."""
    real_class = torch.as_tensor(real.probs).argmax(1)
    per_class = []
    for k in range(real.probs.shape[1]):
        r, f = real.feats[real_class == k], fake.feats[fake.labels_requested == k]
        per_class.append(frechet.fid(r, f) if min(len(r), len(f)) >= 2 else math.nan)
    return {"class_fid": float(np.nanmean(per_class)) if not all(map(math.isnan, per_class)) else math.nan,
            "class_fid_list": per_class}


def _share(flags: torch.Tensor) -> float:
    return float(flags.double().mean())


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("fid", _fid, (Key("fid", "lower", "FID", ".3f", tracked=True),), (),
           "Fréchet distance of Gaussians fitted to the features (float64)"),
    Metric("kid", _kid, (Key("kid", "lower", "KID", ".5g", tracked=True), Key("kid_std")), (),
           "unbiased MMD², cubic polynomial kernel, mean and std over random subsets"),
    Metric("pr", _pr, (Key("precision", "higher", fmt=".3f", tracked=True),
                       Key("recall", "higher", fmt=".3f", tracked=True)), (),
           "precision: share of generated samples inside the real k-NN manifold (k=3); recall: the reverse"),
    Metric("dc", _dc, (Key("density", "~1"), Key("coverage", "higher")), (),
           "density: mean count of real k-NN balls (k=5) holding a generated sample, over k; "
           "coverage: share of real balls holding any"),
    Metric("classes", _classes, (Key("classes_covered", "all", "classes", ".0f", tracked=True), Key("class_kl", "lower"),
                                 Key("class_hist")), ("fake.probs", "real.probs"),
           "classes holding >= 2% of generated samples; KL(generated || real) of the argmax-class histograms; "
           "class_hist: the generated histogram as a list of K shares"),
    Metric("is", _is, (Key("is", "higher", "IS"), Key("is_std")), ("fake.probs",),
           "Inception Score from the generated set's class probabilities, mean and std over 10 splits"),
    Metric("memorisation", _memorisation, (Key("memorisation", "lower"),), ("train",),
           "share of generated samples closer to their nearest training sample than half its distance to its "
           "own nearest other training sample"),
    Metric("label_accuracy", _label_accuracy, (Key("label_accuracy", "higher", "label accuracy", ".3f", tracked=True),),
           ("fake.probs", "fake.labels"),
           "share of generated samples classified as the label they were asked for"),
    Metric("class_fid", _class_fid, (Key("class_fid", "lower", "class FID"), Key("class_fid_list")),
           ("fake.labels", "real.probs"),
           "FID within each class (generated by requested label, real by the classifier's argmax): the mean "
           "over classes, and the list"),
)}

KEYS: dict[str, Key] = {k.name: k for m in METRICS.values() for k in m.outputs}
TRACKED: tuple[Key, ...] = tuple(k for k in KEYS.values() if k.tracked)  # in the order the metrics run

# Names that run another metric; each metric runs once however many of its names are asked for.
ALIASES: dict[str, str] = {"precision": "pr", "recall": "pr", "density": "dc", "coverage": "dc"}


def resolve(names: Iterable[str]) -> list[Metric]:
    """The metrics behind names (aliases included), each once, in the order first asked for."""
    out: dict[str, Metric] = {}
    for name in names:
        key = ALIASES.get(name, name)
        if key not in METRICS:
            raise GankitError(f"unknown metric '{name}': use any of {', '.join([*METRICS, *ALIASES])}")
        out.setdefault(key, METRICS[key])
    if not out:
        raise GankitError(f"no metrics asked for: name any of {', '.join(METRICS)}")
    return list(out.values())


def skipped(names: Iterable[str], real: Features, fake: Features, train: Features | None = None) -> dict[str, str]:
    """Metric name -> why it gives NaN with these inputs, for each asked-for metric that will."""
    out = {}
    for m in resolve(names):
        missing = [NEEDS[need][1] for need in m.needs if not NEEDS[need][0](real, fake, train)]
        if missing:
            out[m.name] = "needs " + " and ".join(missing)
    return out


def compute(names: Iterable[str], real: Features, fake: Features, train: Features | None = None, seed: int = 0,
            options: Options | None = None) -> dict[str, Value]:
    """Run the named metrics on features computed once; keys in the order the metrics were asked for.

    Every value is a float (NaN where the metric's inputs are missing, see `skipped`) except the lists
    `class_hist` and `class_fid_list`.
    `seed` seeds KID's subsets: the same inputs and seed give the same numbers.
    """
    metrics = resolve(names)
    _check_widths(real, fake, train)
    not_run = skipped([m.name for m in metrics], real, fake, train)
    shift = real.feats.double().mean(0).to(torch.float32)
    ctx = Context(options or Options(), train, np.random.default_rng(seed), real.feats.device, shift)
    out: dict[str, Value] = {}
    for m in metrics:
        out.update(dict.fromkeys(m.keys, math.nan) if m.name in not_run else m.fn(real, fake, ctx))
    return out


def _check_widths(real: Features, fake: Features, train: Features | None) -> None:
    widths = {name: f.feats.shape[1] for name, f in (("real", real), ("generated", fake), ("training", train))
              if f is not None}
    if len(set(widths.values())) > 1:
        said = ", ".join(f"{name} {w}" for name, w in widths.items())
        raise GankitError(f"feature widths differ ({said}): compute every set with the same feature network")
