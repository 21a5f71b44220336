"""The command line: bad input is one line on stderr, exit code 2, nothing overwritten."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from gankit.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gankit: error:")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def trained_run(tmp_path, blob_npz, capsys):
    run_dir = tmp_path / "run"
    code, _, _ = run_cli(capsys, "train", "--preset", "seed", "--dataset", blob_npz, "--epochs", "1", "--batch-size", "64",
                         "--run-dir", str(run_dir), "--no-progress")
    assert code == 0
    return run_dir


@pytest.mark.parametrize("argv, needles", [
    (["train", "--preset", "seed", "--dataset", "mnst"], ["unknown dataset 'mnst'"]),
    (["train", "--preset", "seed", "--epochs", "0"], ["--epochs must be positive"]),
    (["train", "--preset", "seed", "--batch-size", "-4"], ["--batch-size must be positive"]),
    (["train", "--preset", "seed", "--lr", "0"], ["--lr must be positive"]),
    (["train", "--preset", "seed", "--minutes", "-1"], ["--minutes must be positive"]),
    (["train", "--preset", "seed", "--limit", "0"], ["--limit must be positive"]),
    (["train", "--preset", "seed", "--epochs", "ten"], ["invalid int value"]),
    (["train", "--preset", "nope"], ["unknown preset 'nope'"]),
    (["train", "--preset", "seed", "--model", "transformer"], ["unknown model 'transformer'"]),
    (["train", "--preset", "seed", "--loss", "kl"], ["unknown loss 'kl'"]),
    (["train", "--preset", "seed", "--device", "tpu"], ["unknown device 'tpu'"]),
    (["train", "--preset", "seed", "--precision", "fp16"], ["unknown precision 'fp16'", "auto, fp32, bf16"]),
    (["train", "--preset", "best", "--g-refine", "-1"], ["refine must be a whole number"]),
    (["train", "--preset", "seed", "--g-refine", "1"], ["model mlp has no option g_refine"]),
    (["train", "--preset", "seed", "--resume"], ["--resume needs --run-dir"]),
    (["train", "--preset", "best-cond", "--self-condition", "10"], ["--self-condition", "choose one"]),
    (["train", "--preset", "seed", "--bogus"], ["unrecognized arguments: --bogus"]),
    (["sample", "/nonexistent/run", "--out", "x.png"], ["not found"]),
    (["data", "imagenet"], ["unknown dataset 'imagenet'"]),
])
def test_bad_options_are_refused_before_any_work(capsys, tmp_path, argv, needles):
    os.chdir(tmp_path)
    code, out, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "runs").exists()  # refused before a run directory was made


def test_config_file_and_flags(tmp_path, blob_npz, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text(f'dataset = "{blob_npz}"\nepochs = 1\nbatch_size = 128\nlr = 1e-3\n')
    code, out, err = run_cli(capsys, "train", "--preset", "seed", "--config", str(toml), "--lr", "5e-4", "--run-dir", str(tmp_path / "r"), "--no-progress")
    assert code == 0, err
    import json
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["batch_size"] == 128 and saved["lr"] == 5e-4 and saved["epochs"] == 1  # flags beat the file


@pytest.mark.parametrize("text, needle", [
    ("epochs = 'many'\n", "'epochs' in"),
    ("epoch = 3\n", "unknown option 'epoch'"),
    ("epochs = [1\n", "not valid TOML"),
])
def test_bad_config_files(tmp_path, capsys, text, needle):
    toml = tmp_path / "c.toml"
    toml.write_text(text)
    code, _, err = run_cli(capsys, "train", "--preset", "seed", "--config", str(toml), "--run-dir", str(tmp_path / "r"))
    assert_one_line_error(code, err, needle)


def test_existing_run_dir_exit_2_and_untouched(trained_run, blob_npz, capsys):
    before = (trained_run / "checkpoints" / "last.pt").read_bytes()
    code, _, err = run_cli(capsys, "train", "--preset", "seed", "--dataset", blob_npz, "--run-dir", str(trained_run))
    assert_one_line_error(code, err, "already exists")
    assert (trained_run / "checkpoints" / "last.pt").read_bytes() == before


def test_unwritable_run_dir(tmp_path, blob_npz, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "train", "--preset", "seed", "--dataset", blob_npz, "--run-dir", str(blocker / "run"))
    assert_one_line_error(code, err, "cannot write to run directory")


def test_sample_png_and_npz(trained_run, tmp_path, capsys):
    code, out, err = run_cli(capsys, "sample", str(trained_run), "-n", "12", "--out", str(tmp_path / "g.png"), "--seed", "3")
    assert code == 0, err
    from PIL import Image
    assert Image.open(tmp_path / "g.png").size[0] > 28 * 3
    code, _, err = run_cli(capsys, "sample", str(trained_run), "-n", "5", "--out", str(tmp_path / "g.npz"), "--device", "cpu")
    assert code == 0, err
    with np.load(tmp_path / "g.npz") as f:
        assert f["images"].shape == (5, 1, 28, 28) and f["images"].dtype == np.uint8 and "labels" not in f


def test_sample_best_without_evaluation(trained_run, tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", str(trained_run), "--checkpoint", "best", "--out", str(tmp_path / "x.png"))
    assert_one_line_error(code, err, "no best checkpoint")


def test_sample_refuses_a_file_that_is_not_a_checkpoint(trained_run, tmp_path, capsys):
    (trained_run / "checkpoints" / "last.pt").write_bytes(b"this is not a checkpoint")
    code, _, err = run_cli(capsys, "sample", str(trained_run), "--out", str(tmp_path / "x.png"))
    assert_one_line_error(code, err, "not a gankit checkpoint")
    assert not (tmp_path / "x.png").exists()


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/gankit-pwned",))


def test_a_checkpoint_cannot_run_code(trained_run, tmp_path, capsys):
    path = trained_run / "checkpoints" / "last.pt"
    torch.save({"format": "gankit-checkpoint", "version": 1, "payload": _Exploit()}, path)
    if os.path.exists("/tmp/gankit-pwned"):
        os.remove("/tmp/gankit-pwned")
    code, _, err = run_cli(capsys, "sample", str(trained_run), "--out", str(tmp_path / "x.png"))
    assert_one_line_error(code, err, "not a gankit checkpoint or is damaged")
    assert not os.path.exists("/tmp/gankit-pwned")


def test_checkpoint_of_another_model_is_refused(tmp_path, blob_npz, trained_run, capsys):
    other = tmp_path / "other"
    code, _, _ = run_cli(capsys, "train", "--preset", "seed", "--dataset", blob_npz, "--epochs", "1", "--z-dim", "16",
                         "--run-dir", str(other), "--no-progress")
    assert code == 0
    # put the z=16 run's weights under the z=100 run's config
    state = torch.load(other / "checkpoints" / "last.pt", weights_only=True)
    state["config"]["z_dim"] = 100
    torch.save(state, trained_run / "checkpoints" / "last.pt")
    code, _, err = run_cli(capsys, "sample", str(trained_run), "--out", str(tmp_path / "x.png"))
    assert_one_line_error(code, err, "another shape or architecture")


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path, blob_npz):
    """A real process: SIGTERM mid-training leaves a resumable checkpoint and no traceback."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "train", "--preset", "seed", "--dataset", blob_npz, "--epochs", "100000",
                             "--batch-size", "16", "--run-dir", str(run_dir), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (run_dir / "metrics.csv").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "--resume" in out
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] >= 16


