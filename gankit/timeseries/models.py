"""The networks of the two sequence recipes. Every series is (batch, T, F), min-max scaled to [0, 1].

- `conv` (gankit's recipe): G maps one noise vector (and a class) through linear upsampling and 1-D
  convolutions to the whole series; D is a strided 1-D conv critic with spectral norm, a minibatch-std
  channel (so it can see a batch that lacks variety) and a projection head for the class.
- `timegan` (Yoon, Jarrett & van der Schaar, NeurIPS 2019, as its released code builds it): five GRU
  networks: embedder and recovery (a learned latent space and back), generator and supervisor (a latent
  sequence from per-step noise, and its next step), and a per-step discriminator on latent sequences.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm


def upsampling_stages(length: int) -> int:
    """How many times G doubles its sequence: the first stage has about 4 to 8 steps, at most 4 doublings."""
    return max(0, min(4, int(math.log2(max(length, 1) / 4))))


class ConvGenerator(nn.Module):
    def __init__(self, length: int, features: int, z_dim: int = 64, width: int = 128, num_classes: int = 0):
        super().__init__()
        self.length, self.z_dim, self.num_classes = length, z_dim, num_classes
        stages = upsampling_stages(length)
        self.start = math.ceil(length / 2 ** stages)
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        self.fc = nn.Linear(z_dim * (2 if num_classes else 1), width * self.start)
        layers, c = [], width
        for _ in range(stages):
            c_out = max(32, c // 2)  # channels halve per doubling, as the image models do
            layers += [nn.Upsample(scale_factor=2, mode="linear", align_corners=False),
                       nn.Conv1d(c, c_out, 5, padding=2), nn.GroupNorm(8, c_out), nn.LeakyReLU(0.2)]
            c = c_out
        layers += [nn.Conv1d(c, c, 5, padding=2), nn.GroupNorm(8, c), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv1d(c, features, 5, padding=2)
        self.width = width

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)
        h = F.leaky_relu(self.fc(z), 0.2).view(len(z), self.width, self.start)
        x = torch.sigmoid(self.out(self.body(h)))[:, :, :self.length]
        return x.transpose(1, 2)  # (batch, T, F)


class ConvDiscriminator(nn.Module):
    def __init__(self, length: int, features: int, width: int = 128, num_classes: int = 0):
        super().__init__()
        stages = upsampling_stages(length)
        c = max(32, width // 2 ** stages)
        layers, t = [spectral_norm(nn.Conv1d(features + 1, c, 5, padding=2)), nn.LeakyReLU(0.2)], length
        for _ in range(stages):
            c_out = min(width, c * 2)
            layers += [spectral_norm(nn.Conv1d(c, c_out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            c, t = c_out, t // 2
        layers += [spectral_norm(nn.Conv1d(c, c, 3, padding=1)), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Linear(c * t, 256))
        self.score = spectral_norm(nn.Linear(256, 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, 256)) if num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = x.transpose(1, 2)  # (batch, F, T)
        # minibatch std: one channel holding the batch's mean spread, which a collapsed G cannot fake
        spread = x.std(dim=0).mean().expand(len(x), 1, x.shape[2])
        h = F.leaky_relu(self.head(self.body(torch.cat([x, spread], dim=1)).flatten(1)), 0.2)
        out = self.score(h).squeeze(1)
        if self.embed is not None:  # projection (Miyato & Koyama 2018): the class as a direction in h
            out = out + (self.embed(labels) * h).sum(1)
        return out


class Recurrent(nn.Module):
    """A GRU stack and a per-step linear layer (sigmoid on latents and data, as TimeGAN's networks)."""

    def __init__(self, d_in: int, hidden: int, d_out: int, layers: int, sigmoid: bool = True):
        super().__init__()
        self.gru = nn.GRU(d_in, hidden, num_layers=max(1, layers), batch_first=True)
        self.fc, self.sigmoid = nn.Linear(hidden, d_out), sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(self.gru(x)[0])
        return torch.sigmoid(y) if self.sigmoid else y


class TimeGANNets(nn.Module):
    """Released defaults: GRU, hidden 24, 3 layers; the noise has F dimensions per step, drawn from U(0, 1)."""

    def __init__(self, features: int, hidden: int = 24, layers: int = 3):
        super().__init__()
        self.z_dim = features
        self.embedder = Recurrent(features, hidden, hidden, layers)
        self.recovery = Recurrent(hidden, hidden, features, layers)
        self.generator = Recurrent(features, hidden, hidden, layers)
        self.supervisor = Recurrent(hidden, hidden, hidden, layers - 1)
        self.discriminator = Recurrent(hidden, hidden, 1, layers, sigmoid=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Noise (batch, T, F) -> synthetic series (batch, T, F)."""
        return self.recovery(self.supervisor(self.generator(z)))
