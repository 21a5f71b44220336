"""A generator conditioned on clusters of unlabelled images (gankit.training.self_condition finds them) that
samples like an unconditional one: the cluster is read from the noise."""

from __future__ import annotations

import math

import torch
from torch import nn


class SelfConditionedGenerator(nn.Module):
    """A conditional G over k clusters that samples like an unconditional one.

    `forward(z)` with z (N, z_dim): the cluster is the quantile of z[:, 0] under N(0, 1) mapped onto the
    clusters' shares, and z[:, 1:] is the inner G's noise. `forward(z, clusters)` (training) uses the given
    clusters and still only z[:, 1:], so G sees the same noise in training and in sampling.
    """

    def __init__(self, generator: nn.Module, num_clusters: int):
        super().__init__()
        self.generator, self.num_clusters = generator, num_clusters
        # cumulative shares of the clusters; uniform until set_cluster_sizes, then saved with the weights
        self.register_buffer("cluster_cdf", torch.arange(1, num_clusters + 1, dtype=torch.float32) / num_clusters)

    def set_cluster_sizes(self, sizes: torch.Tensor) -> None:
        shares = sizes.double() / sizes.sum()
        self.cluster_cdf.copy_(shares.cumsum(0).float())

    def clusters_for(self, z: torch.Tensor) -> torch.Tensor:
        u = 0.5 * (1 + torch.erf(z[:, 0].float() / math.sqrt(2)))  # the normal CDF: uniform on (0, 1)
        # searchsorted(cdf, u, right=True), as a count of the shares' bounds at or below u: the same integers, in
        # ops every exporter (ONNX, TorchScript) has
        ids = (self.cluster_cdf[None, :] <= u.to(self.cluster_cdf.dtype)[:, None]).sum(1)
        return ids.clamp(max=self.num_clusters - 1)

    def forward(self, z: torch.Tensor, clusters: torch.Tensor | None = None) -> torch.Tensor:
        if clusters is None:
            clusters = self.clusters_for(z)
        return self.generator(z[:, 1:], clusters)
