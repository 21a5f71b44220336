"""Synthetic tables: a conditional tabular GAN (CTGAN's design) with a fit / sample API, and the report that
says whether its output is usable.

    from gankit.tabular import TabularGAN, evaluate_table
    gan = TabularGAN(epochs=100).fit(df)
    report = evaluate_table(df, gan.sample(len(df)), real_test=test_df, target="income")
"""

from __future__ import annotations

from typing import Any

__all__ = ["TabularGAN", "TabularConfig", "evaluate_table", "TableReport"]
_HOME = {"TabularGAN": "gan", "TabularConfig": "gan", "evaluate_table": "report", "TableReport": "report"}


def __getattr__(name: str) -> Any:  # imported on first use: the command line checks specs without pandas/sklearn
    if name not in _HOME:
        raise AttributeError(f"module 'gankit.tabular' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"gankit.tabular.{_HOME[name]}"), name)
