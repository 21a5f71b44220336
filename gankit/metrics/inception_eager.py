"""The pinned Inception network rebuilt as an eager PyTorch module from the TorchScript file's own weights.

The TorchScript module runs each layer as convolution, then batch norm (frozen, no scale, eps 1e-3), then
ReLU, in three passes over every activation. Here the batch norm is folded into the convolution (weight *
1/sqrt(var + eps), bias beta - mean/sqrt(var + eps)) and the whole network runs channels-last, which the CPU's
convolution kernels prefer: 1.5x the TorchScript module's images per second on a 2-core Xeon with AVX-512
(benchmarks/inception_speed.py). Folding changes only the rounding: features agree with the TorchScript
module's to about 1e-5 of the largest (tests/metrics/test_inception.py).

The layout is read from the TorchScript module, block by block: its children, their order, each layer's
stride and padding, and the pools as its code has them. The pools inside blocks are 3x3; an average pool
there leaves the padding out of its mean, as TensorFlow's does (count_include_pad=False).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

BN_EPS = 1e-3  # the TF graph's, as its TorchScript layers pass it to batch_norm
STEM = ("conv", "conv_1", "conv_2", "pool0", "conv_3", "conv_4", "pool1")
BLOCKS = tuple(["mixed"] + [f"mixed_{i}" for i in range(1, 11)])


class FoldedConv(nn.Module):
    """conv -> frozen batch norm -> ReLU as one convolution with a bias, then ReLU."""

    def __init__(self, layer: torch.jit.ScriptModule):
        super().__init__()
        weight = layer.weight.detach().double()
        scale = (layer.var.detach().double() + BN_EPS).rsqrt()
        self.conv = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), stride=layer.stride,
                              padding=layer.padding)
        with torch.no_grad():
            self.conv.weight.copy_(weight * scale[:, None, None, None])
            self.conv.bias.copy_(layer.beta.detach().double() - layer.mean.detach().double() * scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x), inplace=True)


def convert(layer: torch.jit.ScriptModule) -> nn.Module:
    """The eager equivalent of one scripted layer, tower or block."""
    kind = layer.original_name
    if kind == "Conv2dLayer":
        return FoldedConv(layer)
    if kind == "MaxPool2d":
        return nn.MaxPool2d(3, layer.stride, layer.padding)
    if kind == "AvgPool2d":
        return nn.AvgPool2d(3, layer.stride, layer.padding, count_include_pad=False)
    if kind == "Sequential":
        return nn.Sequential(*(convert(child) for _, child in layer.named_children()))
    if kind in ("InceptionA", "InceptionB", "InceptionC", "InceptionD"):
        return Concat([convert(child) for _, child in layer.named_children()])
    if kind == "InceptionE":
        return InceptionE(layer)
    raise ValueError(f"unexpected layer {kind} in the Inception file")


class Concat(nn.Module):
    """Branches side by side, their outputs concatenated along the channels in the order of the block's
    children (the order its TorchScript code concatenates them in)."""

    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], 1)


class InceptionE(nn.Module):
    """The last blocks: two of their towers split into a 1x3 and a 3x1 convolution side by side."""

    PARTS = ("conv", "tower_conv", "tower_mixed_conv", "tower_mixed_conv_1", "tower_1_conv", "tower_1_conv_1",
             "tower_1_mixed_conv", "tower_1_mixed_conv_1", "tower_2_pool", "tower_2_conv")

    def __init__(self, layer: torch.jit.ScriptModule):
        super().__init__()
        for name in self.PARTS:
            setattr(self, name, convert(getattr(layer, name)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        return torch.cat([self.conv(x), self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
                          self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
                          self.tower_2_conv(self.tower_2_pool(x))], 1)


class EagerInception(nn.Module):
    """(B, 3, 299, 299) in the graph's input range -> (B, 2048) pool features, as the TorchScript module."""

    def __init__(self, scripted: torch.jit.ScriptModule):
        super().__init__()
        layers = scripted.net.layers
        self.net = nn.Sequential(*(convert(getattr(layers, name)) for name in STEM + BLOCKS), nn.AvgPool2d(8))
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 3:
            raise ValueError(f"Inception takes 3 channels, got {x.shape[1]}")
        return self.net(x).reshape(-1, 2048)


def from_scripted(scripted: torch.jit.ScriptModule, device: torch.device) -> EagerInception:
    """The eager network on `device`, channels-last."""
    return EagerInception(scripted).to(device).to(memory_format=torch.channels_last)
