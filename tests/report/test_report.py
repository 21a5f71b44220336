"""report.html in a real headless browser: the page loads without errors, every image decodes, and the numbers
it shows are the run's own (evaluation.json, metrics.csv)."""

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

from gankit.cli import main
from gankit.report.page import number
from gankit.training.runlog import read_csv

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
needs_browser = pytest.mark.skipif(BROWSER is None, reason="no headless browser here (apt-get install chromium)")


def rendered(page) -> str:
    """The DOM after the page's scripts ran, as a headless browser leaves it."""
    done = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", f"file://{page}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def row_numbers(dom: str, key: str) -> list[str]:
    row = re.search(rf'<tr data-key="{re.escape(key)}">(.*?)</tr>', dom)
    assert row, f"no row {key!r} in the page"
    return re.findall(r'<td class="num">([^<]*)</td>', row.group(1))


def assert_loaded(dom: str, images: int) -> None:
    body = re.search(r'<body data-images="(\d+)/(\d+)" data-errors="(\d+)"', dom)
    assert body, "the page's check script did not run"
    ok, total, errors = map(int, body.groups())
    assert errors == 0 and ok == total >= images


@needs_browser
@pytest.mark.mnist
def test_an_image_runs_report_shows_its_grids_curves_and_scores(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    assert main(["train", "--preset", "seed", "--dataset", "mnist", "--limit", "1500", "--eval-every", "1", "--eval-n", "200",
                 "--eval-holdout", "500", "--epochs", "2", "--batch-size", "128", "--run-dir", str(run),
                 "--no-progress"]) == 0
    assert "report: " in capsys.readouterr().out and (run / "report.html").is_file()
    assert main(["evaluate", str(run), "-n", "200", "--metrics", "fid,kid,pr,classes"]) == 0  # refreshes the report
    dom = rendered(run / "report.html")
    assert_loaded(dom, images=5)  # both epochs' grids, the one shown, curves, the FID plot
    saved = json.loads((run / "evaluation.json").read_text())
    for key in ("fid", "precision", "recall", "classes_covered"):
        assert row_numbers(dom, key)[:2] == [number(saved["metrics"][key]), number(saved["floor"][key])], key
    for row in read_csv(run / "metrics.csv"):
        assert row_numbers(dom, f"epoch-{int(row['epoch'])}")[1] == number(row["fid"])
    assert row_numbers(dom, "epochs done") == ["2"]


@needs_browser
def test_a_table_runs_report_shows_columns_correlations_and_scores(tmp_path, capsys):
    rng = __import__("numpy").random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "y": 2 * x + rng.normal(size=n), "kind": rng.choice(["a", "b", "c"], n)})
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"csv:{path}", "--epochs", "2", "--batch-size", "100", "--run-dir",
                 str(run)]) == 0
    assert main(["evaluate", str(run), "--json"]) == 0
    dom = rendered(run / "report.html")
    assert_loaded(dom, images=3)  # losses, columns, correlation difference
    saved = json.loads((run / "evaluation.json").read_text())
    assert row_numbers(dom, "column shape") == [number(saved["column_shape"]["mean"])]
    assert row_numbers(dom, "detection AUC") == [number(saved["detection"]["auc"])]
    assert row_numbers(dom, "epochs done") == ["2"]


def test_report_of_a_directory_that_is_not_a_run_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a gankit run" in capsys.readouterr().err
