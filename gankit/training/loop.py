"""The training loop: the tutorial's two steps over batches drawn from images held in memory.

    for each batch of real images:
        D step: D learns to tell real from G(z).detach()       (gankit.training.step)
        G step: G learns to make D call G(z) real

Everything else is the loop's, around the step and never inside it: at each log point (`--log-every`) the
learning-rate schedule, the health check, a steps.csv row and the progress bar; at each epoch's end the EMA's
standing statistics, evaluation (`--eval-every`), metrics.csv, the sample grid and the checkpoint; the time
budget and signals between steps. The step makes no host sync (no `.item()`), so a GPU never waits on Python.
Each of these parts is named for torch.profiler (gankit.train_loop, gankit.draw_batch, gankit.log,
gankit.standing_stats, gankit.grid, gankit.checkpoint, gankit.evaluate; the step's own in gankit.training.step).
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import torch
from torch import nn
from torch.profiler import record_function
from tqdm.auto import tqdm  # a widget in notebooks, a text bar elsewhere

from gankit import data, models
from gankit.data.pixels import to_model_range
from gankit.infra import checkpoint
from gankit.infra.allocator import keep_freed_memory
from gankit.infra.device import bf16_warning, cpu_flags, resolve_device, resolve_precision
from gankit.infra.errors import GankitError, describe
from gankit.infra.io import DiskFull, write_text
from gankit.infra.log import Log
from gankit.infra.rundir import RunLock, check_new_run_dir, prepare_run_dir, restart_from_config
from gankit.infra.signals import StopSignal
from gankit.metrics import TRACKED
from gankit.training import config as config_mod
from gankit.training import distributed, footprint, losses, periodic_eval, self_condition
from gankit.training.config import TrainConfig
from gankit.training.ema import EMA
from gankit.training.health import HealthMonitor
from gankit.training.runlog import RunLog
from gankit.training.step import GanStep, StepOptions

MAX_CLASSES = 100_000  # a conditional model's classes: G and D hold an embedding row for each
# Batches of 256 for the EMA generator's standing statistics: a full estimate where samples are scored or kept
# (evaluation, best.pt, the run's last checkpoint), a quick one for each epoch's grid and checkpoint. At 64 x 64
# the full one took a quarter of rgb's epoch on emoji (benchmarks/preset_speed.py).
STANDING_BATCHES, QUICK_STANDING_BATCHES = 40, 8


def draw_batch(images: torch.Tensor, perm: torch.Tensor, step_in_epoch: int, batch: int, z_dim: int,
               world: distributed.World = distributed.World(), labels: torch.Tensor | None = None,
               mirror: bool = False):
    """This rank's real images (in [-1, 1]), noise and labels (None for unconditional models) for one step.
    The whole batch's noise (and, with `mirror`, its coin flips) is drawn on every rank, so N ranks consume the RNG
    exactly as one process does. `mirror`: each real image is flipped left to right with probability 1/2."""
    idx = perm[step_in_epoch * batch:(step_in_epoch + 1) * batch]
    z = torch.randn(len(idx), z_dim, device=images.device)
    mine = world.shard(idx)
    real = to_model_range(images[mine])
    if mirror:
        flip = world.shard(torch.rand(len(idx), device=images.device) < 0.5)
        real = torch.where(flip[:, None, None, None], real.flip(-1), real)
    return real, world.shard(z), (labels[mine] if labels is not None else None)


def step_options(cfg: TrainConfig, precision: str) -> StepOptions:
    """What a run's step does beyond the tutorial's, `precision` being what --precision resolved to."""
    return StepOptions(precision=precision, compile=cfg.compile, n_critic=cfg.n_critic, gp_weight=cfg.gp_weight,
                       r1_gamma=cfg.r1_gamma, augment=cfg.augment)


def make_adam(module: nn.Module, cfg: TrainConfig, device: torch.device, lr: float | None = None) -> torch.optim.Optimizer:
    """The tutorial's Adam. The fused kernel computes the same update in one pass over the parameters:
    the profile of the seed model put the per-tensor update at a third of each CPU step."""
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(module.parameters(), lr=lr or cfg.lr, betas=cfg.betas, fused=fused)


@dataclass
class RunResult:
    run_dir: Path
    epochs_done: int
    steps_done: int
    steps_run: int  # steps executed by this call (less than steps_done after a resume)
    stopped_by: str  # "epochs", "minutes" or "signal"
    last_epoch_stats: dict[str, float]


def default_run_dir(cfg: TrainConfig) -> Path:
    return Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{cfg.preset}"


DATA_FILE = "data.npz"  # a run given its images in memory keeps them here, so it is reproducible from its directory


def train(cfg: TrainConfig, run_dir: str | Path | None = None, *, resume: bool = False, force: bool = False,
          overrides: dict | None = None, log: Log = print, arrays: tuple | None = None) -> RunResult:
    """Train a GAN as `cfg` says, in `run_dir`. With `resume`, `cfg` is ignored: the run's saved config is
    used, with `overrides` (only those a resume may change, e.g. epochs) applied on top; a run stopped before
    its first checkpoint starts over from its saved config.
    Under torchrun, every rank calls this; rank 0 alone writes.

    A new run's config, data and memory needs are all checked before its directory is created; the directory
    is then locked for the run's life (a second writer is refused). `arrays` (images [, labels]) are training
    images given in memory: they are checked as an npz file's are and saved as RUN_DIR/data.npz, which the
    run's config then names as its data set."""
    if arrays is not None:
        if resume:
            raise GankitError("a resumed run reads the data.npz in its directory: leave out data= when resuming")
        run_dir = Path(run_dir) if run_dir is not None else default_run_dir(cfg)
        cfg = dataclasses.replace(cfg, dataset=f"npz:{(run_dir / DATA_FILE).resolve()}")
        arrays = data.from_arrays(*arrays, log=log)  # checked and made (N, C, H, W) once: trained on and saved
    if not resume:
        config_mod.validate(cfg, check_data=arrays is None)  # before anything is written
    device = distributed.local_device(resolve_device(cfg.device))
    if device.type == "cpu":
        keep_freed_memory()  # each step frees what the next allocates: keep it rather than fault it in again
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)  # before the process group, so NCCL binds each rank to its own GPU
    world = distributed.init(device)
    if not world.is_main:
        log = _silent
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(cfg)
    dataset = None
    if resume and not run_dir.is_dir():
        raise GankitError(f"nothing to resume: {run_dir} does not exist; check --run-dir, or start a new run "
                          "without --resume")
    if not resume:
        distributed.check_batch(cfg.batch_size, world)
        if world.is_main:
            check_new_run_dir(run_dir, force=force)
        dataset = _load_checked(cfg, device, log, arrays)
    try:
        with RunLock(run_dir) if world.is_main else nullcontext():
            if world.is_main:
                prepare_run_dir(run_dir, resume=resume, force=force)
            world.barrier()
            state = None
            if resume:
                cfg, state = _resume_point(run_dir, overrides or {}, world, log)
                device = distributed.local_device(resolve_device(cfg.device))
                dataset = _load_checked(cfg, device, log)
            if arrays is not None and world.is_main:
                _save_arrays(run_dir / DATA_FILE, arrays)
            if state is None and world.is_main:
                write_text(run_dir / "config.json", cfg.to_json() + "\n")  # a run killed from here on can resume
            if device.type == "cuda" and device.index is not None:
                torch.cuda.set_device(device)  # NCCL and the default CUDA stream of this rank
            torch.manual_seed(cfg.seed)
            trainer = _Trainer(cfg, run_dir, device, world, log, dataset,
                               saved_clusters=state.get("clusters") if state else None)
            if state is not None:
                trainer.restore(state)
            result = trainer.run(resumed=state is not None)
    except DiskFull as e:
        raise DiskFull(e.path, e.reason, f"rerun with: gankit train --run-dir {run_dir} --resume") from None
    distributed.shutdown()
    return result


