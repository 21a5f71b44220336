"""Runs that meet a full disk, a second writer, kill -9 at any point, and signals in every phase: each ends
with a clear message and a state that one named command continues, bit-exactly where a checkpoint exists."""

import errno
import json
import os
import random
import signal
import subprocess

import pytest
import torch

from gankit.infra import checkpoint
from gankit.infra.io import DiskFull
from gankit.infra.rundir import RunLock
from tests.faults.conftest import assert_one_line_error, child, gankit, wait_for_line
from tests.helpers import weights

TRAIN = ["--epochs", "3", "--batch-size", "32", "--log-every", "2", "--grid-size", "16", "--no-progress"]
HANG_GUARD = 180  # seconds: only so a broken handler cannot hang the suite


def _train_args(blob_npz, run):
    return ["train", "--preset", "seed", "--dataset", blob_npz, "--run-dir", run, *TRAIN]


@pytest.fixture
def straight(cli, tmp_path, blob_npz):
    """The weights of the run trained straight through, for kills and resumes to match."""
    run = tmp_path / "straight"
    assert cli(*_train_args(blob_npz, run))[0] == 0
    return weights(run)


# --- kill -9 anywhere --------------------------------------------------------------------------------------

KILL_AT_STEP = """
import os, signal, sys
from gankit.training import step
n, call = int(sys.argv[1]), step.GanStep.__call__
def killing(self, *a, **k):
    if self.calls == n:
        os.kill(os.getpid(), signal.SIGKILL)
    return call(self, *a, **k)
step.GanStep.__call__ = killing
from gankit.cli import main
sys.exit(main(sys.argv[2:]))
"""

KILL_IN_CHECKPOINT = """
import os, signal, sys
from gankit.infra import io
n, replace, seen = int(sys.argv[1]), io.os.replace, []
def killing(src, dst):
    if str(dst).endswith("last.pt"):
        seen.append(dst)
        if len(seen) == n:  # the new checkpoint is written in full beside the old one, not yet renamed
            os.kill(os.getpid(), signal.SIGKILL)
    return replace(src, dst)
io.os.replace = killing
from gankit.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _killed(script, at, argv):
    proc = child(script, at, *argv)
    proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == -signal.SIGKILL


def test_kill_9_at_seeded_steps_and_inside_checkpoint_writes_resumes_to_the_straight_runs_weights(
        cli, tmp_path, blob_npz, straight):
    rng = random.Random(0)
    steps_per_epoch = 256 // 32
    points = [(KILL_AT_STEP, rng.randrange(1, steps_per_epoch)),  # before the first checkpoint
              (KILL_AT_STEP, rng.randrange(steps_per_epoch + 1, 3 * steps_per_epoch)),
              (KILL_IN_CHECKPOINT, rng.randrange(2, 4))]  # while writing epoch 2's or 3's checkpoint
    for i, (script, at) in enumerate(points):
        run = tmp_path / f"killed{i}"
        _killed(script, at, _train_args(blob_npz, run))
        code, out, err = cli("train", "--preset", "seed", "--run-dir", run, "--resume", "--no-progress")
        assert code == 0, err
        if at < steps_per_epoch and script is KILL_AT_STEP:
            assert "has no checkpoint yet" in out and "starting it over" in out
        assert not list(run.rglob(".*.tmp*")), "a half-written file was left behind"
        got = weights(run)
        assert all(torch.equal(got[k], straight[k]) for k in straight), f"kill point {i} ({at}) changed the weights"


def test_resume_with_neither_checkpoint_nor_config_names_a_command_that_works(cli, tmp_path, blob_npz):
    run = tmp_path / "empty"
    (run / "samples").mkdir(parents=True)
    code, _, err = cli("train", "--preset", "seed", "--run-dir", run, "--resume")
    assert_one_line_error(code, err, "nothing to resume", "start a new run without --resume")
    assert cli(*_train_args(blob_npz, run), "--epochs", "1")[0] == 0  # and that command is not refused


# --- a full disk ---------------------------------------------------------------------------------------------

FULL_DISK = """
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # writes past this size fail (EFBIG), as on a full disk
from gankit.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_a_full_disk_while_checkpointing_is_one_line_and_the_last_checkpoint_survives(cli, tmp_path, blob_npz):
    run = tmp_path / "run"
    assert cli(*_train_args(blob_npz, run), "--epochs", "1")[0] == 0
    before = (run / "checkpoints" / "last.pt").read_bytes()
    proc = child(FULL_DISK, 1_000_000, "train", "--preset", "seed", "--run-dir", run, "--resume", "--epochs", "2", "--no-progress")
    _, err = proc.communicate(timeout=HANG_GUARD)
    assert_one_line_error(proc.returncode, err, "disk full at", "last.pt", "free space and rerun with: gankit train "
                          f"--run-dir {run} --resume")
    assert (run / "checkpoints" / "last.pt").read_bytes() == before  # intact, and no temporary file beside it
    assert not list(run.rglob(".*.tmp*"))
    code, _, err = cli("train", "--preset", "seed", "--run-dir", run, "--resume", "--epochs", "2", "--no-progress")
    assert code == 0, err
    assert checkpoint.load(run / "checkpoints" / "last.pt")["epoch"] == 2


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EIO])
def test_an_injected_write_failure_is_disk_full_or_disk_error_and_keeps_the_old_file(tmp_path, monkeypatch, error):
    from gankit.infra import io

    path = tmp_path / "last.pt"
    checkpoint.save(path, {"epoch": 1})
    monkeypatch.setattr(io.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(error, os.strerror(error))))
    with pytest.raises(DiskFull, match="disk full at" if error == errno.ENOSPC else "disk error at"):
        checkpoint.save(path, {"epoch": 2})
    assert checkpoint.load(path)["epoch"] == 1 and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_real_full_tmpfs_is_one_line(tmp_path, blob_npz):
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        proc = gankit(*_train_args(blob_npz, mount / "run"))
        _, err = proc.communicate(timeout=HANG_GUARD)
        assert_one_line_error(proc.returncode, err, "disk full at", "free space and rerun")
    finally:
        subprocess.run(["umount", str(mount)], check=False)


