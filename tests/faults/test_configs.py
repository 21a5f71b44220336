"""Hostile config files: each is refused with one line and exit code 2 before any run directory exists."""

import os

import pytest

from tests.faults.conftest import assert_one_line_error

NESTED_ARRAYS = "x = " + "[" * 5000 + "]" * 5000
NESTED_TABLES = "x = " + "{a = " * 3000 + "1" + "}" * 3000

CASES = [
    ("binary garbage", b"\x00\xff\xfe\x89PNG\r\n\x1a\n\x00\x00", "is not valid TOML"),
    ("train is a number", "train = 5", "train must be a table of options"),
    ("train is a string", 'train = "seed"', "train must be a table of options"),
    ("nested arrays", NESTED_ARRAYS, "config file"),
    ("nested tables", NESTED_TABLES, "config file"),
    ("a 10 MB dataset path", 'dataset = "folder:' + "a" * 10_000_000 + '"', "too long"),
    ("a 10 MB data dir", 'dataset = "mnist"\ndata_dir = "' + "b" * 10_000_000 + '"', "too long"),
    ("device with a bad index", 'device = "cpu:nonsense"', "unknown device 'cpu:nonsense'"),
    ("a seed beyond any seed", "seed = 100000000000000000000000", "beyond any usable value"),
    ("a batch beyond any size", "batch_size = 1000000000000", "beyond any usable value"),
    ("z_dim that cannot be allocated", "z_dim = 1000000000", "need about"),
    ("grid that cannot be allocated", "grid_size = 2000000000", "need about"),
    ("width that cannot be allocated", 'model = "dcgan"\nwidth = 10000000', "need about"),
    ("NaN penalty", "gp_weight = nan", "must be a finite number"),
    ("infinite penalty", "r1_gamma = inf", "must be a finite number"),
    ("NaN minutes", "minutes = nan", "must be"),
    ("preset escaping runs/", 'preset = "nosuch/../../escaped"', "unknown preset"),
    ("negative learning rate", "lr = -1", "--lr must be positive"),
    ("zero epochs", "epochs = 0", "--epochs must be positive"),
    ("fractional batch", "batch_size = 1.5", "must be a int"),
    ("text for a number", 'lr = "fast"', "must be a float"),
    ("text for a flag", 'compile = "yes"', "must be a bool"),
    ("a number for text", "loss = 5", "must be a str"),
    ("unknown model", 'model = "nosuch"', "unknown model 'nosuch'"),
    ("unknown loss", 'loss = "nosuch"', "unknown"),
    ("unknown data set", 'dataset = "nosuch"', "unknown dataset"),
    ("a missing folder", 'dataset = "folder:/nonexistent/x"', "does not exist"),
    ("one beta", "betas = [0.5]", "must be a pair of numbers"),
    ("betas as text", 'betas = "x"', "must be a pair of numbers"),
    ("an unknown key", "colour = 3", "unknown option 'colour'"),
    ("unknown precision", 'precision = "fp8"', "unknown precision"),
    ("divergence policy as a number", "on_divergence = 5", "must be a str"),
    ("unknown augment policy", 'augment = "flip"', "unknown --augment policy flip"),
    ("one cluster", "self_condition = 1", "--self-condition is a number of clusters"),
    ("negative eval interval", "eval_every = -1", "--eval-every must be 0"),
    ("two channels", "channels = 2", "--channels must be 1 or 3"),
    ("an unknown model option", "[train.model_options]\ndepth = 3", "unknown model option 'depth'"),
    ("model options as a number", "model_options = 5", "must be a table of model options"),
    ("a model option the model lacks", "g_refine = 1", "model mlp has no option g_refine"),
    ("no image pixels allowed", "max_image_pixels = 0", "must be positive"),
]


@pytest.mark.parametrize("text, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hostile_config_is_one_line_and_leaves_no_run_directory(cli, tmp_path, blob_npz, text, needle):
    config = tmp_path / "hostile.toml"
    body = text if isinstance(text, bytes) else (text if "dataset" in text else f'dataset = "{blob_npz}"\n{text}')
    config.write_bytes(body if isinstance(body, bytes) else body.encode())
    os.chdir(tmp_path)
    code, _, err = cli("train", "--preset", "seed", "--config", config, "--run-dir", tmp_path / "run", "--no-progress")
    assert_one_line_error(code, err, needle)
    assert len(err) < 1000  # a 10 MB value is not repeated back
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def test_a_directory_or_an_overlong_name_as_the_config_is_one_line(cli, tmp_path):
    code, _, err = cli("train", "--preset", "seed", "--config", tmp_path, "--run-dir", tmp_path / "run")
    assert_one_line_error(code, err, "is a directory")
    code, _, err = cli("train", "--preset", "seed", "--config", "c" * 100_000, "--run-dir", tmp_path / "run")
    assert_one_line_error(code, err, "cannot read config file")
    assert len(err) < 400 and not (tmp_path / "run").exists()


def test_a_hostile_config_never_overwrites_a_finished_run(cli, tmp_path, blob_npz):
    run = tmp_path / "run"
    assert cli("train", "--preset", "seed", "--dataset", blob_npz, "--epochs", "1", "--run-dir", run, "--no-progress")[0] == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    config = tmp_path / "hostile.toml"
    config.write_text("gp_weight = nan")
    code, _, err = cli("train", "--preset", "seed", "--config", config, "--run-dir", run, "--force")
    assert_one_line_error(code, err, "finite")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
