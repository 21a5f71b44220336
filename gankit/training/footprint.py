"""How much memory a run will need, estimated before anything is allocated: the models are built on PyTorch's
`meta` device (shapes, no storage) and one image is passed through them there.

The estimate is rough on purpose (within a small factor): it exists to refuse sizes that cannot fit at all
(`--width 10000000`, a 6000x6000 image into an MLP), with a one-line error instead of an allocator's traceback.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit import models
from gankit.infra.device import check_fits_in_memory
from gankit.training.config import TrainConfig

FLOAT = 4  # bytes: parameters and activations are float32 (bf16 autocast keeps fp32 master weights)
COPIES = 4  # weights, gradients and Adam's two moments
ACTIVATION_FACTOR = 3  # forward outputs kept for backward, their gradients, and D's second (real/fake) pass


def estimate_bytes(cfg: TrainConfig, image_shape: tuple[int, int, int], num_classes: int = 0) -> int:
    with torch.device("meta"):
        G, D = models.build_for(cfg, image_shape, num_classes)
    g_params, d_params = _numel(G), _numel(D)
    params = (g_params + d_params) * COPIES + (g_params if cfg.ema else 0)
    per_image = _activations_per_image(G, D, cfg, num_classes)
    batch = cfg.batch_size * per_image * ACTIVATION_FACTOR
    image = image_shape[0] * image_shape[1] * image_shape[2]
    grid = cfg.grid_size * (cfg.z_dim + image)
    evaluation = cfg.eval_n * image if cfg.eval_every else 0  # the samples each evaluation scores
    return FLOAT * (params + batch + grid + evaluation)


def check_fits(cfg: TrainConfig, image_shape: tuple[int, int, int], num_classes: int,
               device: torch.device) -> None:
    """A GankitError naming the sizes to lower when the run cannot fit in the device's free memory."""
    needed = estimate_bytes(cfg, tuple(image_shape), num_classes)
    shape = "x".join(map(str, image_shape))
    check_fits_in_memory(needed, f"{cfg.model} models for {shape} images at batch {cfg.batch_size}",
                         "lower --batch-size, --width, --z-dim, --grid-size, --eval-n or --image-size", device)


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters()) + sum(b.numel() for b in module.buffers())


def _activations_per_image(G: nn.Module, D: nn.Module, cfg: TrainConfig, num_classes: int) -> int:
    """The elements every layer of G and D outputs for one image, from a forward pass on the meta device."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    hooks = [m.register_forward_hook(count) for net in (G, D) for m in net.modules() if not list(m.children())]
    labels = torch.zeros(2, dtype=torch.long, device="meta")  # two: batch norm needs two values per channel
    try:
        with torch.no_grad():
            z = torch.zeros(2, cfg.z_dim, device="meta")
            fake = G(z, labels) if num_classes else G(z)
            D(fake, labels) if getattr(D, "num_classes", 0) else D(fake)
    except (RuntimeError, NotImplementedError):  # an op without a meta kernel: count the images alone
        total = 2 * 2 * fake_size(G)
    finally:
        for h in hooks:
            h.remove()
    return total // 2


def fake_size(G: nn.Module) -> int:
    c, h, w = getattr(G, "image_shape", (1, 1, 1))
    return c * h * w
