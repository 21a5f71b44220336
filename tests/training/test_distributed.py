"""torchrun data parallelism: two CPU processes (gloo) at a global batch train the same weights as one
process at that batch, and only rank 0 writes the run directory."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from gankit.infra.checkpoint import load
from tests.helpers import blob_images


def _train(args, run_dir, nproc=None, extra=()):
    common = ["--dataset", args, "--batch-size", "64", "--epochs", "2", "--seed", "7", "--no-progress",
              "--log-every", "2", "--run-dir", str(run_dir), *extra]
    if nproc is None:
        cmd = [sys.executable, "-m", "gankit", "train", "--preset", "seed", *common]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "gankit", "train", "--preset", "seed", *common]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _relative_difference(a, b):
    return max(((a[k] - b[k]).norm() / b[k].norm()).item() for k in b)


@pytest.fixture(scope="module")
def one_and_two_processes(tmp_path_factory):
    """A one-process run and a two-process run of the same self-conditioned training (shared: each launch, and
    each clustering, costs seconds)."""
    # 256 images, global batch 64: 4 full steps per epoch, so no batch is dropped by either run
    tmp = tmp_path_factory.mktemp("ddp")
    images, labels = blob_images(256)
    np.savez(tmp / "blobs.npz", images=images, labels=labels)
    extra = ["--self-condition", "4"]
    _train(f"npz:{tmp / 'blobs.npz'}", tmp / "single", extra=extra)
    return tmp, _train(f"npz:{tmp / 'blobs.npz'}", tmp / "ddp", nproc=2, extra=extra)


def test_two_gloo_processes_train_what_one_process_trains(one_and_two_processes):
    tmp_path, result = one_and_two_processes
    assert "data-parallel over 2 processes (gloo): effective batch 64 = 2 x 32" in result.stdout
    one, two = load(tmp_path / "single" / "checkpoints" / "last.pt"), load(tmp_path / "ddp" / "checkpoints" / "last.pt")
    assert two["step"] == one["step"] == 8
    assert _relative_difference(two["generator"], one["generator"]) < 1e-5
    assert _relative_difference(two["discriminator"], one["discriminator"]) < 1e-5
    # rank 0 alone wrote: one header and one row per log point in steps.csv, not two
    rows = (tmp_path / "ddp" / "steps.csv").read_text().splitlines()
    assert len(rows) == 1 + 8 // 2


def test_two_gloo_processes_share_rank_zeros_self_conditioning_clusters(one_and_two_processes):
    # each rank's shard must be labelled from the one clustering rank 0 made, or the conditional pair trains
    # on other ids than one process would
    tmp_path, result = one_and_two_processes
    assert "self-conditioning on 4 clusters of the 256 training images" in result.stdout
    one, two = load(tmp_path / "single" / "checkpoints" / "last.pt"), load(tmp_path / "ddp" / "checkpoints" / "last.pt")
    assert torch.equal(two["clusters"], one["clusters"])
    assert len(torch.unique(one["clusters"])) == 4


def test_resumed_two_process_run_continues_where_it_stopped(one_and_two_processes, tmp_path):
    shutil.copytree(one_and_two_processes[0] / "ddp", tmp_path / "ddp")
    common = ["--run-dir", str(tmp_path / "ddp"), "--resume", "--epochs", "3", "--no-progress"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "gankit",
           "train", "--preset", "seed", *common]
    result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    before, after = (load(d / "ddp" / "checkpoints" / "last.pt") for d in (one_and_two_processes[0], tmp_path))
    assert after["step"] == 12
    # the 4 steps moved the weights: the runs above compare trained models, not two untrained ones
    assert _relative_difference(after["generator"], before["generator"]) > 1e-4
