"""ML efficacy of a synthetic table: do classifiers trained on synthetic rows score as well on real test rows as
classifiers trained on real rows?"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.ensemble import AdaBoostClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

from gankit.tabular.frames import as_labels, fit_encoder, sample

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


def ml_efficacy(r, s, t, kinds, target, seed: int, max_rows: int, notes: list) -> dict | None:
    """Train on synthetic and on real, score both on real_test: binary, F1 of the class rarer in real;
    multiclass, macro F1. Per classifier and mean; ratio = synthetic mean / real mean."""
    if target is None or t is None:
        if target is not None or t is not None:
            notes.append("ML efficacy needs both target= and real_test=; not measured")
        return None
    if r.shape[1] < 2:
        notes.append("ML efficacy needs a column besides the target; not measured")
        return None
    positive = positive_class(r[target])
    train_real, train_synthetic = sample(r, max_rows, seed), sample(s, max_rows, seed + 1)
    from_synthetic = _train_and_score(train_synthetic, t, target, kinds, positive, seed, notes, "synthetic")
    from_real = _train_and_score(train_real, t, target, kinds, positive, seed, notes, "real")
    ratio = from_synthetic["mean"] / from_real["mean"] if from_real["mean"] > 0 else math.nan
    return {"target": str(target), "task": "binary" if positive is not None else "multiclass",
            "metric": f"F1 of class {positive!r}" if positive is not None else "macro F1",
            "positive_class": positive, "synthetic": from_synthetic, "real": from_real, "ratio": ratio}


def positive_class(real_target):
    """The class binary F1 scores: the one rarer in real (ties go to the first name); None for multiclass."""
    counts = as_labels(real_target).value_counts().sort_index(kind="stable").sort_values(kind="stable")
    return counts.index[0] if len(counts) == 2 else None


# The report's classifiers that train in about a second on 5,000 rows (its MLP takes several). Both kinds matter:
# the balanced ones read the relations between columns, the unweighted AdaBoost also how often each class occurs.
# Measured on Adult: choosing epochs by the logistic regression alone kept one whose rows gave it 0.66 and
# AdaBoost 0.42, because the class shares had drifted.
QUICK_CLASSIFIERS = ("DecisionTreeClassifier", "AdaBoostClassifier", "LogisticRegression")


def synthetic_f1(synthetic, test, kinds, target, positive, seed: int) -> float:
    """Mean F1 on `test` of the quick classifiers trained on `synthetic`: the utility a run checks as it trains."""
    return _train_and_score(synthetic, test, target, kinds, positive, seed, [], "synthetic",
                            models=QUICK_CLASSIFIERS)["mean"]


def _train_and_score(train, test, target, kinds, positive, seed: int, notes: list, name: str,
                     models: tuple[str, ...] | None = None) -> dict:
    features = [c for c in train.columns if c != target]
    y_train, y_test = as_labels(train[target]).to_numpy(), as_labels(test[target]).to_numpy()
    models = {k: v for k, v in _classifiers(seed).items() if models is None or k in models}
    if len(np.unique(y_train)) < 2:  # nothing to learn; SDGym predicted that class, we score 0
        notes.append(f"the {name} table has a single class of {str(target)!r}: its F1 counts as 0")
        return {"per_classifier": dict.fromkeys(models, 0.0), "mean": 0.0}
    encode = fit_encoder(train[features], kinds)
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
