"""Fréchet distance between Gaussians fitted to two feature sets (FID), in float64.

The cross term uses symmetric eigendecompositions instead of scipy.linalg.sqrtm: with A = sqrt(S1),
tr sqrt(S1 S2) = tr sqrt(A S2 A), and A S2 A is symmetric PSD, so it is the sum of the square roots of its
eigenvalues. eigh is exact in form, needs no scipy, and never returns the complex parts sqrtm can.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.infra.errors import GankitError
from gankit.metrics.features import ArrayLike


def gaussian_stats(feats: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D, unbiased like np.cov) of (N, D) features, float64, for caching."""
    x = torch.as_tensor(feats)
    if x.ndim != 2 or len(x) < 2:
        raise GankitError(f"Gaussian statistics need (N, D) features with N >= 2, got shape {tuple(x.shape)}")
    x = x.double()  # on the features' device: a GPU does the (D, D) product
    mu = x.mean(0)
    centred = x - mu
    sigma = centred.T @ centred / (len(x) - 1)
    return mu.cpu().numpy(), sigma.cpu().numpy()


def fid_from_stats(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """||mu1 - mu2||² + tr S1 + tr S2 - 2 tr sqrt(S1 S2), in float64.

    Not clamped at 0: a tiny negative value is rounding, and hiding it would hide real errors too.
    """
    mu1, mu2 = (np.asarray(m, np.float64) for m in (mu1, mu2))
    s1, s2 = (np.asarray(s, np.float64) for s in (sigma1, sigma2))
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if d < 1 or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise GankitError(f"FID statistics disagree in shape: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / "
                          f"{s2.shape}; compute both with the same feature network")
    root1 = _psd_sqrt(s1)
    cross = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((cross + cross.T) / 2)  # symmetrise away rounding before eigh
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def fid(real: ArrayLike, fake: ArrayLike) -> float:
    return fid_from_stats(*gaussian_stats(real), *gaussian_stats(fake))


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    # Covariances of fewer samples than dimensions are singular: their tiny negative eigenvalues are rounding.
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T
