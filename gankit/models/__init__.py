"""Generators and discriminators by name.

Every generator maps noise (N, z_dim) [and labels (N,) long] to images (N, C, H, W) in [-1, 1]; every
discriminator maps images [and labels] to one real-valued logit per image, shape (N,). With num_classes = 0
a model is unconditional and ignores labels; with num_classes > 0 it needs them.

Each model registers itself, with the options it takes, at the end of its module (`registry.register`). A model
may take options (`build("dcgan", shape, 100, width=32, norm="spectral")`, the builders' keywords; a config
names them by their keys, `width` and `d_norm`); each goes to the networks that declare it, and an option the
model does not have is an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

from gankit.infra.errors import GankitError
from gankit.models import dcgan, mlp  # noqa: F401  (each registers itself)
from gankit.models.registry import MODELS, Model, ModelOption, all_options, batch_norm_d, check_name, keywords, option

if TYPE_CHECKING:  # gankit.training.config imports this package
    from gankit.training.config import TrainConfig


def check_options(name: str, options: dict[str, Any]) -> None:
    """Refuse an unknown model, an option it does not have, or a bad option value (options keyed as in a config),
    before any work."""
    keywords(name, options)


def build(name: str, image_shape: tuple[int, int, int], z_dim: int, num_classes: int = 0,
          **options: Any) -> tuple[nn.Module, nn.Module]:
    """G and D of a model; options are the builders' keywords (`norm`, not the config's `d_norm`)."""
    check_name(name)
    model = MODELS[name]
    by_keyword = {o.keyword: o for o in model.options}
    unknown = [k for k in options if k not in by_keyword]
    if unknown:
        has = f"its options are {', '.join(by_keyword)}" if by_keyword else "it takes no options"
        raise GankitError(f"model {name} has no option {unknown[0]}: {has}")
    g, d = keywords(name, {by_keyword[k].key: v for k, v in options.items()})
    image_shape = tuple(image_shape)
    return model.generator(image_shape, z_dim, num_classes, **g), model.discriminator(image_shape, num_classes, **d)


def build_for(cfg: TrainConfig, image_shape: tuple[int, int, int], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """G and D as a run's config describes them. A self-conditioned run's pair is conditional on its clusters,
    with a G that samples without them (num_classes, the classes users ask for, is then 0)."""
    g, d = keywords(cfg.model, cfg.model_options)
    model, shape = MODELS[cfg.model], tuple(image_shape)
    if not cfg.self_condition:
        return model.generator(shape, cfg.z_dim, num_classes, **g), model.discriminator(shape, num_classes, **d)
    from gankit.models.self_conditioned import SelfConditionedGenerator

    k = cfg.self_condition
    return (SelfConditionedGenerator(model.generator(shape, cfg.z_dim - 1, k, **g), k),
            model.discriminator(shape, k, **d))


__all__ = ["MODELS", "Model", "ModelOption", "option", "all_options", "batch_norm_d", "check_name", "check_options",
           "build", "build_for"]