def _load_checked(cfg: TrainConfig, device: torch.device, log: Log,
                  arrays: data.ImageData | None = None) -> data.ImageData:
    """The training images, then a check that the models and a batch fit in memory, before any allocation."""
    holdout = cfg.eval_holdout if cfg.eval_every else 0
    if arrays is not None:
        dataset = data.training_images_from(arrays, holdout=holdout, limit=cfg.limit, image_size=cfg.image_size,
                                            channels=cfg.channels, fit=cfg.image_fit)
    else:
        dataset = data.load_training_images(cfg.dataset, cfg.data_dir, holdout=holdout, limit=cfg.limit,
                                            image_size=cfg.image_size, channels=cfg.channels,
                                            max_image_pixels=cfg.max_image_pixels, fit=cfg.image_fit,
                                            cache=cfg.image_cache, log=log)
    _, num_classes = _labels(cfg, dataset)
    footprint.check_fits(cfg, tuple(dataset.shape), num_classes or cfg.self_condition, device)
    return dataset


def _save_arrays(path: Path, full: data.ImageData) -> None:
    """The images as given (all of them: --limit and the validation slice are cut again on resume), as an npz."""
    import numpy as np

    from gankit.infra.io import atomic_path

    saved = {"images": full.images.numpy()}
    if full.labels is not None:
        saved["labels"] = full.labels.numpy()
    with atomic_path(path) as tmp:
        np.savez(tmp, **saved)


