"""evaluate_table on tables whose answer is known: a copy, column-wise shuffles, noise, resamples."""

import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
datasets = pytest.importorskip("sklearn.datasets")

from gankit.infra.errors import GankitError  # noqa: E402
from gankit.tabular.report import evaluate_table  # noqa: E402


def cancer_table(columns: int = 8, seed: int = 0) -> pd.DataFrame:
    """Breast cancer (569 rows): the first numeric columns, the class as text, and hand-made discrete,
    bool and datetime columns tied to the numbers (so pairs have trends), some values missing."""
    frame = datasets.load_breast_cancer(as_frame=True).frame
    table = frame.iloc[:, :columns].copy()
    table["diagnosis"] = frame["target"].map({0: "malignant", 1: "benign"})
    radius = table["mean radius"]
    table["size"] = np.where(radius > 15, "large", np.where(radius > 12, "mid", "small"))
    table["textured"] = table["mean texture"] > 20
    table["seen"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(table["mean area"].round().astype(int), unit="D")
    missing = np.random.default_rng(seed).random(len(table)) < 0.2
    table.loc[missing, "size"] = np.nan
    return table


@pytest.fixture(scope="module")
def split():
    table = cancer_table()
    return table.iloc[:400].reset_index(drop=True), table.iloc[400:].reset_index(drop=True)


@pytest.fixture(scope="module")
def real(split):
    return split[0]


def shuffled_columns(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each column permuted on its own: the same values per column, the relations between columns gone."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame.columns})


def noise_like(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Random values of each column's dtype: standard normals, two made-up categories, coin flips, dates."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    out = {}
    for c in frame.columns:
        kind = frame[c].dtype.kind
        if kind == "f":
            out[c] = rng.normal(size=n)
        elif kind == "b":
            out[c] = rng.random(n) < 0.5
        elif kind == "M":
            out[c] = pd.Timestamp("1990-01-01") + pd.to_timedelta(rng.integers(0, 100, n), unit="D")
        else:
            out[c] = rng.choice(["x", "y"], n)
    return pd.DataFrame(out)


def test_copy_is_alike_undetectable_and_all_copies(real):
    scores = evaluate_table(real, real.copy()).scores
    assert scores["column_shape"]["mean"] == pytest.approx(1.0)
    assert scores["pair_trends"]["mean"] == pytest.approx(1.0)
    assert scores["detection"]["auc"] < 0.6
    assert scores["detection"]["detection_score"] > 0.8
    assert scores["privacy"]["exact_copies"] == len(real)
    assert scores["privacy"]["dcr_synthetic"]["median"] == 0.0
    assert scores["privacy"]["share_closer_than_holdout_p5"] > 0.9
    assert scores["ml_efficacy"] is None


def test_shuffled_columns_keep_shape_but_lose_pairs(real):
    copy = evaluate_table(real, real.copy()).scores
    shuffled = evaluate_table(real, shuffled_columns(real)).scores
    assert shuffled["column_shape"]["mean"] == pytest.approx(1.0)
    assert shuffled["pair_trends"]["mean"] < copy["pair_trends"]["mean"] - 0.2
    # The two radius-area columns are almost perfectly correlated in real and not at all after shuffling.
    assert shuffled["pair_trends"]["per_pair"]["mean radius"]["mean area"] < 0.6
    assert shuffled["privacy"]["exact_copies"] == 0


def test_noise_has_low_shape_and_is_detected(real):
    scores = evaluate_table(real, noise_like(real)).scores
    assert scores["column_shape"]["mean"] < 0.5
    assert scores["detection"]["auc"] > 0.95
    assert scores["detection"]["detection_score"] < 0.1


def test_ml_efficacy_resample_matches_real_and_shuffled_target_does_not(split):
    real, test = split
    resample = real.sample(len(real), replace=True, random_state=1).reset_index(drop=True)
    good = evaluate_table(real, resample, real_test=test, target="diagnosis").scores["ml_efficacy"]
    broken = real.assign(diagnosis=real["diagnosis"].sample(frac=1, random_state=2).to_numpy())
    bad = evaluate_table(real, broken, real_test=test, target="diagnosis").scores["ml_efficacy"]
    assert good["task"] == "binary" and good["positive_class"] == "malignant"  # the rarer class in real
    assert set(good["synthetic"]["per_classifier"]) == {"DecisionTreeClassifier", "AdaBoostClassifier",
                                                        "LogisticRegression", "MLPClassifier"}
    assert good["real"]["mean"] > 0.8
    assert abs(good["synthetic"]["mean"] - good["real"]["mean"]) < 0.1
    assert bad["real"]["mean"] == pytest.approx(good["real"]["mean"])  # the real side does not depend on synthetic
    assert bad["synthetic"]["mean"] < good["real"]["mean"] - 0.3
    assert bad["ratio"] < 0.65 < 0.9 < good["ratio"]


def test_multiclass_target_uses_macro_f1_and_one_class_scores_zero():
    wine = datasets.load_wine(as_frame=True).frame
    wine["target"] = wine["target"].map({0: "a", 1: "b", 2: "c"})
    wine = wine.sample(frac=1, random_state=0).reset_index(drop=True)
    real, test = wine.iloc[:120], wine.iloc[120:]
    good = evaluate_table(real, real.sample(120, replace=True, random_state=0), real_test=test, target="target")
    ml = good.scores["ml_efficacy"]
    assert ml["task"] == "multiclass" and ml["metric"] == "macro F1"
    assert ml["real"]["mean"] > 0.8 and ml["ratio"] > 0.85
    one_class = evaluate_table(real, real[real["target"] == "a"], real_test=test, target="target")
    assert one_class.scores["ml_efficacy"]["synthetic"]["mean"] == 0.0
    assert any("single class" in note for note in one_class.notes)


def test_missing_discrete_values_are_a_category(real):
    assert real["size"].isna().mean() > 0.1
    filled = real.assign(size=real["size"].fillna("mid"))
    scores = evaluate_table(real, filled).scores["column_shape"]
    share = real["size"].isna().mean()
    assert scores["per_column"]["size"] == pytest.approx(1.0 - share)  # TVD is the share that moved to 'mid'
    assert scores["missing_share_diff"]["size"] == pytest.approx(share)


def test_missing_numeric_values_are_compared_apart(real):
    holes = real.copy()
    holes.loc[::4, "mean smoothness"] = np.nan  # present values keep their distribution, 25% go missing
    scores = evaluate_table(real, holes).scores["column_shape"]
    assert scores["per_column"]["mean smoothness"] > 0.95
    assert scores["missing_share_diff"]["mean smoothness"] == pytest.approx(0.25)


def test_dtype_drift_between_tables_does_not_count(real):
    """A datetime stored in seconds instead of microseconds, a discrete int code stored as float, and
    columns in another order are the same values."""
    table = real.assign(code=(real["mean radius"] // 5).astype(int))
    drifted = table.assign(seen=table["seen"].astype("datetime64[s]"), code=table["code"].astype(float))
    scores = evaluate_table(table, drifted[table.columns[::-1]], discrete=["code"]).scores
    assert scores["column_kinds"]["code"] == "discrete" and scores["column_kinds"]["seen"] == "numeric"
    assert scores["column_shape"]["mean"] == pytest.approx(1.0)
    assert scores["privacy"]["exact_copies"] == len(table)


def test_more_than_30_columns_are_capped_with_a_note():
    table = cancer_table(columns=30).iloc[:150]  # 34 columns
    report = evaluate_table(table, table.copy())
    assert report.scores["pair_trends"]["columns_used"] == 30
    assert report.scores["pair_trends"]["columns_skipped"] == 4
    assert any("first 30 of 34 columns" in note for note in report.notes)


def test_json_summary_and_seeded(split):
    real, test = split
    synthetic = shuffled_columns(real)
    first = evaluate_table(real, synthetic, real_test=test, target="diagnosis", seed=3)
    again = evaluate_table(real, synthetic, real_test=test, target="diagnosis", seed=3)
    text = json.dumps(first.to_json(), allow_nan=False)
    assert text == json.dumps(again.to_json(), allow_nan=False)
    one_column = evaluate_table(real[["size"]], real[["size"]])  # no pairs: a NaN mean, None in JSON
    assert json.loads(json.dumps(one_column.to_json(), allow_nan=False))["pair_trends"]["mean"] is None
    lines = first.summary().splitlines()
    assert [line.split(":")[0] for line in lines[:5]] == ["Columns", "Pairs", "Detection", "Usefulness", "Privacy"]


@pytest.mark.parametrize("change, words", [
    (lambda r, s: (r, s.drop(columns=["size"]).assign(extra=1)), ["synthetic", "missing 'size'", "extra 'extra'"]),
    (lambda r, s: (r, s.iloc[:0]), ["synthetic table is empty", "0 rows"]),
    (lambda r, s: (pd.DataFrame(), s), ["real table is empty"]),
    (lambda r, s: (r, s.to_numpy()), ["ndarray", "DataFrame"]),
])
def test_bad_tables_raise_one_line(real, change, words):
    a, b = change(real, real)
    with pytest.raises(GankitError) as error:
        evaluate_table(a, b)
    assert "\n" not in str(error.value)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"target": "nope"}, ["target 'nope' is not a column"]),
    ({"target": "textured", "one_class": True}, ["target 'textured' has a single class"]),
    ({"target": "mean area"}, ["numeric with", "discrete="]),
    ({"discrete": ["nope"]}, ["discrete names columns", "'nope'"]),
    ({"real_test": "drop"}, ["real_test table's columns differ", "missing 'size'"]),
])
def test_bad_arguments_raise_one_line(split, kwargs, words):
    real, test = split
    if kwargs.pop("one_class", False):
        real = real.assign(textured=True)
    if kwargs.get("real_test") == "drop":
        kwargs["real_test"] = test.drop(columns=["size"])
    with pytest.raises(GankitError) as error:
        evaluate_table(real, real, **{"real_test": test, **kwargs})
    assert "\n" not in str(error.value)
    for word in words:
        assert word in str(error.value)


def test_the_report_warns_in_words_when_synthetic_rows_copy_real_ones(split):
    real, held_out = split
    # a third of the rows copied from the training table, the rest fresh rows of the same distribution
    copying = pd.concat([real.iloc[:60], held_out]).reset_index(drop=True)
    warned = evaluate_table(real, copying, real_test=held_out.iloc[:80])
    assert warned.scores["privacy"]["near_copy_warning"] is True
    assert "Warning: " in warned.summary() and "copying training rows" in warned.summary()
    assert "train with --keep-best" in warned.summary()  # the fix, named
    copies = warned.scores["privacy"]["exact_copies"]
    assert copies > 1 and f"Privacy: {copies} synthetic rows copy a real row exactly" in warned.summary()
    fresh = evaluate_table(real, held_out.iloc[80:], real_test=held_out.iloc[:80])
    assert fresh.scores["privacy"]["share_closer_than_holdout_p5"] < 0.1
    assert fresh.scores["privacy"]["near_copy_warning"] is False and "Warning" not in fresh.summary()


def test_the_privacy_line_says_one_exact_copy_in_the_singular(split):
    real, held_out = split
    one = evaluate_table(real, pd.concat([real.iloc[:1], held_out]).reset_index(drop=True), real_test=held_out.iloc[:80])
    assert one.scores["privacy"]["exact_copies"] == 1
    assert "Privacy: 1 synthetic row copies a real row exactly" in one.summary()
