"""Tables to vectors a GAN can learn and back, exactly: column kinds, mode-specific normalisation, one-hots.

Kinds (inferred, or set per column):
  continuous   float values: a Bayesian Gaussian mixture per column (Xu et al. 2019, CTGAN); a value becomes
               (alpha, mode) with alpha = (x - mean_k) / (4 std_k) for a mode k drawn from its posterior
  integer      the same, rounded back to whole numbers
  datetime     the same on seconds since the epoch, back to datetimes
  categorical  one-hot over the categories seen (missing is a category of its own); strings, objects
  boolean      one-hot over {False, True} (and missing)
Point masses and heavy tails: a value that holds at least a tenth of a numeric column's rows (capital-gain's
zeros: 92%; hours-per-week's 40: 47%) is a mode of its own that decodes to exactly that value, so G picks it
like a category, instead of a narrow Gaussian whose alpha noise decodes to 0..30. The mixture is fitted on the
other values; when those are all positive and strongly right-skewed (skewness above 2) and their logarithm is
less skewed, it is fitted on log(x) (capital-gain's tail, 114 to 99,999), and decodes through exp.
Numeric columns with missing values get a two-way one-hot (present, missing) beside their alpha and mode.
A column with fewer than two distinct values (e.g. constant, or all missing) is kept as a categorical one:
it comes back exactly as it was. Inverse: every column returns in its original dtype, numeric values within
the real range, and no category the data never had.

The fitted state is plain numbers and strings (`state()`), so it is stored as JSON: no pickle.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gankit.infra.errors import GankitError

KINDS = ("continuous", "integer", "datetime", "categorical", "boolean")
NUMERIC = ("continuous", "integer", "datetime")
MAX_MODES = 10
POINT_SHARE = 0.1  # a numeric value holding this share of the rows is a point mass: a mode that decodes exactly
LOG_SKEW = 2.0  # the mixture is fitted on log(x) when the non-point values are positive and skewed beyond this
FIT_ROWS = 10_000  # rows each mixture is fitted on: enough for its modes, and seconds rather than minutes
MISSING = "__missing__"  # how a missing category is written in the saved state (JSON has no NaN keys)
OTHER = "__other__"  # the category that stands for a column's rare values, beyond max_categories
MAX_CATEGORIES = 100  # categories one-hot encoded per column; the rest share OTHER (each a 1-of-K slot in G and D)


def infer_kinds(df: pd.DataFrame, overrides: dict[str, str] | None = None) -> dict[str, str]:
    overrides = dict(overrides or {})
    for name, kind in overrides.items():
        if name not in df.columns:
            raise GankitError(f"column kind given for '{name}', which the table lacks: use one of {list(df.columns)}")
        if kind not in KINDS:
            raise GankitError(f"unknown column kind '{kind}' for '{name}': use one of {', '.join(KINDS)}")
    return {str(c): overrides.get(c) or _infer(df[c]) for c in df.columns}


def _infer(s: pd.Series) -> str:
    if s.nunique(dropna=True) < 2:
        return "categorical"
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_numeric_dtype(s):
        values = s.dropna().to_numpy(dtype=float)
        return "integer" if np.all(values == np.round(values)) else "continuous"
    types = {type(v).__name__ for v in s.dropna().head(10_000)}
    if len(types) > 1:
        raise GankitError(f"column '{s.name}' mixes types ({', '.join(sorted(types))}): make it one type, "
                          "or read the file as CSV (every value a string)")
    return "categorical"


@dataclass
class ColumnCoder:
    """One column's encoding: `width` numbers per row, `activations` says how G outputs each span."""

    name: str
    kind: str
    dtype: str
    categories: list = field(default_factory=list)  # categorical / boolean; NaN stands for missing
    points: list[float] = field(default_factory=list)  # numeric: exact values, each a mode before the Gaussian ones
    means: list[float] = field(default_factory=list)  # numeric: one per kept Gaussian mode
    stds: list[float] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    log: bool = False  # the Gaussian modes model log(x)
    low: float = 0.0  # the range of the values the Gaussian modes stand for (points lie outside it or in it)
    high: float = 0.0
    has_missing: bool = False
    rare: list = field(default_factory=list)  # values grouped as OTHER, drawn by their frequencies when decoding
    rare_weights: list[float] = field(default_factory=list)

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    @property
    def spans(self) -> list[tuple[str, int]]:
        """(activation, width) of each piece: tanh for alpha, softmax for a one-hot."""
        if not self.numeric:
            return [("softmax", len(self.categories))]
        modes = len(self.points) + len(self.means)
        return [("tanh", 1), ("softmax", modes)] + ([("softmax", 2)] if self.has_missing else [])

    @property
    def width(self) -> int:
        return sum(w for _, w in self.spans)


