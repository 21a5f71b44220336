"""What every metric reads: one set's features, computed once by a feature network, and optionally its class
probabilities and the labels a conditional generator was asked for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np
import torch

from gankit.infra.errors import GankitError

ArrayLike = Union[np.ndarray, torch.Tensor]


@dataclass(frozen=True)
class Features:
    """One set of samples (real, generated or training) as the metrics see it.

    feats: (N, D) floating features. probs: (N, K) softmax outputs of a domain classifier, or None (e.g. for
    Inception features). labels_requested: (N,) integer labels a conditional generator was asked for, or None.
    Arrays become tensors without a copy and keep their dtype and device: FID reads float64 features as float64.
    """

    feats: ArrayLike
    probs: ArrayLike | None = None
    labels_requested: ArrayLike | None = None

    def __post_init__(self) -> None:
        feats = torch.as_tensor(self.feats)
        if feats.ndim != 2 or len(feats) == 0 or not feats.is_floating_point():
            raise GankitError(f"features must be a non-empty floating (N, D) array, got {_describe(feats)}")
        if not torch.isfinite(feats).all():
            raise GankitError("features contain NaN or inf: check the generator's output and the feature network")
        object.__setattr__(self, "feats", feats)
        object.__setattr__(self, "probs", None if self.probs is None else _check_probs(self.probs, len(feats)))
        labels = self.labels_requested
        object.__setattr__(self, "labels_requested", None if labels is None else _check_labels(labels, len(feats)))

    def __len__(self) -> int:
        return len(self.feats)


def _check_probs(probs: ArrayLike, n: int) -> torch.Tensor:
    p = torch.as_tensor(probs)
    if p.ndim != 2 or len(p) != n or not p.is_floating_point():
        raise GankitError(f"class probabilities must be floating ({n}, K), got {_describe(p)}")
    # Logits passed by mistake would give a plausible-looking but meaningless IS.
    if (p < 0).any() or not torch.allclose(p.sum(1).double(), torch.ones(n, dtype=torch.float64, device=p.device),
                                           atol=1e-3):
        raise GankitError("class probabilities must be non-negative rows summing to 1: apply softmax to the logits")
    return p


def _check_labels(labels: ArrayLike, n: int) -> torch.Tensor:
    lab = torch.as_tensor(labels)
    if lab.ndim != 1 or len(lab) != n or lab.is_floating_point() or lab.is_complex():
        raise GankitError(f"requested labels must be integers of shape ({n},), got {_describe(lab)}")
    return lab


def _describe(t: torch.Tensor) -> str:
    return f"{str(t.dtype).removeprefix('torch.')} {tuple(t.shape)}"
