"""Adversarial losses by name. Each is a pair of small pure functions of discriminator logits.

`discriminator(real_logits, fake_logits)` is what D minimises; `generator(fake_logits)` what G minimises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from gankit.infra.errors import GankitError

Tensor = torch.Tensor


@dataclass(frozen=True)
class AdversarialLoss:
    name: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    doc: str
    # What D's output means, for logs and health checks: "probability" (a logit whose sigmoid is D's belief the
    # image is real, as in the tutorial's D(x)) or "score" (a real number, higher is realer)
    d_output: str = "score"

    def shown(self, logits: Tensor) -> Tensor:
        """D's outputs as the logs show them: probabilities for BCE, the raw scores otherwise."""
        return torch.sigmoid(logits) if self.d_output == "probability" else logits


def _bce_d(real: Tensor, fake: Tensor) -> Tensor:
    # The tutorial's d_loss_real + d_loss_fake, on logits.
    return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros_like(fake)
    )


def _bce_g_nonsaturating(fake: Tensor) -> Tensor:
    # The tutorial's G step: fakes labelled real, i.e. maximise log D(G(z)).
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def _bce_g_saturating(fake: Tensor) -> Tensor:
    # Goodfellow et al.'s original minimax form: minimise log(1 - D(G(z))).
    return -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))


def _hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def _mean_neg(fake: Tensor) -> Tensor:
    return -fake.mean()


def _wasserstein_d(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def _ls_d(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()


def _ls_g(fake: Tensor) -> Tensor:
    return 0.5 * ((fake - 1) ** 2).mean()


LOSSES: dict[str, AdversarialLoss] = {
    loss.name: loss
    for loss in (
        AdversarialLoss("bce", _bce_d, _bce_g_nonsaturating, "binary cross-entropy, non-saturating G (the tutorial's)",
                        "probability"),
        AdversarialLoss("bce-saturating", _bce_d, _bce_g_saturating, "binary cross-entropy, minimax G", "probability"),
        AdversarialLoss("hinge", _hinge_d, _mean_neg, "hinge loss (SAGAN, BigGAN)"),
        AdversarialLoss("wasserstein", _wasserstein_d, _mean_neg, "Wasserstein critic; pair with a gradient penalty"),
        AdversarialLoss("least-squares", _ls_d, _ls_g, "least squares (LSGAN, a=0 b=1 c=1)"),
    )
}


def get(name: str) -> AdversarialLoss:
    if name not in LOSSES:
        raise GankitError(f"unknown loss '{name}': use one of {', '.join(LOSSES)}")
    return LOSSES[name]
