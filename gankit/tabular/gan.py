"""`TabularGAN`: fit a table, sample a synthetic one, save and load it.

    gan = TabularGAN(epochs=100, seed=0).fit(df)            # df: a pandas DataFrame, mixed column kinds
    synth = gan.sample(1000)                                 # same columns, dtypes and categories as df
    synth = gan.sample(100, condition={"sex": "Female"})     # rows of one category
    gan.save("adult.pt"); gan = TabularGAN.load("adult.pt")

Training (CTGAN's game): each step draws a condition (a discrete column and one of its categories, by
training-by-sampling), real rows holding it and noise; D (a PacGAN critic) takes a WGAN-GP step on real and
generated rows with their conditions; then G takes a step to raise D's score of its rows plus the
cross-entropy that makes them hold the condition they were given.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gankit.infra import checkpoint
from gankit.infra.allocator import keep_freed_memory
from gankit.infra.errors import GankitError
from gankit.infra.log import Log
from gankit.tabular.columns import MAX_CATEGORIES, TableTransformer
from gankit.tabular.model import ConditionSampler, PacDiscriminator, TableGenerator, critic_loss

KIND = "tabular"


@dataclass
class TabularConfig:
    epochs: int = 300
    minutes: float | None = None  # wall-clock budget for training, after the columns are fitted
    batch_size: int = 500
    pac: int = 10
    z_dim: int = 128
    hidden: tuple[int, ...] = (256, 256)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 1e-6
    gp_weight: float = 10.0
    seed: int = 0
    kinds: dict[str, str] = field(default_factory=dict)  # column -> kind, overriding inference
    max_categories: int = MAX_CATEGORIES  # per categorical column; rarer values share one category
    keep_best: bool = False  # hold out validation rows; keep the best epoch that passes the near-copy guard
    validate_every: int = 10  # epochs between those checks (and the last epoch)
    mix_best: int = 3  # with keep_best: sample in equal parts from this many of the best passing epochs (1: the best)
    ema: float = 0.0  # sample from an exponential moving average of G's weights with this decay per step (0: off)
    lr_decay: float = 0.0  # both learning rates fall linearly to 0 over this last fraction of the run (0: off)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "pac", "z_dim", "max_categories", "validate_every", "mix_best"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise GankitError(f"tabular option {name} must be a positive whole number, got {value!r}")
        if self.max_categories < 2:
            raise GankitError(f"max_categories must be 2 or more (one kept value and the rest), got {self.max_categories}")
        if self.batch_size % self.pac:
            raise GankitError(f"batch_size {self.batch_size} is not a multiple of pac {self.pac}: D sees rows in "
                              f"groups of pac; use e.g. batch_size {self.pac * max(1, self.batch_size // self.pac)}")
        if not 0.0 <= self.lr_decay <= 1.0:
            raise GankitError(f"lr_decay is the fraction of the run over which the learning rates fall to 0, in "
                              f"[0, 1] (0: off), got {self.lr_decay}")
        if not 0.0 <= self.ema < 1.0:
            raise GankitError(f"ema must be in [0, 1), got {self.ema}: 0.999 is the usual value, 0 turns it off")
        if self.minutes is not None and not self.minutes > 0:
            raise GankitError(f"minutes must be positive, got {self.minutes}")
        self.hidden, self.betas = tuple(int(h) for h in self.hidden), tuple(float(b) for b in self.betas)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TabularConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise GankitError(f"unknown tabular options {sorted(unknown)}: use any of {sorted(known)}")
        return cls(**d)


class TabularGAN:
    def __init__(self, config: TabularConfig | None = None, **options: Any):
        self.config = config or TabularConfig(**options)
        self.transformer: TableTransformer | None = None
        self.sampler: ConditionSampler | None = None
        self.G: TableGenerator | None = None
        self.history: list[dict[str, float]] = []
        self.validation: list[dict[str, float]] = []  # with keep_best: each check's epoch, F1 and near-copy share
        self.kept: list[dict] = []  # with keep_best: the mix_best best passing checks, best first
        self._kept_generators: list[dict[str, torch.Tensor]] = []  # their generators' weights, in that order
        self.mixed_with: list[TableGenerator] = []  # after fit with keep_best: the kept generators besides G
        self._average: AveragedModel | None = None  # with ema: G's averaged weights, which sampling uses

    # --- fitting ---
    def fit(self, df: pd.DataFrame, *, target: str | None = None, log: Log = print, state: dict | None = None,
            on_epoch: Callable[["TabularGAN", dict], None] | None = None) -> "TabularGAN":
        """Train on `df`. `state` (from `training_state()`) resumes a run; `on_epoch` is called after each epoch
        with the model and the training state (for checkpoints). With `keep_best`, `target` is the column whose
        classifiers judge each epoch's rows on a held-out 10% of `df`; the model keeps the best passing epoch."""
        cfg = self.config
        keep_freed_memory()  # each step frees what the next allocates: keep it rather than fault it in again
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        start = time.monotonic()
        self.kept, self._kept_generators, self.mixed_with = [], [], []
        validator = None
        if cfg.keep_best:
            from gankit.tabular import validation  # scikit-learn's classifiers: only when asked for

            if target is None:
                raise GankitError("keep_best judges epochs by a classifier of a target column: pass target= "
                                  "(gankit train --target COLUMN)")
            df, held = validation.split(df, cfg.seed)
            validator = validation.Validator(df, held, target, cfg.seed)
            kept = "epoch" if cfg.mix_best == 1 else f"{cfg.mix_best} epochs, sampled in equal parts"
            log(f"keeping the best {kept}: {len(held)} rows held out to judge every {cfg.validate_every} epochs "
                f"(F1 of {target} from synthetic rows, among epochs that pass the near-copy guard)")
        self.transformer = TableTransformer(cfg.kinds, cfg.seed, cfg.max_categories).fit(df)
        for note in self.transformer.notes:
            log(note)
        matrix = self.transformer.transform(df, rng)
        self.sampler = ConditionSampler(self.transformer, matrix)
        log(f"columns fitted in {time.monotonic() - start:.1f} s: {len(df)} rows, {df.shape[1]} columns -> "
            f"{matrix.shape[1]} numbers per row, {len(self.sampler.columns)} columns to condition on "
            f"({len(self.sampler.discrete())} discrete)")
        cond_dim = self.sampler.dim
        self.G = self._new_generator()
        # batch norm's running statistics are averaged with the weights (use_buffers), so they match them
        self._average = AveragedModel(self.G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True) \
            if cfg.ema else None
        D = PacDiscriminator(matrix.shape[1], cond_dim, cfg.pac, cfg.hidden)
        # fused: one kernel for all parameters rather than a Python loop over them (a tenth of the step on a CPU)
        opt_g = torch.optim.Adam(self.G.parameters(), cfg.lr_g, betas=cfg.betas, weight_decay=cfg.weight_decay,
                                 fused=True)
        opt_d = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=cfg.betas, weight_decay=cfg.weight_decay,
                                 fused=True)
        epoch = 0
        if state is not None:
            self._restore(state, D, opt_g, opt_d, rng)
            epoch = state["epoch"]
        data = torch.from_numpy(matrix)
        steps = max(1, len(df) // cfg.batch_size)
        train_start = time.monotonic()
        while epoch < cfg.epochs:
            scale = self._lr_scale(epoch, time.monotonic() - train_start)
            for opt, lr in ((opt_g, cfg.lr_g), (opt_d, cfg.lr_d)):
                for group in opt.param_groups:
                    group["lr"] = lr * scale
            sums = np.zeros(3)
            for _ in range(steps):
                sums += self._step(data, D, opt_g, opt_d, rng)
            epoch += 1
            row = {"epoch": epoch, **{k: round(float(v), 4) for k, v in
                                      zip(("d_loss", "g_loss", "condition_loss"), sums / steps)}}
            self.history.append(row)
            log(f"epoch {epoch}/{cfg.epochs}: D loss {row['d_loss']:.3f}, G loss {row['g_loss']:.3f}, "
                f"condition loss {row['condition_loss']:.3f}")
            out_of_time = cfg.minutes is not None and time.monotonic() - train_start > cfg.minutes * 60
            if validator is not None and (epoch % cfg.validate_every == 0 or out_of_time or epoch == cfg.epochs):
                self._validate(validator, epoch, log)
            if on_epoch is not None:
                on_epoch(self, self._training_state(D, opt_g, opt_d, rng, epoch))
            if out_of_time:
                log(f"stopped by the --minutes budget after epoch {epoch}")
                break
        if self._average is not None:  # from here on G is the average: saved, sampled and loaded as any G
            self.G.load_state_dict(self._average.module.state_dict())
            self._average = None
        self.G.eval()
        if validator is not None:
            self._keep_best(log)
        return self

    def _lr_scale(self, epoch: int, elapsed_s: float) -> float:
        """The learning rates' share of their set values for this epoch: 1, then with lr_decay falling linearly
        to 0 over the last fraction of the run, measured in epochs or in the --minutes budget, whichever is
        further along (a budgeted run rarely reaches its epochs)."""
        cfg = self.config
        if not cfg.lr_decay:
            return 1.0
        progress = epoch / cfg.epochs
        if cfg.minutes is not None:
            progress = max(progress, elapsed_s / (cfg.minutes * 60))
        return min(1.0, max(0.0, 1.0 - progress) / cfg.lr_decay)

    def _validate(self, validator, epoch: int, log: Log) -> None:
        # sample() draws from its own generators, so the training's random streams (and resuming) are untouched
        check = {"epoch": epoch, **validator.score(self.sample(validator.rows, seed=self.config.seed))}
        self.G.train()
        self.validation.append(check)
        kept = check["passes"] and self._keep(check)
        log(f"epoch {epoch}: F1 {check['f1']:.3f} on the held-out rows, near-copy share "
            f"{check['near_copy_share']:.1%}" + ("" if check["passes"] else " (above the guard: not kept)")
            + (" (best so far)" if self.best is check else f" (among the best {len(self.kept)})" if kept else ""))

    def _keep(self, check: dict) -> bool:
        """Whether `check` is among the mix_best best so far; if so its generator is kept beside theirs."""
        place = sum(c["f1"] >= check["f1"] for c in self.kept)
        if place >= self.config.mix_best:
            return False
        weights = {k: v.detach().clone() for k, v in self._sampling_net().state_dict().items()}
        self.kept.insert(place, check)
        self._kept_generators.insert(place, weights)
        del self.kept[self.config.mix_best:], self._kept_generators[self.config.mix_best:]
        return True

    @property
    def best(self) -> dict | None:
        """With keep_best, the best check that passed the guard (None before one does)."""
        return self.kept[0] if self.kept else None

    def _keep_best(self, log: Log) -> None:
        if not self.kept:
            log("warning: no epoch passed the near-copy guard (more synthetic rows close to training rows than "
                "held-out rows give): keeping the last epoch")
            return
        self.G.load_state_dict(self._kept_generators[0])
        self.mixed_with = [self._generator(w) for w in self._kept_generators[1:]]
        log(f"kept epoch{'s' if len(self.kept) > 1 else ''} " + ", ".join(str(c["epoch"]) for c in self.kept)
            + ": F1 " + ", ".join(f"{c['f1']:.3f}" for c in self.kept) + " on the held-out rows, near-copy share "
            + ", ".join(f"{c['near_copy_share']:.1%}" for c in self.kept)
            + (": samples are drawn from each in equal parts" if len(self.kept) > 1 else ""))

    def _step(self, data: torch.Tensor, D: PacDiscriminator, opt_g, opt_d, rng: np.random.Generator) -> np.ndarray:
        cfg, G = self.config, self.G
        cond, cols, cats, rows = (torch.from_numpy(a) for a in self.sampler.train_batch(cfg.batch_size, rng))
        raw = G(torch.randn(cfg.batch_size, cfg.z_dim), cond)
        fake = G.activate(raw)
        # D step: real rows holding the condition against generated rows given it
        d_loss, _ = critic_loss(D, data[rows], fake.detach(), cond, cfg.gp_weight)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward(inputs=list(D.parameters()))  # not into the mixed rows, whose gradient nothing uses
        opt_d.step()
        # G step, on the same generated rows (as pytorch/examples' DCGAN does: one G pass per step, not two):
        # raise D's score, and hold the condition
        D.requires_grad_(False)
        g_adv = -D(fake, cond).mean()
        D.requires_grad_(True)
        cond_loss = self.sampler.condition_loss(raw, cols, cats)
        opt_g.zero_grad(set_to_none=True)
        (g_adv + cond_loss).backward()
        opt_g.step()
        if self._average is not None:
            self._average.update_parameters(G)
        return np.array([d_loss.item(), g_adv.item(), cond_loss.item()])

    # --- sampling ---
    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, condition: dict[str, Any] | None = None) -> pd.DataFrame:
        """n synthetic rows; `condition={"column": value}` (one discrete column) makes every row hold value."""
        if self.G is None:
            raise GankitError("this TabularGAN is not fitted: call fit(df) or TabularGAN.load(path) first")
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise GankitError(f"n must be a positive whole number, got {n!r}")
        fixed = self._condition(condition)
        gen = torch.Generator().manual_seed(seed if seed is not None else int(torch.randint(2**31, ()).item()))
        rng = np.random.default_rng(seed)
        self._sampling_net().eval()  # the nets mixed with it are built in eval mode and never trained
        if fixed is None:
            return self.transformer.inverse(np.concatenate([self._generate(m, gen, rng, None)
                                                            for m in _chunks(n)]), rng)
        # G is given the condition but may not always follow it: keep the rows that hold it (CTGAN does the same)
        offset, width = self.sampler.data_offsets[fixed[0]], self.sampler.columns[fixed[0]].width
        kept, tried = [], 0
        while sum(len(k) for k in kept) < n and tried < 50 * n:
            rows = self._generate(10_000, gen, rng, fixed)
            kept.append(rows[rows[:, offset:offset + width].argmax(1) == fixed[1]])
            tried += len(rows)
        got = sum(len(k) for k in kept)
        if got < n:
            name = self.sampler.columns[fixed[0]].name
            raise GankitError(f"the model made only {got} rows with {name}={condition[name]!r} in {tried} tries: "
                              "train it longer, or ask for fewer rows")
        return self.transformer.inverse(np.concatenate(kept)[:n], rng)

    def _generate(self, m: int, gen: torch.Generator, rng: np.random.Generator,
                  fixed: tuple[int, int] | None) -> np.ndarray:
        """m rows (encoded), in equal parts from each generator sampling uses, in random order."""
        nets = [self._sampling_net(), *self.mixed_with]
        parts = []
        for i, net in enumerate(nets):
            k = m // len(nets) + (i < m % len(nets))
            if k:
                cond = torch.from_numpy(self.sampler.sample_batch(k, rng, fixed))
                z = torch.randn(k, self.config.z_dim, generator=gen)
                parts.append(net.activate(net(z, cond), hard=True, generator=gen).numpy())
        return parts[0] if len(parts) == 1 else np.concatenate(parts)[rng.permutation(m)]

    def _sampling_net(self) -> TableGenerator:
        """G, or while fitting with ema, the average of its weights."""
        return self.G if self._average is None else self._average.module

    def _new_generator(self) -> TableGenerator:
        spans = [s for c in self.transformer.coders for s in c.spans]
        return TableGenerator(self.config.z_dim, self.sampler.dim, spans, self.config.hidden)

    def _generator(self, weights: dict[str, torch.Tensor], path: str | Path = "the model") -> TableGenerator:
        """A generator of this model's shape with the given weights, ready to sample."""
        net = self._new_generator()
        checkpoint.load_weights(net, weights, "generator", path)
        return net.eval()

    def _condition(self, condition: dict[str, Any] | None) -> tuple[int, int] | None:
        if not condition:
            return None
        if len(condition) != 1:
            raise GankitError(f"condition on one column at a time, got {list(condition)}: e.g. {{'sex': 'Female'}}")
        (name, value), = condition.items()
        discrete = {self.sampler.columns[j].name: j for j in self.sampler.discrete()}
        if name not in discrete:
            raise GankitError(f"cannot condition on '{name}': use a discrete column, one of {list(discrete)}")
        j = discrete[name]
        cats = self.sampler.columns[j].categories
        for k, cat in enumerate(cats):
            if str(cat) == str(value):
                return j, k
        raise GankitError(f"column '{name}' has no value {value!r}: use one of {[str(c) for c in cats][:20]}")

    # --- saving ---
    def state_dict(self, generators: list[dict[str, torch.Tensor]] | None = None) -> dict[str, Any]:
        """Tensors, numbers and strings only: loads with torch.load(weights_only=True). `generators`: other
        weights to store in place of the model's own (the kept epochs'), the first as G and the rest to sample
        beside it."""
        if generators is None:
            generators = [self._sampling_net().state_dict(), *(net.state_dict() for net in self.mixed_with)]
        return {"kind": KIND, "config": json.dumps(config_dict(self.config)),
                "transformer": json.dumps(self.transformer.state()), "counts": json.dumps(self.sampler.counts),
                "generator": generators[0], "mixed_with": list(generators[1:])}

    def best_state_dict(self) -> dict[str, Any] | None:
        """With keep_best, the model as of its best epochs so far (None before one passes)."""
        return self.state_dict(self._kept_generators) if self._kept_generators else None

    def save(self, path: str | Path) -> None:
        if self.G is None:
            raise GankitError("nothing to save: fit the TabularGAN first")
        checkpoint.save(path, self.state_dict())

    @classmethod
    def load(cls, path: str | Path) -> "TabularGAN":
        return cls.from_state(checkpoint.load(path), path)

    @classmethod
    def from_state(cls, state: dict[str, Any], path: str | Path = "checkpoint") -> "TabularGAN":
        if state.get("kind") != KIND:
            raise GankitError(f"{path} holds an image GAN, not a tabular one: use gankit sample/evaluate on its run")
        gan = cls(TabularConfig.from_dict(json.loads(state["config"])))
        gan.transformer = TableTransformer.from_state(json.loads(state["transformer"]))
        gan.sampler = ConditionSampler(gan.transformer, None, json.loads(state["counts"]))
        gan.G = gan._generator(state["generator"], path)
        gan.mixed_with = [gan._generator(weights, path) for weights in state.get("mixed_with", [])]
        return gan

    def _training_state(self, D, opt_g, opt_d, rng: np.random.Generator, epoch: int) -> dict[str, Any]:
        best = {"kept": json.dumps(self.kept), "kept_generators": list(self._kept_generators),
                "validation": json.dumps(self.validation)}
        if self._average is not None:  # "generator" is what sampling uses; training goes on from the live G
            best["average"], best["live_generator"] = self._average.state_dict(), self.G.state_dict()
        return {**self.state_dict(), "discriminator": D.state_dict(), "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(), "epoch": epoch, "history": json.dumps(self.history),
                "rng": {"torch": torch.get_rng_state(), "numpy": json.dumps(rng.bit_generator.state)}, **best}

    def _restore(self, state: dict, D, opt_g, opt_d, rng: np.random.Generator) -> None:
        checkpoint.load_weights(self.G, state.get("live_generator", state["generator"]), "generator", "the checkpoint")
        checkpoint.load_weights(D, state["discriminator"], "discriminator", "the checkpoint")
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["rng"]["torch"])
        rng.bit_generator.state = json.loads(state["rng"]["numpy"])
        self.history = json.loads(state["history"])
        self.validation = json.loads(state.get("validation", "[]"))
        if "best_generator" in state:  # a checkpoint from before several epochs were kept: its one best
            self.kept, self._kept_generators = [json.loads(state["best"])], [state["best_generator"]]
        else:
            self.kept, self._kept_generators = json.loads(state.get("kept", "[]")), list(state.get("kept_generators", []))
        if self._average is not None:
            self._average.load_state_dict(state["average"])


def _chunks(n: int, size: int = 10_000) -> list[int]:
    return [min(size, n - start) for start in range(0, n, size)]


def config_dict(cfg: TabularConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d["hidden"], d["betas"] = list(cfg.hidden), list(cfg.betas)
    return d


__all__ = ["TabularGAN", "TabularConfig"]
