"""The typed training config: presets by name, TOML loading, validation before any work starts.

A run is fully described by one `TrainConfig`; it is saved as `config.json` in the run directory and
inside every checkpoint, so any result can be reproduced from its run directory alone.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from gankit.infra.errors import GankitError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass
class TrainConfig:
    # what to learn
    preset: str = "seed"
    dataset: str = "mnist"
    data_dir: str | None = None
    limit: int | None = None  # the first N training images, for quick runs
    image_size: int | None = None  # resize for folder: data sets
    channels: int | None = None  # 1 or 3, for folder: data sets
    # the models and the game
    model: str = "mlp"
    width: int | None = None  # conv models: base channel count (dcgan default 64)
    d_norm: str | None = None  # conv models: D's normalisation, batch | none | spectral (dcgan default batch)
    g_upsample: str | None = None  # conv models: G's upsampling, transposed | nearest (dcgan default transposed)
    d_minibatch_std: bool | None = None  # conv models: D sees each group of 4 images' feature spread (default off)
    g_refine: int | None = None  # conv models: 3x3 conv layers G adds on its first feature map (default 0)
    conditional: bool = False  # G and D see the data set's labels
    self_condition: int = 0  # K > 1: G and D see K clusters of the unlabelled images (0: off)
    z_dim: int = 100
    loss: str = "bce"
    # stabilisers (all off in the seed preset)
    gp_weight: float = 0.0  # WGAN-GP lambda, e.g. 10 with loss wasserstein
    r1_gamma: float = 0.0  # R1 penalty gamma on real images
    ema: float = 0.0  # beta of an exponential moving average of G, used for sampling and evaluation (0: off)
    augment: str = ""  # DiffAugment policy for D's inputs: translation, cutout, color (comma-separated)
    n_critic: int = 1  # D steps per G step
    lr_g: float | None = None  # G's learning rate (default: lr)
    lr_d: float | None = None  # D's learning rate (default: lr); TTUR: lr_d > lr_g
    lr_decay: float = 0.0  # the last fraction of the run (epochs or --minutes, whichever ends first) over which
    # both learning rates fall linearly to 0 (0: constant; 0.5: the second half)
    # the optimisation
    epochs: int = 100  # always the total, also when resuming
    minutes: float | None = None  # wall-clock budget after loading the data; clustering counts
    batch_size: int = 64
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # or bf16: forward passes under autocast (for GPUs and CPUs with AMX or AVX512_BF16);
    # auto: bf16 where it is fast (those), fp32 elsewhere
    compile: bool = False  # torch.compile G and D
    # evaluation during training (domain features, against a validation slice of the training split)
    eval_every: int = 0  # epochs between evaluations; 0: none
    eval_n: int = 2000  # generated and validation images per evaluation
    eval_holdout: int = 5000  # training images (a fixed random slice) kept out of training for validation
    on_divergence: str = "warn"  # or rollback: on NaN/inf, restore the last checkpoint's weights at half the lr
    # what the run leaves behind
    grid_size: int = 64  # images in each epoch's sample grid, from one fixed noise batch
    log_every: int = 50  # steps between progress updates and rows of steps.csv
    tensorboard: bool = False
    progress: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        return replace(cls(), d, source="saved config")


# Each preset is a set of overrides on the defaults; the defaults themselves are the tutorial's recipe.
PRESETS: dict[str, dict[str, Any]] = {
    # the tutorial's GAN, exactly
    "seed": {},
    # Radford et al. 2015: conv G and D with batch norm, the tutorial's loss and optimiser
    "dcgan": {"model": "dcgan", "epochs": 25},
    # the recommended unconditional recipe for MNIST-like data on a CPU budget: a narrow DCGAN, least-squares
    # loss (Mao et al. 2017), spectrally normalised D (Miyato et al. 2018), Adam at lr 1e-3 with beta1 = 0, an
    # EMA of G for sampling. Chosen by benchmarks/recipe_sweep.py: at the images 15 CPU-minutes train, lr 1e-3
    # and beta1 = 0 halved the FID of the same model at lr 2e-4 and beta1 = 0.5 (DCGAN's settings). G and D are
    # conditioned on 10 clusters of the images (self-conditioning, UMAP then k-means): 15 CPU-minutes on MNIST
    # went from FID 116 unconditional (102 with k-means clusters) to 24.2 and 20.4 (seeds 0 and 1). Width 48
    # rather than 32, and the learning rates falling to 0 over the second half, were chosen by 15-minute probes
    # (README, Presets): the width lowered FID and raised precision and recall together; the decay raised
    # recall by 0.015 on seed 0 (not on seed 1); 15 or 30 clusters rather than 10 traded recall and FID for
    # precision. Then bf16 where it is fast (1.23x the steps here), 13 clusters (precision and recall both
    # within 0.1 of the floor's on seed 0), and one 3x3 conv on G's 7x7 map: FID 12.6 -> 8.2, precision and
    # recall kept (G had two layers after its projection; the conv costs 18% of the steps)
    "best": {"model": "dcgan", "width": 48, "d_norm": "spectral", "loss": "least-squares", "lr": 1e-3,
             "betas": (0.0, 0.99), "ema": 0.999, "epochs": 30, "self_condition": 13, "lr_decay": 0.5,
             "g_refine": 1, "precision": "auto"},
    # best's recipe, class-conditional: a per-class gain and bias in every batch norm of G (conditional batch
    # norm), a projection D. G's first design, a label embedding concatenated to z, collapsed within each class
    # with this recipe and with hinge / lr 2e-4 alike (3-minute probes: recall 0.00 there, 0.73 here)
    "best-cond": {"model": "dcgan", "width": 48, "d_norm": "spectral", "loss": "least-squares", "lr": 1e-3,
                  "betas": (0.0, 0.99), "ema": 0.999, "epochs": 30, "lr_decay": 0.5, "g_refine": 1,
                  "precision": "auto", "conditional": True},
    # small RGB image folders (32 x 32): DiffAugment for few images
    "rgb": {"model": "dcgan", "d_norm": "spectral", "loss": "hinge", "ema": 0.999, "image_size": 32, "channels": 3,
            "augment": "color,translation,cutout", "epochs": 200},
}

# Options a resumed run may change: everything else must equal what the run started with.
RESUMABLE_OVERRIDES = {"epochs", "minutes", "device", "compile", "progress", "log_every", "tensorboard", "data_dir",
                       "on_divergence"}

_FIELDS = {f.name: f for f in fields(TrainConfig)}


def preset_config(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise GankitError(f"unknown preset '{name}': use one of {', '.join(sorted(PRESETS))}")
    return replace(TrainConfig(preset=name), PRESETS[name], source=f"preset '{name}'")


def config_from(preset: str = "seed", config_file: str | Path | None = None,
                options: dict[str, Any] | None = None, source: str = "options") -> TrainConfig:
    """A run's config as the CLI and `gankit.train` build it: the preset, then a TOML file, then options."""
    cfg = preset_config(preset)
    if config_file is not None:
        cfg = replace(cfg, load_toml(config_file), source=str(config_file))
    return replace(cfg, options or {}, source=source)


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise GankitError(f"config file {path} not found: check the path given to --config") from None
    except tomllib.TOMLDecodeError as e:
        raise GankitError(f"config file {path} is not valid TOML ({e}): fix the syntax") from None
    # A [train] table is allowed so one file can later hold other sections too.
    return dict(data.get("train", data))


