"""Are generated time series like real ones? TimeGAN's two scores (Yoon et al., NeurIPS 2019, after its released
metric code) and three cheaper ones, each beside its floor: the same score for real series against held-out real
series, which is what a perfect generator would get.

    from gankit.timeseries.metrics import evaluate_series, minmax_scale
    report = evaluate_series(real, synth, real_test)      # arrays (N, T, F): series x time steps x features
    print(report.summary())
    json.dump(report.to_json(), file, allow_nan=False)

discriminative: |accuracy - 0.5| of a post-hoc GRU that tells real from generated series (0 = indistinguishable).
predictive: mean absolute error of a GRU trained on generated series that predicts real ones one step ahead.
marginal: per feature, the 1-Wasserstein distance between all real and all generated values (0 = same values).
autocorrelation: the mean gap between the real and generated autocorrelations per feature, lags 1..min(T-1, 20).
TSTR: accuracy on real series of a 1-D CNN classifier trained on generated labelled series, against TRTR (trained
on real series).

The learnt scores are seeded (same seed, same number on one machine), run on one thread and leave torch's global
random state and thread count as they were. They expect values in [0, 1] (the predictor ends in a sigmoid): scale
with `minmax_scale`, as `evaluate_series` does. On a 2-core CPU one discriminative score (24 steps x 5 features,
2000 iterations) takes about 20 s and one predictive score (5000 iterations) about 45 s: these tiny GRUs
cost per-operation overhead, not arithmetic. evaluate_series therefore trains all its GRUs of one kind side by
side as one block-diagonal GRU (`_StackedGRU`): 10 of them in about 2.5 times the time of one.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn

from gankit.infra.errors import GankitError
from gankit.infra.log import Log

MIN_SERIES = 10  # fewer and the 20% held out by the discriminative score is one or two series
SCALE_EPS = 1e-7  # TimeGAN's loader adds this to max - min, so a constant feature scales to 0, not NaN
MAX_LAG = 20
CNN_STEPS = 500
CNN_BATCH = 32
BATCH = 128  # TimeGAN's batch size for both GRU scores, and Adam's default learning rate for all three
LR = 1e-3
EVAL_CHUNK = 4096  # series per forward pass at test time: bounds the memory of scoring a large set


# ---- scaling and checks ---------------------------------------------------------------------------------------

def minmax_scale(reference: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """`reference` and `others` scaled by the per-feature min and max of `reference` (over series and steps),
    as TimeGAN's loader does: (x - min) / (max - min + 1e-7). Reference values land in [0, 1], others may not."""
    ref = _series(reference, "the reference series")
    rest = [_series(x, f"array {i + 1} of others") for i, x in enumerate(others)]
    for i, x in enumerate(rest):
        if x.shape[2] != ref.shape[2]:
            raise GankitError(f"array {i + 1} of others has {x.shape[2]} features but the reference series have "
                              f"{ref.shape[2]}: give arrays with the same features, in the same order")
    low = ref.min(axis=(0, 1))
    span = ref.max(axis=(0, 1)) - low + SCALE_EPS
    return tuple(((x - low) / span).astype(x.dtype, copy=False) for x in (ref, *rest))


def _series(x, name: str) -> np.ndarray:
    """`x` as a float array of shape (N, T, F), or a GankitError saying what is wrong with it."""
    arr = np.asarray(x)
    if arr.ndim != 3 or 0 in arr.shape:
        raise GankitError(f"{name} has shape {arr.shape}: give a non-empty array of shape (N, T, F), "
                          f"series x time steps x features")
    if not np.issubdtype(arr.dtype, np.floating):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise GankitError(f"{name} holds {arr.dtype} values: give numbers (float32 or float64)")
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise GankitError(f"{name} holds NaN or infinite values: fill or drop those series before scoring")
    return arr


