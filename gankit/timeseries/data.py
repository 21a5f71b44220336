"""Time-series data sets read into one (N, T, F) float32 array in raw units, with optional class labels.

Data set strings:
    sines               TimeGAN's sine data (train: seed 0, test: seed 1, held-out real data)
    ucr:NAME            a UCR/UEA classification set out of sktime's wheel (see ucr.py); train and test splits
    series:FILE.npz     array `series` (N, T, F) or (N, T); optional `labels` (N,) of ints or strings, `features`
    series:FILE.csv     the user's table, in one of three layouts (first row the header):
        long            `series_id` names the column that groups rows into series, `time` (optional) the
                        column that orders them; every other numeric column is a feature. One other column may
                        be non-numeric if it is constant within every series: it is the class label. Any
                        further non-numeric column is refused by name.
        one series      no `series_id`, `window` given: the rows are the time steps of one long series (ordered
                        by `time` if given), the numeric columns its features; cut into windows.
        wide            neither: each row is one univariate series whose numeric columns are its time steps;
                        one non-numeric column may hold the rows' class labels.
    A `time` column is numeric or ISO 8601 dates; a time repeated within a series is refused (two series
    interleaved, a missing `series_id`).

`window=L` cuts every series into windows of L steps every `stride` steps (default 1, as TimeGAN's loader
for its stock and energy data): series shorter than L are dropped, labels follow their windows. Without it
all series must have one length. Missing (NaN) and infinite values are refused, never filled in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gankit.infra.errors import GankitError, describe
from gankit.infra.log import Log
from gankit.timeseries import spec, ucr


@dataclass
class SeriesData:
    values: np.ndarray  # float32 (N, T, F), no NaN, raw units (not scaled)
    labels: np.ndarray | None  # int64 (N,), 0..K-1, or None
    features: list[str]  # F names
    classes: list[str] | None  # K names, when labels
    name: str  # the dataset string it came from


@dataclass
class _Set:
    """Series before windowing: a list of (T_i, F) arrays, or one (N, T, F) array when of equal length."""
    series: Any
    labels: np.ndarray | None
    classes: list[str] | None
    features: list[str]


def has_test_split(dataset: str) -> bool:
    return dataset == "sines" or dataset.startswith("ucr:")


def sines(n: int = 10_000, length: int = 24, features: int = 5, seed: int = 0) -> np.ndarray:
    """TimeGAN's sine data, float32 (n, length, features) in [0, 1]: for each series and feature
    x_t = (sin(f t + p) + 1) / 2, t = 0..length-1, with frequency f and phase p drawn from U(0, 0.1).

    These ranges are those of the released code (data_loading.py, sine_data_generation), which the
    published results come from; the paper's text gives others (a frequency from U(0, 1) and a phase
    from U(-pi, pi)). With these, f t + p stays within [0, 2.4], so every value lies in [0.5, 1]."""
    rng = np.random.default_rng(seed)
    frequency = rng.uniform(0, 0.1, size=(n, 1, features))
    phase = rng.uniform(0, 0.1, size=(n, 1, features))
    steps = np.arange(length).reshape(1, length, 1)
    return ((np.sin(frequency * steps + phase) + 1) / 2).astype(np.float32)


def read_series(dataset: str, split: str = "train", data_dir: str | os.PathLike | None = None, *,
                window: int | None = None, stride: int | None = None, series_id: str | None = None,
                time: str | None = None, log: Log = print) -> SeriesData:
    """The `split` ("train", or "test" for sines and ucr:) of `dataset` (forms in the module docstring)."""
    _check_options(dataset, split, window, stride, series_id, time)
    if dataset == "sines":
        values = sines(seed=0 if split == "train" else 1)
        found = _Set(values, None, None, [f"sine{i}" for i in range(values.shape[2])])
    elif dataset.startswith("ucr:"):
        pieces = ucr.read_ucr(dataset.removeprefix("ucr:"), split, data_dir, log)
        found = _Set(pieces.series, pieces.labels, pieces.classes, pieces.features)
    else:
        found = _read_file(dataset, window, series_id, time)
    _check_finite(dataset, found)
    data = _windows(dataset, found, window, stride or 1, log) if window else _equal_length(dataset, found)
    n, length, width = data.values.shape
    log(f"{dataset}: {split} split, {n} series of {length} steps x {width} features"
        + (f", {len(data.classes)} classes" if data.classes else ""))
    return data


def _check_options(dataset: str, split: str, window: int | None, stride: int | None, series_id: str | None,
                   time: str | None) -> None:
    if not spec.is_series(dataset):
        raise GankitError(f"unknown time-series data set '{dataset}': use sines, ucr:NAME (NAME one of "
                          f"{', '.join(ucr.names())}) or series:FILE.csv|.npz")
    if split not in ("train", "test"):
        raise GankitError(f"unknown split '{split}': use train or test")
    if split == "test" and not has_test_split(dataset):
        raise GankitError(f"{dataset} has no test split: use split train (hold out part of your file yourself "
                          "as a second file to evaluate on)")
    for option, value in (("--window", window), ("--stride", stride)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise GankitError(f"{option} must be a positive whole number of steps, not {value!r}")
    if stride is not None and window is None:
        raise GankitError("--stride needs --window: give the window's length in steps too")
    if (series_id or time) and not dataset.lower().endswith(".csv"):
        raise GankitError(f"--series-id and --time name columns of a CSV file, not of {dataset}: drop them")


def _read_file(dataset: str, window: int | None, series_id: str | None, time: str | None) -> _Set:
    path = Path(dataset.removeprefix("series:")).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".npz"):
        raise GankitError(f"{dataset}: the file must end in .csv or .npz: use series:FILE.csv|.npz")
    if not path.is_file():
        raise GankitError(f"{path} not found: check the path in {dataset}")
    if suffix == ".npz":
        return _read_npz(path)
    return _read_csv(path, window, series_id, time)


def _read_npz(path: Path) -> _Set:
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "series" not in keys:
                raise GankitError(f"{path} has no array 'series' (it has: {', '.join(keys) or 'none'}): save the "
                                  "series under that name, e.g. np.savez(FILE, series=x)")
            arrays = {key: _npz_array(archive, key, path) for key in ("series", "labels", "features") if key in keys}
    except (OSError, EOFError) as exc:
        raise GankitError(f"cannot read {path} ({describe(exc)}): save it with numpy.savez") from None
    values = _npz_values(arrays["series"], path)
    labels, classes = (None, None) if "labels" not in arrays else _npz_labels(arrays["labels"], len(values), path)
    return _Set(values, labels, classes, _npz_features(arrays.get("features"), values.shape[2], path))


def _npz_array(archive: Any, key: str, path: Path) -> np.ndarray:
    try:
        return archive[key]
    except ValueError:  # allow_pickle=False: numpy refuses object arrays
        if key == "series":
            raise GankitError(f"{path} holds series of different lengths (a ragged array, saved as objects): save "
                              "equal-length series as one (N, T, F) float array, or pad them") from None
        raise GankitError(f"{path}'s '{key}' is an array of Python objects: save it as ints or strings") from None


def _npz_values(values: np.ndarray, path: Path) -> np.ndarray:
    if values.dtype.kind not in "biuf":
        raise GankitError(f"{path}'s 'series' holds {values.dtype} values, not numbers: save a float array")
    if values.ndim == 2:
        values = values[:, :, None]
    if values.ndim != 3 or 0 in values.shape:
        raise GankitError(f"{path}'s 'series' has shape {values.shape}: save (N, T, F) or (N, T) with N, T, F > 0")
    return values.astype(np.float64)


def _npz_labels(labels: np.ndarray, n: int, path: Path) -> tuple[np.ndarray, list[str]]:
    if labels.shape != (n,):
        raise GankitError(f"{path}'s 'labels' has shape {labels.shape}, not ({n},): save one label per series")
    if labels.dtype.kind == "f" and np.isfinite(labels).all() and (labels == np.round(labels)).all():
        labels = labels.astype(np.int64)  # whole numbers saved as floats (pandas does that)
    if labels.dtype.kind not in "biuUS":
        raise GankitError(f"{path}'s 'labels' holds {labels.dtype} values: save ints or strings")
    return encode_labels(labels)


def encode_labels(labels: Any) -> tuple[np.ndarray, list[str]]:
    """Label values as 0..K-1 in their sorted order, and the K class names."""
    classes, index = np.unique(np.asarray(labels), return_inverse=True)
    return index.astype(np.int64).reshape(-1), [str(c) for c in classes]


def _npz_features(names: np.ndarray | None, width: int, path: Path) -> list[str]:
    if names is None:
        return [f"feature{i}" for i in range(width)]
    if names.shape != (width,):
        raise GankitError(f"{path}'s 'features' has shape {names.shape}, but the series have {width} features: "
                          "save one name per feature")
    return [str(name) for name in names]


def _read_csv(path: Path, window: int | None, series_id: str | None, time: str | None) -> _Set:
    import pandas as pd  # here: the command line imports this module without pandas

    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise GankitError(f"cannot read {path} as CSV ({describe(exc)}): save it as comma-separated text "
                          "with a header row") from None
    return _from_frame(frame, path, window, series_id, time)


def from_frame(frame: Any, *, window: int | None = None, stride: int | None = None, series_id: str | None = None,
               time: str | None = None, log: Log = print) -> SeriesData:
    """A pandas DataFrame read as a `series:FILE.csv` is (the layouts in the module docstring): wide without
    `series_id` and `window`, long with `series_id`, one long series cut into windows with `window` alone."""
    _check_options("series:frame.csv", "train", window, stride, series_id, time)
    found = _from_frame(frame, Path("the DataFrame"), window, series_id, time)
    _check_finite("the DataFrame", found)
    return _windows("the DataFrame", found, window, stride or 1, log) if window else \
        _equal_length("the DataFrame", found)


def _from_frame(frame: Any, path: Path, window: int | None, series_id: str | None, time: str | None) -> _Set:
    if frame.empty:
        raise GankitError(f"{path} has no rows below its header: check the file")
    for column in (series_id, time):
        if column is not None and column not in frame.columns:
            raise GankitError(f"{path} has no column '{column}' (it has: {', '.join(map(str, frame.columns))}): "
                              "name one of those")
        if column is not None and frame[column].isna().any():
            raise GankitError(f"{path} has {int(frame[column].isna().sum())} rows without a value in column "
                              f"'{column}': fill them in or drop those rows")
    if series_id is None and window is None:
        return _wide(frame, path, time)
    if time is not None:
        frame = _sorted_by_time(frame, path, series_id, time)
    return _long(frame, path, series_id, time)


def _sorted_by_time(frame: Any, path: Path, series_id: str | None, time: str) -> Any:
    import pandas as pd

    order = frame[time]
    if not pd.api.types.is_numeric_dtype(order):
        try:
            order = pd.to_datetime(order, format="ISO8601")
        except (ValueError, TypeError):
            raise GankitError(f"{path}'s time column '{time}' holds neither numbers nor ISO 8601 dates: convert "
                              "it to one of those") from None
    keys = [frame[series_id], order] if series_id else [order]
    repeated = int(pd.DataFrame({str(i): key for i, key in enumerate(keys)}).duplicated().sum())
    if repeated:
        raise GankitError(f"{path} has {repeated} rows repeating a time of their series: give --series-id if the "
                          "file holds several series, or drop the repeated rows")
    return frame.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order")


def _long(frame: Any, path: Path, series_id: str | None, time: str | None) -> _Set:
    """Series grouped by `series_id` (or the whole table as one series), a constant text column as labels."""
    others = frame.drop(columns=[c for c in (series_id, time) if c is not None])
    groups = frame[series_id] if series_id else np.zeros(len(frame), dtype=np.int64)
    numeric, text = _split_columns(others, path)
    label = _label_column(others, text, groups, path) if series_id else None
    if not series_id and text:
        raise GankitError(f"{path} has non-numeric column(s) {_names(text)}: name it with --time if it orders "
                          "the rows, else drop it")
    values = others[numeric].to_numpy(dtype=np.float64)
    grouped = others.groupby(groups, sort=False).indices  # first-seen order; rows keep their (sorted) order
    series = [values[rows] for rows in grouped.values()]
    labels, classes = (None, None)
    if label is not None:
        labels, classes = encode_labels([others[label].iloc[rows[0]] for rows in grouped.values()])
    return _Set(series, labels, classes, [str(c) for c in numeric])


def _wide(frame: Any, path: Path, time: str | None) -> _Set:
    """One univariate series a row: the numeric columns are its time steps, one text column its label."""
    if time is not None:
        raise GankitError("--time needs --series-id or --window: in the wide layout (one series a row) the "
                          "columns are the time steps")
    numeric, text = _split_columns(frame, path)
    if len(text) > 1:
        raise GankitError(f"{path} has several non-numeric columns ({_names(text)}): keep at most one, the "
                          "rows' class labels, and drop the others")
    if len(numeric) == 1:
        raise GankitError(f"{path} has one numeric column, which in the wide layout (one series a row) makes series "
                          "of one step: give --window L to read the rows as the steps of one long series, or "
                          "--series-id COLUMN for several")
    values = frame[numeric].to_numpy(dtype=np.float64)[:, :, None]
    labels, classes = encode_labels(frame[text[0]].astype(str)) if text else (None, None)
    return _Set(values, labels, classes, ["value"])


def _split_columns(frame: Any, path: Path) -> tuple[list[Any], list[Any]]:
    import pandas as pd

    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    text = [c for c in frame.columns if c not in numeric]
    if not numeric:
        raise GankitError(f"{path} has no numeric column: gankit learns numbers; check that the file is "
                          "comma-separated and its values are plain numbers (no units or thousands separators)")
    return numeric, text


def _label_column(frame: Any, text: list[Any], groups: Any, path: Path) -> Any | None:
    """The one non-numeric column, when it is constant within every series: the series' class label."""
    if not text:
        return None
    if len(text) > 1:
        raise GankitError(f"{path} has several non-numeric columns ({_names(text)}): drop them, or all but one "
                          "that is constant within every series (read as the class label)")
    column = frame[text[0]]
    if column.isna().any() or (column.groupby(groups, sort=False).nunique() > 1).any():
        raise GankitError(f"{path}'s non-numeric column '{text[0]}' is not one label per series (it varies within "
                          "a series, or is missing in places): drop it")
    return text[0]


