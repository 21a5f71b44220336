"""Is a synthetic table usable? Five measurements against the real table it imitates.

    from gankit.tabular.report import evaluate_table
    report = evaluate_table(real, synthetic, real_test=test, target="income")
    print(report.summary())
    json.dump(report.to_json(), file, allow_nan=False)

1. column shape: does each column, alone, look like the real one?
2. pair trends: are the relations between two columns kept?
3. detection: can a classifier tell synthetic rows from real ones?
4. ML efficacy: do models trained on synthetic rows do as well on real test rows as models trained on real rows?
5. privacy: are synthetic rows closer to real rows than fresh real rows are (copies, near-copies)?

Each measurement is seeded: the same call gives the same numbers.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from scipy import sparse
from scipy.stats import ks_2samp
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import AdaBoostClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from gankit.infra.errors import GankitError
from gankit.tabular.columns import check_table

NUMERIC, DISCRETE = "numeric", "discrete"
MISSING = "<missing>"  # the category a missing discrete value becomes
N_BINS = 10  # quantile bins of a numeric column in a pair with a discrete one
MAX_PAIR_COLUMNS = 30  # pairs grow as columns squared
MAX_TARGET_VALUES = 20  # a numeric target with more distinct values is a regression target, not classes


@dataclass
class TableReport:
    """The scores of `evaluate_table` (a nested dict of plain numbers) and notes on what was skipped or capped."""

    scores: dict
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The scores and notes as a dict that json.dumps(..., allow_nan=False) accepts: NaN and inf become None."""
        return _json_safe({**self.scores, "notes": list(self.notes)})

    def summary(self) -> str:
        """A few plain-language lines, one per measurement, then the notes."""
        lines = [_shape_line(self.scores), _pairs_line(self.scores), _detection_line(self.scores),
                 _efficacy_line(self.scores), _privacy_line(self.scores)]
        return "\n".join(lines + [f"Note: {note}" for note in self.notes])


def evaluate_table(real: pd.DataFrame, synthetic: pd.DataFrame, *, real_test: pd.DataFrame | None = None,
                   target: str | None = None, discrete: Iterable[str] | None = None, seed: int = 0,
                   max_rows: int = 20_000) -> TableReport:
    """Compare `synthetic` with `real` (the table the generator learnt from); see the module docstring.

    real_test: real rows the generator never saw. With `target` it enables ML efficacy; it is also the
        privacy baseline (without it, each real row is held out in turn).
    target: the class column for ML efficacy (binary: F1 of the class that is rarer in real; else macro F1).
    discrete: columns to treat as categories although numeric (codes, small counts). Object, string,
        category and bool columns are discrete anyway; datetimes become int64 nanoseconds, numeric.
    max_rows: the most rows per table that detection, ML efficacy and privacy use (a seeded sample).
        Column shape, pair trends and exact copies use all rows: they are cheap.
    """
    real, synthetic, real_test = _checked_tables(real, synthetic, real_test)
    kinds = _column_kinds(real, discrete)
    _check_target(real, real_test, target, kinds)
    r, s = _prepared(real, kinds, "real"), _prepared(synthetic, kinds, "synthetic")
    t = None if real_test is None else _prepared(real_test, kinds, "real_test")
    notes: list[str] = []
    scores = {
        "rows": {"real": len(r), "synthetic": len(s), "real_test": None if t is None else len(t)},
        "column_kinds": {str(c): k for c, k in kinds.items()},
        "column_shape": _column_shape(r, s, kinds),
        "pair_trends": _pair_trends(r, s, kinds, notes),
        "detection": _detection(r, s, kinds, seed, max_rows, notes),
        "ml_efficacy": _ml_efficacy(r, s, t, kinds, target, seed, max_rows, notes),
        "privacy": _privacy(r, s, t, kinds, seed, max_rows),
    }
    return TableReport(scores, notes)


# ---- input checks ---------------------------------------------------------------------------------------

def _checked_tables(real, synthetic, real_test):
    """The three tables with real's column order, or a GankitError naming what is wrong with them."""
    check_table(real, "the real table")
    check_table(synthetic, "the synthetic table")
    synthetic = _same_columns(real, synthetic, "synthetic")
    if real_test is not None:
        check_table(real_test, "the real_test table")
        real_test = _same_columns(real, real_test, "real_test")
    return real, synthetic, real_test


