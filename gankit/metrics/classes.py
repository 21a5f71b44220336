"""Scores from a classifier's class probabilities: Inception Score, class histograms, label accuracy."""

from __future__ import annotations

import numpy as np
import torch

from gankit.infra.errors import GankitError

Tensor = torch.Tensor


def inception_score(probs: Tensor, splits: int) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) on each of `splits` consecutive parts; mean and std (ddof 0) over parts."""
    if len(probs) < splits:
        raise GankitError(f"the Inception Score over {splits} splits needs at least {splits} samples, "
                          f"got {len(probs)}")
    p = probs.double()
    scores = []
    for part in torch.tensor_split(p, splits):
        marginal = part.mean(0, keepdim=True)
        kl = (torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(1)  # xlogy: 0 log 0 = 0
        scores.append(kl.mean().exp())
    s = torch.stack(scores).cpu().numpy()
    return float(s.mean()), float(s.std())


def class_histogram(probs: Tensor) -> np.ndarray:
    """(K,) float64: the share of samples whose most probable class is each class."""
    counts = torch.bincount(probs.argmax(1), minlength=probs.shape[1])
    return (counts.double() / len(probs)).cpu().numpy()


def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = 1e-6) -> float:
    """KL(p || q) of two histograms, each share raised by eps and renormalised, so that a class missing
    from q gives a large finite value rather than inf."""
    p, q = ((h + eps) / (h + eps).sum() for h in (p, q))
    return float((p * np.log(p / q)).sum())


def label_accuracy(probs: Tensor, labels: Tensor) -> float:
    """Share of samples whose most probable class is the label they were asked for."""
    return float((probs.argmax(1) == labels.to(probs.device)).double().mean())
