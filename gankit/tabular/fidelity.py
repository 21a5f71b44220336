"""Fidelity of a synthetic table: each column's shape, the trends of each pair of columns, and whether a
classifier can tell synthetic rows from real ones (detection)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from gankit.tabular.frames import MISSING, NUMERIC, category_codes, fit_encoder, numeric_columns, sample, stack, tvd

N_BINS = 10  # quantile bins of a numeric column in a pair with a discrete one
MAX_PAIR_COLUMNS = 30  # pairs grow as columns squared


# ---- 1. column shape -------------------------------------------------------------------------------------

def column_shape(r: pd.DataFrame, s: pd.DataFrame, kinds: dict) -> dict:
    """Per column: numeric, 1 - KS statistic of the present values; discrete, 1 - TVD of the category
    frequencies (MISSING included). The missing-share difference is reported for every column."""
    per_column, missing_diff = {}, {}
    for c in r.columns:
        if kinds[c] == NUMERIC:
            per_column[str(c)] = _ks_score(r[c].dropna().to_numpy(), s[c].dropna().to_numpy())
        else:
            per_column[str(c)] = 1.0 - tvd(*category_codes(r[c], s[c]))
        missing_diff[str(c)] = abs(float(_missing_share(r[c])) - float(_missing_share(s[c])))
    return {"mean": float(np.mean(list(per_column.values()))), "per_column": per_column,
            "missing_share_diff": missing_diff}


def _ks_score(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 or len(b) == 0:  # nothing to compare: alike only if both are all-missing
        return float(len(a) == len(b))
    return 1.0 - float(ks_2samp(a, b).statistic)


def _missing_share(col: pd.Series) -> float:
    return float((col == MISSING).mean()) if col.dtype == object else float(col.isna().mean())


# ---- 2. pair trends --------------------------------------------------------------------------------------

def pair_trends(r: pd.DataFrame, s: pd.DataFrame, kinds: dict, notes: list) -> dict:
    """Per pair of columns: both numeric, 1 - |pearson_real - pearson_synthetic| / 2; otherwise (or when a
    correlation is undefined, a constant column) 1 - TVD of the joint frequencies, numeric columns cut at the
    real data's deciles (missing values a bin of their own)."""
    columns = list(r.columns[:MAX_PAIR_COLUMNS])
    if r.shape[1] > MAX_PAIR_COLUMNS:
        notes.append(f"pair trends use the first {MAX_PAIR_COLUMNS} of {r.shape[1]} columns")
    numeric = numeric_columns(kinds, columns)
    corr_r, corr_s = r[numeric].corr(), s[numeric].corr()
    codes = {c: _pair_codes(r[c], s[c], kinds[c]) for c in columns}
    per_pair: dict = {}
    for i, a in enumerate(columns):
        for b in columns[i + 1:]:
            rho_r = corr_r.at[a, b] if a in numeric and b in numeric else np.nan
            rho_s = corr_s.at[a, b] if a in numeric and b in numeric else np.nan
            if np.isfinite(rho_r) and np.isfinite(rho_s):
                score = 1.0 - abs(float(rho_r) - float(rho_s)) / 2
            else:
                score = 1.0 - tvd(*_joint(codes[a], codes[b]))
            per_pair.setdefault(str(a), {})[str(b)] = score
    values = [v for row in per_pair.values() for v in row.values()]
    if not values:
        notes.append("pair trends need two or more columns")
    return {"mean": float(np.mean(values)) if values else math.nan, "per_pair": per_pair,
            "columns_used": len(columns), "columns_skipped": r.shape[1] - len(columns)}


def _pair_codes(a: pd.Series, b: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    return _decile_codes(a, b) if kind == NUMERIC else category_codes(a, b)


def _decile_codes(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Bins of a numeric column at the real table's (a's) quantiles, the same edges for synthetic (b)."""
    present = a.dropna().to_numpy()
    inner = np.unique(np.quantile(present, np.linspace(0, 1, N_BINS + 1)))[1:-1] if len(present) else []

    def bin_of(col: pd.Series) -> np.ndarray:
        values = col.to_numpy(float)
        return np.where(np.isnan(values), N_BINS, np.searchsorted(inner, values, side="right"))

    return bin_of(a), bin_of(b)


def _joint(a: tuple, b: tuple) -> tuple[np.ndarray, np.ndarray]:
    """One code per (a, b) combination, for the real and the synthetic rows."""
    width = max(int(a[0].max(initial=0)), int(a[1].max(initial=0))) + 1
    return b[0].astype(np.int64) * width + a[0], b[1].astype(np.int64) * width + a[1]


# ---- 3. detection ----------------------------------------------------------------------------------------

def detection(r: pd.DataFrame, s: pd.DataFrame, kinds: dict, seed: int, max_rows: int, notes: list) -> dict:
    """ROC AUC of a logistic regression telling synthetic (1) from real (0) rows, from 3-fold stratified
    cross-validated probabilities on equal-sized samples. detection_score = 1 - 2 max(AUC - 0.5, 0).
    A linear model sees differences of the columns' means and category shares, not lost correlations:
    pair trends measure those."""
    n = min(len(r), len(s), max_rows // 2)
    if n < 3:
        notes.append(f"detection needs 3 or more rows per table for 3 folds, has {n}")
        return {"auc": math.nan, "detection_score": math.nan, "rows_per_table": n}
    real_rows, synthetic_rows = sample(r, n, seed), sample(s, n, seed + 1)
    encode = fit_encoder(real_rows, kinds)
    x = stack(encode(real_rows), encode(synthetic_rows))
    y = np.r_[np.zeros(n, int), np.ones(n, int)]
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        proba = cross_val_predict(LogisticRegression(max_iter=1000), x, y, cv=folds, method="predict_proba")
    auc = float(roc_auc_score(y, proba[:, 1]))
    return {"auc": auc, "detection_score": 1.0 - 2.0 * max(auc - 0.5, 0.0), "rows_per_table": n,
            "classifier": "LogisticRegression(max_iter=1000)", "folds": 3}
