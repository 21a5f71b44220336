"""`TimeSeriesGAN`: fit a set of sequences, sample new ones, save and load them.

    gan = TimeSeriesGAN(minutes=15, seed=0).fit(values)     # (N, T, F) or (N, T) array, SeriesData, DataFrame
    gan.fit(from_frame(df, series_id="sensor", time="t"))    # a long DataFrame (data.from_frame: every layout)
    synth = gan.sample(1000)                                  # (1000, T, F), in the data's own units
    synth, labels = gan.sample(100, return_labels=True)       # a labelled set: classes as often as in the data
    gan.save("sines.pt"); gan = TimeSeriesGAN.load("sines.pt")

Each feature is min-max scaled to [0, 1] over the training set (TimeGAN's scaling) and unscaled on output.
The loop runs `steps` iterations of the recipe or stops at the `minutes` budget (the run's whole training
time, resumes included), whichever comes first.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from gankit.infra import checkpoint
from gankit.infra.allocator import keep_freed_memory
from gankit.infra.errors import GankitError
from gankit.infra.log import Log
from gankit.timeseries.data import encode_labels
from gankit.timeseries.health import SeriesHealth, spread
from gankit.timeseries.recipes import RECIPES, ConvRecipe, TimeGANRecipe

KIND = "timeseries"
DEFAULT_LR = {"conv": 2e-4, "timegan": 1e-3}  # timegan: TensorFlow's Adam default, which the released code uses


@dataclass
class SeriesConfig:
    recipe: str = "conv"  # conv: gankit's; timegan: the faithful baseline
    steps: int = 50_000  # iterations (timegan: its three phases together)
    minutes: float | None = 15.0  # as a bare `gankit train`: at most 15 minutes, whichever ends first
    batch_size: int = 128
    lr: float | None = None  # None: the recipe's default
    z_dim: int = 64  # conv
    width: int = 128  # conv: channels at the coarsest step
    hidden: int = 24  # timegan
    layers: int = 3  # timegan
    conditional: bool = True  # conv: use the labels where the data has them
    seed: int = 0
    log_every: int = 500

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise GankitError(f"unknown sequence recipe {self.recipe!r}: use one of {', '.join(RECIPES)}")
        for name in ("steps", "batch_size", "z_dim", "width", "hidden", "layers", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise GankitError(f"sequence option {name} must be a positive whole number, got {value!r}")
        for name in ("minutes", "lr"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise GankitError(f"sequence option {name} must be a positive number, got {value!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SeriesConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise GankitError(f"unknown sequence options {sorted(unknown)}: use any of "
                              f"{sorted(f.name for f in fields(cls))}")
        return cls(**d)


class TimeSeriesGAN:
    def __init__(self, config: SeriesConfig | None = None, **options: Any):
        self.config = config or SeriesConfig(**options)
        self.recipe: ConvRecipe | TimeGANRecipe | None = None
        self.meta: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []
        self.steps_done = 0

    # --- fitting ---
    def fit(self, data: Any, labels: Any = None, *, log: Log = print, state: dict | None = None,
            on_checkpoint: Callable[["TimeSeriesGAN", dict], None] | None = None,
            checkpoint_every_s: float = 60.0, stop: Callable[[], bool] | None = None) -> "TimeSeriesGAN":
        """Train on `data` ((N, T, F) or (N, T) numbers, or a SeriesData). `state` (a training state) resumes a
        run; `on_checkpoint` receives the training state every `checkpoint_every_s` seconds and at the end;
        `stop()` true ends training at the next step."""
        cfg = self.config
        keep_freed_memory()  # each step frees what the next allocates: keep it rather than fault it in again
        values, labels, features, classes = _as_arrays(data, labels)
        self.meta = _describe(values, labels, features, classes, cfg)
        x = torch.from_numpy(self._scale(values))
        y = torch.from_numpy(labels) if self.meta["classes"] else None
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        self.recipe = self._build()
        step, elapsed_before = 0, 0.0
        if state is not None:
            step, elapsed_before = self._restore(state, rng)
        budget = cfg.minutes * 60 if cfg.minutes else math.inf

        def draw():
            idx = torch.from_numpy(rng.integers(len(x), size=cfg.batch_size))
            return x[idx], (y[idx] if y is not None else None)

        log(f"training the {cfg.recipe} recipe on {len(x)} series of {x.shape[1]} steps x {x.shape[2]} features"
            + (f", {len(self.meta['classes'])} classes" if self.meta["classes"] else ""))
        health = SeriesHealth(log, spread(x[:4096]))
        start = last_save = time.monotonic()
        sums: dict[str, float] = {}
        while step < cfg.steps:
            elapsed = elapsed_before + time.monotonic() - start
            if elapsed >= budget or (stop is not None and stop()):
                log(f"stopped at step {step} by {'the --minutes budget' if elapsed >= budget else 'a signal'}")
                break
            progress = max(step / cfg.steps, elapsed / budget)
            row = self.recipe.step(draw, progress)
            step += 1
            for k, v in row.items():
                sums[k] = sums.get(k, 0.0) + v
            if step % cfg.log_every == 0:
                row = self._log_window(step, sums, elapsed, log)
                if not isinstance(self.recipe, TimeGANRecipe) or self.recipe.phase(progress) == "joint":
                    health.check(row, step, spread(self._generate(256, y)))  # timegan: once G is in the game
                sums = {}
            if on_checkpoint is not None and time.monotonic() - last_save >= checkpoint_every_s:
                on_checkpoint(self, self._training_state(rng, step, elapsed_before + time.monotonic() - start))
                last_save = time.monotonic()
        self.steps_done = step
        if on_checkpoint is not None:
            on_checkpoint(self, self._training_state(rng, step, elapsed_before + time.monotonic() - start))
        return self

    def _build(self) -> ConvRecipe | TimeGANRecipe:
        cfg, m = self.config, self.meta
        lr = cfg.lr or DEFAULT_LR[cfg.recipe]
        if cfg.recipe == "timegan":
            return TimeGANRecipe(m["length"], len(m["features"]), 0, hidden=cfg.hidden, layers=cfg.layers, lr=lr)
        return ConvRecipe(m["length"], len(m["features"]), len(m["classes"] or []), z_dim=cfg.z_dim,
                          width=cfg.width, lr=lr)

    def _generate(self, n: int, y: torch.Tensor | None) -> torch.Tensor:
        """n series for the health check, of classes drawn from the data's (a private generator: training's
        random streams stay as they are)."""
        gen = torch.Generator().manual_seed(0)
        labels = None if y is None or not self.meta["classes"] else y[torch.randint(len(y), (n,), generator=gen)]
        return self.recipe.generate(n, gen, labels, self.meta["length"])

    def _log_window(self, step: int, sums: dict[str, float], elapsed: float, log: Log) -> dict[str, float]:
        row = {"step": step, "seconds": round(elapsed, 1),
               **{k: round(v / self.config.log_every, 5) for k, v in sums.items()}}
        self.history.append(row)
        bad = [k for k, v in row.items() if not math.isfinite(v)]
        if bad:
            raise GankitError(f"training diverged at step {step} ({', '.join(bad)} not finite): rerun with a lower "
                              "--lr (the last checkpoint is kept)")
        losses = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("step", "seconds"))
        phase = f" [{self.recipe.phase(step / self.config.steps)}]" if isinstance(self.recipe, TimeGANRecipe) else ""
        log(f"step {step}/{self.config.steps}{phase} ({elapsed:.0f} s): {losses}")
        return row

    # --- scaling ---
    def _scale(self, values: np.ndarray) -> np.ndarray:
        lo, hi = np.asarray(self.meta["min"], np.float32), np.asarray(self.meta["max"], np.float32)
        return ((values - lo) / (hi - lo + 1e-7)).astype(np.float32)

    def _unscale(self, scaled: np.ndarray) -> np.ndarray:
        lo, hi = np.asarray(self.meta["min"], np.float32), np.asarray(self.meta["max"], np.float32)
        return (scaled * (hi - lo + 1e-7) + lo).astype(np.float32)

    # --- sampling ---
    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, label: int | str | None = None,
               return_labels: bool = False):
        """n series (n, T, F) in the data's units; labelled models draw classes by their frequency in the data,
        or only `label` (an index or a class name)."""
        if self.recipe is None:
            raise GankitError("this TimeSeriesGAN is not fitted: call fit(values) or TimeSeriesGAN.load(path) first")
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise GankitError(f"n must be a positive whole number, got {n!r}")
        gen = torch.Generator().manual_seed(seed if seed is not None else int(torch.randint(2**31, ()).item()))
        labels = self._labels_for(n, gen, label)
        out = []
        for start in range(0, n, 4096):
            part = None if labels is None else torch.from_numpy(labels[start:start + 4096])
            out.append(self.recipe.generate(min(4096, n - start), gen, part, self.meta["length"]).numpy())
        values = self._unscale(np.concatenate(out))
        return (values, labels) if return_labels else values

    def _labels_for(self, n: int, gen: torch.Generator, label: int | str | None) -> np.ndarray | None:
        classes = self.meta["classes"]
        conditional = bool(classes) and isinstance(self.recipe, ConvRecipe)
        if label is not None and not conditional:
            raise GankitError("this model was trained without labels: sample without a label")
        if not conditional:
            return None
        if label is not None:
            k = classes.index(label) if label in classes else label
            if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(classes):
                raise GankitError(f"no class {label!r}: use an index below {len(classes)} or one of {classes}")
            return np.full(n, k, dtype=np.int64)
        counts = torch.tensor(self.meta["class_counts"], dtype=torch.float64)
        return torch.multinomial(counts, n, replacement=True, generator=gen).numpy().astype(np.int64)

    # --- saving ---
    def state_dict(self) -> dict[str, Any]:
        """Tensors, numbers and strings only: loads with torch.load(weights_only=True)."""
        return {"kind": KIND, "config": json.dumps(asdict(self.config)), "meta": json.dumps(self.meta),
                "sampler": {k: m.state_dict() for k, m in self.recipe.sampler().items()}}

    def save(self, path: str | Path) -> None:
        if self.recipe is None:
            raise GankitError("nothing to save: fit the TimeSeriesGAN first")
        checkpoint.save(path, self.state_dict())

    @classmethod
    def load(cls, path: str | Path) -> "TimeSeriesGAN":
        return cls.from_state(checkpoint.load(path), path)

    @classmethod
    def from_state(cls, state: dict[str, Any], path: str | Path = "checkpoint") -> "TimeSeriesGAN":
        if state.get("kind") != KIND:
            raise GankitError(f"{path} does not hold a sequence GAN: use gankit sample/evaluate on its own run")
        gan = cls(SeriesConfig.from_dict(json.loads(state["config"])))
        gan.meta = json.loads(state["meta"])
        gan.recipe = gan._build()
        for name, module in gan.recipe.sampler().items():
            checkpoint.load_weights(module, state["sampler"][name], name, path)
            module.eval()
        history = state.get("history")
        gan.history = json.loads(history) if history else []
        return gan

    def _training_state(self, rng: np.random.Generator, step: int, elapsed: float) -> dict[str, Any]:
        return {**self.state_dict(), "modules": {k: m.state_dict() for k, m in self.recipe.modules().items()},
                "step": step, "elapsed": elapsed, "history": json.dumps(self.history),
                "ema_updates": getattr(self.recipe, "updates", 0),
                "rng": {"torch": torch.get_rng_state(), "numpy": json.dumps(rng.bit_generator.state)}}

    def _restore(self, state: dict, rng: np.random.Generator) -> tuple[int, float]:
        for name, module in self.recipe.modules().items():
            if isinstance(module, torch.nn.Module):
                checkpoint.load_weights(module, state["modules"][name], name, "the checkpoint")
            else:
                module.load_state_dict(state["modules"][name])
        if isinstance(self.recipe, ConvRecipe):
            self.recipe.updates = state["ema_updates"]
        torch.set_rng_state(state["rng"]["torch"])
        rng.bit_generator.state = json.loads(state["rng"]["numpy"])
        self.history = json.loads(state["history"])
        return state["step"], state["elapsed"]


def _as_arrays(data: Any, labels: Any) -> tuple[np.ndarray, np.ndarray | None, list[str], list[str] | None]:
    """(values (N, T, F) float32, labels int64 or None, feature names, class names or None), checked."""
    features, classes = None, None
    if hasattr(data, "columns") and hasattr(data, "iloc"):  # a pandas DataFrame: one series per row
        from gankit.timeseries.data import from_frame

        data = from_frame(data)
    if hasattr(data, "values") and hasattr(data, "features"):  # a SeriesData
        data, labels, features, classes = data.values, data.labels if labels is None else labels, \
            data.features, data.classes
    try:
        values = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError):
        raise GankitError("series must be numbers of equal length, shaped (N, T, F) or (N, T): pad or cut them "
                          "to one length (e.g. windows)") from None
    if values.ndim == 2:
        values = values[:, :, None]
    if values.ndim != 3 or min(values.shape) == 0:
        raise GankitError(f"series must be shaped (N, T, F) or (N, T), got {values.shape}: one row per series")
    if len(values) < 2 or values.shape[1] < 2:
        raise GankitError(f"{len(values)} series of {values.shape[1]} steps are too few to learn from: give at "
                          "least 2 series of 2 steps or more")
    if not np.isfinite(values).all():
        raise GankitError(f"{int((~np.isfinite(values)).sum())} values are NaN or infinite: fill or drop them first")
    features = list(features) if features is not None else [f"f{i}" for i in range(values.shape[2])]
    if labels is not None:
        labels, found = _label_codes(labels, len(values))
        classes = list(classes) if classes is not None else found
    return values, labels, features, classes


def _label_codes(labels: Any, n: int) -> tuple[np.ndarray, list[str]]:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise GankitError(f"labels have shape {labels.shape} for {n} series: give one label per series")
    if labels.dtype.kind in "iu" and labels.min() >= 0:  # class indices: keep them as they are
        return labels.astype(np.int64), [str(k) for k in range(int(labels.max()) + 1)]
    return encode_labels(labels)


def _describe(values: np.ndarray, labels: np.ndarray | None, features: list[str], classes: list[str] | None,
              cfg: SeriesConfig) -> dict[str, Any]:
    use_labels = labels is not None and cfg.conditional and cfg.recipe == "conv"
    return {"length": int(values.shape[1]), "features": features,
            "min": values.min(axis=(0, 1)).tolist(), "max": values.max(axis=(0, 1)).tolist(),
            "classes": classes if use_labels else None,
            "class_counts": np.bincount(labels, minlength=len(classes)).tolist() if use_labels else None}


__all__ = ["TimeSeriesGAN", "SeriesConfig"]