def replace(cfg: TrainConfig, overrides: dict[str, Any], source: str = "options") -> TrainConfig:
    """Return cfg with overrides applied, each checked for name and type."""
    values = {}
    for key, value in overrides.items():
        key = key.replace("-", "_")
        if key not in _FIELDS:
            raise GankitError(f"unknown option '{key}' in {source}: see `gankit train --help` for the options")
        values[key] = _coerce(key, value, source)
    return dataclasses.replace(cfg, **values)


def _coerce(key: str, value: Any, source: str) -> Any:
    default = getattr(TrainConfig(), key)
    kind = type(default) if default is not None else _OPTIONAL_TYPES[key]
    if value is None:
        if default is None:
            return None
        raise GankitError(f"option '{key}' in {source} needs a value")
    try:
        if kind is bool:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if kind is tuple:
            pair = tuple(float(v) for v in value)
            if len(pair) != 2:
                raise TypeError
            return pair
        if kind is int and (isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())):
            raise TypeError
        return kind(value)
    except (TypeError, ValueError):
        raise GankitError(f"option '{key}' in {source} must be a {kind.__name__}, got {value!r}") from None


_OPTIONAL_TYPES = {"data_dir": str, "limit": int, "image_size": int, "channels": int, "minutes": float,
                   "width": int, "d_norm": str, "g_upsample": str, "d_minibatch_std": bool, "g_refine": int,
                   "lr_g": float, "lr_d": float}