def _same_steps_and_features(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    if a.shape[1:] != b.shape[1:]:
        raise GankitError(f"{b_name} have shape {b.shape} but {a_name} have {a.shape}: give series of the same "
                          f"length T and feature count F (arrays are (N, T, F))")


def _pair(a, a_name: str, b, b_name: str, least: int = 1) -> tuple[np.ndarray, np.ndarray]:
    a, b = _series(a, a_name), _series(b, b_name)
    _same_steps_and_features(a, a_name, b, b_name)
    for x, name in ((a, a_name), (b, b_name)):
        if len(x) < least:
            raise GankitError(f"{name} are {len(x)} series: this score needs at least {least}; give more series")
    return a, b


# ---- shared training pieces -----------------------------------------------------------------------------------

@contextmanager
def _isolated() -> Iterator[None]:
    """The caller's global torch random state and thread count are restored afterwards.

    One thread: these networks are tiny, so a step is mostly per-operation overhead that threads do not shorten,
    and with another process on the machine every parallel region waits for a descheduled thread (20x slower,
    measured on 2 cores). It also keeps the scores independent of the caller's thread count.
    """
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def _batch(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    # Without replacement within a batch, as TimeGAN's batch generator does.
    return torch.randperm(n, generator=gen)[:size]


def _adam(model: nn.Module, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)  # fused: one kernel per step on the CPU


def _step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


@torch.no_grad()
def _chunked(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i:i + EVAL_CHUNK]) for i in range(0, len(x), EVAL_CHUNK)])


