"""The best epoch of a table run, chosen on held-out rows: the epoch whose synthetic rows train the best classifiers
of the target (the report's decision tree, AdaBoost and logistic regression), among those whose near-copy share
passes the privacy guard. The rows it is judged on are a
validation split cut from the training table before the columns are fitted; the test split is never used.

    train, held = split(df, seed)                 # 10% of the rows (at most 5,000) held out
    validator = Validator(train, held, "income", seed)
    validator.score(synthetic_rows)               # {"f1", "near_copy_share", "passes"}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gankit.infra.errors import GankitError
from gankit.tabular.efficacy import positive_class, synthetic_f1
from gankit.tabular.frames import prepared
from gankit.tabular.privacy import NEAR_COPY_WARNING, privacy
from gankit.tabular.report import column_kinds

VALIDATION_SHARE = 0.1
MAX_VALIDATION_ROWS = 5_000
SCORED_ROWS = 5_000  # synthetic rows drawn per check, and real rows they are compared with: seconds, not minutes


def split(df: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, validation rows): a seeded 10% of the rows, at most 5,000, held out."""
    n = min(MAX_VALIDATION_ROWS, int(len(df) * VALIDATION_SHARE))
    if n < 50:
        raise GankitError(f"the table has {len(df)} rows: choosing the best epoch needs at least 500, so that 10% "
                          "of them can be held out; train without --keep-best")
    held = np.random.default_rng(seed).permutation(len(df))[:n]
    mask = np.zeros(len(df), dtype=bool)
    mask[held] = True
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


class Validator:
    def __init__(self, train: pd.DataFrame, validation: pd.DataFrame, target: str, seed: int):
        if target not in train.columns:
            raise GankitError(f"target {target!r} is not a column of the table: use one of {list(train.columns)}")
        if train[target].nunique() < 2:
            raise GankitError(f"target {target!r} has a single class: choosing the best epoch needs two or more")
        self.kinds = column_kinds(train, None)
        self.train = prepared(train, self.kinds, "training")
        self.validation = prepared(validation, self.kinds, "validation")
        self.target, self.seed, self.rows = target, seed, SCORED_ROWS
        self.positive = positive_class(train[target])

    def score(self, synthetic: pd.DataFrame) -> dict:
        s = prepared(synthetic[list(self.train.columns)], self.kinds, "synthetic")
        f1 = synthetic_f1(s, self.validation, self.kinds, self.target, self.positive, self.seed)
        share = privacy(self.train, s, self.validation, self.kinds, self.seed, SCORED_ROWS)[
            "share_closer_than_holdout_p5"]
        return {"f1": f1, "near_copy_share": share, "passes": share <= NEAR_COPY_WARNING}