def validate(cfg: TrainConfig) -> TrainConfig:
    """Refuse invalid values before any work starts. Names of models, losses and data sets are
    checked against their registries here too, so a typo costs no data loading."""
    from gankit import data, models
    from gankit.training import losses

    def positive(name: str) -> None:
        value = getattr(cfg, name)
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise GankitError(f"--{name.replace('_', '-')} must be positive, got {value}")

    for name in ("epochs", "batch_size", "lr", "z_dim", "grid_size", "log_every", "limit", "minutes", "image_size",
                 "eval_n", "eval_holdout", "width", "lr_g", "lr_d", "n_critic"):
        positive(name)
    _check_stabilisers(cfg)
    from gankit.training.health import ON_DIVERGENCE

    if cfg.on_divergence not in ON_DIVERGENCE:
        raise GankitError(f"unknown --on-divergence '{cfg.on_divergence}': use warn or rollback")
    if cfg.eval_every < 0:
        raise GankitError(f"--eval-every must be 0 (off) or a number of epochs, got {cfg.eval_every}")
    if cfg.eval_every:
        from gankit.metrics.domain import domain_datasets

        if cfg.dataset not in domain_datasets():
            raise GankitError(f"--eval-every needs a domain network, and there is none for {cfg.dataset}: gankit "
                              f"has them for {' and '.join(domain_datasets())}; evaluate other data afterwards "
                              "with `gankit evaluate RUN --features inception`")
    _check_self_condition(cfg)
    if cfg.channels not in (None, 1, 3):
        raise GankitError(f"--channels must be 1 or 3, got {cfg.channels}")
    if not all(0 <= b < 1 for b in cfg.betas):
        raise GankitError(f"betas must each be in [0, 1), got {list(cfg.betas)}")
    if cfg.seed < 0:
        raise GankitError(f"--seed must be zero or positive, got {cfg.seed}")
    from gankit.training.step import PRECISIONS

    if cfg.precision not in ("auto", *PRECISIONS):
        raise GankitError(f"unknown precision '{cfg.precision}': use auto, {', '.join(PRECISIONS)}")
    data.check_spec(cfg.dataset)
    models.check_options(cfg.model, models.options_of(cfg))
    losses.get(cfg.loss)
    from gankit.infra.device import check_device

    check_device(cfg.device)
    return cfg


def _check_self_condition(cfg: TrainConfig) -> None:
    k = cfg.self_condition
    if isinstance(k, bool) or not isinstance(k, int) or k < 0 or k == 1:
        raise GankitError(f"--self-condition is a number of clusters, 2 or more (0: off), got {k!r}")
    if k and cfg.conditional:
        raise GankitError("--self-condition clusters unlabelled images, --conditional uses the labels: choose one")
    if k and cfg.z_dim < 2:
        raise GankitError(f"--self-condition takes the cluster from the first noise coordinate: --z-dim must be "
                          f"2 or more, got {cfg.z_dim}")


def _check_stabilisers(cfg: TrainConfig) -> None:
    """Options that cannot apply to the chosen model are refused with the reason, never ignored."""
    from gankit.training.diffaugment import POLICIES

    for name in ("gp_weight", "r1_gamma"):
        if getattr(cfg, name) < 0:
            raise GankitError(f"--{name.replace('_', '-')} must be zero (off) or positive, got {getattr(cfg, name)}")
    if not 0 <= cfg.lr_decay <= 1:
        raise GankitError(f"--lr-decay is the fraction of the run over which the learning rates fall to 0, in [0, 1] "
                          f"(0: off), got {cfg.lr_decay}")
    if not 0 <= cfg.ema < 1:
        raise GankitError(f"--ema is the average's beta, in [0, 1) (0: off; 0.999 is usual), got {cfg.ema}")
    unknown = [p for p in cfg.augment.split(",") if p and p not in POLICIES]
    if unknown:
        raise GankitError(f"unknown --augment policy {', '.join(unknown)}: use a comma-separated choice of {', '.join(POLICIES)}")
    batch_norm_d = cfg.model != "mlp" and cfg.d_norm in (None, "batch")
    if batch_norm_d and (cfg.gp_weight or cfg.r1_gamma):
        raise GankitError("gradient penalties (--gp-weight, --r1-gamma) need a D without batch norm, whose "
                          "outputs depend on the rest of the batch: add --d-norm spectral or --d-norm none")


def check_resume(saved: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """A resumed run keeps its saved config; flags given again may only extend it (e.g. --epochs)."""
    changed = {k: v for k, v in overrides.items() if getattr(saved, k) != _coerce(k, v, "flags")}
    refused = sorted(set(changed) - RESUMABLE_OVERRIDES)
    if refused:
        raise GankitError(
            f"cannot change {', '.join(refused)} when resuming: the run was started with "
            + ", ".join(f"{k}={getattr(saved, k)!r}" for k in refused)
            + "; start a new run directory instead"
        )
    return validate(replace(saved, changed, source="flags"))


__all__ = ["TrainConfig", "PRESETS", "preset_config", "config_from", "load_toml", "replace", "validate", "check_resume"]
