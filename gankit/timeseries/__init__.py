"""Synthetic time series: a sequence GAN with a fit / sample API, TimeGAN as its baseline, and TimeGAN's scores
beside the real-data floor.

    from gankit.timeseries import TimeSeriesGAN, read_series, evaluate_series
    train = read_series("sines")                              # or "ucr:BasicMotions", "series:prices.csv"
    gan = TimeSeriesGAN(minutes=15, seed=0).fit(train)
    report = evaluate_series(train.values, gan.sample(1000), read_series("sines", "test").values)
"""

from __future__ import annotations

from typing import Any

__all__ = ["TimeSeriesGAN", "SeriesConfig", "SeriesData", "read_series", "sines", "evaluate_series", "SeriesReport"]
_HOME = {"TimeSeriesGAN": "gan", "SeriesConfig": "gan", "SeriesData": "data", "read_series": "data", "sines": "data",
         "evaluate_series": "metrics", "SeriesReport": "metrics"}


def __getattr__(name: str) -> Any:  # imported on first use: the command line checks specs without torch
    if name not in _HOME:
        raise AttributeError(f"module 'gankit.timeseries' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"gankit.timeseries.{_HOME[name]}"), name)
