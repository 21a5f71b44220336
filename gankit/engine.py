"""The training loop: the tutorial's two steps, with the data in memory and everything else as hooks.

    for each batch of real images:
        D step: D learns to tell real from G(z).detach()
        G step: G learns to make D call G(z) real

Logging, grids, checkpoints and the time budget hang off the loop, never inside the step; the step
makes no host sync (no `.item()`), so a GPU is never waiting on Python.
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn
from tqdm import tqdm

from gankit import checkpoint, config as config_mod, data, distributed, losses, models, periodic_eval
from gankit.config import TrainConfig
from gankit.device import resolve_device
from gankit.runlog import RunLog, prepare_run_dir
from gankit.ema import EMA
from gankit.errors import GankitError
from gankit.health import HealthMonitor
from gankit.images import to_model_range
from gankit.step import GanStep, StepOptions

Log = Callable[[str], None]


def draw_batch(images: torch.Tensor, perm: torch.Tensor, step_in_epoch: int, batch: int, z_dim: int,
               world: distributed.World = distributed.World(), labels: torch.Tensor | None = None):
    """This rank's real images (in [-1, 1]), noise and labels (None for unconditional models) for one step.
    The whole batch's noise is drawn on every rank, so N ranks consume the RNG exactly as one process does."""
    idx = perm[step_in_epoch * batch:(step_in_epoch + 1) * batch]
    z = torch.randn(len(idx), z_dim, device=images.device)
    mine = world.shard(idx)
    return to_model_range(images[mine]), world.shard(z), (labels[mine] if labels is not None else None)


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


