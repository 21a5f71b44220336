"""The tutorial's multilayer perceptrons, layer for layer (its section 6.3).

The only change: the discriminator returns the logit and leaves the sigmoid to the loss
(`BCEWithLogitsLoss` is the same function, but stays finite where sigmoid + BCELoss saturates).
With `num_classes` > 0 they are class-conditional: G concatenates a label embedding to z, and D adds the
projection term <embed(y), h> on its last hidden layer (Miyato & Koyama 2018). Unconditional, nothing
conditional is built: the parameters, their initialisation and the outputs are the tutorial's.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.infra.errors import GankitError
from gankit.models.registry import register

LABEL_DIM = 64  # width of G's label embedding, concatenated to z


class Generator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), z_dim: int = 100, num_classes: int = 0):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.z_dim = z_dim
        self.num_classes = num_classes
        self.model = nn.Sequential(
            nn.Linear(z_dim + (LABEL_DIM if num_classes else 0), 256),
            nn.ReLU(),
            nn.Linear(256, 512),
            nn.ReLU(),
            nn.Linear(512, 1024),
            nn.ReLU(),
            nn.Linear(1024, math.prod(image_shape)),
            nn.Tanh(),
        )
        self.embed = nn.Embedding(num_classes, LABEL_DIM) if num_classes else None

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(_required(labels, "generator", self.num_classes))], dim=1)
        return self.model(z).view(z.shape[0], *self.image_shape)


class Discriminator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 0):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.model = nn.Sequential(
            nn.Linear(math.prod(image_shape), 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
        )
        self.embed = None
        if num_classes:  # made after the layers, so a seed gives them the unconditional model's weights
            self.embed = nn.Embedding(num_classes, 256)
            bound = 1 / math.sqrt(256)  # the output layer's own init range: neither term dominates at the start
            nn.init.uniform_(self.embed.weight, -bound, bound)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)
        if self.embed is None:
            return self.model(x).squeeze(1)
        h = self.model[:-1](x)
        y = self.embed(_required(labels, "discriminator", self.num_classes))
        return self.model[-1](h).squeeze(1) + (y * h).sum(dim=1)


def _required(labels: torch.Tensor | None, what: str, num_classes: int) -> torch.Tensor:
    if labels is None:
        raise GankitError(f"this {what} is conditional ({num_classes} classes): pass labels, a (N,) long tensor")
    return labels


register("mlp", Generator, Discriminator)
