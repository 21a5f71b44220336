"""Generators and discriminators by name.

Every generator maps noise (N, z_dim) [and labels (N,) long] to images (N, C, H, W) in [-1, 1]; every
discriminator maps images [and labels] to one real-valued logit per image, shape (N,). With num_classes = 0
a model is unconditional and ignores labels; with num_classes > 0 it needs them.

A model may take options (`build("dcgan", shape, 100, width=32, norm="spectral")`); each option goes to
the builders that declare it, and one that neither declares is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from torch import nn

from gankit.infra.errors import GankitError
from gankit.models import dcgan, mlp

if TYPE_CHECKING:  # gankit.training.config imports this package
    from gankit.training.config import TrainConfig

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class Model:
    generator: Builder  # (image_shape, z_dim, num_classes, **generator_options)
    discriminator: Builder  # (image_shape, num_classes, **discriminator_options)
    generator_options: tuple[str, ...] = ()
    discriminator_options: tuple[str, ...] = ()
    check_options: Callable[..., None] | None = None  # checks option values without building anything

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.generator_options + self.discriminator_options))


MODELS: dict[str, Model] = {
    "mlp": Model(mlp.Generator, mlp.Discriminator),
    # D's norm defaults to "batch", the DCGAN's own; norm="spectral" or "none" for penalty and hinge losses
    "dcgan": Model(dcgan.Generator, dcgan.Discriminator, ("width", "upsample", "refine"),
                   ("width", "norm", "minibatch_std"),
                   dcgan.check_options),
}


def check_name(name: str) -> None:
    if name not in MODELS:
        raise GankitError(f"unknown model '{name}': use one of {', '.join(sorted(MODELS))}")


def check_options(name: str, options: dict[str, Any]) -> None:
    """Refuse an unknown model, an option it does not have, or a bad option value, before any work."""
    check_name(name)
    model = MODELS[name]
    for key in options:
        if key not in model.options:
            has = f"its options are {', '.join(model.options)}" if model.options else "it takes no options"
            raise GankitError(f"model {name} has no option {key}: {has}")
    if model.check_options is not None:
        model.check_options(**options)


def build(name: str, image_shape: tuple[int, int, int], z_dim: int, num_classes: int = 0,
          **options: Any) -> tuple[nn.Module, nn.Module]:
    check_options(name, options)
    model = MODELS[name]
    image_shape = tuple(image_shape)
    g_options = {k: v for k, v in options.items() if k in model.generator_options}
    d_options = {k: v for k, v in options.items() if k in model.discriminator_options}
    return (model.generator(image_shape, z_dim, num_classes, **g_options),
            model.discriminator(image_shape, num_classes, **d_options))


# TrainConfig field -> model option; a field left at None keeps the model's default
CONFIG_OPTIONS = {"width": "width", "d_norm": "norm", "g_upsample": "upsample", "d_minibatch_std": "minibatch_std",
                  "g_refine": "refine"}


def options_of(cfg: TrainConfig) -> dict[str, Any]:
    """The model options a config sets (fields left at None are the model's defaults)."""
    return {option: getattr(cfg, field) for field, option in CONFIG_OPTIONS.items() if getattr(cfg, field) is not None}


def build_for(cfg: TrainConfig, image_shape: tuple[int, int, int], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """G and D as a run's config describes them. A self-conditioned run's pair is conditional on its clusters,
    with a G that samples without them (num_classes, the classes users ask for, is then 0)."""
    if not cfg.self_condition:
        return build(cfg.model, image_shape, cfg.z_dim, num_classes, **options_of(cfg))
    from gankit.models.self_conditioned import SelfConditionedGenerator

    G, D = build(cfg.model, image_shape, cfg.z_dim - 1, cfg.self_condition, **options_of(cfg))
    return SelfConditionedGenerator(G, cfg.self_condition), D
