"""DCGAN (Radford et al. 2015) for 28x28, 32x32, 64x64 and 128x128 images, unconditional or class-conditional.

G: z -> linear -> an s x s map (s = 7 for 28x28, 4 otherwise) -> stride-2 transposed convs (or, with
upsample="nearest", nearest-neighbour upsampling and 3x3 convs), each doubling the side and halving the
channels, with BatchNorm + ReLU; Tanh out. A conditional G takes the label through every BatchNorm: each
class has its own gain and bias (conditional batch norm, de Vries et al. 2017; as in Miyato & Koyama 2018).
D: the mirror image, stride-2 convs with LeakyReLU(0.2); the logit is linear in the flattened last map
(the DCGAN's final valid conv), plus the projection term <embed(y), h> when conditional (Miyato & Koyama
2018). `norm` picks D's normalisation: BatchNorm as the DCGAN has it, none, or spectral normalisation of
every weight (Miyato et al. 2018); the gradient-penalty and hinge losses want a D without batch statistics.
`minibatch_std` gives D's last map one more channel, the batch's variety (Karras et al. 2018). `refine` gives G
that many 3x3 convs (BatchNorm, ReLU) on its first map, before the upsampling.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.infra.errors import GankitError
from gankit.models.conv import Conv2d, ConvTranspose2d
from gankit.models.registry import ModelOption, register

SIZES = {28: 7, 32: 4, 64: 4, 128: 4}  # image side -> side of G's first (and D's last) feature map; each stage
# doubles the side and halves the channels, so 128 px starts from width x 16 channels at 4 x 4
CHANNELS = (1, 3)
NORMS = ("batch", "none", "spectral")
UPSAMPLES = ("transposed", "nearest")


def check_image_shape(image_shape: tuple[int, int, int]) -> int:
    """The number of stride-2 stages for this shape; a GankitError for a shape the model cannot take."""
    c, h, w = image_shape
    if c in CHANNELS and h == w and h in SIZES:
        return int(math.log2(h // SIZES[h]))
    nearest = min(SIZES, key=lambda s: abs(s - max(h, w)))
    raise GankitError(f"model dcgan takes {' or '.join(map(str, CHANNELS))}-channel images of 28x28, 32x32, 64x64 or "
                      f"128x128, got {c}x{h}x{w}: add --image-size {nearest}"
                      + ("" if c in CHANNELS else " and --channels 1 or 3"))


def check_options(width: int = 64, norm: str = "batch", upsample: str = "transposed",
                  minibatch_std: bool = False, refine: int = 0) -> None:
    if isinstance(width, bool) or not isinstance(width, int) or width <= 0:
        raise GankitError(f"model dcgan: width must be a positive integer, got {width!r}")
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise GankitError(f"model dcgan: refine must be a whole number of conv layers (0: none), got {refine!r}")
    if norm not in NORMS:
        raise GankitError(f"model dcgan: unknown norm {norm!r}: use one of {', '.join(NORMS)}")
    if not isinstance(minibatch_std, bool):
        raise GankitError(f"model dcgan: minibatch_std is true or false, got {minibatch_std!r}")
    if upsample not in UPSAMPLES:
        raise GankitError(f"model dcgan: unknown upsample {upsample!r}: use one of {', '.join(UPSAMPLES)}")


def up_block(c_in: int, c_out: int, upsample: str, bias: bool) -> list[nn.Module]:
    """Double the side: a 4x4 stride-2 transposed conv (the DCGAN's), or nearest-neighbour upsampling and a
    3x3 conv, which cannot make the checkerboard pattern uneven kernel overlap makes (Odena et al. 2016)."""
    if upsample == "transposed":
        return [ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), Conv2d(c_in, c_out, 3, 1, 1, bias=bias)]


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias are looked up per class.

    Concatenating a label embedding to z, this G's first design, let each class collapse to nearly one image
    (recall 0, label accuracy 1.0): the label reached only the first linear layer. Here it scales and shifts
    every feature map, and z alone sets where in its class a sample falls.
    """

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.normal_(self.gain.weight, 1.0, 0.02)  # the DCGAN's batch-norm init, drawn for each class
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * self.gain(labels)[:, :, None, None] + self.bias(labels)[:, :, None, None]


class MinibatchStd(nn.Module):
    mixes_batch = True  # each image's output depends on the others in its group: D must see real and fake apart
    """Appends one feature map: the standard deviation of every feature over a group of `group` neighbouring
    images, averaged (Karras et al. 2018). D then sees how varied a batch is, so a G that makes too little
    variety is told so. Groups are consecutive images: a batch of real images
    and a batch of fakes must go through D separately, or a group could hold both."""

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = math.gcd(n, self.group)  # a last, smaller batch still splits evenly
        groups = x.reshape(n // g, g, c, h, w)
        # spelt out: torch.var over this middle dimension took 11 ms a call on this CPU, 40% of a training step
        spread = (groups - groups.mean(dim=1, keepdim=True)).square().mean(dim=1).add(1e-8).sqrt()
        std = spread.mean(dim=(1, 2, 3))
        return torch.cat([x, std.repeat_interleave(g).view(n, 1, 1, 1).expand(n, 1, h, w)], dim=1)


def dcgan_init(m: nn.Module) -> None:
    """The DCGAN paper's initialisation: weights N(0, 0.02), BatchNorm scales N(1, 0.02), biases 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d) and m.affine:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), z_dim: int = 100, num_classes: int = 0,
                 *, width: int = 64, upsample: str = "transposed", refine: int = 0):
        super().__init__()
        check_options(width=width, upsample=upsample, refine=refine)
        stages = check_image_shape(image_shape)
        self.image_shape, self.z_dim, self.num_classes = tuple(image_shape), z_dim, num_classes
        self.side = SIZES[image_shape[1]]
        self.start_channels = width * 2 ** (stages - 1)
        self.project = nn.Linear(z_dim, self.start_channels * self.side ** 2, bias=False)  # BN follows: no bias

        def batch_norm(channels: int) -> nn.Module:
            return ConditionalBatchNorm2d(channels, num_classes) if num_classes else nn.BatchNorm2d(channels)

        layers: list[nn.Module] = [batch_norm(self.start_channels), nn.ReLU(inplace=True)]
        for _ in range(refine):  # depth where the layout of the whole image is decided, before any upsampling
            layers += [Conv2d(self.start_channels, self.start_channels, 3, 1, 1, bias=False),
                       batch_norm(self.start_channels), nn.ReLU(inplace=True)]
        for k in range(stages - 1, 0, -1):
            layers += [*up_block(width * 2 ** k, width * 2 ** (k - 1), upsample, bias=False),
                       batch_norm(width * 2 ** (k - 1)), nn.ReLU(inplace=True)]
        layers += [*up_block(width, image_shape[0], upsample, bias=True), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], self.start_channels, self.side, self.side)
        if not self.num_classes:
            return self.net(x)
        labels = _required(labels, "generator", self.num_classes)
        for layer in self.net:
            x = layer(x, labels) if isinstance(layer, ConditionalBatchNorm2d) else layer(x)
        return x


class Discriminator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 0,
                 *, width: int = 64, norm: str = "batch", minibatch_std: bool = False):
        super().__init__()
        check_options(width=width, norm=norm, minibatch_std=minibatch_std)
        stages = check_image_shape(image_shape)
        self.image_shape, self.num_classes, self.norm = tuple(image_shape), num_classes, norm
        batch_norm = norm == "batch"
        # No BatchNorm on the input layer (the DCGAN paper: it made samples oscillate).
        layers: list[nn.Module] = [Conv2d(image_shape[0], width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        for k in range(1, stages):
            layers.append(Conv2d(width * 2 ** (k - 1), width * 2 ** k, 4, 2, 1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width * 2 ** k))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        if minibatch_std:
            layers.append(MinibatchStd())
        self.net = nn.Sequential(*layers, nn.Flatten())
        # Flattened rather than sum-pooled: at 28x28 the last map's units see 10x10 pixels, too little to judge a digit.
        features = (width * 2 ** (stages - 1) + int(minibatch_std)) * SIZES[image_shape[1]] ** 2
        self.linear = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features) if num_classes else None
        self.apply(dcgan_init)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)  # the projection starts on the linear term's scale
        if norm == "spectral":
            for m in [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]:
                spectral_norm(m)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.net(x)
        logit = self.linear(h).squeeze(1)
        if self.embed is None:
            return logit
        return logit + (self.embed(_required(labels, "discriminator", self.num_classes)) * h).sum(dim=1)


def _required(labels: torch.Tensor | None, what: str, num_classes: int) -> torch.Tensor:
    if labels is None:
        raise GankitError(f"this {what} is conditional ({num_classes} classes): pass labels, a (N,) long tensor")
    return labels


OPTIONS = (
    ModelOption("width", int, 64, "base channel count", "GD"),
    ModelOption("d_norm", str, "batch", "D's normalisation", "D", arg="norm", choices=NORMS),
    ModelOption("g_upsample", str, "transposed", "G's upsampling", "G", arg="upsample", choices=UPSAMPLES),
    ModelOption("d_minibatch_std", bool, False, "D sees the spread of its features over each group of 4 images, so "
                "too little variety is penalised (Karras et al. 2018)", "D", arg="minibatch_std"),
    ModelOption("g_refine", int, 0, "N 3x3 conv layers on G's first feature map, before it upsamples", "G",
                arg="refine", metavar="N"),
)
# D's norm defaults to batch, the DCGAN's own; d_norm spectral or none for penalty and hinge losses
register("dcgan", Generator, Discriminator, OPTIONS, check_options,
         batch_norm_d=lambda options: options.get("d_norm", "batch") == "batch")