def _resume_point(run_dir: Path, overrides: dict, world: distributed.World,
                  log: Log) -> tuple[TrainConfig, dict | None]:
    """The config and checkpoint a resume continues from; with no checkpoint yet, the saved config.json alone,
    and the run starts over (what it wrote before it stopped is dropped)."""
    last = run_dir / "checkpoints" / "last.pt"
    if last.is_file():
        state = checkpoint.load(last)
        return config_mod.check_resume(TrainConfig.from_dict(state["config"]), overrides), state
    saved = _saved_config(run_dir / "config.json")
    cfg = config_mod.check_resume(saved, overrides)
    log(f"{run_dir} has no checkpoint yet (it stopped before its first one): starting it over from its config.json")
    world.barrier()  # every rank has seen that there is no checkpoint before rank 0 clears the directory
    if world.is_main:
        restart_from_config(run_dir)
    world.barrier()
    return cfg, None


def _saved_config(path: Path) -> TrainConfig:
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as e:
        raise GankitError(f"{path} is not a readable gankit config ({describe(e)}): start a new run without "
                          "--resume") from None


class _Trainer:
    """One run's data, models, optimisers and position; `run()` is the loop. Split from `train()` so each
    part (setup, resume, one epoch, the end of an epoch, checkpoints, rollback) reads on its own."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, device: torch.device, world: distributed.World, log: Log,
                 dataset: data.ImageData, saved_clusters: torch.Tensor | None = None):
        self.cfg, self.run_dir, self.device, self.world, self.log = cfg, run_dir, device, world, log
        self.dataset = dataset
        images = self.dataset.images
        self.evaluator = None
        if cfg.eval_every:
            self.evaluator = periodic_eval.PeriodicEvaluator(cfg, device, log) if world.is_main else None
            log(f"evaluating every {cfg.eval_every} epochs on {cfg.eval_n} samples against the validation slice")
        self.images = images.to(device)  # uint8 on the device: batches are drawn by index, no per-image transform
        flags, machine = cpu_flags(), platform.machine()
        self.precision = resolve_precision(cfg.precision, device, flags, machine)
        if warning := bf16_warning(device, self.precision, flags, machine):
            log(warning)
        labels, self.num_classes = _labels(cfg, self.dataset)
        self.setup_s = 0.0  # clustering time, spent inside the --minutes budget
        if cfg.self_condition:  # a resumed run keeps the clusters it started with
            labels = self._cluster(images) if saved_clusters is None else _checked(saved_clusters, images, run_dir)
        self.labels = labels.to(device) if labels is not None else None
        # images per class or cluster: a conditional run is scored with its classes at these shares
        # (data.labels_at_shares), a self-conditioned G draws its clusters at them
        counts = torch.bincount(labels.cpu(), minlength=self.num_classes or cfg.self_condition) \
            if labels is not None else None
        self.class_counts = counts if self.num_classes else None
        G, D = models.build_for(cfg, self.dataset.shape, self.num_classes)
        if cfg.self_condition:
            G.set_cluster_sizes(counts)
        self.G, self.D = G.to(device), D.to(device)
        if cfg.channels_last:  # a model without 4-d weights (the MLP) is left as it is
            self.G, self.D = (m.to(memory_format=torch.channels_last) for m in (self.G, self.D))
        self.opt_g, self.opt_d = make_adam(self.G, cfg, device, cfg.lr_g), make_adam(self.D, cfg, device, cfg.lr_d)
        self.ema = EMA(self.G, cfg.ema) if cfg.ema else None
        self.G_sampling = self.ema.module if self.ema is not None else self.G  # grids and evaluation use EMA weights
        self.data_gen = torch.Generator().manual_seed(cfg.seed)
        self.fixed_noise = torch.randn(cfg.grid_size, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 1))
        self.fixed_labels = torch.arange(cfg.grid_size, device=device) % self.num_classes if self.num_classes else None
        self.epoch, self.step, self.step_in_epoch, self.elapsed_before, self.best_fid = 0, 0, 0, 0.0, math.inf
        self.epoch_start_rng = self.data_gen.get_state()
        self.lr_scale = 1.0  # halved by each rollback
        self.lr_schedule = 1.0  # --lr-decay's factor
        self.ema_stats: tuple[int, int] | None = None  # (step, batches) the EMA G's batch-norm statistics are from
        self.start = time.monotonic()

    def _cluster(self, images: torch.Tensor) -> torch.Tensor:
        """One clustering, on rank 0, for every rank."""
        k, start = self.cfg.self_condition, time.monotonic()
        clusters = self_condition.cluster_images(images, k, self.cfg.seed) if self.world.is_main \
            else torch.zeros(len(images), dtype=torch.long)
        clusters = self.world.from_main(clusters, self.device)
        sizes = torch.bincount(clusters, minlength=k)
        self.setup_s = time.monotonic() - start
        self.log(f"self-conditioning on {k} clusters of the {len(images)} training images "
                 f"({self.setup_s:.0f} s, counted in the --minutes budget): "
                 f"{int(sizes.min())} to {int(sizes.max())} images each")
        if (empty := int((sizes == 0).sum())) > 0:  # never drawn in sampling; D's embedding for it goes unused
            self.log(f"warning: {empty} of the {k} clusters are empty: the run trains on {k - empty}; "
                     f"a smaller --self-condition fits this data better")
        return clusters

    def restore(self, state: dict) -> None:
        """Continue from a checkpoint: weights, optimisers, RNG and the place in the epoch."""
        _check_same_data(state, self.dataset, self.run_dir)
        checkpoint.load_weights(self.G, state["generator"], "generator", self.run_dir)
        checkpoint.load_weights(self.D, state["discriminator"], "discriminator", self.run_dir)
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        checkpoint.restore_rng(state["rng"], self.data_gen)
        self.epoch, self.step, self.step_in_epoch = state["epoch"], state["step"], state["step_in_epoch"]
        self.epoch_start_rng = state["rng"]["data"]
        self.fixed_noise = state["fixed_noise"]
        self.elapsed_before, self.best_fid = state.get("elapsed_s", 0.0), state.get("best_fid", math.inf)
        if state.get("precision", self.precision) != self.precision:  # auto on another machine, or --device changed
            self.log(f"note: this run trained in {state['precision']} so far and continues in {self.precision} "
                     f"(--precision {self.cfg.precision} on {self.device})")
        if self.ema is not None:
            _restore_ema(self.ema, state)
        self.log(f"resumed {self.run_dir} at epoch {self.epoch + 1}, step {self.step} "
                 f"({self.step_in_epoch} steps into the epoch)")

    def run(self, resumed: bool) -> RunResult:
        cfg, world = self.cfg, self.world
        self.fixed_noise = self.fixed_noise.to(self.device)
        self.train_step = GanStep(world.wrap(self.G, self.device), world.wrap(self.D, self.device), self.opt_g,
                                  self.opt_d, losses.get(cfg.loss), D_shared=self.D, ema=self.ema,
                                  options=step_options(cfg, self.precision))
        self.train_step.load_state_dict({"calls": self.step})  # a resumed run keeps its place in the n_critic cycle
        self.runlog = RunLog(self.run_dir, cfg.to_json(), cfg.tensorboard,
                             resumed_step=self.step if resumed else None) if world.is_main else None
        n, batch = len(self.images), cfg.batch_size
        # Under torchrun the last, partial batch is dropped: it would not split evenly among the ranks.
        self.steps_per_epoch = n // batch if world.distributed else math.ceil(n / batch)
        if self.steps_per_epoch == 0:
            raise GankitError(f"{n} images make no full batch of {batch} under torchrun: use a smaller "
                              "--batch-size or more data (--limit)")
        self._log_start(n)
        self.start = time.monotonic()
        # --minutes is the whole run's budget: clustering's seconds are training's seconds too
        self.elapsed_before += self.setup_s
        self.deadline = self.start + cfg.minutes * 60 - self.setup_s if cfg.minutes else math.inf
        self.update_lr_schedule()
        self.health = HealthMonitor(self._warn, watch_d_wins=losses.get(cfg.loss).d_output == "probability")
        self.steps_run, stopped_by, self.epoch_stats = 0, "epochs", {}
        if cfg.on_divergence == "rollback" and not resumed:
            self.save_checkpoint()  # something to roll back to before the first epoch ends
        with StopSignal() as self.stop, record_function("gankit.train_loop"):
            while self.epoch < cfg.epochs and stopped_by == "epochs":
                stopped_by = self.train_epoch()
                if self.step_in_epoch == self.steps_per_epoch:
                    self.end_epoch(final=stopped_by != "epochs" or self.epoch + 1 >= cfg.epochs)
                if stopped_by == "epochs" and world.any(self.stop.requested, self.device):  # during the epoch's end
                    stopped_by = "signal"
                self.save_checkpoint(final=stopped_by != "epochs" or self.epoch >= cfg.epochs)
        self._finish(stopped_by)
        return RunResult(self.run_dir, self.epoch, self.step, self.steps_run, stopped_by, self.epoch_stats)

    def train_epoch(self) -> str:
        """The tutorial's loop over batches, from where the epoch stands; returns what stopped it."""
        cfg, world = self.cfg, self.world
        # The permutation is a function of the RNG state at the epoch's start, so a resume mid-epoch
        # draws the same batches the uninterrupted run would have.
        self.data_gen.set_state(self.epoch_start_rng)
        perm = torch.randperm(len(self.images), generator=self.data_gen).to(self.device)
        self.meter = _Meter(GanStep.STATS, self.device, world, cfg.batch_size)
        bar = tqdm(total=self.steps_per_epoch, initial=self.step_in_epoch, desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
                   disable=not (cfg.progress and world.is_main), leave=False, dynamic_ncols=True)
        stopped_by = "epochs"
        while self.step_in_epoch < self.steps_per_epoch:
            with record_function("gankit.draw_batch"):
                batch = draw_batch(self.images, perm, self.step_in_epoch, cfg.batch_size, cfg.z_dim, world,
                                   self.labels, cfg.mirror)
            self.meter.add(self.train_step(*batch))
            self.step, self.step_in_epoch, self.steps_run = self.step + 1, self.step_in_epoch + 1, self.steps_run + 1
            self.stop.arm()  # a step has run (and compiled): a signal now stops cleanly after the current step
            at_log_point = self.step % cfg.log_every == 0 or self.step_in_epoch == self.steps_per_epoch
            if at_log_point:
                self.log_point(bar)
            # Ranks must stop at the same step: under torchrun they agree at log points only.
            if at_log_point or not world.distributed:
                stopped_by = _stop_reason(world.any(self.stop.requested, self.device),
                                          world.any(time.monotonic() > self.deadline, self.device))
            if stopped_by != "epochs":
                break
        bar.close()
        return stopped_by

    @record_function("gankit.log")
    def log_point(self, bar: tqdm) -> None:
        """The learning-rate schedule, the health check, a steps.csv row and the progress bar."""
        self.update_lr_schedule()
        row = self.meter.flush()
        if self.health.diverged(row, self.step) and self.cfg.on_divergence == "rollback":
            self.rollback()  # so no checkpoint is ever written from diverged weights
        if self.runlog:
            self.runlog.step_row({"step": self.step, "epoch": self.epoch + 1, **row,
                                  "lr_g": self.opt_g.param_groups[0]["lr"], "lr_d": self.opt_d.param_groups[0]["lr"]})
        bar.set_postfix_str(_postfix(row, self.meter.images_per_s()), refresh=False)
        bar.update(self.step_in_epoch - bar.n)

    def end_epoch(self, final: bool = False) -> None:
        """Move to the next epoch; score, log and draw the grid of the one just finished (`final`: the run's last)."""
        seconds, rate = self.meter.seconds(), self.meter.images_per_s()  # the steps', before the epoch's own work
        scoring = self.evaluator is not None and self.evaluator.due(self.epoch + 1)
        self.recalibrate_ema(STANDING_BATCHES if scoring or final else QUICK_STANDING_BATCHES)
        self.epoch, self.step_in_epoch, self.epoch_start_rng = self.epoch + 1, 0, self.data_gen.get_state()
        stats = self.meter.epoch_means()
        stats.update(epoch=self.epoch, step=self.step, images_per_s=rate, seconds=seconds,
                     elapsed_s=self.elapsed_before + time.monotonic() - self.start)
        new_best = False
        scores = self.evaluate() if scoring else None
        if scores is not None:
            stats.update(scores)
            new_best = scores["fid"] < self.best_fid
            self.best_fid = min(self.best_fid, scores["fid"])
            self.health.check_classes(scores["classes_covered"], self.epoch)
            self.log("  validation: " + ", ".join(f"{k.label or k.name} {scores[k.name]:{k.fmt}}" for k in TRACKED
                                                    if k.name in scores)
                     + ("  (best so far: saved checkpoints/best.pt)" if new_best else ""))
        if self.runlog:
            self.runlog.epoch_row(stats)
            with record_function("gankit.grid"):
                self.runlog.grid(self.grid_images(), self.epoch)
        self.log(_epoch_line(self.epoch, self.cfg.epochs, stats))
        self.epoch_stats = stats
        if new_best:
            self.save_checkpoint("best")

    @record_function("gankit.evaluate")
    def evaluate(self) -> dict[str, float] | None:
        """The validation scores; None when a signal interrupts them (the run then stops after its checkpoint)."""
        try:
            with self.stop.immediate():
                return self.evaluator.score(self.G_sampling, self.class_counts)
        except KeyboardInterrupt:
            self.stop.request()
            self.log("  validation interrupted by a signal: stopping after the checkpoint")
            self.G.train()
            return None

    def grid_images(self) -> torch.Tensor:
        with torch.no_grad():
            self.G_sampling.eval()
            images = self.G_sampling(self.fixed_noise) if self.fixed_labels is None \
                else self.G_sampling(self.fixed_noise, self.fixed_labels)
            self.G.train()
            return images

    def recalibrate_ema(self, batches: int = STANDING_BATCHES) -> None:
        """Give the EMA generator batch-norm statistics of its own (EMA.recalibrate) from `batches` batches, once
        per step it is used at. The noise comes from a generator seeded by the step, and the labels are drawn
        from the training labels, so a resumed run recomputes the same statistics and no training RNG is
        consumed; a quick estimate's batches are the first of the full one's."""
        done = self.ema_stats
        if self.ema is None or not self.world.is_main or (done and done[0] == self.step and done[1] >= batches):
            return
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.step)
        batch, labels = 256, self.labels

        def draw() -> tuple[torch.Tensor, torch.Tensor | None]:
            z = torch.randn(batch, self.cfg.z_dim, generator=gen).to(self.device)
            if labels is None:
                return z, None
            return z, labels[torch.randint(len(labels), (batch,), generator=gen).to(labels.device)]

        # in the step's precision: G's batch norms then see the activations training gives them, and on a CPU
        # with AMX the estimate costs a third of fp32's (rgb at 64 x 64: 0.18 s against 0.53 s a quick one)
        with record_function("gankit.standing_stats"), self.train_step.autocast():
            self.ema.recalibrate(draw, batches)
        self.ema_stats = (self.step, batches)

    @record_function("gankit.checkpoint")
    def save_checkpoint(self, name: str = "last", final: bool = False) -> None:
        """Rank 0 writes; "last" is saved by every rank's loop at the same point, so the ranks meet there.
        `final`: the run stops after it, so the EMA generator gets its full standing statistics."""
        if self.world.is_main:
            self.recalibrate_ema(STANDING_BATCHES if final or name == "best" else QUICK_STANDING_BATCHES)
            checkpoint.save(self.run_dir / "checkpoints" / f"{name}.pt", {
                "config": self.cfg.to_dict(), "image_shape": list(self.dataset.shape),
                "num_classes": self.num_classes, "generator": self.G.state_dict(),
                "discriminator": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "epoch": self.epoch, "step": self.step,
                "step_in_epoch": self.step_in_epoch,
                "rng": {**checkpoint.rng_state(self.data_gen), "data": self.epoch_start_rng},
                "fixed_noise": self.fixed_noise.cpu(),
                "elapsed_s": self.elapsed_before + time.monotonic() - self.start, "best_fid": self.best_fid,
                "precision": self.precision,  # what --precision auto resolved to, which config.json does not say
                **(_ema_entries(self.ema) if self.ema else {}),
                **({"clusters": self.labels.int().cpu()} if self.cfg.self_condition else {}),
                **({"class_counts": self.class_counts} if self.num_classes else {}),
            })
        if name == "last":
            self.world.barrier()

    def rollback(self) -> None:
        """The last checkpoint's weights and optimiser states, at half the learning rates; position kept."""
        saved = checkpoint.load(self.run_dir / "checkpoints" / "last.pt")
        self.G.load_state_dict(saved["generator"])
        self.D.load_state_dict(saved["discriminator"])
        self.opt_g.load_state_dict(saved["opt_g"])
        self.opt_d.load_state_dict(saved["opt_d"])
        if self.ema is not None:
            _restore_ema(self.ema, saved)
            self.ema_stats = None
        self.lr_scale /= 2  # cumulative: the checkpoint holds the learning rates from before any rollback
        self.set_learning_rates()
        self.train_step.load_state_dict({"calls": self.train_step.calls})  # the G loss reads 0 until the next G step
        self.log(f"rolled back to the weights of epoch {saved['epoch']}, step {saved['step']}; learning rates "
                 f"halved to G {self.opt_g.param_groups[0]['lr']:.3g}, D {self.opt_d.param_groups[0]['lr']:.3g}")

    def update_lr_schedule(self) -> None:
        """--lr-decay: constant, then linear to 0 over the run's last fraction. Progress is the larger of steps
        over all epochs' steps and time over the --minutes budget; it changes at log points only, where the
        ranks of a torchrun meet, and rank 0's clock decides for all."""
        cfg = self.cfg
        if not cfg.lr_decay:
            return
        progress = self.step / (cfg.epochs * self.steps_per_epoch)
        if cfg.minutes:
            elapsed = self.elapsed_before + time.monotonic() - self.start
            progress = max(progress, elapsed / (cfg.minutes * 60))
        progress = float(self.world.from_main(torch.tensor([progress]), self.device))
        self.lr_schedule = min(1.0, max(0.0, 1.0 - progress) / cfg.lr_decay)
        self.set_learning_rates()

    def set_learning_rates(self) -> None:
        for opt, base in ((self.opt_g, self.cfg.lr_g or self.cfg.lr), (self.opt_d, self.cfg.lr_d or self.cfg.lr)):
            for group in opt.param_groups:
                group["lr"] = base * self.lr_scale * self.lr_schedule

    def _warn(self, text: str) -> None:
        self.log(text)
        if self.runlog:
            self.runlog.warning(text)

    def _log_start(self, n: int) -> None:
        cfg, world = self.cfg, self.world
        self.log(f"training {cfg.model} GAN on {cfg.dataset}: {n} images {tuple(self.dataset.shape)}, batch "
                 f"{cfg.batch_size}, {self.steps_per_epoch} steps per epoch, device {self.device}, precision "
                 f"{self.precision}{' (auto)' if cfg.precision == 'auto' else ''}, run directory {self.run_dir}")
        if world.distributed:
            self.log(f"data-parallel over {world.size} processes ({torch.distributed.get_backend()}): effective "
                     f"batch {cfg.batch_size} = {world.size} x {cfg.batch_size // world.size}, learning rates "
                     f"G {cfg.lr_g or cfg.lr:g}, D {cfg.lr_d or cfg.lr:g} (as given, not scaled)")

    def _finish(self, stopped_by: str) -> None:
        if stopped_by != "epochs":
            if self.runlog:
                self.runlog.grid(self.grid_images(), self.epoch + 1 if self.step_in_epoch else self.epoch)
            self.log(f"stopped by {'the --minutes budget' if stopped_by == 'minutes' else 'a signal'} at epoch "
                     f"{self.epoch + (1 if self.step_in_epoch else 0)}, step {self.step}; checkpoint saved. "
                     f"Continue with: gankit train --run-dir {self.run_dir} --resume")
        if self.runlog:
            self.runlog.curves()
            self.runlog.fid_curves()
            self.runlog.close()