def train(cfg: TrainConfig, run_dir: str | Path | None = None, *, resume: bool = False, force: bool = False,
          overrides: dict | None = None, log: Log = print) -> RunResult:
    """Train a GAN as `cfg` says, in `run_dir`. With `resume`, `cfg` is ignored: the run's saved config is
    used, with `overrides` (only those a resume may change, e.g. epochs) applied on top.
    Under torchrun, every rank calls this; rank 0 alone writes."""
    if not resume:
        config_mod.validate(cfg)  # before anything is written
    device = distributed.local_device(resolve_device(cfg.device))
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)  # before the process group, so NCCL binds each rank to its own GPU
    world = distributed.init(device)
    if not world.is_main:
        log = _silent
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(cfg)
    if not resume:
        distributed.check_batch(cfg.batch_size, world)
    if world.is_main:
        prepare_run_dir(run_dir, resume=resume, force=force)
    world.barrier()
    state = checkpoint.load(run_dir / "checkpoints" / "last.pt") if resume else None
    if state is not None:
        cfg = config_mod.check_resume(TrainConfig.from_dict(state["config"]), overrides or {})
        device = distributed.local_device(resolve_device(cfg.device))
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)  # NCCL and the default CUDA stream of this rank

    torch.manual_seed(cfg.seed)
    dataset = data.load_images(cfg.dataset, cfg.data_dir, limit=None if cfg.eval_every else cfg.limit,
                               image_size=cfg.image_size, channels=cfg.channels, log=log)
    images = dataset.images
    evaluator = None
    if cfg.eval_every:
        images = periodic_eval.training_slice(images, cfg.eval_holdout, cfg.limit)
        evaluator = periodic_eval.PeriodicEvaluator(cfg, device, log) if world.is_main else None
        log(f"evaluating every {cfg.eval_every} epochs on {cfg.eval_n} samples against a validation slice of "
            f"{cfg.eval_holdout} training images, which are left out of training")
    images = images.to(device)  # uint8 on the device: batches are drawn by index, no per-image transform
    labels, num_classes = _labels(cfg, dataset, images_kept=len(images))
    labels = labels.to(device) if labels is not None else None
    G, D = models.build_for(cfg, dataset.shape, num_classes)
    G, D = G.to(device), D.to(device)
    opt_g, opt_d = make_adam(G, cfg, device, cfg.lr_g), make_adam(D, cfg, device, cfg.lr_d)
    ema = EMA(G, cfg.ema) if cfg.ema else None
    data_gen = torch.Generator().manual_seed(cfg.seed)
    fixed_noise = torch.randn(cfg.grid_size, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 1))
    fixed_labels = torch.arange(cfg.grid_size, device=device) % num_classes if num_classes else None
    epoch, step, step_in_epoch, elapsed_before, best_fid = 0, 0, 0, 0.0, math.inf
    epoch_start_rng = data_gen.get_state()

    if state is not None:
        _check_same_data(state, dataset, run_dir)
        checkpoint.load_weights(G, state["generator"], "generator", run_dir)
        checkpoint.load_weights(D, state["discriminator"], "discriminator", run_dir)
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        checkpoint.restore_rng(state["rng"], data_gen)
        epoch, step, step_in_epoch = state["epoch"], state["step"], state["step_in_epoch"]
        epoch_start_rng = state["rng"]["data"]
        fixed_noise = state["fixed_noise"]
        elapsed_before, best_fid = state.get("elapsed_s", 0.0), state.get("best_fid", math.inf)
        if ema is not None:
            _restore_ema(ema, state)
        log(f"resumed {run_dir} at epoch {epoch + 1}, step {step} ({step_in_epoch} steps into the epoch)")
    fixed_noise = fixed_noise.to(device)
    train_step = GanStep(world.wrap(G, device), world.wrap(D, device), opt_g, opt_d, losses.get(cfg.loss),
                         D_shared=D, ema=ema, options=StepOptions(
                             precision=cfg.precision, compile=cfg.compile, n_critic=cfg.n_critic,
                             gp_weight=cfg.gp_weight, r1_gamma=cfg.r1_gamma, augment=cfg.augment))
    train_step.calls = step  # a resumed run keeps its place in the n_critic cycle
    G_sampling = ema.module if ema is not None else G  # grids and evaluation use the EMA weights when kept

    def grid_images() -> torch.Tensor:
        with torch.no_grad():
            G_sampling.eval()
            images = G_sampling(fixed_noise) if fixed_labels is None else G_sampling(fixed_noise, fixed_labels)
            G.train()
            return images

    runlog = RunLog(run_dir, cfg.to_json(), cfg.tensorboard, resumed_step=step if state is not None else None) \
        if world.is_main else None
    n, batch = len(images), cfg.batch_size
    # Under torchrun the last, partial batch is dropped: it would not split evenly among the ranks.
    steps_per_epoch = n // batch if world.distributed else math.ceil(n / batch)
    if steps_per_epoch == 0:
        raise GankitError(f"{n} images make no full batch of {batch} under torchrun: use a smaller --batch-size "
                          "or more data (--limit)")
    log(f"training {cfg.model} GAN on {cfg.dataset}: {n} images {tuple(dataset.shape)}, batch {batch}, "
        f"{steps_per_epoch} steps per epoch, device {device}, run directory {run_dir}")
    if world.distributed:
        log(f"data-parallel over {world.size} processes ({torch.distributed.get_backend()}): effective batch "
            f"{batch} = {world.size} x {batch // world.size}, learning rates G {cfg.lr_g or cfg.lr:g}, D {cfg.lr_d or cfg.lr:g} "
            "(as given, not scaled)")

    start = time.monotonic()

    def save_checkpoint(name: str = "last") -> None:
        """Rank 0 writes; "last" is saved by every rank's loop at the same point, so the ranks meet there."""
        if world.is_main:
            checkpoint.save(run_dir / "checkpoints" / f"{name}.pt", {
                "config": cfg.to_dict(), "image_shape": list(dataset.shape), "num_classes": num_classes,
                "generator": G.state_dict(), "discriminator": D.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                "epoch": epoch, "step": step, "step_in_epoch": step_in_epoch,
                "rng": {**checkpoint.rng_state(data_gen), "data": epoch_start_rng}, "fixed_noise": fixed_noise.cpu(),
                "elapsed_s": elapsed_before + time.monotonic() - start, "best_fid": best_fid,
                **(_ema_entries(ema) if ema else {}),
            })
        if name == "last":
            world.barrier()

    health = HealthMonitor(log, watch_d_wins=cfg.loss.startswith("bce"))
    lr_scale = [1.0]

    def rollback() -> None:
        """The last checkpoint's weights and optimiser states, at half the learning rates; position kept."""
        saved = checkpoint.load(run_dir / "checkpoints" / "last.pt")
        G.load_state_dict(saved["generator"])
        D.load_state_dict(saved["discriminator"])
        opt_g.load_state_dict(saved["opt_g"])
        opt_d.load_state_dict(saved["opt_d"])
        if ema is not None:
            _restore_ema(ema, saved)
        lr_scale[0] /= 2  # cumulative: the checkpoint holds the learning rates from before any rollback
        for opt, base in ((opt_g, cfg.lr_g or cfg.lr), (opt_d, cfg.lr_d or cfg.lr)):
            for group in opt.param_groups:
                group["lr"] = base * lr_scale[0]
        train_step.g_loss.zero_()
        log(f"rolled back to the weights of epoch {saved['epoch']}, step {saved['step']}; learning rates halved to "
            f"G {opt_g.param_groups[0]['lr']:.3g}, D {opt_d.param_groups[0]['lr']:.3g}")

    deadline = start + cfg.minutes * 60 if cfg.minutes else math.inf
    steps_run, stopped_by, epoch_stats = 0, "epochs", {}
    if cfg.on_divergence == "rollback" and state is None:
        save_checkpoint()  # something to roll back to before the first epoch ends
    with _stop_on_signal() as stop_requested:
        while epoch < cfg.epochs and stopped_by == "epochs":
            # The permutation is a function of the RNG state at the epoch's start, so a resume mid-epoch
            # draws the same batches the uninterrupted run would have.
            data_gen.set_state(epoch_start_rng)
            perm = torch.randperm(n, generator=data_gen).to(device)
            meter = _Meter(device, world, batch)
            bar = tqdm(total=steps_per_epoch, initial=step_in_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                       disable=not (cfg.progress and world.is_main), leave=False, dynamic_ncols=True)
            while step_in_epoch < steps_per_epoch:
                meter.add(train_step(*draw_batch(images, perm, step_in_epoch, batch, cfg.z_dim, world, labels)))
                step, step_in_epoch, steps_run = step + 1, step_in_epoch + 1, steps_run + 1
                at_log_point = step % cfg.log_every == 0 or step_in_epoch == steps_per_epoch
                if at_log_point:
                    row = meter.flush()
                    if health.diverged(row, step) and cfg.on_divergence == "rollback":
                        rollback()  # so no checkpoint is ever written from diverged weights
                    if runlog:
                        runlog.step_row({"step": step, "epoch": epoch + 1, **row})
                    bar.set_postfix_str(_postfix(row, meter.images_per_s()), refresh=False)
                    bar.update(step_in_epoch - bar.n)
                # Ranks must stop at the same step: under torchrun they agree at log points only.
                if at_log_point or not world.distributed:
                    stopped_by = _stop_reason(world.any(stop_requested(), device),
                                              world.any(time.monotonic() > deadline, device))
                if stopped_by != "epochs":
                    break
            bar.close()
            if step_in_epoch == steps_per_epoch:
                epoch, step_in_epoch, epoch_start_rng = epoch + 1, 0, data_gen.get_state()
                epoch_stats = meter.epoch_means()
                epoch_stats.update(epoch=epoch, step=step, images_per_s=meter.images_per_s(),
                                   seconds=meter.seconds(), elapsed_s=elapsed_before + time.monotonic() - start)
                new_best = False
                if evaluator and evaluator.due(epoch):
                    scores = evaluator.score(G_sampling, num_classes)
                    epoch_stats.update(scores)
                    new_best = scores["fid"] < best_fid
                    best_fid = min(best_fid, scores["fid"])
                    health.check_classes(scores["classes_covered"], epoch)
                    log(f"  validation: FID {scores['fid']:.3f}, KID {scores['kid']:.5g}, precision "
                        f"{scores['precision']:.3f}, recall {scores['recall']:.3f}, classes "
                        f"{scores['classes_covered']:.0f}"
                        + (f", label accuracy {scores['label_accuracy']:.3f}" if 'label_accuracy' in scores else "")
                        + ("  (best so far: saved checkpoints/best.pt)" if new_best else ""))
                if runlog:
                    runlog.epoch_row(epoch_stats)
                    runlog.grid(grid_images(), epoch)
                log(_epoch_line(epoch, cfg.epochs, epoch_stats))
                if new_best:
                    save_checkpoint("best")
            save_checkpoint()
    if stopped_by != "epochs":
        if runlog:
            runlog.grid(grid_images(), epoch + 1 if step_in_epoch else epoch)
        log(f"stopped by {'the --minutes budget' if stopped_by == 'minutes' else 'a signal'} at epoch "
            f"{epoch + (1 if step_in_epoch else 0)}, step {step}; checkpoint saved. "
            f"Continue with: gankit train --run-dir {run_dir} --resume")
    if runlog:
        runlog.curves()
        runlog.fid_curves()
        runlog.close()
    distributed.shutdown()
    return RunResult(run_dir, epoch, step, steps_run, stopped_by, epoch_stats)