def _names(columns: list[Any]) -> str:
    return ", ".join(f"'{c}'" for c in columns)


def _check_finite(dataset: str, found: _Set) -> None:
    series = found.series
    flat = series.reshape(-1, series.shape[2]) if isinstance(series, np.ndarray) else np.concatenate(series)
    missing = np.isnan(flat)
    empty = [name for name, none in zip(found.features, missing.all(axis=0)) if none]
    if empty:
        raise GankitError(f"{dataset}: feature(s) {_names(empty)} have no value (NaN or missing everywhere): "
                          "drop them")
    for bad, what, fix in ((missing, "missing values (NaN)", "fill them (e.g. pandas interpolate) or drop those rows"),
                           (np.isinf(flat), "infinite values", "replace them or drop those rows")):
        if bad.any():
            where = [name for name, some in zip(found.features, bad.any(axis=0)) if some]
            raise GankitError(f"{dataset}: {int(bad.sum())} {what} in feature(s) {_names(where)}: {fix}")


def _equal_length(dataset: str, found: _Set) -> SeriesData:
    lengths = sorted({len(s) for s in found.series})
    if len(lengths) > 1:
        raise GankitError(f"{dataset} has series of {lengths[0]} to {lengths[-1]} steps; gankit trains on equal "
                          f"lengths: use --window L (L <= {lengths[0]} keeps every series)")
    return _data(dataset, np.asarray(found.series), found.labels, found)


