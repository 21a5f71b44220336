"""How well do self-conditioning's clusters find the classes? The figures behind `--self-condition`'s design.

    python benchmarks/cluster_purity.py                     # MNIST and Fashion-MNIST, K = 10, 3 seeds, ~20 min

For each data set's training split and each seed: `gankit.training.self_condition.cluster_images` (k-means on a UMAP
embedding, what `--self-condition` uses) against the two methods it used before, on the same 50 principal
components: k-means, and spectral clustering of a 10-nearest-neighbour graph over a 10,000-image sample with a
vote for the rest. Each is scored by purity, the share of images whose cluster's most common class is their
own. The labels are read for this score only; training never sees them. Writes --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit import data  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.training import self_condition  # noqa: E402


def purity(ids: np.ndarray, labels: np.ndarray) -> float:
    return float(sum(np.bincount(labels[ids == c]).max() for c in np.unique(ids)) / len(labels))


def k_means_on_components(images, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    features = self_condition.principal_components(images, seed)
    return KMeans(k, n_init=3, random_state=seed).fit_predict(features)


def spectral_on_a_sample(images, k: int, seed: int, sample_size: int = 10_000, neighbours: int = 10) -> np.ndarray:
    """--self-condition's clustering until 2026-11-26 (Ng, Jordan & Weiss 2001), rebuilt here for comparison."""
    from sklearn.cluster import KMeans
    from sklearn.manifold import spectral_embedding
    from sklearn.neighbors import kneighbors_graph

    features = self_condition.principal_components(images, seed)
    sample = np.sort(np.random.default_rng(seed).permutation(len(features))[:sample_size])
    graph = kneighbors_graph(features[sample], neighbours, mode="connectivity")
    embedding = spectral_embedding(0.5 * (graph + graph.T), n_components=k, drop_first=True, random_state=seed)
    embedding /= np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    sample_ids = KMeans(k, n_init=3, random_state=seed).fit_predict(embedding)
    return self_condition.nearest_neighbour_vote(features[sample], sample_ids, features, k)


def umap_then_k_means(images, k: int, seed: int) -> np.ndarray:
    return self_condition.cluster_images(images, k, seed).numpy()


METHODS = {"k-means": k_means_on_components, "spectral": spectral_on_a_sample, "UMAP + k-means (--self-condition)": umap_then_k_means}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/cluster_purity.json"))
    args = p.parse_args()
    rows = []
    for name in args.datasets:
        split = data.load_images(name, log=lambda m: None)
        labels = split.labels.numpy()
        for method, cluster in METHODS.items():
            for seed in args.seeds:
                start = time.monotonic()
                ids = cluster(split.images, args.k, seed)
                sizes = np.bincount(ids, minlength=args.k)
                rows.append({"dataset": name, "method": method, "k": args.k, "seed": seed,
                             "purity": round(purity(ids, labels), 4), "smallest": int(sizes.min()),
                             "largest": int(sizes.max()), "seconds": round(time.monotonic() - start, 1)})
                print(f"{name:14s} {method:34s} seed {seed} purity {rows[-1]['purity']:.3f}  "
                      f"sizes {sizes.min()}-{sizes.max()}  {rows[-1]['seconds']} s", flush=True)
    write_text(args.out, json.dumps({"seeds": args.seeds, "measured": time.strftime("%Y-%m-%d"), "rows": rows},
                                    indent=1) + "\n")


if __name__ == "__main__":
    main()