def _stop_reason(signalled: bool, out_of_time: bool) -> str:
    return "signal" if signalled else "minutes" if out_of_time else "epochs"


def _silent(message: str) -> None:
    pass


class _Meter:
    """Sums the step statistics on the device; reads them back (one host sync) only when asked."""

    NAMES = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, device: torch.device, world: distributed.World, batch: int):
        self.world = world
        self.window = torch.zeros(4, device=device)
        self.total = torch.zeros(4, device=device)
        self.window_steps = self.total_steps = 0
        self.batch = batch
        self.t0 = time.monotonic()

    def add(self, stats: torch.Tensor) -> None:
        self.window += stats
        self.window_steps += 1

    def flush(self) -> dict[str, float]:
        self.world.mean(self.window)  # every rank logs the mean over all ranks
        values = (self.window / self.window_steps).tolist()
        self.total += self.window
        self.total_steps += self.window_steps
        self.window.zero_()
        self.window_steps = 0
        return dict(zip(self.NAMES, values))

    def epoch_means(self) -> dict[str, float]:
        return dict(zip(self.NAMES, (self.total / max(self.total_steps, 1)).tolist()))

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


def _labels(cfg: TrainConfig, dataset: data.ImageData, images_kept: int) -> tuple[torch.Tensor | None, int]:
    """The labels a conditional run trains on (aligned with the training images kept), and the class count."""
    if not cfg.conditional:
        return None, 0
    if dataset.labels is None:
        raise GankitError(f"--conditional needs labels, and {cfg.dataset} has none: use an npz: file with a `labels` "
                          "array, a folder: with one sub-folder per class, or drop --conditional")
    labels = torch.as_tensor(dataset.labels).long()
    if cfg.eval_every:
        labels = labels[periodic_eval.validation_split(len(labels), cfg.eval_holdout)[0]]
    return labels[:images_kept], dataset.num_classes


def _check_same_data(state: dict, dataset: data.ImageData, run_dir: Path) -> None:
    if list(dataset.shape) != list(state["image_shape"]):
        raise GankitError(f"{run_dir} was trained on images of shape {tuple(state['image_shape'])}, but the data set "
                          f"now gives {tuple(dataset.shape)}: resume with the data the run started with")


@contextmanager
def _stop_on_signal() -> Iterator[Callable[[], bool]]:
    """Turn Ctrl-C and SIGTERM into a clean stop after the current step (checkpoint included)."""
    requested = []

    def handler(signum, frame):
        if requested:  # a second Ctrl-C means now
            raise KeyboardInterrupt
        requested.append(signum)

    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread (e.g. a notebook worker): no handlers, no clean stop
        pass
    try:
        yield lambda: bool(requested)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
