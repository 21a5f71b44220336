"""Self-conditioning (Liu et al. 2020, "Diverse image generation via self-conditioned GANs"): an unlabelled
data set is clustered, and G and D are trained as a conditional pair on the cluster ids.

Why: with the same networks and recipe, a projection D that knows each real image's class took MNIST from
FID 252 to 67 in 3 CPU-minutes (a G that gets the label while D does not gained nothing), so D needs the
classes, and an unlabelled set has none. Clusters stand in for them.

The clusters come from spectral clustering (Ng, Jordan & Weiss 2001) of a nearest-neighbour graph over the
images' leading principal components, computed once at the start and saved in the checkpoint. On MNIST it
groups the digits far better than k-means on the same components (purity 0.81 against 0.59 at K=10, the
labels used only to measure that: benchmarks/cluster_purity.py), which is what the conditional D feeds on.
Beyond 10,000 images the graph is built on a sample of them (its eigenvectors are the cost) and every image
takes the cluster most common among its nearest neighbours in that sample.

Outside training the run is unconditional: `SelfConditionedGenerator` takes noise alone and reads the cluster
from the noise's first coordinate, drawn at each cluster's share of the training set; the remaining
coordinates are G's noise, so the cluster and G's noise stay independent.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import nn

from gankit.errors import GankitError

PCA_COMPONENTS = 50
PCA_FIT_IMAGES = 20_000
GRAPH_IMAGES = 10_000  # 8 s here; 20,000 took 43 s for purity 0.83 instead of 0.81
NEIGHBOURS = 10  # the measured runs' setting; on MNIST's sample 5 gave purity 0.81, 10 0.79, 15 0.78, 30 0.72:
# few neighbours keep the digits apart, too few leave the graph in pieces
CHUNK = 10_000


def cluster_images(images: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """Cluster ids (N,) long for uint8 images (N, C, H, W): spectral clustering of their principal components."""
    if k > len(images):
        raise GankitError(f"--self-condition {k} asks for more clusters than the {len(images)} training images: "
                          "use fewer clusters")
    features = principal_components(images, seed)
    if len(features) <= GRAPH_IMAGES:
        return torch.from_numpy(spectral_clusters(features, k, seed).astype(np.int64))
    graph_rows = np.sort(np.random.default_rng(seed).permutation(len(features))[:GRAPH_IMAGES])
    graph_ids = spectral_clusters(features[graph_rows], k, seed)
    # every image, the sample's too, takes its neighbours' commonest cluster: one rule for all of them
    return torch.from_numpy(nearest_neighbour_vote(features[graph_rows], graph_ids, features, k))


def principal_components(images: torch.Tensor, seed: int) -> np.ndarray:
    """(N, up to 50) float features: PCA fitted on a sample and applied in chunks, never all images in float."""
    from sklearn.decomposition import PCA

    flat = images.reshape(len(images), -1)

    def as_float(rows: torch.Tensor) -> np.ndarray:
        return rows.float().numpy() / 255.0

    components = min(PCA_COMPONENTS, *flat.shape)
    if components == flat.shape[1]:
        return as_float(flat)
    fit_rows = torch.randperm(len(flat), generator=torch.Generator().manual_seed(seed))[:PCA_FIT_IMAGES]
    pca = PCA(components, random_state=seed).fit(as_float(flat[fit_rows]))
    return np.concatenate([pca.transform(as_float(flat[i:i + CHUNK])) for i in range(0, len(flat), CHUNK)])


def spectral_clusters(features: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means on the row-normalised leading eigenvectors of the symmetrised NEIGHBOURS-nearest-neighbour graph;
    plain k-means on the features where there are too few points for a graph or the graph falls apart."""
    from scipy.sparse.csgraph import connected_components
    from sklearn.cluster import KMeans
    from sklearn.manifold import spectral_embedding
    from sklearn.neighbors import kneighbors_graph

    def k_means(points: np.ndarray) -> np.ndarray:
        return KMeans(k, n_init=3, random_state=seed).fit_predict(points)

    if k + 1 >= len(features):  # the embedding needs more points than eigenvectors
        return k_means(features)
    graph = kneighbors_graph(features, min(NEIGHBOURS, len(features) - 1), mode="connectivity")
    graph = 0.5 * (graph + graph.T)
    pieces = connected_components(graph, directed=False)[0]
    if pieces > k:  # more pieces than clusters: the zero eigenvalue's space is larger than k, any k of it arbitrary
        return k_means(features)
    # A connected graph's leading eigenvector is constant and says nothing (dropping it took the purity of MNIST's
    # 10,000-image sample from 0.74 to 0.80); in a graph of up to k pieces the leading ones mark the pieces.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Graph is not fully connected")
        embedding = spectral_embedding(graph, n_components=k, drop_first=pieces == 1, random_state=seed)
    embedding /= np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    return k_means(embedding)


def nearest_neighbour_vote(known: np.ndarray, known_ids: np.ndarray, features: np.ndarray, k: int) -> np.ndarray:
    """Each row of `features` takes the commonest cluster among its nearest rows of `known` (ties: lowest id)."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=min(NEIGHBOURS, len(known))).fit(known)
    ids = np.empty(len(features), dtype=np.int64)
    for i in range(0, len(features), CHUNK):
        _, nearest = index.kneighbors(features[i:i + CHUNK])
        votes = np.zeros((len(nearest), k), dtype=np.int64)
        np.add.at(votes, (np.arange(len(nearest))[:, None], known_ids[nearest]), 1)
        ids[i:i + CHUNK] = votes.argmax(1)
    return ids


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