def test_every_config_field_is_a_flag_whose_help_names_its_choices_and_the_presets_overriding_it():
    from dataclasses import fields

    from gankit import models
    from gankit.cli import build_parser
    from gankit.training.config import PRESETS, TrainConfig

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    text = train.format_help()
    by_dest = {a.dest: a for a in train._actions}
    for f in fields(TrainConfig):
        if f.name == "model_options":  # a flag per model option instead
            continue
        assert f.name in by_dest, f"--{f.name.replace('_', '-')} is missing"
        assert f.metadata["help"].split(";")[0][:30] in " ".join(text.split()), f.name
    for key in models.all_options():
        assert models.option(key).help[:30] in " ".join(by_dest[key].help.split()), key
    assert "dcgan: base channel count (default: dcgan 64) [presets: best 48" in " ".join(by_dest["width"].help.split())
    assert "one of dcgan, mlp" in " ".join(by_dest["model"].help.split())
    assert f"best {PRESETS['best']['self_condition']}" in by_dest["self_condition"].help
    args = train.parse_args(["--g-refine", "2", "--no-progress", "--betas", "0", "0.9"])
    assert (args.g_refine, args.progress, args.betas) == (2, False, [0.0, 0.9])
    assert not hasattr(train.parse_args([]), "g_refine")  # flags not given do not override the preset


def test_argument_errors_name_the_command_once_and_missing_sources_say_not_found(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--preset", "seed", "--nosuch-flag")
    assert_one_line_error(code, err, "unrecognized arguments: --nosuch-flag (see gankit")
    assert "gankit: error: gankit" not in err
    code, _, err = run_cli(capsys, "evaluate", str(tmp_path / "nonexistent"))
    assert_one_line_error(code, err, "nonexistent not found: give a run directory")


def test_sample_without_seed_is_reproducible_like_evaluate_and_augment(capsys, trained_run, tmp_path):
    outs = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for out in outs:
        assert run_cli(capsys, "sample", str(trained_run), "-n", "8", "--out", str(out))[0] == 0
    a, b = (np.load(out)["images"] for out in outs)
    assert np.array_equal(a, b)


def test_info_reads_a_run_from_its_files_alone(capsys, trained_run, tmp_path):
    code, out, _ = run_cli(capsys, "info", str(trained_run))
    assert code == 0
    assert "preset seed: model mlp" in out and "trained: epoch 1 of 1" in out
    assert "checkpoints/last.pt" in out and "config.json" in out and "samples/ (1 grids)" in out
    code, _, err = run_cli(capsys, "info", str(tmp_path / "nosuch"))
    assert_one_line_error(code, err, "is not a gankit run (no config.json)")


def test_presets_lists_every_recipe_with_what_it_changes(capsys):
    from gankit.training.config import PRESETS

    code, out, _ = run_cli(capsys, "presets")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line and line.split()[0] in PRESETS}
    assert set(lines) == set(PRESETS)
    assert "self_condition 13" in lines["best"] and "the tutorial GAN, exactly" in lines["seed"]


def test_train_help_ends_with_examples_and_groups_its_flags():
    from gankit.cli import build_parser

    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert text.rstrip().splitlines()[-1].strip().startswith("gankit presets")
    for group in ("data:", "model:", "loss and stabilisers:", "optimisation:", "evaluation during training:", "output:"):
        assert f"\n{group}\n" in text, group


def test_shell_completion_offers_commands_and_a_commands_flags(tmp_path):
    pytest.importorskip("argcomplete")

    def complete(line: str) -> list[str]:
        out = tmp_path / "completions"
        env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
               "_ARGCOMPLETE_STDOUT_FILENAME": str(out), "_ARGCOMPLETE_IFS": "\n"}
        subprocess.run([sys.executable, "-m", "gankit"], env=env, capture_output=True, timeout=120)
        return [w.strip() for w in out.read_text().split("\n")] if out.exists() else []

    assert {"train", "sample", "evaluate", "report", "export"} <= set(complete("gankit "))
    assert "--self-condition" in complete("gankit train --self")
