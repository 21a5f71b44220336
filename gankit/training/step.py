"""One training step, as the tutorial writes it: a D step on real and generated images, then a G step
that makes the updated D call the same generated images real.

What makes it faster than the tutorial's loop changes no result:
- D sees real and generated images in one forward pass when it has no batch statistics (a batch-norm D
  must see them apart, or each batch would normalise the other);
- D's parameters are frozen during the G step, so its backward pass computes only what G needs
  (the tutorial computes D's weight gradients there and throws them away);
- no host sync: the step returns its statistics as device tensors, read back only when the loop logs them.
Its phases are named for torch.profiler (gankit.generate, gankit.d_step, gankit.g_step, gankit.ema,
gankit.augment): benchmarks/preset_speed.py reports their shares.
Options (StepOptions, all off in the seed preset): bf16 autocast, torch.compile, n_critic D steps per G step,
a WGAN-GP or R1 gradient penalty, DiffAugment on everything D sees; an EMA of G updated after each G step.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn
from torch.profiler import record_function

from gankit.training import losses
from gankit.training.diffaugment import diff_augment
from gankit.training.ema import EMA
from gankit.training.regularizers import gradient_penalty, r1_penalty

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class StepOptions:
    """What the step does beyond the tutorial's; the defaults are the tutorial's step."""

    precision: str = "fp32"
    compile: bool = False
    n_critic: int = 1  # D steps per G step
    gp_weight: float = 0.0  # WGAN-GP's lambda (0: off)
    r1_gamma: float = 0.0  # R1's gamma (0: off)
    augment: str = ""  # DiffAugment policy, applied to everything D sees


def mixes_batch(module: nn.Module) -> bool:
    """Whether one image's output depends on the rest of its batch: then real and fake go through D apart.
    Batch norm does (in training); a layer of a model's own says so with a `mixes_batch = True` attribute."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) or getattr(m, "mixes_batch", False)
               for m in module.modules())


class GanStep:
    """`step(real, z, labels)` trains D once and, every `n_critic`-th call, G once; returns the statistics named
    in STATS as detached 0-dim device tensors: the D loss, the last G loss, and D's mean output on the real and
    the generated images (as the loss shows it: probabilities for BCE). `labels` (conditional models) go to G and
    D alike.

    D is called three ways: `D` (maybe wrapped in DistributedDataParallel, maybe compiled) in the D step, whose
    backward all-reduces D's gradients; `D_frozen`, the unwrapped module (compiled with the rest), in the G step,
    which must not all-reduce; `D_shared`, the unwrapped module as it is, in the gradient penalty, whose double
    backward a compiled module does not support. `ema`, if given, is updated after every G step. The step's own
    state (its place in the n_critic cycle, the last G loss) goes through `state_dict` / `load_state_dict`.
    """

    STATS = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                 loss: losses.AdversarialLoss, *, D_shared: nn.Module | None = None,
                 options: StepOptions = StepOptions(), ema: EMA | None = None):
        self.D_shared = D_shared if D_shared is not None else D
        self.G, self.D, self.D_frozen = G, D, self.D_shared
        if options.compile:
            self.G, self.D, self.D_frozen = torch.compile(G), torch.compile(D), torch.compile(self.D_shared)
        self.opt_g, self.opt_d, self.loss, self.options, self.ema = opt_g, opt_d, loss, options, ema
        self.joint_d_pass = not mixes_batch(self.D_shared)
        device_type = next(G.parameters()).device.type
        self.autocast = (lambda: torch.autocast(device_type, dtype=torch.bfloat16)) \
            if options.precision == "bf16" else nullcontext
        self.calls = 0
        # What the stats report between G steps: the last G loss (0 before the first, e.g. just after a resume
        # that lands between G steps).
        self.g_loss = torch.zeros((), device=next(G.parameters()).device)

    def state_dict(self) -> dict:
        return {"calls": self.calls, "g_loss": self.g_loss.detach().cpu()}

    def load_state_dict(self, state: dict) -> None:
        """`calls` is the step count (the place in the n_critic cycle); a G loss not given reads 0 until the
        next G step (after a resume or a rollback that lands between G steps)."""
        self.calls = int(state["calls"])
        self.g_loss = torch.as_tensor(state.get("g_loss", 0.0), dtype=torch.float32).to(self.g_loss.device)

    def __call__(self, real: torch.Tensor, z: torch.Tensor,
                 labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        o = self.options
        g_step_due = self.calls % o.n_critic == 0
        self.calls += 1
        with record_function("gankit.generate"), self.autocast(), torch.set_grad_enabled(g_step_due):
            fake = _call(self.G, z, labels)
        with record_function("gankit.d_step"):
            d_loss, d_real, d_fake = self._d_step(real, fake, labels)
        if g_step_due:
            with record_function("gankit.g_step"):
                self.g_loss = self._g_step(fake, labels)
            if self.ema is not None:
                with record_function("gankit.ema"):
                    self.ema.update(self.G)

        with torch.no_grad():
            return dict(zip(self.STATS, (d_loss.detach(), self.g_loss, self.loss.shown(_full(d_real)).mean(),
                                         self.loss.shown(_full(d_fake)).mean())))

    def _d_step(self, real: torch.Tensor, fake: torch.Tensor,
                labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """D step: real images towards "real", generated ones towards "fake"."""
        o = self.options
        if o.r1_gamma:
            real = real.detach().requires_grad_(True)
        with self.autocast():
            d_real, d_fake = self._discriminate(self._augment(real), self._augment(fake.detach()), labels)
            d_loss = self.loss.discriminator(_full(d_real), _full(d_fake))
        if o.r1_gamma:
            d_loss = d_loss + o.r1_gamma / 2 * r1_penalty(_full(d_real), real)
        if o.gp_weight:
            d_loss = d_loss + o.gp_weight * gradient_penalty(
                lambda x, *y: _call(self.D_shared, x, y[0] if y else None), real, fake.detach().to(real.dtype), labels)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return d_loss, d_real, d_fake

    def _g_step(self, fake: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """G step: make the just-updated D call the same fakes real."""
        self.D_shared.requires_grad_(False)
        with self.autocast():
            g_loss = self.loss.generator(_full(_call(self.D_frozen, self._augment(fake), labels)))
        self.D_shared.requires_grad_(True)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        return g_loss.detach()

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        if not self.options.augment:
            return x
        with record_function("gankit.augment"):
            return diff_augment(x, self.options.augment)

    def _discriminate(self, real: torch.Tensor, fake: torch.Tensor,
                      labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.joint_d_pass:
            return _call(self.D, real, labels), _call(self.D, fake, labels)
        both = torch.cat([labels, labels]) if labels is not None else None
        logits = _call(self.D, torch.cat([real, fake.to(real.dtype)]), both)
        return logits[:len(real)], logits[len(real):]


def _full(logits: torch.Tensor) -> torch.Tensor:
    """Logits at fp32 or better for the loss: bf16 autocast's outputs go up to fp32, fp64 stays fp64."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


def _call(module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    return module(x) if labels is None else module(x, labels)
