"""The tutorial's multilayer perceptrons, layer for layer (its section 6.3).

The only change: the discriminator returns the logit and leaves the sigmoid to the loss
(`BCEWithLogitsLoss` is the same function, but stays finite where sigmoid + BCELoss saturates).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Generator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), z_dim: int = 100, num_classes: int = 0):
        super().__init__()
        if num_classes:
            raise ValueError("the mlp generator is unconditional")
        self.image_shape = tuple(image_shape)
        self.z_dim = z_dim
        self.num_classes = 0
        self.model = nn.Sequential(
            nn.Linear(z_dim, 256),
            nn.ReLU(),
            nn.Linear(256, 512),
            nn.ReLU(),
            nn.Linear(512, 1024),
            nn.ReLU(),
            nn.Linear(1024, math.prod(image_shape)),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(z).view(z.shape[0], *self.image_shape)


class Discriminator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 0):
        super().__init__()
        if num_classes:
            raise ValueError("the mlp discriminator is unconditional")
        self.image_shape = tuple(image_shape)
        self.model = nn.Sequential(
            nn.Linear(math.prod(image_shape), 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(x.reshape(x.shape[0], -1)).squeeze(1)
