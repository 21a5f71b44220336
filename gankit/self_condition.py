"""Self-conditioning (Liu et al. 2020, "Diverse image generation via self-conditioned GANs"): an unlabelled
data set is clustered, and G and D are trained as a conditional pair on the cluster ids.

Why: with the same networks and recipe, a projection D that knows each real image's class took MNIST from
FID 252 to 67 in 3 CPU-minutes (a G that gets the label while D does not gained nothing), so D needs the
classes, and an unlabelled set has none. Clusters stand in for them.

The clusters come from k-means on the images' leading principal components, computed once at the start
and saved in the checkpoint. Outside training the run is unconditional: `SelfConditionedGenerator` takes
noise alone and reads the cluster from the noise's first coordinate, drawn at each cluster's share of the
training set; the remaining coordinates are G's noise, so the cluster and G's noise stay independent.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from gankit.errors import GankitError

PCA_COMPONENTS = 50
PCA_FIT_IMAGES = 20_000
CHUNK = 10_000


def cluster_images(images: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """Cluster ids (N,) long for uint8 images (N, C, H, W): k-means on their leading principal components."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    if k > len(images):
        raise GankitError(f"--self-condition {k} asks for more clusters than the {len(images)} training images: "
                          "use fewer clusters")
    flat = images.reshape(len(images), -1)

    def as_float(rows: torch.Tensor) -> np.ndarray:
        return rows.float().numpy() / 255.0

    components = min(PCA_COMPONENTS, *flat.shape)
    if components < flat.shape[1]:  # PCA fitted on a sample, applied in chunks: never all images in float at once
        fit_rows = torch.randperm(len(flat), generator=torch.Generator().manual_seed(seed))[:PCA_FIT_IMAGES]
        pca = PCA(components, random_state=seed).fit(as_float(flat[fit_rows]))
        features = np.concatenate([pca.transform(as_float(flat[i:i + CHUNK])) for i in range(0, len(flat), CHUNK)])
    else:
        features = as_float(flat)
    ids = KMeans(k, n_init=3, random_state=seed).fit_predict(features)
    return torch.from_numpy(ids.astype(np.int64))


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
        ids = torch.searchsorted(self.cluster_cdf, u.to(self.cluster_cdf.dtype).contiguous(), right=True)
        return ids.clamp_(max=self.num_clusters - 1)

    def forward(self, z: torch.Tensor, clusters: torch.Tensor | None = None) -> torch.Tensor:
        if clusters is None:
            clusters = self.clusters_for(z)
        return self.generator(z[:, 1:], clusters)