def _windows(dataset: str, found: _Set, window: int, stride: int, log: Log) -> SeriesData:
    """Windows of `window` steps every `stride` steps of each series long enough; labels follow their windows."""
    lengths = np.array([len(s) for s in found.series])
    if lengths.max() < window:
        raise GankitError(f"a window of {window} steps is longer than every series of {dataset} (the longest has "
                          f"{lengths.max()}): use --window {lengths.max()} or less")
    short = int((lengths < window).sum())
    if short:
        log(f"{dataset}: {short} of {len(lengths)} series shorter than the window of {window} steps dropped")
    cut = [np.lib.stride_tricks.sliding_window_view(np.asarray(s), window, axis=0)[::stride].transpose(0, 2, 1)
           for s in found.series if len(s) >= window]
    labels = None
    if found.labels is not None:
        counts = [len(c) for c in cut]
        labels = np.repeat(found.labels[lengths >= window], counts).astype(np.int64)
    return _data(dataset, np.concatenate(cut), labels, found)


def _data(dataset: str, values: np.ndarray, labels: np.ndarray | None, found: _Set) -> SeriesData:
    with np.errstate(over="ignore"):
        values = values.astype(np.float32)
    if not np.isfinite(values).all():
        raise GankitError(f"{dataset} has values beyond float32's range (about 3.4e38): rescale them")
    return SeriesData(np.ascontiguousarray(values), labels, list(found.features), found.classes, dataset)


HOLDOUT = 0.2  # of a user's file, held out (its last series, in file order) for the real-data floor


def read_splits(dataset: str, data_dir: str | os.PathLike | None = None, *, log: Log = print,
                **options: Any) -> tuple[SeriesData, SeriesData]:
    """(the series to train on, held-out real series). sines and ucr: have their own test split; of a user's
    file the last 20% (in file order, so windows of one long series do not straddle the two) are held out."""
    if has_test_split(dataset):
        return read_series(dataset, "train", data_dir, log=log, **options), \
            read_series(dataset, "test", data_dir, log=log, **options)
    every = read_series(dataset, "train", data_dir, log=log, **options)
    n = len(every.values)
    cut = n - max(1, round(n * HOLDOUT))
    if cut < 2:
        raise GankitError(f"{dataset} holds {n} series: too few to hold some out for evaluation; give at least 3 "
                          "(or a longer series with a smaller --window)")
    return _subset(every, slice(0, cut)), _subset(every, slice(cut, n))


def _subset(data: SeriesData, rows: slice) -> SeriesData:
    labels = None if data.labels is None else data.labels[rows]
    return SeriesData(data.values[rows], labels, data.features, data.classes, data.name)