class TableTransformer:
    """A table's columns as one vector per row, and back. A categorical column keeps its `max_categories` - 1 most
    frequent values as categories and groups the rest as OTHER, so G, D and checkpoints stay bounded however many
    distinct values a column holds (an ID, a free-text field); sampling draws OTHER's values by their frequencies."""

    def __init__(self, kinds: dict[str, str] | None = None, seed: int = 0, max_categories: int = MAX_CATEGORIES):
        self.kinds_given, self.seed, self.max_categories = dict(kinds or {}), seed, max_categories
        self.coders: list[ColumnCoder] = []
        self.notes: list[str] = []  # what fitting changed, for the log

    # --- fitting ---
    def fit(self, df: pd.DataFrame) -> "TableTransformer":
        check_table(df)
        kinds = infer_kinds(df, self.kinds_given)
        check_values(df, kinds)
        self.coders = [self._fit_column(df[name], kind) for name, kind in kinds.items()]
        return self

    def _fit_column(self, s: pd.Series, kind: str) -> ColumnCoder:
        coder = ColumnCoder(str(s.name), kind, str(s.dtype), has_missing=bool(s.isna().any()))
        if kind not in NUMERIC:
            counts = s.value_counts(dropna=True)
            if len(counts) > self.max_categories:
                rare = counts.iloc[self.max_categories - 1:]
                coder.rare, coder.rare_weights = rare.index.tolist(), (rare / rare.sum()).tolist()
                s = s.where(~s.isin(set(coder.rare)), OTHER)
                self.notes.append(f"column '{s.name}': {len(counts):,} categories; the {self.max_categories - 1} "
                                  f"most frequent are kept, the other {len(rare):,} ({rare.sum() / len(s):.1%} of "
                                  f"rows) share one category and are drawn by their frequencies when sampling "
                                  f"(--max-categories)")
            coder.categories = _categories(s)
            return coder
        x = _to_float(s, kind)
        x = x[~np.isnan(x)]
        values, counts = np.unique(x, return_counts=True)
        coder.points = values[counts >= POINT_SHARE * len(x)].tolist()
        rest = x[~np.isin(x, coder.points)]
        if len(rest) == 0:  # every value is a point mass
            coder.low = coder.high = float(coder.points[0])
            return coder
        coder.low, coder.high = float(rest.min()), float(rest.max())
        coder.log = _log_scale_fits(rest)
        coder.means, coder.stds, coder.weights = _fit_modes(np.log(rest) if coder.log else rest, self.seed)
        if coder.points:
            self.notes.append(f"column '{s.name}': {', '.join(f'{v:g}' for v in coder.points)} "
                              f"({np.isin(x, coder.points).mean():.0%} of rows) kept as exact values"
                              + ("; the other values modelled on a log scale" if coder.log else ""))
        return coder

    # --- transforming ---
    def transform(self, df: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """(N, width) float32; modes are drawn from each value's posterior, so `rng` matters."""
        missing = [c.name for c in self.coders if c.name not in df.columns]
        if missing:
            raise GankitError(f"the table lacks columns {missing} the model was fitted on: give the same columns")
        return np.concatenate([self._encode(c, df[c.name], rng) for c in self.coders], axis=1).astype(np.float32)

    def _encode(self, c: ColumnCoder, s: pd.Series, rng: np.random.Generator) -> np.ndarray:
        if not c.numeric:
            if c.rare:
                s = s.where(~s.isin(set(c.rare)), OTHER)
            return _one_hot(_category_codes(c, s), len(c.categories))
        x = _to_float(s, c.kind)
        present = ~np.isnan(x)
        points = np.asarray(c.points, dtype=float)
        on_point = np.isin(x, points)
        point = np.flatnonzero(on_point)
        modes, alpha = np.zeros(len(x), dtype=int), np.zeros(len(x))
        gaussian = np.flatnonzero(present & ~on_point)
        if len(gaussian):
            modes[gaussian], alpha[gaussian] = self._gaussian_modes(c, x[gaussian], rng)
            modes[gaussian] += len(points)
        modes[point] = points.searchsorted(x[point])
        parts = [alpha[:, None], _one_hot(modes, len(points) + len(c.means))]
        if c.has_missing:
            parts.append(_one_hot((~present).astype(int), 2))
        return np.concatenate(parts, axis=1)

    @staticmethod
    def _gaussian_modes(c: ColumnCoder, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if not c.means:
            raise GankitError(f"column '{c.name}' holds {x[0]!r}, but the model saw only the values {c.points}: "
                              "give values the model was fitted on")
        y = np.log(np.maximum(x, c.low)) if c.log else x
        means, stds, weights = map(np.asarray, (c.means, c.stds, c.weights))
        # posterior of each mode, then one mode drawn per value (CTGAN): a value between modes is not always
        # encoded by the same mode, which keeps alpha small and the one-hot informative
        log_p = np.log(weights) - np.log(stds) - 0.5 * ((y[:, None] - means) / stds) ** 2
        p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        modes = (p.cumsum(axis=1) > rng.random((len(y), 1))).argmax(axis=1)
        return modes, np.clip((y - means[modes]) / (4 * stds[modes]), -0.99, 0.99)

    # --- inverting ---
    def inverse(self, matrix: np.ndarray, rng: np.random.Generator | None = None) -> pd.DataFrame:
        """The table of an encoded matrix; `rng` draws the rare values grouped as OTHER."""
        rng = rng if rng is not None else np.random.default_rng(self.seed)
        out, start = {}, 0
        for c in self.coders:
            out[c.name] = self._decode(c, matrix[:, start:start + c.width], rng)
            start += c.width
        return pd.DataFrame(out)

    def _decode(self, c: ColumnCoder, m: np.ndarray, rng: np.random.Generator) -> pd.Series:
        if not c.numeric:
            values = np.array([c.categories[i] for i in m.argmax(axis=1)], dtype=object)
            if c.rare:
                other = np.flatnonzero(values == OTHER)
                values[other] = np.asarray(c.rare, dtype=object)[rng.choice(len(c.rare), len(other),
                                                                             p=c.rare_weights)]
            return _restore_dtype(pd.Series(values, dtype=object), c)
        n_points, k = len(c.points), len(c.points) + len(c.means)
        slot = m[:, 1:1 + k].argmax(axis=1)
        x = np.empty(len(m))
        on_point = slot < n_points
        x[on_point] = np.asarray(c.points, dtype=float)[slot[on_point]]
        if c.means:
            g = slot[~on_point] - n_points
            y = np.clip(m[~on_point, 0], -1, 1) * 4 * np.asarray(c.stds)[g] + np.asarray(c.means)[g]
            x[~on_point] = np.clip(np.exp(np.minimum(y, np.log(c.high))) if c.log else y, c.low, c.high)
        if c.kind in ("integer", "datetime"):
            x = np.round(x)
        if c.has_missing:
            x = np.where(m[:, 1 + k:3 + k].argmax(axis=1) == 1, np.nan, x)
        return _restore_dtype(pd.Series(x), c)

    @property
    def width(self) -> int:
        return sum(c.width for c in self.coders)

    def discrete(self) -> list[ColumnCoder]:
        """Columns G can be conditioned on (training-by-sampling): the categorical and boolean ones."""
        return [c for c in self.coders if not c.numeric]

    def span_of(self, name: str) -> tuple[int, ColumnCoder]:
        start = 0
        for c in self.coders:
            if c.name == name:
                return start, c
            start += c.width
        raise GankitError(f"unknown column '{name}': use one of {[c.name for c in self.coders]}")

    # --- saving ---
    def state(self) -> dict[str, Any]:
        coders = []
        for c in self.coders:
            d = dict(vars(c))
            d["categories"] = [_encode_value(v) for v in c.categories]
            d["rare"] = [_encode_value(v) for v in c.rare]
            coders.append(d)
        return {"seed": self.seed, "kinds_given": self.kinds_given, "max_categories": self.max_categories,
                "coders": coders}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "TableTransformer":
        t = cls(state["kinds_given"], state["seed"], state.get("max_categories", MAX_CATEGORIES))
        for d in state["coders"]:
            d = dict(d)
            d["categories"] = [_decode_value(v) for v in d["categories"]]
            d["rare"] = [_decode_value(v) for v in d.get("rare", [])]
            t.coders.append(ColumnCoder(**d))
        return t


def check_table(df: pd.DataFrame, name: str = "the table") -> None:
    """A one-line GankitError unless `df` is a DataFrame with rows, columns and unique column names."""
    if not isinstance(df, pd.DataFrame):
        raise GankitError(f"{name} is a {type(df).__name__}, not a pandas DataFrame: pass a DataFrame "
                          "(pandas.read_csv gives one)")
    if df.shape[1] == 0 or len(df) == 0:
        raise GankitError(f"{name} is empty ({len(df)} rows, {df.shape[1]} columns): give a table with a header "
                          "row and data rows")
    if df.columns.has_duplicates:
        repeated = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise GankitError(f"{name} repeats column names {repeated}: rename them so each is unique")


def check_values(df: pd.DataFrame, kinds: dict[str, str]) -> None:
    """A one-line GankitError for values a column's kind cannot take: text in a numeric column (a --column-kind
    override that does not fit), inf, dates that do not parse."""
    for name, kind in kinds.items():
        if kind not in NUMERIC:
            continue
        try:
            x = _to_float(df[name], kind)
        except (ValueError, TypeError, OverflowError):
            bad = next((v for v in df[name].dropna().head(10_000) if not _parses(v, kind)), None)
            example = f" ({bad!r})" if bad is not None else ""
            raise GankitError(f"column '{name}' holds values{example} that are not {kind}: give it "
                              f"--column-kind {name}=categorical, or fix those values") from None
        infinite = int(np.isinf(x).sum())
        if infinite:
            raise GankitError(f"column '{name}' holds inf in {infinite} rows: replace them with empty cells "
                              "(missing values) or finite numbers")


def _parses(v, kind: str) -> bool:
    try:
        _to_float(pd.Series([v]), kind)
        return True
    except (ValueError, TypeError, OverflowError):
        return False


def _log_scale_fits(x: np.ndarray) -> bool:
    """A positive, strongly right-skewed column whose logarithm is less skewed: a money-like heavy tail."""
    from scipy.stats import skew

    if len(x) < 3 or x.min() <= 0 or np.ptp(x) == 0:
        return False
    raw = float(skew(x))
    return raw > LOG_SKEW and abs(float(skew(np.log(x)))) < raw


def _fit_modes(x: np.ndarray, seed: int) -> tuple[list[float], list[float], list[float]]:
    from sklearn.mixture import BayesianGaussianMixture

    rng = np.random.default_rng(seed)
    sample = rng.choice(x, FIT_ROWS, replace=False) if len(x) > FIT_ROWS else x
    spread = float(np.std(sample)) or 1.0
    n = min(MAX_MODES, len(np.unique(sample)))
    bgm = BayesianGaussianMixture(n_components=n, weight_concentration_prior_type="dirichlet_process",
                                  weight_concentration_prior=1e-3, max_iter=100, random_state=seed)
    with warnings.catch_warnings():  # sklearn warns when a mixture stops at max_iter; its fit is still used
        warnings.simplefilter("ignore")
        bgm.fit(sample.reshape(-1, 1) / spread)  # scaled: the mixture's priors assume unit-scale data
    keep = bgm.weights_ > 5e-3
    means = (bgm.means_[keep, 0] * spread).tolist()
    # a floor on each std: a mode on one repeated value (e.g. capital-gain's zeros) has std ~ 0
    stds = np.maximum(np.sqrt(bgm.covariances_[keep, 0, 0]) * spread, 1e-3 * spread).tolist()
    weights = (bgm.weights_[keep] / bgm.weights_[keep].sum()).tolist()
    return means, stds, weights


def _to_float(s: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        ts = pd.to_datetime(s)
        seconds = (ts - pd.Timestamp(0, tz=ts.dt.tz)) // pd.Timedelta(seconds=1)
        return seconds.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(s).astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _categories(s: pd.Series) -> list:
    values = s.dropna().unique().tolist()
    try:
        values = sorted(values)
    except TypeError:
        values = sorted(values, key=str)
    return values + ([math.nan] if s.isna().any() else [])


def _category_codes(c: ColumnCoder, s: pd.Series) -> np.ndarray:
    index = {v: i for i, v in enumerate(c.categories) if not _is_missing(v)}
    missing = next((i for i, v in enumerate(c.categories) if _is_missing(v)), None)
    codes = []
    for v in s.tolist():
        i = missing if _is_missing(v) else index.get(v)
        if i is None:
            raise GankitError(f"column '{c.name}' holds {v!r}, a value the model never saw: "
                              f"use one of {[x for x in c.categories if not _is_missing(x)][:10]}")
        codes.append(i)
    return np.asarray(codes, dtype=int)


def _restore_dtype(s: pd.Series, c: ColumnCoder) -> pd.Series:
    """The column in the dtype it came in (int64 stays int64, category stays category, str stays str)."""
    if c.kind == "datetime":
        ts = pd.to_datetime(s, unit="s")
        tz = getattr(pd.api.types.pandas_dtype(c.dtype), "tz", None)
        return (ts.dt.tz_localize("UTC").dt.tz_convert(tz) if tz else ts).astype(c.dtype)
    if c.dtype.startswith(("int", "uint")) and s.dtype.kind == "f":
        s = s.round()
    return s.astype(c.dtype)


def _one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(codes), k))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def _is_missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _encode_value(v):
    """A category as JSON can hold it and give it back with its type."""
    if _is_missing(v):
        return {"missing": True}
    if isinstance(v, (bool, np.bool_)):
        return {"bool": bool(v)}
    if isinstance(v, (int, np.integer)):
        return {"int": int(v)}
    if isinstance(v, (float, np.floating)):
        return {"float": float(v)}
    if isinstance(v, pd.Timestamp):
        return {"timestamp": v.isoformat()}
    return {"str": str(v)}


def _decode_value(d: dict):
    (tag, value), = d.items()
    return {"missing": lambda v: math.nan, "bool": bool, "int": int, "float": float,
            "timestamp": pd.Timestamp, "str": str}[tag](value)