def _same_columns(real: pd.DataFrame, other: pd.DataFrame, name: str) -> pd.DataFrame:
    missing = [c for c in real.columns if c not in other.columns]
    extra = [c for c in other.columns if c not in real.columns]
    if missing or extra:
        parts = ([f"missing {_names(missing)}"] if missing else []) + ([f"extra {_names(extra)}"] if extra else [])
        raise GankitError(f"the {name} table's columns differ from the real table's ({'; '.join(parts)}): "
                          f"give it exactly the real table's columns")
    return other[list(real.columns)]


def _names(columns, limit: int = 8) -> str:
    shown = ", ".join(repr(c) for c in list(columns)[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def _column_kinds(real: pd.DataFrame, discrete) -> dict:
    """Each column's kind: discrete when named in `discrete` or stored as text, category or bool."""
    named = [discrete] if isinstance(discrete, str) else list(discrete or [])  # one name, not its letters
    unknown = [c for c in named if c not in real.columns]
    if unknown:
        raise GankitError(f"discrete names columns the real table lacks ({_names(unknown)}): "
                          f"name only columns of the real table")
    return {c: DISCRETE if c in named or _stored_as_categories(real[c]) else NUMERIC for c in real.columns}


def _stored_as_categories(col: pd.Series) -> bool:
    dtype = col.dtype
    return (isinstance(dtype, pd.CategoricalDtype) or ptypes.is_bool_dtype(dtype)
            or ptypes.is_object_dtype(dtype) or ptypes.is_string_dtype(dtype))


def _check_target(real, real_test, target, kinds) -> None:
    if target is None:
        return
    if target not in real.columns:
        raise GankitError(f"target {target!r} is not a column of the real table: pass one of "
                          f"{_names(real.columns)}")
    classes = real[target].nunique(dropna=False)
    if classes < 2:
        raise GankitError(f"target {target!r} has a single class in the real table: ML efficacy needs two or "
                          f"more; pick another target or leave target unset")
    if kinds[target] == NUMERIC and classes > MAX_TARGET_VALUES:
        raise GankitError(f"target {target!r} is numeric with {classes} distinct values: ML efficacy here scores "
                          f"classification; pass a class column, or name {target!r} in discrete= if its values "
                          f"are classes")


# ---- one representation for all three tables ------------------------------------------------------------

def _prepared(frame: pd.DataFrame, kinds: dict, name: str) -> pd.DataFrame:
    """Numeric columns as float64 (NaN missing), discrete ones as strings with MISSING: one form per kind,
    whichever dtype each table happened to store."""
    cols = {c: _as_float(frame[c], c, name) if kinds[c] == NUMERIC else _labels(frame[c]) for c in frame.columns}
    return pd.DataFrame(cols, index=frame.index)


def _as_float(col: pd.Series, column, name: str) -> pd.Series:
    if ptypes.is_datetime64_any_dtype(col.dtype) or ptypes.is_timedelta64_dtype(col.dtype):
        return _nanoseconds(col)
    if ptypes.is_numeric_dtype(col.dtype):
        return col.astype(float)
    try:
        return pd.to_numeric(col).astype(float)
    except (ValueError, TypeError):
        raise GankitError(f"column {column!r} is numeric in the real table but holds non-numbers in the {name} "
                          f"table: convert it to the real column's dtype, or name it in discrete=") from None


def _nanoseconds(col: pd.Series) -> pd.Series:
    # pandas 3 keeps a unit per column (s, ms, us, ns): bring every table to ns before taking the integers.
    col = col.dt.as_unit("ns")
    out = np.full(len(col), np.nan)
    present = col.notna().to_numpy()
    out[present] = col[present].astype("int64").to_numpy()
    return pd.Series(out, index=col.index)


def _labels(col: pd.Series) -> pd.Series:
    """Discrete values as strings, MISSING for missing ones. Numbers go through float first so that an int
    column in one table and the same column as float in another (ints gain a .0 with a NaN) agree."""
    missing = col.isna().to_numpy()
    if ptypes.is_numeric_dtype(col.dtype) and not ptypes.is_bool_dtype(col.dtype):
        text = col.astype(float).astype(str)
    else:
        text = col.astype(object).astype(str)
    return pd.Series(np.where(missing, MISSING, text.to_numpy(object)), index=col.index, dtype=object)


def _numeric(kinds: dict, columns) -> list:
    return [c for c in columns if kinds[c] == NUMERIC]


# ---- 1. column shape -------------------------------------------------------------------------------------

def _column_shape(r: pd.DataFrame, s: pd.DataFrame, kinds: dict) -> dict:
    """Per column: numeric, 1 - KS statistic of the present values; discrete, 1 - TVD of the category
    frequencies (MISSING included). The missing-share difference is reported for every column."""
    per_column, missing_diff = {}, {}
    for c in r.columns:
        if kinds[c] == NUMERIC:
            per_column[str(c)] = _ks_score(r[c].dropna().to_numpy(), s[c].dropna().to_numpy())
        else:
            per_column[str(c)] = 1.0 - _tvd(*_codes(r[c], s[c]))
        missing_diff[str(c)] = abs(float(_missing_share(r[c])) - float(_missing_share(s[c])))
    return {"mean": float(np.mean(list(per_column.values()))), "per_column": per_column,
            "missing_share_diff": missing_diff}


def _ks_score(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 or len(b) == 0:  # nothing to compare: alike only if both are all-missing
        return float(len(a) == len(b))
    return 1.0 - float(ks_2samp(a, b).statistic)


def _missing_share(col: pd.Series) -> float:
    return float((col == MISSING).mean()) if col.dtype == object else float(col.isna().mean())


def _codes(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of discrete values, shared by both tables."""
    codes, _ = pd.factorize(pd.concat([a, b], ignore_index=True))
    return codes[:len(a)], codes[len(a):]


def _tvd(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance between the frequencies of the codes in a and in b."""
    _, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = int(inverse.max()) + 1
    p = np.bincount(inverse[:len(a)], minlength=k) / len(a)
    q = np.bincount(inverse[len(a):], minlength=k) / len(b)
    return 0.5 * float(np.abs(p - q).sum())


# ---- 2. pair trends --------------------------------------------------------------------------------------

def _pair_trends(r: pd.DataFrame, s: pd.DataFrame, kinds: dict, notes: list) -> dict:
    """Per pair of columns: both numeric, 1 - |pearson_real - pearson_synthetic| / 2; otherwise (or when a
    correlation is undefined, a constant column) 1 - TVD of the joint frequencies, numeric columns cut at the
    real data's deciles (missing values a bin of their own)."""
    columns = list(r.columns[:MAX_PAIR_COLUMNS])
    if r.shape[1] > MAX_PAIR_COLUMNS:
        notes.append(f"pair trends use the first {MAX_PAIR_COLUMNS} of {r.shape[1]} columns")
    numeric = _numeric(kinds, columns)
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
                score = 1.0 - _tvd(*_joint(codes[a], codes[b]))
            per_pair.setdefault(str(a), {})[str(b)] = score
    values = [v for row in per_pair.values() for v in row.values()]
    if not values:
        notes.append("pair trends need two or more columns")
    return {"mean": float(np.mean(values)) if values else math.nan, "per_pair": per_pair,
            "columns_used": len(columns), "columns_skipped": r.shape[1] - len(columns)}


def _pair_codes(a: pd.Series, b: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    return _decile_codes(a, b) if kind == NUMERIC else _codes(a, b)


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


# ---- shared encoding for detection, ML efficacy and privacy ---------------------------------------------

def _fit_encoder(frame: pd.DataFrame, kinds: dict) -> Callable[[pd.DataFrame], object]:
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
    encoder = ColumnTransformer(parts).fit(_positional(frame))
    return lambda other: encoder.transform(_positional(other))


def _positional(frame: pd.DataFrame) -> pd.DataFrame:
    # Columns by position: any names (ints, mixed types) work, and sklearn compares no feature names.
    return frame.set_axis(range(frame.shape[1]), axis=1)


def _stack(a, b):
    return sparse.vstack([a, b]).tocsr() if sparse.issparse(a) else np.vstack([a, b])


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= n else frame.sample(n=n, random_state=seed)


# ---- 3. detection ----------------------------------------------------------------------------------------

def _detection(r: pd.DataFrame, s: pd.DataFrame, kinds: dict, seed: int, max_rows: int, notes: list) -> dict:
    """ROC AUC of a logistic regression telling synthetic (1) from real (0) rows, from 3-fold stratified
    cross-validated probabilities on equal-sized samples. detection_score = 1 - 2 max(AUC - 0.5, 0).
    A linear model sees differences of the columns' means and category shares, not lost correlations:
    pair trends measure those."""
    n = min(len(r), len(s), max_rows // 2)
    if n < 3:
        notes.append(f"detection needs 3 or more rows per table for 3 folds, has {n}")
        return {"auc": math.nan, "detection_score": math.nan, "rows_per_table": n}
    real_rows, synthetic_rows = _sample(r, n, seed), _sample(s, n, seed + 1)
    encode = _fit_encoder(real_rows, kinds)
    x = _stack(encode(real_rows), encode(synthetic_rows))
    y = np.r_[np.zeros(n, int), np.ones(n, int)]
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        proba = cross_val_predict(LogisticRegression(max_iter=1000), x, y, cv=folds, method="predict_proba")
    auc = float(roc_auc_score(y, proba[:, 1]))
    return {"auc": auc, "detection_score": 1.0 - 2.0 * max(auc - 0.5, 0.0), "rows_per_table": n,
            "classifier": "LogisticRegression(max_iter=1000)", "folds": 3}


# ---- 4. ML efficacy --------------------------------------------------------------------------------------

def _classifiers(seed: int) -> dict:
    """SDGym's binary-classification models (sdgym/evaluate.py, 2020). Deviations: LogisticRegression gets
    max_iter=1000 instead of 50 (SDGym's 50 often stopped before converging); the same four models also
    score multiclass targets (SDGym used a depth-30 tree and a 100-unit MLP there); inputs are one-hot and
    standardised (SDGym min-max scaled, log-scaled large positive columns, kept binary columns as codes);
    every model is seeded."""
    return {
        "DecisionTreeClassifier": lambda: DecisionTreeClassifier(max_depth=15, class_weight="balanced",
                                                                 random_state=seed),
        "AdaBoostClassifier": lambda: AdaBoostClassifier(random_state=seed),
        "LogisticRegression": lambda: LogisticRegression(max_iter=1000, class_weight="balanced"),
        "MLPClassifier": lambda: MLPClassifier(hidden_layer_sizes=(50,), max_iter=50, random_state=seed),
    }


def _ml_efficacy(r, s, t, kinds, target, seed: int, max_rows: int, notes: list) -> dict | None:
    """Train on synthetic and on real, score both on real_test: binary, F1 of the class rarer in real;
    multiclass, macro F1. Per classifier and mean; ratio = synthetic mean / real mean."""
    if target is None or t is None:
        if target is not None or t is not None:
            notes.append("ML efficacy needs both target= and real_test=; not measured")
        return None
    if r.shape[1] < 2:
        notes.append("ML efficacy needs a column besides the target; not measured")
        return None
    y_real = _labels(r[target])
    counts = y_real.value_counts().sort_index(kind="stable").sort_values(kind="stable")
    positive = counts.index[0] if len(counts) == 2 else None  # the rarer class; ties go to the first name
    train_real, train_synthetic = _sample(r, max_rows, seed), _sample(s, max_rows, seed + 1)
    from_synthetic = _train_and_score(train_synthetic, t, target, kinds, positive, seed, notes, "synthetic")
    from_real = _train_and_score(train_real, t, target, kinds, positive, seed, notes, "real")
    ratio = from_synthetic["mean"] / from_real["mean"] if from_real["mean"] > 0 else math.nan
    return {"target": str(target), "task": "binary" if positive is not None else "multiclass",
            "metric": f"F1 of class {positive!r}" if positive is not None else "macro F1",
            "positive_class": positive, "synthetic": from_synthetic, "real": from_real, "ratio": ratio}


def _train_and_score(train, test, target, kinds, positive, seed: int, notes: list, name: str) -> dict:
    features = [c for c in train.columns if c != target]
    y_train, y_test = _labels(train[target]).to_numpy(), _labels(test[target]).to_numpy()
    models = _classifiers(seed)
    if len(np.unique(y_train)) < 2:  # nothing to learn; SDGym predicted that class, we score 0
        notes.append(f"the {name} table has a single class of {str(target)!r}: its F1 counts as 0")
        return {"per_classifier": dict.fromkeys(models, 0.0), "mean": 0.0}
    encode = _fit_encoder(train[features], kinds)
    x_train, x_test = encode(train[features]), encode(test[features])
    per_classifier = {}
    for model_name, make in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # SDGym's MLP budget is 50 epochs on purpose
            predicted = make().fit(x_train, y_train).predict(x_test)
        per_classifier[model_name] = _f1(y_test, predicted, positive)
    return {"per_classifier": per_classifier, "mean": float(np.mean(list(per_classifier.values())))}


def _f1(y_true, y_pred, positive) -> float:
    if positive is None:
        return float(f1_score(y_true, y_pred, average="macro", zero_division=0))
    # labels=[positive] gives that class's F1 even when a third label shows up in the test or predictions.
    return float(f1_score(y_true, y_pred, labels=[positive], average="macro", zero_division=0))


# ---- 5. privacy ------------------------------------------------------------------------------------------

def _privacy(r, s, t, kinds, seed: int, max_rows: int) -> dict:
    """Distances to the closest real row (DCR) in the encoding fitted on real: of synthetic rows, and of
    held-out real rows (real_test, or else each real row against the other real rows), which show what
    fresh rows of the same distribution give. Exact copies compare whole rows as strings."""
    reference = _sample(r, max_rows, seed)
    encode = _fit_encoder(reference, kinds)
    neighbours = NearestNeighbors(n_neighbors=1).fit(encode(reference))
    synthetic_dcr = neighbours.kneighbors(encode(_sample(s, max_rows, seed + 1)))[0][:, 0]
    if t is not None:
        holdout_dcr = neighbours.kneighbors(encode(_sample(t, max_rows, seed + 2)))[0][:, 0]
    else:  # kneighbors() without rows leaves each fitted row out of its own neighbours
        holdout_dcr = neighbours.kneighbors()[0][:, 0]
    p5 = float(np.percentile(holdout_dcr, 5))
    copies, holdout_copies = _exact_copies(r, s, t)
    return {
        "holdout": "real_test" if t is not None else "real rows, each left out in turn",
        "dcr_synthetic": {"p5": float(np.percentile(synthetic_dcr, 5)), "median": float(np.median(synthetic_dcr))},
        "dcr_holdout": {"p5": p5, "median": float(np.median(holdout_dcr))},
        "share_closer_than_holdout_p5": float(np.mean(synthetic_dcr < p5)),
        "exact_copies": copies, "exact_copies_share": copies / len(s),
        "holdout_exact_copies": holdout_copies,
        "holdout_exact_copies_share": holdout_copies / (len(t) if t is not None else len(r)),
    }


def _exact_copies(r, s, t) -> tuple[int, int]:
    """Synthetic rows equal to some real row; and what chance gives: real_test rows equal to some real row,
    or without real_test, real rows equal to another real row."""
    real_keys = _row_keys(r)
    copies = int(np.isin(_row_keys(s), real_keys).sum())
    if t is not None:
        return copies, int(np.isin(_row_keys(t), real_keys).sum())
    return copies, int(pd.Series(real_keys).duplicated(keep=False).sum())


def _row_keys(frame: pd.DataFrame) -> np.ndarray:
    # One 64-bit hash per row of its values as strings (NaN as MISSING, so NaN equals NaN).
    text = frame.astype(str).fillna(MISSING)
    return pd.util.hash_pandas_object(text, index=False).to_numpy()


# ---- summary lines ---------------------------------------------------------------------------------------

def _shape_line(scores: dict) -> str:
    shape = scores["column_shape"]
    worst = min(shape["per_column"], key=shape["per_column"].get)
    look = _grade(shape["mean"], "look like the real ones", "roughly follow the real ones", "differ from the real ones")
    return (f"Columns: synthetic values {look} (shape {shape['mean']:.2f} of 1; "
            f"least alike: {worst!r}, {shape['per_column'][worst]:.2f}).")


def _pairs_line(scores: dict) -> str:
    pairs = scores["pair_trends"]
    if not math.isfinite(pairs["mean"]):
        return "Pairs: not measured (one column)."
    kept = _grade(pairs["mean"], "are kept", "are partly kept", "are mostly lost")
    return f"Pairs: relations between columns {kept} (pair trends {pairs['mean']:.2f} of 1)."


def _detection_line(scores: dict) -> str:
    auc = scores["detection"]["auc"]
    if not math.isfinite(auc):
        return "Detection: not measured (too few rows)."
    return f"Detection: a classifier tells synthetic from real with AUC {auc:.2f} (0.5 would be indistinguishable)."


def _efficacy_line(scores: dict) -> str:
    ml = scores["ml_efficacy"]
    if ml is None:
        return "Usefulness: not measured (pass target= and real_test=)."
    synthetic, real = ml["synthetic"]["mean"], ml["real"]["mean"]
    share = f"{ml['ratio']:.0%} of" if math.isfinite(ml["ratio"]) else "against"
    return (f"Usefulness: models trained on synthetic rows score {ml['metric']} {synthetic:.2f}, "
            f"{share} the {real:.2f} that real rows give.")


def _privacy_line(scores: dict) -> str:
    p = scores["privacy"]
    return (f"Privacy: {p['exact_copies']} synthetic rows copy a real row exactly (the held-out real rows: "
            f"{p['holdout_exact_copies']}); {p['share_closer_than_holdout_p5']:.0%} of synthetic rows are closer "
            f"to a real row than the closest 5% of held-out real rows (fresh rows: about 5%).")


def _grade(value: float, good: str, fair: str, poor: str) -> str:
    # Words for a [0, 1] score; the thresholds are a reading aid, the number is the result.
    return good if value >= 0.9 else fair if value >= 0.75 else poor


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
