"""Evaluation metrics of generated samples, by name, over features computed once by a feature network.

    from gankit.metrics import Features, compute
    scores = compute(["fid", "kid", "pr"], Features(real_feats), Features(fake_feats))
"""

from gankit.metrics.features import Features
from gankit.metrics.frechet import fid_from_stats, gaussian_stats
from gankit.metrics.registry import ALIASES, KEYS, METRICS, TRACKED, Key, Metric, Options, compute, resolve, skipped

__all__ = ["Features", "compute", "skipped", "resolve", "Options", "Metric", "METRICS", "ALIASES", "Key", "KEYS",
           "TRACKED",
           "fid_from_stats", "gaussian_stats"]