def _hidden(features: int, hidden: int | None) -> int:
    # TimeGAN's int(dim / 2), kept at one unit or more so one feature still has a network.
    return max(1, features // 2) if hidden is None else int(hidden)


def _groups(sizes: Sequence[tuple[int, ...]]) -> list[list[int]]:
    """Indices of the jobs that share batch sizes: only those can train stacked, side by side in one batch."""
    found: dict[tuple[int, ...], list[int]] = {}
    for i, size in enumerate(sizes):
        found.setdefault(size, []).append(i)
    return list(found.values())


class _StackedGRU(nn.Module):
    """k independent networks, each one GRU layer then one linear output (from the last state, or at every step
    with `per_step`), run as one nn.GRU with block-diagonal weights: network j reads input block j and owns hidden
    block j. Masked gradients keep the other blocks at zero (Adam then never moves them). On a CPU a step of such
    tiny networks costs mostly per-operation overhead, so ten train in about twice the time of one.

    Network j starts from the weights a lone nn.GRU and nn.Linear get after torch.manual_seed(seeds[j]), so k = 1
    is exactly the lone network and k > 1 gives the same scores up to float rounding.
    """

    def __init__(self, seeds: Sequence[int], features: int, hidden: int, per_step: bool):
        super().__init__()
        self.k, self.features, self.hidden, self.per_step = len(seeds), features, hidden, per_step
        self.gru = nn.GRU(self.k * features, self.k * hidden, batch_first=True)
        self.head_w = nn.Parameter(torch.zeros(self.k, hidden))
        self.head_b = nn.Parameter(torch.zeros(self.k))
        with torch.no_grad():
            for p in self.gru.parameters():
                p.zero_()
            for j, seed in enumerate(seeds):
                torch.manual_seed(seed)
                self._put(j, nn.GRU(features, hidden, batch_first=True), nn.Linear(hidden, 1))
        if self.k > 1:
            self._mask_gradients()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, k * features) -> (B, k) logits, or (B, T, k) with per_step."""
        states, last = self.gru(x)
        z = (states if self.per_step else last[-1]).unflatten(-1, (self.k, self.hidden))
        return (z * self.head_w).sum(-1) + self.head_b

    def part(self, j: int) -> _StackedGRU:
        """Network j alone (k = 1), with its trained weights."""
        lone = _StackedGRU([0], self.features, self.hidden, self.per_step)
        with torch.no_grad():
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                getattr(lone.gru, name).copy_(self._block(j, name))
            lone.head_w.copy_(self.head_w[j:j + 1])
            lone.head_b.copy_(self.head_b[j:j + 1])
        return lone

    def _rows(self, j: int) -> torch.Tensor:
        # nn.GRU stacks its gates (r, z, n) along the rows; network j has rows j*H..(j+1)*H-1 of each gate.
        size = self.k * self.hidden
        return torch.cat([torch.arange(g * size + j * self.hidden, g * size + (j + 1) * self.hidden)
                          for g in range(3)])

    def _block(self, j: int, name: str) -> torch.Tensor:
        p = getattr(self.gru, name)
        if name.startswith("bias"):
            return p[self._rows(j)]
        width = self.features if "ih" in name else self.hidden
        return p[self._rows(j), j * width:(j + 1) * width]

    def _put(self, j: int, gru: nn.GRU, head: nn.Linear) -> None:
        rows = self._rows(j)
        for name in ("bias_ih_l0", "bias_hh_l0"):
            getattr(self.gru, name)[rows] = getattr(gru, name)
        for name, width in (("weight_ih_l0", self.features), ("weight_hh_l0", self.hidden)):
            getattr(self.gru, name)[rows, j * width:(j + 1) * width] = getattr(gru, name)
        self.head_w[j] = head.weight[0]
        self.head_b[j] = head.bias[0]

    def _mask_gradients(self) -> None:
        for name, width in (("weight_ih_l0", self.features), ("weight_hh_l0", self.hidden)):
            p = getattr(self.gru, name)
            mask = torch.zeros_like(p)
            for j in range(self.k):
                mask[self._rows(j), j * width:(j + 1) * width] = 1
            p.register_hook(lambda grad, mask=mask: grad * mask)


# ---- discriminative score -------------------------------------------------------------------------------------

def discriminative_score(real: np.ndarray, synth: np.ndarray, *, seed: int = 0, iterations: int = 2000,
                         batch_size: int = BATCH, hidden: int | None = None, lr: float = LR) -> float:
    """|accuracy - 0.5| of a post-hoc GRU classifier telling `real` (label 1) from `synth` (label 0), TimeGAN's
    discriminative score: 0 = indistinguishable, 0.5 = always told apart.

    Each set is split 80/20 at random; every one of `iterations` Adam steps draws `batch_size` series from each
    80% and minimises sigmoid cross-entropy (the real and the synthetic halves' means, summed); the accuracy is on
    both 20% parts together, at threshold 0.5. The GRU has one layer of max(1, F // 2) units unless `hidden` is
    given, and one logit from its last state.
    """
    r, s = _pair(real, "the real series", synth, "the synthetic series", least=2)
    return _discriminative_scores([(r, s, seed)], iterations, batch_size, hidden, lr)[0]


def _discriminative_scores(jobs: Sequence[tuple[np.ndarray, np.ndarray, int]], iterations: int, batch_size: int,
                           hidden: int | None, lr: float) -> list[float]:
    """discriminative_score of each (real, synth, seed), the jobs with equal batch sizes trained stacked."""
    with _isolated():
        prepared = [_split_job(r, s, seed) for r, s, seed in jobs]
        sizes = [(min(batch_size, len(p[0])), min(batch_size, len(p[1]))) for p in prepared]
        scores: dict[int, float] = {}
        for group in _groups(sizes):
            features = jobs[group[0]][0].shape[2]
            model = _StackedGRU([jobs[i][2] for i in group], features, _hidden(features, hidden), per_step=False)
            _train_classifiers(model, [prepared[i] for i in group], sizes[group[0]], iterations, lr)
            scores.update((i, _held_out_score(model.part(j), prepared[i])) for j, i in enumerate(group))
    return [scores[i] for i in range(len(jobs))]


def _split_job(real: np.ndarray, synth: np.ndarray, seed: int) -> tuple[torch.Tensor, ...]:
    """(real train, synth train, real test, synth test, generator): each set split 80/20 by the seed's draws."""
    gen = torch.Generator().manual_seed(seed)
    r_train, r_test = _split(torch.as_tensor(real, dtype=torch.float32), gen)
    s_train, s_test = _split(torch.as_tensor(synth, dtype=torch.float32), gen)
    return r_train, s_train, r_test, s_test, gen


def _split(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(len(x), generator=gen)
    cut = min(max(int(len(x) * 0.8), 1), len(x) - 1)  # at least one series on each side
    return x[order[:cut]], x[order[cut:]]


def _train_classifiers(model: _StackedGRU, jobs: list[tuple], sizes: tuple[int, int], iterations: int,
                       lr: float) -> None:
    opt = _adam(model, lr)
    model.train()
    nr, ns = sizes
    real, fake = torch.ones(nr, model.k), torch.zeros(ns, model.k)
    for _ in range(iterations):
        x = torch.cat([torch.cat([r[_batch(len(r), nr, gen)], s[_batch(len(s), ns, gen)]])
                       for r, s, _, _, gen in jobs], dim=2)
        logits = model(x)
        # Summed over the networks, each network's loss is its own: mean over real plus mean over synthetic.
        loss = (nnf.binary_cross_entropy_with_logits(logits[:nr], real, reduction="sum") / nr
                + nnf.binary_cross_entropy_with_logits(logits[nr:], fake, reduction="sum") / ns)
        _step(opt, loss)


def _held_out_score(model: _StackedGRU, job: tuple) -> float:
    _, _, r_test, s_test, _ = job
    correct = (_chunked(model, r_test) > 0).sum() + (_chunked(model, s_test) <= 0).sum()
    return abs(correct.item() / (len(r_test) + len(s_test)) - 0.5)


# ---- predictive score -----------------------------------------------------------------------------------------

def predictive_score(train: np.ndarray, test: np.ndarray, *, seed: int = 0, iterations: int = 5000,
                     batch_size: int = BATCH, hidden: int | None = None, lr: float = LR) -> float:
    """Mean absolute error on all of `test` of a GRU trained on `train` to predict one step ahead, TimeGAN's
    predictive score (lower is better). TimeGAN trains on synthetic series and tests on real ones; trained on real
    series and tested on held-out real ones, it gives the floor.

    From the first F - 1 features at steps 0..T-2 the GRU predicts the last feature at steps 1..T-1 (through a
    sigmoid, so values belong in [0, 1]), trained by `iterations` Adam steps on the L1 loss, each on `batch_size`
    series drawn at random. With one feature (F == 1) there are no other features to predict from: the GRU then
    predicts the feature one step ahead from its own past. One layer of max(1, F // 2) units unless `hidden`.
    """
    a, b = _pair(train, "the training series", test, "the test series")
    return _predictive_scores([(a, b, seed)], iterations, batch_size, hidden, lr)[0]


def _predictive_scores(jobs: Sequence[tuple[np.ndarray, np.ndarray, int]], iterations: int, batch_size: int,
                       hidden: int | None, lr: float) -> list[float]:
    """predictive_score of each (train, test, seed), the jobs with equal batch sizes trained stacked."""
    steps, features = jobs[0][0].shape[1:]
    if steps < 2:
        raise GankitError(f"the series have {steps} time step: predicting one step ahead needs 2 or more; "
                          f"give longer series")
    with _isolated():
        data = [(_inputs_and_targets(a), _inputs_and_targets(b), torch.Generator().manual_seed(seed))
                for a, b, seed in jobs]
        scores: dict[int, float] = {}
        for group in _groups([(min(batch_size, len(a)),) for a, _, _ in jobs]):
            model = _StackedGRU([jobs[i][2] for i in group], data[group[0]][0][0].shape[2],
                                _hidden(features, hidden), per_step=True)
            _train_predictors(model, [data[i] for i in group], min(batch_size, len(jobs[group[0]][0])),
                              iterations, lr)
            for j, i in enumerate(group):
                (x_test, y_test), part = data[i][1], model.part(j)
                scores[i] = (torch.sigmoid(_chunked(part, x_test)) - y_test).abs().mean().item()
    return [scores[i] for i in range(len(jobs))]


def _inputs_and_targets(x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs at steps 0..T-2, target at steps 1..T-1 as (N, T-1, 1))."""
    t = torch.as_tensor(x, dtype=torch.float32)
    if t.shape[2] == 1:
        return t[:, :-1], t[:, 1:]
    return t[:, :-1, :-1], t[:, 1:, -1:]


def _train_predictors(model: _StackedGRU, data: list[tuple], size: int, iterations: int, lr: float) -> None:
    opt = _adam(model, lr)
    model.train()
    for _ in range(iterations):
        picks = [(x, y, _batch(len(x), size, gen)) for (x, y), _, gen in data]
        x = torch.cat([x[idx] for x, _, idx in picks], dim=2)
        y = torch.cat([y[idx] for _, y, idx in picks], dim=2)
        # k times the mean: summed over the networks, each network's loss is its own mean absolute error.
        _step(opt, nnf.l1_loss(torch.sigmoid(model(x)), y) * model.k)


# ---- distribution distances -----------------------------------------------------------------------------------

def marginal_distance(real: np.ndarray, synth: np.ndarray) -> np.ndarray:
    """Per feature (shape (F,)), the 1-Wasserstein distance between all values of the feature in `real` and in
    `synth`, over series and steps alike. On data scaled to [0, 1] it is at most 1; 0 = the same values."""
    from scipy.stats import wasserstein_distance

    r, s = _pair(real, "the real series", synth, "the synthetic series")
    return np.array([wasserstein_distance(r[..., f].ravel(), s[..., f].ravel()) for f in range(r.shape[2])])


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """The autocorrelation at lags 1..max_lag per feature (shape (max_lag, F)): for each series, centred on its
    own mean and divided by its own variance (a constant series counts as 0), then averaged over series."""
    centred = x - x.mean(axis=1, keepdims=True)
    power = (centred ** 2).sum(axis=1)  # (N, F)
    constant = np.ptp(x, axis=1) == 0  # exact test: centring leaves rounding noise that would divide into ones
    power = np.where(constant, 1.0, power)
    lags = [(centred[:, :-lag] * centred[:, lag:]).sum(axis=1) / power for lag in range(1, max_lag + 1)]
    return np.stack([np.where(constant, 0.0, acf).mean(axis=0) for acf in lags])


def autocorrelation_distance(real: np.ndarray, synth: np.ndarray, max_lag: int | None = None) -> float:
    """The mean, over features and lags 1..max_lag (default min(T - 1, 20)), of |ACF of real - ACF of synth|,
    each ACF per series then averaged over the series (see `autocorrelation`). 0 = same temporal correlations."""
    r, s = _pair(real, "the real series", synth, "the synthetic series")
    steps = r.shape[1]
    lag = min(steps - 1, MAX_LAG) if max_lag is None else int(max_lag)
    if not 1 <= lag <= steps - 1:
        raise GankitError(f"max_lag {max_lag} is out of range for series of {steps} time steps: give a lag from 1 "
                          f"to {steps - 1} (series need 2 steps or more)")
    real_acf = autocorrelation(r.astype(np.float64), lag)
    synth_acf = autocorrelation(s.astype(np.float64), lag)
    return float(np.abs(real_acf - synth_acf).mean())


# ---- classifier accuracy (TSTR / TRTR) ------------------------------------------------------------------------

class _ConvClassifier(nn.Module):
    """Two 1-D convolutions over time, a global average over time, one linear layer to the class logits."""

    def __init__(self, features: int, classes: int):
        super().__init__()
        self.convs = nn.Sequential(nn.Conv1d(features, 32, 5, padding=2), nn.ReLU(),
                                   nn.Conv1d(32, 64, 5, padding=2), nn.ReLU())
        self.out = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, T, F)
        return self.out(self.convs(x.transpose(1, 2)).mean(dim=2))


def classifier_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, *,
                        seed: int = 0, epochs: int | None = None, lr: float = LR) -> float:
    """Accuracy on (test_x, test_y) of a small 1-D CNN trained on (train_x, train_y): train on synthetic, test on
    real (TSTR) against train on real, test on real (TRTR).

    Adam with batches of 32 for 500 steps, or for `epochs` passes over the training series when given. Labels
    may be any values numpy can sort (ints, strings); the classes are those of both label arrays together.
    """
    xa, xb = _pair(train_x, "the training series", test_x, "the test series")
    ya, yb = _labels(train_y, len(xa), "train_y"), _labels(test_y, len(xb), "test_y")
    classes, codes = np.unique(np.concatenate([ya, yb]), return_inverse=True)
    y_train, y_test = torch.as_tensor(codes[:len(ya)]), torch.as_tensor(codes[len(ya):])
    x_train, x_test = torch.as_tensor(xa, dtype=torch.float32), torch.as_tensor(xb, dtype=torch.float32)
    with _isolated():
        torch.manual_seed(seed)
        model = _ConvClassifier(xa.shape[2], len(classes))
        _train_cnn(model, x_train, y_train, torch.Generator().manual_seed(seed), epochs, lr)
        predicted = _chunked(model, x_test).argmax(dim=1)
    return (predicted == y_test).double().mean().item()


def _train_cnn(model: nn.Module, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, epochs: int | None,
               lr: float) -> None:
    size = min(CNN_BATCH, len(x))
    per_epoch = math.ceil(len(x) / size)
    steps = CNN_STEPS if epochs is None else int(epochs) * per_epoch
    opt = _adam(model, lr)
    model.train()
    for step in range(steps):
        if step % per_epoch == 0:
            order = torch.randperm(len(x), generator=gen)  # epoch by epoch: every series equally often
        idx = order[(step % per_epoch) * size:][:size]
        _step(opt, nnf.cross_entropy(model(x[idx]), y[idx]))


def _labels(y, n: int, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise GankitError(f"{name} has shape {arr.shape} for {n} series: give one label per series, shape ({n},)")
    return arr


# ---- the report -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    """One score's values, one per seed (a single value for the scores that draw nothing), and its floor's: the
    same score for real series against held-out real series."""

    values: tuple[float, ...]
    floor: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return _std(self.values)

    @property
    def floor_mean(self) -> float:
        return float(np.mean(self.floor))

    @property
    def floor_std(self) -> float:
        return _std(self.floor)

    def to_json(self) -> dict:
        return {"mean": self.mean, "std": self.std, "values": list(self.values),
                "floor": {"mean": self.floor_mean, "std": self.floor_std, "values": list(self.floor)}}


def _std(values: Sequence[float]) -> float:
    # The sample standard deviation over seeds; 0 for one value (nothing varied).
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


@dataclass
class SeriesReport:
    """The scores of `evaluate_series`. `tstr` is None without labels; its floor is TRTR (trained on real)."""

    discriminative: Score
    predictive: Score
    marginal: Score  # the mean over features; per feature below
    autocorrelation: Score
    tstr: Score | None
    marginal_per_feature: tuple[float, ...]
    marginal_floor_per_feature: tuple[float, ...]
    seeds: tuple[int, ...]
    sizes: dict = field(default_factory=dict)  # series in real, synth, real_test, and the discriminative n

    def to_json(self) -> dict:
        """A dict of plain numbers that json.dumps(..., allow_nan=False) accepts (a non-finite value is None)."""
        return _finite({
            "discriminative": self.discriminative.to_json(), "predictive": self.predictive.to_json(),
            "marginal": {**self.marginal.to_json(), "per_feature": list(self.marginal_per_feature),
                         "floor_per_feature": list(self.marginal_floor_per_feature)},
            "autocorrelation": self.autocorrelation.to_json(),
            "tstr": None if self.tstr is None else self.tstr.to_json(),
            "seeds": list(self.seeds), "sizes": dict(self.sizes)})

    def summary(self) -> str:
        """One aligned line per score: the generated series' value, the real data's (the floor), how to read it."""
        rows = [("discriminative", self.discriminative, "0 = indistinguishable, 0.5 = always told apart"),
                ("predictive", self.predictive, "MAE, trained on generated, tested on real; lower is better"),
                ("marginal", self.marginal, "Wasserstein per feature; 0 = same values"),
                ("autocorrelation", self.autocorrelation, "mean gap between autocorrelations; 0 = same"),
                ("TSTR accuracy", self.tstr, "trained on generated, tested on real; real data: trained on real")]
        return "\n".join(_line(name, score, reading) for name, score, reading in rows if score is not None)


def _line(name: str, score: Score, reading: str) -> str:
    value, floor = _texts(score)
    return f"{name:<16} {value:<15} (real data: {floor}; {reading})"


def _both(score: Score) -> str:
    value, floor = _texts(score)
    return f"{value} (real data: {floor})"


def _texts(score: Score) -> tuple[str, str]:
    return _pm(score.mean, score.std, len(score.values)), _pm(score.floor_mean, score.floor_std, len(score.floor))


def _pm(mean: float, std: float, count: int) -> str:
    # A score computed once (one seed, or a score that draws nothing) has no spread to show.
    return f"{mean:.3f} ± {std:.3f}" if count > 1 else f"{mean:.3f}"


def _finite(value):
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


# ---- evaluate_series ------------------------------------------------------------------------------------------

def evaluate_series(real: np.ndarray, synth: np.ndarray, real_test: np.ndarray, *, labels=None,
                    synth_labels=None, test_labels=None, seeds: Sequence[int] = (0, 1, 2, 3, 4),
                    iterations: tuple[int, int] = (2000, 5000), log: Log = print) -> SeriesReport:
    """Score `synth` against `real` (the series the generator learnt from), each score beside its floor, computed
    the same way on `real` against `real_test` (real series the generator never saw).

    All three are scaled by real's per-feature min and max first. Per seed: the discriminative score of real vs
    synth and of real vs real_test, on n = min of the three sizes series drawn from each (a classifier's accuracy
    depends on how many series it sees); the predictive score trained on synth (floor: on real), tested on
    real_test. Marginal and autocorrelation distances draw nothing and are computed once. With all three label
    arrays, TSTR (train on synth, test on real_test) against TRTR (train on real) per seed.
    iterations: (discriminative, predictive) training steps. The per-seed values are those of the lone functions
    with the same seed, up to float rounding (the GRUs train stacked).
    """
    real, synth, real_test = _checked(real, synth, real_test)
    tagged = _checked_labels(labels, synth_labels, test_labels, real, synth, real_test)
    real, synth, real_test = minmax_scale(real, synth, real_test)
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise GankitError("seeds is empty: give at least one seed, e.g. seeds=(0,)")
    n = min(len(real), len(synth), len(real_test))
    log(f"time-series scores: discriminative, {len(seeds)} seeds x 2 classifiers of {n} vs {n} series stacked")
    disc = _pairs(_discriminative_scores(_discriminative_jobs(real, synth, real_test, n, seeds), iterations[0],
                                         BATCH, None, LR))
    log(f"time-series scores: discriminative {_both(disc)}; predictive, {len(seeds)} seeds x 2 predictors stacked")
    jobs = [job for seed in seeds for job in ((synth, real_test, seed), (real, real_test, seed))]
    pred = _pairs(_predictive_scores(jobs, iterations[1], BATCH, None, LR))
    log(f"time-series scores: predictive {_both(pred)}")
    tstr = _tstr(real, synth, real_test, labels, synth_labels, test_labels, seeds, log) if tagged else None
    marginal, marginal_floor = marginal_distance(real, synth), marginal_distance(real, real_test)
    acf = (autocorrelation_distance(real, synth), autocorrelation_distance(real, real_test))
    return SeriesReport(
        discriminative=disc, predictive=pred,
        marginal=Score((float(marginal.mean()),), (float(marginal_floor.mean()),)),
        autocorrelation=Score((acf[0],), (acf[1],)), tstr=tstr,
        marginal_per_feature=tuple(map(float, marginal)),
        marginal_floor_per_feature=tuple(map(float, marginal_floor)), seeds=seeds,
        sizes={"real": len(real), "synth": len(synth), "real_test": len(real_test), "discriminative_n": n})


def _checked(real, synth, real_test) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    names = ("the real series", "the synthetic series", "the real_test series")
    arrays = [_series(x, name) for x, name in zip((real, synth, real_test), names)]
    for x, name in zip(arrays, names):
        _same_steps_and_features(arrays[0], names[0], x, name)
        if len(x) < MIN_SERIES:
            raise GankitError(f"{name} are {len(x)}: evaluate_series needs at least {MIN_SERIES} of each; "
                              f"give more series")
    return arrays[0], arrays[1], arrays[2]


def _checked_labels(labels, synth_labels, test_labels, real, synth, real_test) -> bool:
    given = [y is not None for y in (labels, synth_labels, test_labels)]
    if any(given) and not all(given):
        raise GankitError("only some of labels, synth_labels and test_labels are given: give all three for the "
                          "TSTR accuracy, or none")
    for y, x, name in ((labels, real, "labels"), (synth_labels, synth, "synth_labels"),
                       (test_labels, real_test, "test_labels")):
        if y is not None:
            _labels(y, len(x), name)
    return all(given)


def _discriminative_jobs(real, synth, real_test, n: int, seeds: Sequence[int]) -> list[tuple]:
    """Per seed, the same n real series against n synthetic ones and against n held-out real ones: equal sizes,
    so the score and its floor give the classifier equal chances."""
    jobs = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        r, s, t = (x[rng.choice(len(x), n, replace=False)] for x in (real, synth, real_test))
        jobs += [(r, s, seed), (r, t, seed)]
    return jobs


def _tstr(real, synth, real_test, labels, synth_labels, test_labels, seeds, log: Log) -> Score:
    tstr = [classifier_accuracy(synth, synth_labels, real_test, test_labels, seed=seed) for seed in seeds]
    trtr = [classifier_accuracy(real, labels, real_test, test_labels, seed=seed) for seed in seeds]
    score = Score(tuple(tstr), tuple(trtr))
    log(f"time-series scores: TSTR accuracy {_both(score)}, real data meaning trained on real (TRTR)")
    return score


def _pairs(values: list[float]) -> Score:
    """Score from values listed (score, floor) per seed."""
    return Score(tuple(float(v) for v in values[0::2]), tuple(float(v) for v in values[1::2]))
