"""Self-conditioning (Liu et al. 2020, "Diverse image generation via self-conditioned GANs"): an unlabelled
data set is clustered, and G and D are trained as a conditional pair on the cluster ids.

Why: with the same networks and recipe, a projection D that knows each real image's class took MNIST from
FID 252 to 67 in 3 CPU-minutes (a G that gets the label while D does not gained nothing), so D needs the
classes, and an unlabelled set has none. Clusters stand in for them.

The clusters are k-means on a UMAP embedding (McInnes et al. 2018) of the images' 50 leading principal
components, computed once at the start and saved in the checkpoint. How well they match the classes decides
what the conditional D can learn from them (labels used only to measure it, benchmarks/cluster_purity.py): on
MNIST at K=10, k-means on the components reached purity 0.59, spectral clustering of a nearest-neighbour graph
(this module's method until UMAP replaced it) 0.73 to 0.82 depending on the seed, UMAP 0.87. UMAP costs about two minutes on
60,000 images here; beyond EMBEDDED_IMAGES a sample is embedded and every image takes the cluster most common
among its nearest neighbours in that sample.

Outside training the run is unconditional: `gankit.models.self_conditioned.SelfConditionedGenerator` takes noise alone and reads the cluster
from the noise's first coordinate, drawn at each cluster's share of the training set; the remaining
coordinates are G's noise, so the cluster and G's noise stay independent.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.infra.errors import GankitError

PCA_COMPONENTS = 50
PCA_FIT_IMAGES = 20_000
EMBEDDED_IMAGES = 60_000  # all of MNIST: purity 0.87; a 10,000-image sample and a vote gave 0.82
UMAP_NEIGHBOURS = 30
UMAP_COMPONENTS = 10
NEIGHBOURS = 10  # for the vote beyond EMBEDDED_IMAGES
CHUNK = 10_000
KMEANS_INITS = 10


def cluster_images(images: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """Cluster ids (N,) long for uint8 images (N, C, H, W): k-means on a UMAP embedding of their principal
    components."""
    if k > len(images):
        raise GankitError(f"--self-condition {k} asks for more clusters than the {len(images)} training images: "
                          "use fewer clusters")
    features = principal_components(images, seed)
    if len(features) <= EMBEDDED_IMAGES:
        return torch.from_numpy(umap_clusters(features, k, seed).astype(np.int64))
    sample = np.sort(np.random.default_rng(seed).permutation(len(features))[:EMBEDDED_IMAGES])
    sample_ids = umap_clusters(features[sample], k, seed)
    # every image, the sample's too, takes its neighbours' commonest cluster: one rule for all of them
    return torch.from_numpy(nearest_neighbour_vote(features[sample], sample_ids, features, k))


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


def umap_clusters(features: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means on a UMAP embedding of the features; plain k-means on the features where there are too few
    points for UMAP's neighbour graph."""
    from sklearn.cluster import KMeans

    points = features
    if len(features) > 4 * UMAP_NEIGHBOURS:
        import umap  # imported here: numba's start-up costs seconds, and only self-conditioned runs need it

        _cache_umap_kernels()
        # min_dist 0 packs each group tightly, which is what clustering wants (UMAP's documentation);
        # random_state makes it reproducible, at the cost of running on one thread
        points = umap.UMAP(n_neighbors=UMAP_NEIGHBOURS, min_dist=0.0, n_components=UMAP_COMPONENTS,
                           random_state=seed, n_jobs=1).fit_transform(features)
    return KMeans(k, n_init=KMEANS_INITS, random_state=seed).fit_predict(points)


def _cache_umap_kernels() -> None:
    """Keep UMAP's uncached numba kernels on disk after their first compile. umap-learn 0.5 compiles them
    in every process (10-20 s on 2 cores, against 1 s for the embedding of a small set); numba keys the cache
    by source file and CPU, so a changed umap or another machine compiles anew."""
    from umap import umap_, utils

    for kernel in (utils.fast_knn_indices, umap_.smooth_knn_dist, umap_.compute_membership_strengths):
        enable = getattr(kernel, "enable_caching", None)  # a numba dispatcher (perhaps not in another umap)
        if enable is not None:
            try:
                enable()
            except RuntimeError:  # no writable place for numba's cache: compile as before
                pass


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
