"""The typed training config: presets by name, TOML loading, validation before any work starts.

A run is fully described by one `TrainConfig`; it is saved as `config.json` in the run directory and
inside every checkpoint, so any result can be reproduced from its run directory alone.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from gankit.infra.errors import GankitError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def option(default: Any, help: str, group: str, *, choices: Any = None, metavar: str | None = None,
           flag: str | None = None) -> Any:
    """A TrainConfig field and everything the command line says of it: the flag (`--name`, or `flag`), its help,
    its group in `gankit train --help`, and its choices (a tuple, or a zero-argument function that reads them
    where they are defined when the help is made)."""
    return field(default=default, metadata={"help": help, "group": group, "choices": choices, "metavar": metavar,
                                            "flag": flag})


def _registry(module: str, attr: str, first: tuple[str, ...] = ()) -> Callable[[], list[str]]:
    """The names `module.attr` defines, read when asked: a registry's keys sorted, a tuple's in its order."""
    def names() -> list[str]:
        import importlib

        found = getattr(importlib.import_module(module), attr)
        return [*first, *(sorted(found) if isinstance(found, dict) else found)]
    return names


GROUPS = ("data", "model", "loss and stabilisers", "optimisation", "evaluation during training", "output")


@dataclass
class TrainConfig:
    # what to learn
    preset: str = option("seed", "named recipe", "data", choices=_registry("gankit.training.config", "PRESETS"))
    dataset: str = option("mnist", "mnist, fashion-mnist, emoji, folder:PATH or npz:PATH; tables: adult or "
                                   "csv:PATH; sequences: sines, ucr:NAME or series:FILE", "data")
    data_dir: str | None = option(None, "where data sets are kept ($GANKIT_DATA or ~/.cache/gankit/data)", "data")
    limit: int | None = option(None, "train on the first N images only", "data", metavar="N")
    image_size: int | None = option(None, "resize folder: images to N x N", "data", metavar="N")
    channels: int | None = option(None, "1 (grayscale) or 3 (RGB), for folder: images", "data", choices=(1, 3))
    image_fit: str = option("crop", "how --image-size makes a non-square image square: crop (the centred square), "
                            "pad (black bars) or stretch", "data", choices=_registry("gankit.data.convert", "FITS"))
    image_cache: str = option("auto", "folder: images: decode them once into a file under the data dir and train "
                              "from it memory-mapped (disk: for folders larger than memory, and later runs start "
                              "at once), hold them in memory (memory), or disk when they would fill more than a "
                              "quarter of free memory (auto)", "data", choices=("auto", "disk", "memory"))
    max_image_pixels: int = option(4096 * 4096, "folder: images: refuse an image of more pixels than N before "
                                   "decoding it (a guard against decompression bombs)", "data", metavar="N")
    # the models and the game
    model: str = option("mlp", "generator/discriminator pair", "model", choices=_registry("gankit.models", "MODELS"))
    # the model's own options (width, d_norm, ...), declared beside the model and keyed as there; a key left out
    # takes the model's default. TOML files, flags and `gankit.train` give them flat (`width = 48`, `--width 48`)
    model_options: dict[str, Any] = field(default_factory=dict, metadata={"group": "model", "flag": None})
    conditional: bool = option(False, "train a class-conditional G and D on the labels", "model")
    self_condition: int = option(0, "unlabelled data: condition G and D on K clusters of the images, found without "
                                 "labels (self-conditioned GAN; 0: off)", "model", metavar="K")
    z_dim: int = option(100, "noise dimension", "model")
    loss: str = option("bce", "adversarial loss", "loss and stabilisers",
                       choices=_registry("gankit.training.losses", "LOSSES"))
    # stabilisers (all off in the seed preset)
    gp_weight: float = option(0.0, "WGAN-GP gradient penalty weight (e.g. 10 with --loss wasserstein; 0: off)",
                              "loss and stabilisers")
    r1_gamma: float = option(0.0, "R1 penalty gamma on real images (0: off)", "loss and stabilisers")
    ema: float = option(0.0, "beta of an EMA of G used for samples and evaluation (e.g. 0.999; 0: off)",
                        "loss and stabilisers")
    augment: str = option("", "DiffAugment policy for D's inputs: a comma-separated choice of color, translation, "
                          "cutout", "loss and stabilisers")
    mirror: bool = option(False, "flip each real image left to right with probability 1/2 (for data without a "
                          "handedness: faces, objects; not digits or text)", "loss and stabilisers")
    n_critic: int = option(1, "D steps per G step", "loss and stabilisers")
    lr_g: float | None = option(None, "G's learning rate (default: --lr)", "optimisation")
    lr_d: float | None = option(None, "D's learning rate (default: --lr); TTUR: lr_d > lr_g", "optimisation")
    lr_decay: float = option(0.0, "let both learning rates fall linearly to 0 over the last FRACTION of the run, by "
                             "epochs or --minutes, whichever ends first (0: constant)", "optimisation",
                             metavar="FRACTION")
    # the optimisation
    epochs: int = option(100, "total epochs, also when resuming", "optimisation")
    minutes: float | None = option(None, "wall-clock budget: stop after M minutes of training (--self-condition's "
                                   "clustering included)", "optimisation", metavar="M")
    batch_size: int = option(64, "images per step", "optimisation")
    lr: float = option(2e-4, "Adam learning rate for G and D", "optimisation")
    betas: tuple[float, float] = option((0.5, 0.999), "Adam's beta1 and beta2", "optimisation", metavar="B")
    seed: int = option(0, "random seed", "optimisation")
    device: str = option("auto", "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps", "optimisation")
    precision: str = option("fp32", "bf16: autocast (fast on GPUs and on CPUs with AMX or AVX512_BF16); auto: bf16 "
                            "where it is fast, fp32 elsewhere", "optimisation",
                            choices=_registry("gankit.training.step", "PRECISIONS", first=("auto",)))
    compile: bool = option(False, "compile G and D with torch.compile", "optimisation")
    channels_last: bool = option(False, "hold conv models' weights and activations channels-last (NHWC), the "
                                 "layout oneDNN's CPU convolutions run fastest in", "optimisation")
    # evaluation during training (domain features, against a validation slice of the training split)
    eval_every: int = option(0, "score FID, KID, precision/recall and classes every K epochs against a validation "
                             "slice; keep checkpoints/best.pt by FID (0: off)", "evaluation during training",
                             metavar="K")
    eval_n: int = option(2000, "generated and validation images per evaluation", "evaluation during training")
    eval_holdout: int | None = option(None, "training images (a fixed random slice) kept out of training as the "
                                      "validation set when --eval-every is on (default: 5,000, or a tenth of a set "
                                      "smaller than 50,000)", "evaluation during training")
    on_divergence: str = option("warn", "on NaN/inf: warn, or roll back to the last checkpoint's weights with half "
                                "the learning rates", "evaluation during training",
                                choices=_registry("gankit.training.health", "ON_DIVERGENCE"))
    # what the run leaves behind
    grid_size: int = option(64, "images in each epoch's sample grid, from one fixed noise batch", "output")
    log_every: int = option(50, "steps between progress updates and rows of steps.csv", "output")
    tensorboard: bool = option(False, "also write TensorBoard events", "output")
    progress: bool = option(True, "show a progress bar", "output", flag="--no-progress")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        return replace(cls(), d, source="saved config")


# Each preset is a set of overrides on the defaults; the defaults themselves are the tutorial's recipe (`seed`).
# A run that names no preset trains DEFAULT_PRESET.
DEFAULT_PRESET = "best"
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
    # recall kept (G had two layers after its projection; the conv costs 18% of the steps). It is the default
    # preset, with a first try's budget: 30 epochs or 15 minutes, whichever ends first (15 CPU-minutes on MNIST:
    # FID 1.5x to 2.1x the real-data floor, all 10 digits)
    "best": {"model": "dcgan", "width": 48, "d_norm": "spectral", "loss": "least-squares", "lr": 1e-3,
             "betas": (0.0, 0.99), "ema": 0.999, "epochs": 30, "self_condition": 13, "lr_decay": 0.5,
             "g_refine": 1, "precision": "auto", "minutes": 15.0},
    # best's recipe, class-conditional: a per-class gain and bias in every batch norm of G (conditional batch
    # norm), a projection D. G's first design, a label embedding concatenated to z, collapsed within each class
    # with this recipe and with hinge / lr 2e-4 alike (3-minute probes: recall 0.00 there, 0.73 here)
    "best-cond": {"model": "dcgan", "width": 48, "d_norm": "spectral", "loss": "least-squares", "lr": 1e-3,
                  "betas": (0.0, 0.99), "ema": 0.999, "epochs": 30, "lr_decay": 0.5, "g_refine": 1,
                  "precision": "auto", "conditional": True},
    # small RGB image folders (32 x 32 by default; 64 and 128 with --image-size): DiffAugment for few images, and
    # best's Adam (1e-3, betas 0 and 0.99) at width 32. 4-minute probes on emoji at 64 x 64 (FID of 1,000 EMA
    # samples against the 3,786 emoji): width 64 at Adam 2e-4 (0.5, 0.999) 368; width 32, 312 (3.3x the steps);
    # width 32 with best's Adam, 257. bf16 where it is fast, as best: emoji at 64 x 64 for 15 minutes on a 2-core
    # Xeon with AMX, 1.26x the images/s, 147 epochs to FID 89.9 against fp32's 128 to 98.7
    # (emoji_vs_dcgan_64_amx_bf16.json beside emoji_vs_dcgan_64_amx.json)
    "rgb": {"model": "dcgan", "width": 32, "d_norm": "spectral", "loss": "hinge", "lr": 1e-3, "betas": (0.0, 0.99),
            "ema": 0.999, "image_size": 32, "channels": 3, "augment": "color,translation,cutout", "epochs": 200,
            "precision": "auto"},
}

# Preset values that depend on the image size, taken where no config file or option sets them. rgb keeps the
# channel counts of its 32 x 32 model at every size (128 on the 4 x 4 map, halving each stage), so a larger
# image costs one cheap stage more, not 4x the FLOPs of doubled channels: 4-minute probes on emoji at 64 x 64
# (benchmarks/emoji_vs_dcgan.py -n 1000 --minutes 4): width 32, 9 epochs, FID 282; width 16, 23 epochs, FID 185.
# At 64 x 64 one 3x3 conv on G's 4 x 4 map as well: FID 159.7 -> 145.7 in 4-minute probes of their own, run on a
# faster machine than those above (emoji_recipe_probes_64.json)
# At 64 x 64 also batch 32 and the least-squares loss: 4-minute probes on one EPYC, 190.2 (hinge, batch 32) ->
# 167.3 (least squares, batch 32); batch 32 beat 64 in three probes on two machines, batch 16 lost to it
# (emoji_recipe_probes_64_lsq.json); 15 minutes beside pytorch/examples' DCGAN: FID 100.6 against its 292.8
# (emoji_vs_dcgan_64_lsq.json)
# At 64 x 64 DiffAugment without cutout: 22-epoch probes on one EPYC, 186.7 -> 157.2, the best of six flags
# there (minibatch std 167.9, lr decay 182.2; emoji_recipe_probes_64_e22.json), though at 6 epochs of the
# earlier width-64 model cutout had won (emoji_probes_64.json); 32 px keeps cutout, not probed without it
PRESET_BY_IMAGE_SIZE = {"rgb": {64: {"width": 16, "g_refine": 1, "batch_size": 32, "loss": "least-squares",
                                     "augment": "color,translation"},
                                128: {"width": 8}}}

# Options a resumed run may change: everything else must equal what the run started with.
RESUMABLE_OVERRIDES = {"epochs", "minutes", "device", "compile", "progress", "log_every", "tensorboard", "data_dir",
                       "on_divergence", "max_image_pixels"}

_FIELDS = {f.name: f for f in fields(TrainConfig)}


def _model_option(name: str) -> Any:
    from gankit.models import option

    return option(name)


def option_kind(name: str) -> type:
    """The Python type of an option's values: its default's, or for a field whose default is None (the model's own
    default, say), the type its annotation names; a model option's as the model declares it."""
    if name not in _FIELDS:
        return _model_option(name).kind
    f = _FIELDS[name]
    if f.default is not None:
        return type(f.default)
    return {"int": int, "float": float, "str": str, "bool": bool}[str(f.type).split("|")[0].strip()]


