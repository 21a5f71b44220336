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

Each measurement is seeded: the same call gives the same numbers. Fidelity (1-3) is in `fidelity.py`, ML
efficacy in `efficacy.py`, privacy in `privacy.py`; the form all three tables are brought to in `frames.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from gankit.infra.errors import GankitError
from gankit.tabular.columns import check_table
from gankit.tabular.efficacy import ml_efficacy
from gankit.tabular.fidelity import column_shape, detection, pair_trends
from gankit.tabular.frames import DISCRETE, NUMERIC, names, prepared
from gankit.tabular.privacy import privacy

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
    kinds = column_kinds(real, discrete)
    _check_target(real, real_test, target, kinds)
    r, s = prepared(real, kinds, "real"), prepared(synthetic, kinds, "synthetic")
    t = None if real_test is None else prepared(real_test, kinds, "real_test")
    notes: list[str] = []
    scores = {
        "rows": {"real": len(r), "synthetic": len(s), "real_test": None if t is None else len(t)},
        "column_kinds": {str(c): k for c, k in kinds.items()},
        "column_shape": column_shape(r, s, kinds),
        "pair_trends": pair_trends(r, s, kinds, notes),
        "detection": detection(r, s, kinds, seed, max_rows, notes),
        "ml_efficacy": ml_efficacy(r, s, t, kinds, target, seed, max_rows, notes),
        "privacy": privacy(r, s, t, kinds, seed, max_rows),
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
        parts = ([f"missing {names(missing)}"] if missing else []) + ([f"extra {names(extra)}"] if extra else [])
        raise GankitError(f"the {name} table's columns differ from the real table's ({'; '.join(parts)}): "
                          f"give it exactly the real table's columns")
    return other[list(real.columns)]


def column_kinds(real: pd.DataFrame, discrete) -> dict:
    """Each column's kind: discrete when named in `discrete` or stored as text, category or bool."""
    named = [discrete] if isinstance(discrete, str) else list(discrete or [])  # one name, not its letters
    unknown = [c for c in named if c not in real.columns]
    if unknown:
        raise GankitError(f"discrete names columns the real table lacks ({names(unknown)}): "
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
                          f"{names(real.columns)}")
    classes = real[target].nunique(dropna=False)
    if classes < 2:
        raise GankitError(f"target {target!r} has a single class in the real table: ML efficacy needs two or "
                          f"more; pick another target or leave target unset")
    if kinds[target] == NUMERIC and classes > MAX_TARGET_VALUES:
        raise GankitError(f"target {target!r} is numeric with {classes} distinct values: ML efficacy here scores "
                          f"classification; pass a class column, or name {target!r} in discrete= if its values "
                          f"are classes")


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
    copies = "1 synthetic row copies" if p["exact_copies"] == 1 else f"{p['exact_copies']} synthetic rows copy"
    return (f"Privacy: {copies} a real row exactly (the held-out real rows: "
            f"{p['holdout_exact_copies']}); {p['share_closer_than_holdout_p5']:.0%} of synthetic rows are closer "
            f"to a real row than the closest 5% of held-out real rows (fresh rows: about 5%)."
            + (" Warning: that is more than twice what fresh rows give: the generator may be copying training "
               "rows or crowding where they are dense; before sharing this table, train with --keep-best (it keeps "
               "an epoch that passes this check on held-out rows) or on more rows."
               if p.get("near_copy_warning") else ""))


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