def _stop_reason(signalled: bool, out_of_time: bool) -> str:
    return "signal" if signalled else "minutes" if out_of_time else "epochs"


def _silent(message: str) -> None:
    pass


class _Meter:
    """Sums the step statistics on the device; reads them back (one host sync) only when asked."""

    def __init__(self, names: tuple[str, ...], device: torch.device, world: distributed.World, batch: int):
        self.names, self.world = names, world
        self.window = torch.zeros(len(names), device=device)
        self.total = torch.zeros(len(names), device=device)
        self.window_steps = self.total_steps = 0
        self.batch = batch
        self.t0 = time.monotonic()

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        self.window += torch.stack([stats[name] for name in self.names])
        self.window_steps += 1

    def flush(self) -> dict[str, float]:
        self.world.mean(self.window)  # every rank logs the mean over all ranks
        values = (self.window / self.window_steps).tolist()
        self.total += self.window
        self.total_steps += self.window_steps
        self.window.zero_()
        self.window_steps = 0
        return dict(zip(self.names, values))

    def epoch_means(self) -> dict[str, float]:
        return dict(zip(self.names, (self.total / max(self.total_steps, 1)).tolist()))

    def seconds(self) -> float:
        return time.monotonic() - self.t0

    def images_per_s(self) -> float:
        # counts the last, partial batch as full: off by < 0.1% per MNIST epoch
        return self.total_steps * self.batch / max(self.seconds(), 1e-9)


