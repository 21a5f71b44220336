"""One training iteration of each sequence recipe, written as its paper's steps. `draw()` gives a batch of real
series (batch, T, F) in [0, 1] and their labels (or None); `progress` is the share of the budget spent.

- `conv`: D takes a hinge step on real and generated series, then G a step to raise D's score; G's weights are
  averaged (EMA) for sampling.
- `timegan`: the released code's three phases, each a third of the budget: the embedder and recovery learn to
  reconstruct; the supervisor learns the latent next step; then the joint game: twice a G step (adversarial,
  supervised and moment losses) and an embedder step, and a D step when D's loss is above 0.15.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch.nn import functional as F

from gankit.timeseries.models import ConvDiscriminator, ConvGenerator, TimeGANNets

Batch = tuple[torch.Tensor, "torch.Tensor | None"]
Draw = Callable[[], Batch]
RECIPES = ("conv", "timegan")


def moment_loss(generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """TimeGAN's moment matching: the batch's per-step, per-feature standard deviations and means, L1 apart."""
    def std(x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(x.var(0, unbiased=False) + 1e-6)

    return (std(generated) - std(real)).abs().mean() + (generated.mean(0) - real.mean(0)).abs().mean()


class ConvRecipe:
    def __init__(self, length: int, features: int, num_classes: int, *, z_dim: int, width: int, lr: float,
                 ema_decay: float = 0.999):
        self.G = ConvGenerator(length, features, z_dim, width, num_classes)
        self.D = ConvDiscriminator(length, features, width, num_classes)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr, betas=(0.0, 0.9))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr * 2, betas=(0.0, 0.9))  # TTUR: D learns faster
        self.z_dim, self.ema_decay, self.updates = z_dim, ema_decay, 0

    def step(self, draw: Draw, progress: float) -> dict[str, float]:
        real, labels = draw()
        z = torch.randn(len(real), self.z_dim)
        # D step: real series above +1, generated ones below -1
        with torch.no_grad():
            fake = self.G(z, labels)
        d_real, d_fake = self.D(real, labels), self.D(fake, labels)
        d_loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        # G step: raise D's score of new series
        self.D.requires_grad_(False)
        g_loss = -self.D(self.G(torch.randn(len(real), self.z_dim), labels), labels).mean()
        self.D.requires_grad_(True)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self._update_ema()
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item(), "d_real": d_real.mean().item(),
                "d_fake": d_fake.mean().item()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        self.updates += 1
        decay = min(self.ema_decay, (1 + self.updates) / (10 + self.updates))  # short memory early on
        for avg, live in zip(self.G_ema.parameters(), self.G.parameters()):
            avg.lerp_(live, 1 - decay)

    @torch.no_grad()
    def generate(self, n: int, gen: torch.Generator, labels: torch.Tensor | None, length: int) -> torch.Tensor:
        return self.G_ema(torch.randn(n, self.z_dim, generator=gen), labels)

    def modules(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        return {"G": self.G, "D": self.D, "G_ema": self.G_ema, "opt_g": self.opt_g, "opt_d": self.opt_d}

    def sampler(self) -> dict[str, torch.nn.Module]:
        return {"G_ema": self.G_ema}


class TimeGANRecipe:
    GAMMA = 1.0
    D_THRESHOLD = 0.15  # the released code skips D's step while its loss is below this

    def __init__(self, length: int, features: int, num_classes: int, *, hidden: int = 24, layers: int = 3,
                 lr: float = 1e-3):
        self.nets = TimeGANNets(features, hidden, layers)
        n = self.nets
        er = [*n.embedder.parameters(), *n.recovery.parameters()]
        gs = [*n.generator.parameters(), *n.supervisor.parameters()]
        # five Adam optimisers, one per loss, as the released code's five solvers
        self.opt_e0, self.opt_e = torch.optim.Adam(er, lr), torch.optim.Adam(er, lr)
        self.opt_gs, self.opt_g = torch.optim.Adam(gs, lr), torch.optim.Adam(gs, lr)
        self.opt_d = torch.optim.Adam(n.discriminator.parameters(), lr)

    def phase(self, progress: float) -> str:
        return "embedding" if progress < 1 / 3 else "supervised" if progress < 2 / 3 else "joint"

    def step(self, draw: Draw, progress: float) -> dict[str, float]:
        phase = self.phase(progress)
        if phase == "embedding":
            return {"e_loss": self._embedding_step(draw()[0])}
        if phase == "supervised":
            return {"s_loss": self._supervised_step(draw()[0])}
        row = {}
        for _ in range(2):
            row.update(self._generator_step(draw()[0]))
            row["e_loss"] = self._embedder_step(draw()[0])
        row["d_loss"] = self._discriminator_step(draw()[0])
        return row

    def _noise(self, x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        return torch.rand(x.shape[0], x.shape[1], self.nets.z_dim, generator=gen)

    def _supervision(self, h: torch.Tensor) -> torch.Tensor:
        """The supervisor's error in predicting each latent step from the one before."""
        return F.mse_loss(self.nets.supervisor(h)[:, :-1], h[:, 1:])

    def _apply(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> float:
        self.nets.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def _embedding_step(self, x: torch.Tensor) -> float:
        n = self.nets
        return self._apply(10 * torch.sqrt(F.mse_loss(n.recovery(n.embedder(x)), x)), self.opt_e0)

    def _supervised_step(self, x: torch.Tensor) -> float:
        with torch.no_grad():
            h = self.nets.embedder(x)
        return self._apply(self._supervision(h), self.opt_gs)

    def _generator_step(self, x: torch.Tensor) -> dict[str, float]:
        n = self.nets
        e_hat = n.generator(self._noise(x))
        h_hat = n.supervisor(e_hat)
        x_hat = n.recovery(h_hat)
        ones = torch.ones(x.shape[0], x.shape[1], 1)
        adversarial = F.binary_cross_entropy_with_logits(n.discriminator(h_hat), ones)
        adversarial_e = F.binary_cross_entropy_with_logits(n.discriminator(e_hat), ones)
        supervised = self._supervision(n.embedder(x))
        moments = moment_loss(x_hat, x)
        loss = adversarial + self.GAMMA * adversarial_e + 100 * torch.sqrt(supervised) + 100 * moments
        self._apply(loss, self.opt_g)
        return {"g_loss": adversarial.item(), "s_loss": supervised.item(), "moments": moments.item()}

    def _embedder_step(self, x: torch.Tensor) -> float:
        n = self.nets
        h = n.embedder(x)
        loss = 10 * torch.sqrt(F.mse_loss(n.recovery(h), x)) + 0.1 * self._supervision(h)
        return self._apply(loss, self.opt_e)

    def _discriminator_step(self, x: torch.Tensor) -> float:
        n = self.nets
        with torch.no_grad():
            h = n.embedder(x)
            e_hat = n.generator(self._noise(x))
            h_hat = n.supervisor(e_hat)
        y_real, y_fake, y_fake_e = n.discriminator(h), n.discriminator(h_hat), n.discriminator(e_hat)
        loss = F.binary_cross_entropy_with_logits(y_real, torch.ones_like(y_real)) \
            + F.binary_cross_entropy_with_logits(y_fake, torch.zeros_like(y_fake)) \
            + self.GAMMA * F.binary_cross_entropy_with_logits(y_fake_e, torch.zeros_like(y_fake_e))
        if loss.item() > self.D_THRESHOLD:
            self._apply(loss, self.opt_d)
        return loss.item()

    @torch.no_grad()
    def generate(self, n: int, gen: torch.Generator, labels: torch.Tensor | None, length: int) -> torch.Tensor:
        return self.nets(torch.rand(n, length, self.nets.z_dim, generator=gen))

    def modules(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        return {"nets": self.nets, "opt_e0": self.opt_e0, "opt_e": self.opt_e, "opt_gs": self.opt_gs,
                "opt_g": self.opt_g, "opt_d": self.opt_d}

    def sampler(self) -> dict[str, torch.nn.Module]:
        return {"nets": self.nets}
