"""The models by name, each registered beside its classes with the options it takes.

A model module ends with `register(name, Generator, Discriminator, options=(...))`. Each `ModelOption` says
everything about one option: its config key and flag (`d_norm`, `--d-norm`), the builder keyword it becomes
(`norm`), the networks that take it, its type, default, help and choices. `TrainConfig`, the TOML files and the
command line read options from here, so adding one is one line beside the model (plus its test).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from gankit.infra.errors import GankitError

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelOption:
    key: str  # the config key; the flag is --key with - for _
    kind: type
    default: Any
    help: str
    nets: str  # the networks that take it: "G", "D" or "GD"
    arg: str = ""  # the builders' keyword (default: the key)
    choices: tuple | None = None
    metavar: str | None = None

    @property
    def keyword(self) -> str:
        return self.arg or self.key


@dataclass(frozen=True)
class Model:
    generator: Builder  # (image_shape, z_dim, num_classes, **generator keywords)
    discriminator: Builder  # (image_shape, num_classes, **discriminator keywords)
    options: tuple[ModelOption, ...] = ()
    check: Callable[..., None] | None = None  # checks builder keywords' values without building anything
    # whether D, with these config options, normalises by batch statistics (then gradient penalties are undefined)
    batch_norm_d: Callable[[dict[str, Any]], bool] | None = None

    def option(self, key: str) -> ModelOption | None:
        return next((o for o in self.options if o.key == key), None)


MODELS: dict[str, Model] = {}


def register(name: str, generator: Builder, discriminator: Builder, options: tuple[ModelOption, ...] = (),
             check: Callable[..., None] | None = None,
             batch_norm_d: Callable[[dict[str, Any]], bool] | None = None) -> None:
    for o in options:  # one key means one thing across models, so one flag can serve them all
        other = option(o.key)
        if other is not None and other.kind is not o.kind:
            raise TypeError(f"model {name}: option {o.key} is a {o.kind.__name__} here, a {other.kind.__name__} "
                            "elsewhere")
    MODELS[name] = Model(generator, discriminator, options, check, batch_norm_d)


def option(key: str) -> ModelOption | None:
    """The option of this config key, as the first model that declares it has it; None if no model does."""
    return next((m.option(key) for m in MODELS.values() if m.option(key) is not None), None)


def all_options() -> dict[str, list[str]]:
    """Every option key, with the models that take it, in the order the models declare them."""
    found: dict[str, list[str]] = {}
    for name, model in MODELS.items():
        for o in model.options:
            found.setdefault(o.key, []).append(name)
    return found


def check_name(name: str) -> None:
    if name not in MODELS:
        raise GankitError(f"unknown model '{name}': use one of {', '.join(sorted(MODELS))}")


def keywords(name: str, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Config options (keyed as in the config) as the generator's and the discriminator's builder keywords;
    an option the model does not take, or a bad value, is refused before anything is built."""
    check_name(name)
    model = MODELS[name]
    g: dict[str, Any] = {}
    d: dict[str, Any] = {}
    for key, value in options.items():
        o = model.option(key)
        if o is None:
            has = f"its options are {', '.join(x.key for x in model.options)}" if model.options else \
                "it takes no options"
            raise GankitError(f"model {name} has no option {key}: {has}")
        if "G" in o.nets:
            g[o.keyword] = value
        if "D" in o.nets:
            d[o.keyword] = value
    if model.check is not None:
        model.check(**{**g, **d})
    return g, d


def batch_norm_d(name: str, options: dict[str, Any]) -> bool:
    check_name(name)
    rule = MODELS[name].batch_norm_d
    return bool(rule and rule(options))
