"""Pictures of generated time series beside real ones, as PNG files (written whole or not at all).

embedding_png: TimeGAN's figure (Yoon et al., NeurIPS 2019): each series reduced to its mean over features at each
    step, then PCA fitted on the real series (or t-SNE of both), real in red and generated in blue. Clouds that
    overlap mean the generated series cover the real ones.
series_png: a few real series beside a few generated ones, one small line plot each (`gankit sample --out x.png`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from gankit.infra.errors import GankitError
from gankit.infra.io import atomic_write

TSNE_PERPLEXITY = 40  # TimeGAN's setting; lowered for small sets, where t-SNE needs perplexity < samples
REAL_COLOUR, SYNTH_COLOUR = "tab:red", "tab:blue"


def embedding_png(real: np.ndarray, synth: np.ndarray, path: str | Path, *, method: str = "pca", n: int = 1000,
                  seed: int = 0) -> Path:
    """Scatter of real (red) and generated (blue) series in 2-D, written to `path`; returns the path.

    method: "pca" (fitted on the real series, applied to both) or "tsne" (of both together). n: the most series
    drawn (seeded) from each set.
    """
    if method not in ("pca", "tsne"):
        raise GankitError(f"unknown embedding method {method!r}: use 'pca' or 'tsne'")
    r, s = _checked(real, synth)
    rng = np.random.default_rng(seed)
    r, s = (_sample(x, n, rng).mean(axis=2) for x in (r, s))  # (n, T): TimeGAN's reduction over features
    points_r, points_s = _pca(r, s) if method == "pca" else _tsne(r, s, seed)
    fig = _figure((5, 5))
    ax = fig.add_subplot()
    ax.scatter(points_r[:, 0], points_r[:, 1], c=REAL_COLOUR, alpha=0.2, s=8, label="real")
    ax.scatter(points_s[:, 0], points_s[:, 1], c=SYNTH_COLOUR, alpha=0.2, s=8, label="generated")
    ax.set_title(f"{'PCA' if method == 'pca' else 't-SNE'} of the series (mean over features per step)")
    ax.set_xlabel("x-pca" if method == "pca" else "x-tsne")
    ax.set_ylabel("y-pca" if method == "pca" else "y-tsne")
    ax.legend()
    return _save(fig, path)


def series_png(real: np.ndarray, synth: np.ndarray, path: str | Path, *, n: int = 6,
               features: Sequence[int] | None = None, seed: int = 0) -> Path:
    """A grid of n rows: a real series (left, "real") beside a generated one (right, "generated"), each feature
    one line; `features` picks which (default all). Written to `path`; returns the path."""
    r, s = _checked(real, synth)
    picked = _features(features, r.shape[2])
    rng = np.random.default_rng(seed)
    r, s = _sample(r, n, rng), _sample(s, n, rng)
    rows = max(len(r), len(s))
    fig = _figure((8, 1.4 * rows + 0.6))
    axes = fig.subplots(rows, 2, sharex=True, sharey=True, squeeze=False)
    for col, (series, title) in enumerate(((r, "real"), (s, "generated"))):
        axes[0, col].set_title(title)
        for row in range(rows):
            ax = axes[row, col]
            if row < len(series):
                ax.plot(series[row][:, picked], linewidth=1)
            else:
                ax.set_axis_off()  # fewer series in this set than rows
    for ax in axes[-1]:
        ax.set_xlabel("time step")
    fig.tight_layout()
    return _save(fig, path)


def _checked(real, synth) -> tuple[np.ndarray, np.ndarray]:
    r, s = np.asarray(real, dtype=np.float64), np.asarray(synth, dtype=np.float64)
    for x, name in ((r, "the real series"), (s, "the synthetic series")):
        if x.ndim != 3 or 0 in x.shape:
            raise GankitError(f"{name} have shape {x.shape}: give a non-empty array of shape (N, T, F)")
    if r.shape[1:] != s.shape[1:]:
        raise GankitError(f"the synthetic series have shape {s.shape} but the real series have {r.shape}: give "
                          f"series of the same length T and feature count F")
    return r, s


def _features(features: Sequence[int] | None, count: int) -> list[int]:
    picked = list(range(count)) if features is None else [int(f) for f in features]
    bad = [f for f in picked if not 0 <= f < count]
    if bad or not picked:
        raise GankitError(f"features {features!r} do not name features of series with {count}: give indices from "
                          f"0 to {count - 1}")
    return picked


def _sample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if n < 1:
        raise GankitError(f"n is {n}: give 1 or more series to draw")
    return x[np.sort(rng.choice(len(x), min(n, len(x)), replace=False))]


def _pca(real: np.ndarray, synth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    if min(real.shape) < 2:
        raise GankitError(f"PCA needs 2 or more real series of 2 or more steps, got {real.shape}: give more series")
    pca = PCA(n_components=2).fit(real)  # fitted on real alone: the axes are the real data's
    return pca.transform(real), pca.transform(synth)


def _tsne(real: np.ndarray, synth: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    both = np.concatenate([real, synth])
    if len(both) < 4:
        raise GankitError(f"t-SNE needs 4 or more series in all, got {len(both)}: give more series")
    perplexity = min(TSNE_PERPLEXITY, (len(both) - 1) / 3)
    # One OpenMP thread: with another process busy, t-SNE's threads wait on each other (2,000 series: 48 s on two
    # threads against 14 s on one, measured on 2 cores); alone it is still fast enough for a figure.
    with threadpool_limits(1):
        points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(both)
    return points[:len(real)], points[len(real):]


def _figure(size: tuple[float, float]):
    # A bare Figure on the Agg canvas: no pyplot, so no global figure list and no display backend to pick.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    path = Path(path)
    atomic_write(path, buffer.getbuffer(), fix="free some disk space or write the figure to another folder")
    return path
