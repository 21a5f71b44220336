"""Sequence runs from the command line: train, resume, sample, evaluate, and bad input in one line with exit 2."""

import json

import numpy as np
import pytest

from gankit.cli import main
from gankit.timeseries import run as series_run

FAST = ["--steps", "6", "--batch-size", "16", "--z-dim", "8", "--width", "32", "--log-every", "3"]


@pytest.fixture
def labelled_npz(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(20)[None, :, None]
    labels = np.array(["slow", "fast"] * 30)
    freq = np.where(labels == "slow", 0.2, 1.0)[:, None, None]
    series = 5 + np.sin(freq * t + rng.uniform(0, 3, (60, 1, 3)))
    path = tmp_path / "set.npz"
    np.savez(path, series=series.astype(np.float32), labels=labels)
    return path


def _train(tmp_path, dataset, *extra):
    run = tmp_path / "run"
    assert main(["train", "--dataset", dataset, "--run-dir", str(run), *FAST, *extra]) == 0
    return run


def test_train_writes_a_run_that_samples_to_every_format_and_resumes(tmp_path, labelled_npz, capsys):
    run = _train(tmp_path, f"series:{labelled_npz}")
    config = json.loads((run / "config.json").read_text())
    assert config["kind"] == "timeseries" and config["options"]["steps"] == 6 and config["data"] == {}
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "samples.png").stat().st_size > 0
    assert (run / "history.csv").read_text().startswith("step,seconds,")
    for out in ("s.npz", "s.csv", "s.png"):
        assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / out), "--label", "1"]) == 0
    with np.load(tmp_path / "s.npz") as f:
        assert f["series"].shape == (5, 20, 3) and (f["labels"] == 1).all() and list(f["classes"]) == ["fast", "slow"]
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "series_id,step,feature0,feature1,feature2,label" and len(lines) == 1 + 5 * 20
    assert lines[1].endswith(",slow")
    assert main(["train", "--run-dir", str(run), "--resume", "--steps", "9"]) == 0
    assert json.loads((run / "config.json").read_text())["options"]["steps"] == 9


def test_a_resume_may_not_change_the_data_or_the_model(tmp_path, labelled_npz, capsys):
    run = _train(tmp_path, f"series:{labelled_npz}")
    assert main(["train", "--run-dir", str(run), "--resume", "--width", "64"]) == 2
    assert "--resume may change only" in capsys.readouterr().err


@pytest.mark.parametrize("make, flags, message", [
    (lambda p: p.write_text("name,city\na,b\nc,d\n"), [], "no numeric column"),
    (lambda p: p.write_text("t,v\n" + "".join(f"{i},{i}\n" for i in range(10))), ["--window", "50"], "longer than"),
    (lambda p: p.write_text("t,v,w\n" + "".join(f"{i},{i},\n" for i in range(10))), ["--window", "4"], "have no value"),
])
def test_bad_csv_input_gets_one_line_and_exit_code_2(tmp_path, capsys, make, flags, message):
    path = tmp_path / "data.csv"
    make(path)
    code = main(["train", "--dataset", f"series:{path}", "--run-dir", str(tmp_path / "run"), *FAST, *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()  # refused before the run directory is made


def test_a_ragged_npz_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "ragged.npz"
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((3, 1)), np.zeros((5, 1))
    np.savez(path, series=ragged)
    assert main(["train", "--dataset", f"series:{path}", "--run-dir", str(tmp_path / "run"), *FAST]) == 2
    assert "ragged" in capsys.readouterr().err


def test_sequence_flags_are_refused_for_images_and_image_flags_for_sequences(tmp_path, labelled_npz, capsys):
    assert main(["train", "--dataset", "mnist", "--window", "5"]) == 2
    assert "applies to sequences only" in capsys.readouterr().err
    assert main(["train", "--dataset", f"series:{labelled_npz}", "--ema", "0.99"]) == 2
    assert "does not apply to sequences" in capsys.readouterr().err
    run = _train(tmp_path, f"series:{labelled_npz}")
    assert main(["sample", str(run), "-n", "2", "--out", str(tmp_path / "x.gif")]) == 2
    assert ".npz, .csv or .png" in capsys.readouterr().err


def test_evaluate_info_and_the_report_page_describe_a_sequence_run(tmp_path, labelled_npz, capsys):
    run = _train(tmp_path, f"series:{labelled_npz}")
    page = (run / "report.html").read_text()  # gankit train writes it
    assert "Generated series beside real ones" in page and "data:image/png;base64," in page
    report = series_run.evaluate_run(run, seeds=2, iterations=(20, 20), log=lambda m: None)
    assert json.loads((run / "evaluation.json").read_text()) == report.to_json()
    assert (run / "embedding.png").stat().st_size > 0
    assert "discriminative" in report.summary() and "real data" in report.summary()
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert 'data-key="discriminative"' in page and "real data" in page
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    text = capsys.readouterr().out
    assert "sequence run on series:" in text and "recipe conv" in text and "step 6 of 6" in text


def test_a_short_real_run_on_sines_learns_what_an_untrained_generator_lacks():
    """A few hundred steps of the conv recipe on TimeGAN's sines bring the generated series' values and their
    autocorrelation far closer to the real ones than an untrained generator's."""
    from gankit.timeseries.data import sines
    from gankit.timeseries.gan import TimeSeriesGAN
    from gankit.timeseries.metrics import autocorrelation_distance, marginal_distance

    real = sines(1000, seed=0)
    scores = {}
    for name, steps in (("untrained", 1), ("trained", 300)):
        synth = TimeSeriesGAN(steps=steps, width=64, log_every=100).fit(real, log=lambda m: None).sample(1000, seed=0)
        scores[name] = (marginal_distance(real, synth).mean(), autocorrelation_distance(real, synth))
    assert scores["trained"][0] < 0.5 * scores["untrained"][0]
    assert scores["trained"][1] < 0.5 * scores["untrained"][1]
