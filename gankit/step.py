"""One training step, as the tutorial writes it: a D step on real and generated images, then a G step
that makes the updated D call the same generated images real.

What makes it faster than the tutorial's loop changes no result:
- D sees real and generated images in one forward pass when it has no batch statistics (a batch-norm D
  must see them apart, or each batch would normalise the other);
- D's parameters are frozen during the G step, so its backward pass computes only what G needs
  (the tutorial computes D's weight gradients there and throws them away);
- no host sync: the step returns its statistics as one device tensor.
`precision="bf16"` runs the forward passes under autocast; `compile=True` compiles G and D with
torch.compile. Both are options, off in the seed preset.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from gankit import losses

PRECISIONS = ("fp32", "bf16")


def has_batch_statistics(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class GanStep:
    """`step(real, z)` trains D then G once; returns (d_loss, g_loss, D(x), D(G(z))) as one detached tensor.

    `D_shared` is the module whose parameters opt_d updates; `D` may wrap it (DistributedDataParallel), in
    which case the G step calls `D_shared` directly: its gradients flow to G alone, so nothing is all-reduced.
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                 loss: losses.AdversarialLoss, *, D_shared: nn.Module | None = None, precision: str = "fp32",
                 compile: bool = False):
        self.D_shared = D_shared if D_shared is not None else D
        self.G, self.D, self.D_frozen = G, D, self.D_shared
        if compile:
            self.G, self.D, self.D_frozen = torch.compile(G), torch.compile(D), torch.compile(self.D_shared)
        self.opt_g, self.opt_d, self.loss = opt_g, opt_d, loss
        self.joint_d_pass = not has_batch_statistics(self.D_shared)
        device_type = next(G.parameters()).device.type
        self.autocast = (lambda: torch.autocast(device_type, dtype=torch.bfloat16)) if precision == "bf16" else nullcontext

    def __call__(self, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            fake = self.G(z)

        # D step: real images towards "real", generated ones towards "fake"
        with self.autocast():
            d_real, d_fake = self._discriminate(real, fake.detach())
            d_loss = self.loss.discriminator(d_real.float(), d_fake.float())
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        # G step: make the just-updated D call the same fakes real
        self.D_shared.requires_grad_(False)
        with self.autocast():
            g_loss = self.loss.generator(self.D_frozen(fake).float())
        self.D_shared.requires_grad_(True)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()

        with torch.no_grad():
            return torch.stack([d_loss, g_loss, torch.sigmoid(d_real.float()).mean(), torch.sigmoid(d_fake.float()).mean()])

    def _discriminate(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.joint_d_pass:
            return self.D(real), self.D(fake)
        logits = self.D(torch.cat([real, fake.to(real.dtype)]))
        return logits[:len(real)], logits[len(real):]