# --- two writers ---------------------------------------------------------------------------------------------

def test_a_second_writer_is_refused_with_the_holders_pid(cli, tmp_path, blob_npz):
    run = tmp_path / "run"
    with RunLock(run):
        for extra in ([], ["--force"]):
            code, _, err = cli(*_train_args(blob_npz, run), *extra)
            assert_one_line_error(code, err, f"is in use by another gankit process (PID {os.getpid()})")
    assert not (run / "config.json").exists()


def test_resuming_a_run_that_is_still_training_is_refused_and_a_stale_lock_after_kill_9_is_not(
        cli, tmp_path, blob_npz):
    run = tmp_path / "run"
    proc = gankit(*_train_args(blob_npz, run), "--epochs", "100000", "--log-every", "1")
    try:
        wait_for_line(proc, "Epoch [1/")  # a checkpoint exists
        code, _, err = cli("train", "--preset", "seed", "--run-dir", run, "--resume")
        assert_one_line_error(code, err, f"(PID {proc.pid})")
    finally:
        proc.kill()
        proc.communicate(timeout=HANG_GUARD)
    code, _, err = cli("train", "--preset", "seed", "--run-dir", run, "--resume", "--epochs", "2", "--no-progress")
    assert code == 0, err
    steps = [int(float(r.split(",")[0])) for r in (run / "steps.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps))  # no step logged twice


# --- signals in every phase ----------------------------------------------------------------------------------

SLOW_PHASE = """
import functools, importlib, sys, time
*owner, name = "{name}".split(".")
parent = functools.reduce(getattr, owner, importlib.import_module("{module}"))
def slow(*a, **k):  # the phase, made long: the test signals the process inside it
    print("PHASE", flush=True)
    time.sleep(600)
setattr(parent, name, slow)
from gankit.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("phase, module, name, signum", [
    ("data loading", "gankit.data.npz", "load", signal.SIGTERM),
    ("clustering", "gankit.training.self_condition", "cluster_images", signal.SIGINT),
])
def test_a_signal_while_loading_data_or_clustering_stops_at_once_and_resume_works(
        tmp_path, blob_npz, phase, module, name, signum, cli):
    run = tmp_path / "run"
    extra = ["--preset", "best", "--self-condition", "2", "--width", "8", "--epochs", "1"] \
        if phase == "clustering" else []
    proc = child(SLOW_PHASE.format(module=module, name=name), *_train_args(blob_npz, run), *extra)
    wait_for_line(proc, "PHASE")
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 130 and "interrupted" in err
    if phase == "data loading":
        assert not run.exists()  # nothing is created before the data has been read
    else:
        assert json.loads((run / "config.json").read_text())["self_condition"] == 2
        assert not (run / "checkpoints" / "last.pt").exists()


def test_a_signal_while_evaluating_stops_after_a_checkpoint_that_resumes(tmp_path, blob_npz, cli):
    run = tmp_path / "run"
    script = SLOW_PHASE.format(module="gankit.training.periodic_eval", name="PeriodicEvaluator.score")
    proc = child(script, "train", "--preset", "seed", "--dataset", "mnist", "--limit", "6000", "--eval-every", "1", "--eval-n", "64",
                 "--eval-holdout", "500", "--run-dir", run, "--epochs", "3", "--batch-size", "256", "--no-progress")
    wait_for_line(proc, "PHASE")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 130, err
    assert "validation interrupted" in out and checkpoint.load(run / "checkpoints" / "last.pt")["epoch"] == 1


def test_ctrl_c_while_the_first_step_compiles_stops_at_once(tmp_path, blob_npz):
    run = tmp_path / "run"
    proc = gankit(*_train_args(blob_npz, run), "--compile")
    wait_for_line(proc, "training mlp GAN")  # printed just before the first step, which compiles
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)  # the compile takes minutes on a CPU; the stop must not wait for it
    assert proc.returncode == 130, err
    from gankit import train  # resumed without the compile (a resume may change it): 30-40 s on a 2-core CPU

    said = []
    result = train(run_dir=run, resume=True, epochs=1, compile=False, progress=False, log=said.append)
    assert result.epochs_done == 1 and any("starting it over" in s for s in said)


def test_a_signal_while_sampling_stops_at_once_and_writes_nothing(tmp_path, blob_npz, cli):
    run = tmp_path / "run"
    assert cli(*_train_args(blob_npz, run), "--epochs", "1")[0] == 0
    script = SLOW_PHASE.format(module="gankit.generate.sample", name="TrainedGenerator.sample")
    proc = child(script, "sample", run, "-n", "64", "--out", tmp_path / "out.png")
    wait_for_line(proc, "PHASE")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 130 and not list(tmp_path.glob("*out*"))
