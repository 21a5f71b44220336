"""Generators and discriminators by name.

Every generator maps noise (N, z_dim) [and labels] to images (N, C, H, W) in [-1, 1]; every
discriminator maps images [and labels] to one real-valued logit per image, shape (N,).
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from gankit.errors import GankitError
from gankit.models import mlp

# name -> (build_generator, build_discriminator); each takes (image_shape, z_dim, num_classes).
Builder = Callable[..., nn.Module]
MODELS: dict[str, tuple[Builder, Builder]] = {
    "mlp": (mlp.Generator, mlp.Discriminator),
}


def check_name(name: str) -> None:
    if name not in MODELS:
        raise GankitError(f"unknown model '{name}': use one of {', '.join(sorted(MODELS))}")


def build(name: str, image_shape: tuple[int, int, int], z_dim: int, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    check_name(name)
    make_g, make_d = MODELS[name]
    return make_g(image_shape, z_dim, num_classes), make_d(image_shape, num_classes)
