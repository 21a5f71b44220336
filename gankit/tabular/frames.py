"""One form for the real, synthetic and held-out tables the quality scores compare: numeric columns as float64
(NaN missing), discrete ones as strings; shared codes, distances, sampling and the encoding fitted on real rows."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from gankit.infra.errors import GankitError

NUMERIC, DISCRETE = "numeric", "discrete"
MISSING = "<missing>"  # the category a missing discrete value becomes


def names(columns, limit: int = 8) -> str:
    shown = ", ".join(repr(c) for c in list(columns)[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def prepared(frame: pd.DataFrame, kinds: dict, name: str) -> pd.DataFrame:
    """Numeric columns as float64 (NaN missing), discrete ones as strings with MISSING: one form per kind,
    whichever dtype each table happened to store."""
    cols = {c: as_float(frame[c], c, name) if kinds[c] == NUMERIC else as_labels(frame[c]) for c in frame.columns}
    return pd.DataFrame(cols, index=frame.index)


def as_float(col: pd.Series, column, name: str) -> pd.Series:
    if ptypes.is_datetime64_any_dtype(col.dtype) or ptypes.is_timedelta64_dtype(col.dtype):
        return nanoseconds(col)
    if ptypes.is_numeric_dtype(col.dtype):
        return col.astype(float)
    try:
        return pd.to_numeric(col).astype(float)
    except (ValueError, TypeError):
        raise GankitError(f"column {column!r} is numeric in the real table but holds non-numbers in the {name} "
                          f"table: convert it to the real column's dtype, or name it in discrete=") from None


def nanoseconds(col: pd.Series) -> pd.Series:
    # pandas 3 keeps a unit per column (s, ms, us, ns): bring every table to ns before taking the integers.
    col = col.dt.as_unit("ns")
    out = np.full(len(col), np.nan)
    present = col.notna().to_numpy()
    out[present] = col[present].astype("int64").to_numpy()
    return pd.Series(out, index=col.index)


def as_labels(col: pd.Series) -> pd.Series:
    """Discrete values as strings, MISSING for missing ones. Numbers go through float first so that an int
    column in one table and the same column as float in another (ints gain a .0 with a NaN) agree."""
    missing = col.isna().to_numpy()
    if ptypes.is_numeric_dtype(col.dtype) and not ptypes.is_bool_dtype(col.dtype):
        text = col.astype(float).astype(str)
    else:
        text = col.astype(object).astype(str)
    return pd.Series(np.where(missing, MISSING, text.to_numpy(object)), index=col.index, dtype=object)


def numeric_columns(kinds: dict, columns) -> list:
    return [c for c in columns if kinds[c] == NUMERIC]


def category_codes(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of discrete values, shared by both tables."""
    codes, _ = pd.factorize(pd.concat([a, b], ignore_index=True))
    return codes[:len(a)], codes[len(a):]


def tvd(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance between the frequencies of the codes in a and in b."""
    _, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = int(inverse.max()) + 1
    p = np.bincount(inverse[:len(a)], minlength=k) / len(a)
    q = np.bincount(inverse[len(a):], minlength=k) / len(b)
    return 0.5 * float(np.abs(p - q).sum())



def fit_encoder(frame: pd.DataFrame, kinds: dict) -> Callable[[pd.DataFrame], object]:
    """Fit on `frame`: one-hot discrete columns (unseen categories all zero), numeric columns with missing
    values imputed by frame's median plus a missing indicator, then standardised. Returns the transform."""
    numeric = [i for i, c in enumerate(frame.columns) if kinds[c] == NUMERIC]
    discrete = [i for i, c in enumerate(frame.columns) if kinds[c] == DISCRETE]
    parts = []
    if numeric:
        impute = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        parts.append(("numeric", make_pipeline(impute, StandardScaler()), numeric))
    if discrete:
        parts.append(("discrete", OneHotEncoder(handle_unknown="ignore"), discrete))
    encoder = ColumnTransformer(parts).fit(positional(frame))
    return lambda other: encoder.transform(positional(other))


def positional(frame: pd.DataFrame) -> pd.DataFrame:
    # Columns by position: any names (ints, mixed types) work, and sklearn compares no feature names.
    return frame.set_axis(range(frame.shape[1]), axis=1)


def stack(a, b):
    return sparse.vstack([a, b]).tocsr() if sparse.issparse(a) else np.vstack([a, b])


def sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= n else frame.sample(n=n, random_state=seed)