def _postfix(row: dict[str, float], rate: float) -> str:
    return (f"d_loss {row['d_loss']:.4f}  g_loss {row['g_loss']:.4f}  D(x) {row['d_real']:.3f}  "
            f"D(G(z)) {row['d_fake']:.3f}  {rate:,.0f} img/s")


def _epoch_line(epoch: int, epochs: int, s: dict[str, float]) -> str:
    # The tutorial's loss line, every epoch, with the means over the epoch rather than its last batch.
    return (f"Epoch [{epoch}/{epochs}], d_loss: {s['d_loss']:.4f}, g_loss: {s['g_loss']:.4f}, "
            f"D(x): {s['d_real']:.3f}, D(G(z)): {s['d_fake']:.3f}, {s['images_per_s']:,.0f} img/s, {s['seconds']:.1f} s")


def _ema_entries(ema: EMA) -> dict:
    """The checkpoint keeps the EMA weights under "generator_ema", where gankit sample looks for them."""
    state = ema.state_dict()
    return {"generator_ema": state["module"], "ema_updates": state["num_updates"]}


def _restore_ema(ema: EMA, state: dict) -> None:
    ema.load_state_dict({"module": state["generator_ema"], "num_updates": state["ema_updates"]})


def _labels(cfg: TrainConfig, dataset: data.ImageData) -> tuple[torch.Tensor | None, int]:
    """The labels a conditional run trains on (those of its training images), and the class count."""
    if not cfg.conditional:
        return None, 0
    if dataset.labels is None:
        raise GankitError(f"--conditional needs labels, and {cfg.dataset} has none: use an npz: file with a `labels` "
                          "array, a folder: with one sub-folder per class, or drop --conditional")
    if dataset.num_classes > MAX_CLASSES:
        raise GankitError(f"{cfg.dataset}'s labels go up to {dataset.num_classes - 1}, and a conditional model has one "
                          f"embedding row per class up to the largest label: number the classes 0 to K-1 with K at most "
                          f"{MAX_CLASSES} (e.g. numpy.unique(labels, return_inverse=True)[1])")
    return torch.as_tensor(dataset.labels).long(), dataset.num_classes


def _checked(clusters: torch.Tensor, images: torch.Tensor, run_dir: Path) -> torch.Tensor:
    if len(clusters) != len(images):
        raise GankitError(f"{run_dir} was clustered on {len(clusters)} training images, but the data set now gives "
                          f"{len(images)}: resume with the data the run started with")
    return clusters.long()


def _check_same_data(state: dict, dataset: data.ImageData, run_dir: Path) -> None:
    if list(dataset.shape) != list(state["image_shape"]):
        raise GankitError(f"{run_dir} was trained on images of shape {tuple(state['image_shape'])}, but the data set "
                          f"now gives {tuple(dataset.shape)}: resume with the data the run started with")
