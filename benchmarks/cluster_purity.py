"""How well do self-conditioning's clusters find the classes? The figures behind `--self-condition`'s design.

    python benchmarks/cluster_purity.py                     # MNIST and Fashion-MNIST, K = 10, about a minute

For each data set's training split: `gankit.self_condition.cluster_images` (spectral clustering, what
`--self-condition` uses) against k-means on the same 50 principal components (what it used before), each
scored by purity, the share of images whose cluster's most common class is their own. The labels are read
for this score only; training never sees them. Writes --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit import data, self_condition  # noqa: E402
from gankit.io import write_text  # noqa: E402


def purity(ids: np.ndarray, labels: np.ndarray) -> float:
    return float(sum(np.bincount(labels[ids == c]).max() for c in np.unique(ids)) / len(labels))


def k_means_on_components(images, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    features = self_condition.principal_components(images, seed)
    return KMeans(k, n_init=3, random_state=seed).fit_predict(features)


def spectral(images, k: int, seed: int) -> np.ndarray:
    return self_condition.cluster_images(images, k, seed).numpy()


METHODS = {"k-means on principal components": k_means_on_components, "spectral (--self-condition)": spectral}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/cluster_purity.json"))
    args = p.parse_args()
    rows = []
    for name in args.datasets:
        split = data.load_images(name, log=lambda m: None)
        labels = split.labels.numpy()
        for method, cluster in METHODS.items():
            start = time.monotonic()
            ids = cluster(split.images, args.k, args.seed)
            sizes = np.bincount(ids, minlength=args.k)
            rows.append({"dataset": name, "method": method, "k": args.k, "purity": round(purity(ids, labels), 4),
                         "smallest": int(sizes.min()), "largest": int(sizes.max()),
                         "seconds": round(time.monotonic() - start, 1)})
            print(f"{name:14s} {method:32s} purity {rows[-1]['purity']:.3f}  sizes {sizes.min()}-{sizes.max()}  "
                  f"{rows[-1]['seconds']} s", flush=True)
    write_text(args.out, json.dumps({"seed": args.seed, "measured": time.strftime("%Y-%m-%d"), "rows": rows},
                                    indent=1) + "\n")


if __name__ == "__main__":
    main()