def option_choices(name: str) -> list | None:
    choices = _FIELDS[name].metadata.get("choices") if name in _FIELDS else _model_option(name).choices
    return list(choices()) if callable(choices) else (list(choices) if choices is not None else None)


@dataclass(frozen=True)
class Flag:
    """One `gankit train` flag: a TrainConfig field's, or a model option's."""
    name: str
    flag: str
    kind: type
    default: Any
    help: str
    group: str
    metavar: str | None


def flags() -> list[Flag]:
    """The flags of every TrainConfig field, with the model options in the place of `model_options`."""
    from gankit.models import all_options

    found = []
    for f in fields(TrainConfig):
        if f.name != "model_options":
            found.append(Flag(f.name, f.metadata.get("flag") or "--" + f.name.replace("_", "-"), option_kind(f.name),
                              f.default, flag_help(f.name), f.metadata["group"], f.metadata.get("metavar")))
            continue
        for key in all_options():
            o = _model_option(key)
            found.append(Flag(key, "--" + key.replace("_", "-"), o.kind, None, flag_help(key), "model", o.metavar))
    return found


def flag_help(name: str) -> str:
    """An option's help for `gankit train --help`: what it does, its choices, its default and the presets that
    override that default. A model option's says which models take it and each one's default."""
    if name in _FIELDS:
        f = _FIELDS[name]
        text, default = f.metadata["help"], f.default
    else:
        from gankit.models import MODELS, all_options

        takers = all_options()[name]
        text = f"{', '.join(takers)}: {_model_option(name).help}"
        default = None
        defaults = ", ".join(f"{m} {_shown(MODELS[m].option(name).default)}" for m in takers)
    if (choices := option_choices(name)) is not None:
        text += f"; one of {', '.join(map(str, choices))}"
    if default not in (None, "", False) and not isinstance(default, bool):
        text += f" (default: {_shown(default)})"
    elif name not in _FIELDS and option_kind(name) is not bool:
        text += f" (default: {defaults})"
    overridden = [f"{preset} {_shown(values[name])}" for preset, values in PRESETS.items() if name in values]
    if overridden:
        text += f" [presets: {', '.join(overridden)}]"
    return text.replace("%", "%%")  # argparse formats help with %


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(f"{v:g}" for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def preset_config(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise GankitError(f"unknown preset '{name}': use one of {', '.join(sorted(PRESETS))}")
    return replace(TrainConfig(preset=name), PRESETS[name], source=f"preset '{name}'")


def config_from(preset: str = DEFAULT_PRESET, config_file: str | Path | None = None,
                options: dict[str, Any] | None = None, source: str = "options") -> TrainConfig:
    """A run's config as the CLI and `gankit.train` build it: the preset, then a TOML file, then options."""
    cfg = preset_config(preset)
    options = options or {}
    given = set(options)  # the option names a file or the caller set: the size rules leave these alone
    if config_file is not None:
        from_file = load_toml(config_file)
        cfg = replace(cfg, from_file, source=str(config_file))
        given |= set(from_file)
    cfg = replace(cfg, options, source=source)
    by_size = PRESET_BY_IMAGE_SIZE.get(preset, {}).get(cfg.image_size, {})
    by_size = {k: v for k, v in by_size.items() if k not in given}
    return replace(cfg, by_size, source=f"preset '{preset}' at {cfg.image_size} px") if by_size else cfg


def load_toml(path: str | Path) -> dict[str, Any]:
    """The options of a TOML file: its top-level keys, or those of a [train] table."""
    path = Path(path)
    shown = _short(str(path))
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise GankitError(f"config file {shown} not found: check the path given to --config") from None
    except IsADirectoryError:
        raise GankitError(f"config file {shown} is a directory: give --config a TOML file") from None
    except OSError as e:
        raise GankitError(f"cannot read config file {shown} ({e.strerror or e}): check the path given to --config") \
            from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GankitError(f"config file {shown} is not valid TOML ({_short(str(e), 100)}): fix the syntax") from None
    except RecursionError:
        raise GankitError(f"config file {shown} nests arrays or tables too deeply: gankit's options are flat "
                          "keys (a [train] table at most)") from None
    # A [train] table is allowed so one file can later hold other sections too.
    options = data.get("train", data)
    if not isinstance(options, dict):
        raise GankitError(f"config file {shown}: train must be a table of options ([train]), got "
                          f"{_short(repr(options))}: write the options under [train] or at the top level")
    return dict(options)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def replace(cfg: TrainConfig, overrides: dict[str, Any], source: str = "options") -> TrainConfig:
    """Return cfg with overrides applied, each checked for name and type. A model option (`width`) goes into
    `model_options`; given None, it is taken out (back to the model's default)."""
    values: dict[str, Any] = {}
    model_options = dict(cfg.model_options)
    for key, value in overrides.items():
        key = key.replace("-", "_")
        if key == "model_options":
            if not isinstance(value, dict):
                raise GankitError(f"option 'model_options' in {source} must be a table of model options, got "
                                  f"{value!r}")
            for k, v in value.items():
                _set_model_option(model_options, k.replace("-", "_"), v, source)
        elif key in _FIELDS:
            values[key] = _coerce(key, value, source)
        elif _model_option(key) is not None:
            _set_model_option(model_options, key, value, source)
        else:
            raise GankitError(f"unknown option '{key}' in {source}: see `gankit train --help` for the options")
    return dataclasses.replace(cfg, **values, model_options=model_options)


def _set_model_option(model_options: dict[str, Any], key: str, value: Any, source: str) -> None:
    if _model_option(key) is None:
        raise GankitError(f"unknown model option '{key}' in {source}: see `gankit train --help` for the options")
    if value is None:
        model_options.pop(key, None)
    else:
        model_options[key] = _coerce(key, value, source)


def value_of(cfg: TrainConfig, key: str) -> Any:
    """A field's value, or a model option's (None where the model's default applies)."""
    return getattr(cfg, key) if key in _FIELDS else cfg.model_options.get(key)


MAX_INT = 2**31 - 1  # no count or size gankit takes comes near this; larger values only overflow somewhere
MAX_SEED = 2**32 - 1  # what numpy and scikit-learn accept as a seed


def _coerce(key: str, value: Any, source: str) -> Any:
    """`value` as the option's type; refused unless it already is one (an int for a float is fine, a whole float
    for an int too), and ints beyond what any size or seed can be."""
    default, kind = (_FIELDS[key].default if key in _FIELDS else None), option_kind(key)
    if value is None:
        if default is None:
            return None
        raise GankitError(f"option '{key}' in {source} needs a value")
    if kind is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_is_number(v) for v in value):
            raise _wrong_type(key, "pair of numbers", value, source)
        return tuple(float(v) for v in value)
    ok = {bool: isinstance(value, bool), str: isinstance(value, str),
          float: _is_number(value),
          int: _is_number(value) and (isinstance(value, int) or float(value).is_integer())}[kind]
    if not ok:
        raise _wrong_type(key, kind.__name__, value, source)
    limit = MAX_SEED if key == "seed" else MAX_INT
    if (kind is int and abs(value) > limit) or (kind is float and isinstance(value, int) and abs(value) > 1e300):
        raise GankitError(f"option '{key}' in {source} is {_short(str(value), 30)}, beyond any usable value: "
                          f"give at most {limit if kind is int else '1e300'}")
    return kind(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _wrong_type(key: str, kind: str, value: Any, source: str) -> GankitError:
    return GankitError(f"option '{key}' in {source} must be a {kind}, got {_short(repr(value), 60)}")


def validate(cfg: TrainConfig, check_data: bool = True) -> TrainConfig:
    """Refuse invalid values before any work starts. Names of models, losses and data sets are
    checked against their registries here too, so a typo costs no data loading."""
    from gankit import data, models
    from gankit.training import losses

    def positive(name: str) -> None:
        value = getattr(cfg, name)
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise GankitError(f"--{name.replace('_', '-')} must be positive, got {value}")

    if cfg.preset not in PRESETS:  # also names the default run directory: never a path
        raise GankitError(f"unknown preset {_short(repr(cfg.preset), 40)}: use one of {', '.join(sorted(PRESETS))}")
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise GankitError(f"--{f.name.replace('_', '-')} must be a finite number, got {value}")
    for name in ("epochs", "batch_size", "lr", "z_dim", "grid_size", "log_every", "limit", "minutes", "image_size",
                 "eval_n", "eval_holdout", "lr_g", "lr_d", "n_critic", "max_image_pixels"):
        positive(name)
    _check_stabilisers(cfg)
    from gankit.training.health import ON_DIVERGENCE

    if cfg.on_divergence not in ON_DIVERGENCE:
        raise GankitError(f"unknown --on-divergence '{cfg.on_divergence}': use warn or rollback")
    if cfg.eval_every < 0:
        raise GankitError(f"--eval-every must be 0 (off) or a number of epochs, got {cfg.eval_every}")
    _check_self_condition(cfg)
    from gankit.data.convert import FITS

    if cfg.image_fit not in FITS:
        raise GankitError(f"unknown --image-fit {cfg.image_fit!r}: use {', '.join(FITS)}")
    if cfg.channels not in (None, 1, 3):
        raise GankitError(f"--channels must be 1 or 3, got {cfg.channels}")
    if not all(0 <= b < 1 for b in cfg.betas):
        raise GankitError(f"betas must each be in [0, 1), got {list(cfg.betas)}")
    if cfg.seed < 0:
        raise GankitError(f"--seed must be zero or positive, got {cfg.seed}")
    from gankit.training.step import PRECISIONS

    if cfg.precision not in ("auto", *PRECISIONS):
        raise GankitError(f"unknown precision '{cfg.precision}': use auto, {', '.join(PRECISIONS)}")
    if check_data:  # not for a run given its images in memory: its data.npz is written with the run
        data.check_spec(cfg.dataset)
    models.check_options(cfg.model, cfg.model_options)
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
    from gankit import models

    if models.batch_norm_d(cfg.model, cfg.model_options) and (cfg.gp_weight or cfg.r1_gamma):
        raise GankitError("gradient penalties (--gp-weight, --r1-gamma) need a D without batch norm, whose "
                          "outputs depend on the rest of the batch: add --d-norm spectral or --d-norm none")


def check_resume(saved: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """A resumed run keeps its saved config; flags given again may only extend it (e.g. --epochs)."""
    changed = {k: v for k, v in overrides.items() if value_of(saved, k) != _coerce(k, v, "flags")}
    refused = sorted(set(changed) - RESUMABLE_OVERRIDES)
    if refused:
        raise GankitError(
            f"cannot change {', '.join(refused)} when resuming: the run was started with "
            + ", ".join(f"{k}={getattr(saved, k)!r}" for k in refused)
            + "; start a new run directory instead"
        )
    return validate(replace(saved, changed, source="flags"))


__all__ = ["TrainConfig", "PRESETS", "preset_config", "config_from", "load_toml", "replace", "validate", "check_resume"]


def load_options(cfg: TrainConfig) -> dict[str, Any]:
    """How the run loads its images (size, channels, fit), where it changes them: real images to compare
    with its samples are loaded the same way. Empty for data used as they are."""
    if cfg.image_size is None and cfg.channels is None:
        return {}
    return {"image_size": cfg.image_size, "channels": cfg.channels, "fit": cfg.image_fit}

