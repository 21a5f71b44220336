"""REFERENCE implementations of FID, precision/recall and density/coverage: the straightforward dense
textbook versions, kept only as the baseline that gankit.metrics is benchmarked and cross-checked against.
Not used by gankit's metrics and not to be improved: scipy.linalg.sqrtm and full float64 distance matrices are the point.

Memory is O(N·M) float64: 10k x 10k features take an 800 MB matrix per distance call.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.spatial.distance import cdist


def fid_sqrtm(real: np.ndarray, fake: np.ndarray) -> float:
    """FID as in the original TTUR code: np.cov and scipy.linalg.sqrtm of S1 S2, real part."""
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    covmean = linalg.sqrtm(s1.dot(s2))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    d = cdist(x, x)  # float64, (N, N)
    np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, k - 1]


def precision_recall_dense(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Kynkäänniemi et al. 2019 with closed balls, from full (N, M) float64 distance matrices."""
    d = cdist(real, fake)  # (N real, M fake)
    precision = (d <= _knn_radii(real, k)[:, None]).any(0).mean()
    recall = (d <= _knn_radii(fake, k)[None, :]).any(1).mean()
    return float(precision), float(recall)


def density_coverage_dense(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Naeem et al. 2020 with closed balls, from a full (N, M) float64 distance matrix."""
    d = cdist(real, fake)
    inside = d <= _knn_radii(real, k)[:, None]
    return float(inside.sum() / (k * len(fake))), float(inside.any(1).mean())
