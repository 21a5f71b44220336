"""k-nearest-neighbour balls in feature space, in row blocks: for precision/recall, density/coverage and
memorisation.

Nothing here builds an (N, M) matrix: each step holds one (block, M) float32 block of squared distances, so
10k x 10k features take 40 MB a step at block 1024 instead of 800 MB. Distances stay squared: squares order
the same way, and no sqrt is taken per pair.
"""

from __future__ import annotations

import torch

from gankit.infra.errors import GankitError

Tensor = torch.Tensor


def sq_dists(a: Tensor, b: Tensor, b_sq: Tensor) -> Tensor:
    """(len(a), len(b)) squared distances by ||a||² + ||b||² - 2 a·b, clamped at 0 against rounding.

    b_sq is ||b||² per row, computed once by the caller rather than once per block.
    """
    d = torch.addmm(b_sq, a, b.T, alpha=-2)  # in place from here: one (block, M) buffer, not three
    return d.add_(a.square().sum(1, keepdim=True)).clamp_min_(0)


def knn_sq_radii(x: Tensor, k: int, block: int) -> Tensor:
    """(N, k): each row's squared distances to its 1st..k-th nearest other row, ascending."""
    if k > len(x) - 1:
        raise GankitError(f"k-nearest-neighbour metrics with k={k} need more than {k} samples, got {len(x)}")
    x_sq = x.square().sum(1)
    out = []
    for start in range(0, len(x), block):
        d = sq_dists(x[start:start + block], x, x_sq)
        rows = torch.arange(len(d), device=x.device)
        d[rows, rows + start] = float("inf")  # a point is not its own neighbour (an exact duplicate still is)
        out.append(d.topk(k, dim=1, largest=False).values)
    return torch.cat(out)


def ball_hits(queries: Tensor, centres: Tensor, sq_radii: Tensor, block: int) -> tuple[Tensor, Tensor]:
    """Closed balls B(centre_i, r_i): how many balls hold each query (len(queries),), and whether each ball
    holds any query (len(centres),) bool."""
    c_sq = centres.square().sum(1)
    counts = []
    hit = torch.zeros(len(centres), dtype=torch.bool, device=centres.device)
    for start in range(0, len(queries), block):
        inside = sq_dists(queries[start:start + block], centres, c_sq) <= sq_radii
        counts.append(inside.sum(1))
        hit |= inside.any(0)
    return torch.cat(counts), hit


def nearest(queries: Tensor, centres: Tensor, block: int) -> tuple[Tensor, Tensor]:
    """Each query's squared distance to its nearest centre, and that centre's index."""
    c_sq = centres.square().sum(1)
    parts = [sq_dists(queries[s:s + block], centres, c_sq).min(1) for s in range(0, len(queries), block)]
    return torch.cat([p.values for p in parts]), torch.cat([p.indices for p in parts])
