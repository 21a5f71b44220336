"""The tabular GAN's networks (after CTGAN, Xu et al. 2019) and its conditional sampler.

G: noise and a condition vector -> two residual blocks (Linear, BatchNorm, ReLU, the input concatenated to
the output) -> one linear layer with a span per encoded piece: tanh for alphas, Gumbel-softmax for one-hots.
D: PacGAN (Lin et al. 2018): `pac` rows and their conditions side by side in one input, so D can see a batch
that lacks variety; Linear-LeakyReLU-Dropout twice, one score out; trained as a WGAN critic with a gradient
penalty.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gankit.tabular.columns import TableTransformer

GUMBEL_TAU = 0.2


class Residual(nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.fc, self.bn = nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class TableGenerator(nn.Module):
    def __init__(self, z_dim: int, cond_dim: int, spans: list[tuple[str, int]], hidden: tuple[int, ...] = (256, 256)):
        super().__init__()
        self.spans, layers, d = spans, [], z_dim + cond_dim
        for h in hidden:
            layers.append(Residual(d, h))
            d += h
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(d, sum(w for _, w in spans))

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """Raw outputs (logits for one-hots); `activate` turns them into an encoded row."""
        return self.out(self.body(z if cond is None else torch.cat([z, cond], dim=1)))

    def activate(self, raw: torch.Tensor, hard: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        """tanh for alphas; Gumbel-softmax for one-hots. `hard` (sampling): each one-hot a category drawn from
        its softmax, by the Gumbel-max trick (argmax of logits plus Gumbel noise), as CTGAN samples. Taking the
        plain argmax instead writes every row's most likely category: a table of modes, with too few of each
        column's rare values (Adult after 56 epochs: 98.9% zeros in capital-gain, where the data holds 91.7%;
        drawn, 89.1% after 37 epochs) and rows crowded where real rows are dense (a near-copy share of 10%,
        against 0.7% drawn)."""
        # Gumbel noise as -log(-log(U)), drawn once for the whole row: the distribution F.gumbel_softmax draws
        # per span with exponential_(), which on a CPU costs four times as much as uniform draws and two logs
        u = torch.rand(raw.shape, generator=generator, dtype=raw.dtype, device=raw.device)
        gumbel = -torch.log(-torch.log(u.clamp_(min=1e-12)))
        # split, not a slice per span: the backward of one split is one concatenation, where each slice's
        # backward writes a zero tensor the size of the whole row block (most of the step's small ops)
        widths = [width for _, width in self.spans]
        parts = []
        for (kind, width), piece, noise in zip(self.spans, raw.split(widths, 1), gumbel.split(widths, 1)):
            if kind == "tanh":
                parts.append(torch.tanh(piece))
            elif hard:
                parts.append(F.one_hot((piece + noise).argmax(1), width).to(raw.dtype))
            else:
                parts.append(torch.softmax((piece + noise) / GUMBEL_TAU, dim=1))
        return torch.cat(parts, dim=1)


class ByteDropout(nn.Module):
    """Dropout with its mask drawn as random bytes, 8 to each 64-bit draw: a CPU draws one random number
    per element for nn.Dropout's Bernoulli mask, and that draw was a tenth of the tabular step; this one
    costs a fifth as much (forward and backward), with the same distribution for p = k/256 (0.5 here)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 < p < 1 or (p * 256) % 1:
            raise ValueError(f"ByteDropout takes p = k/256 for 0 < k < 256, got {p}")
        self.threshold, self.scale = int(p * 256), 1 / (1 - p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        words = torch.empty(x.numel() // 8 + 1, dtype=torch.int64, device=x.device).random_(-2**63, None)
        draws = words.view(torch.uint8)[:x.numel()].view(x.shape)  # full-range words: every byte uniform
        return x * (draws >= self.threshold).to(x.dtype).mul_(self.scale)


class PacDiscriminator(nn.Module):
    """`pac` rows and their conditions side by side in one input. The first layer keeps the rows' weights and
    the conditions' apart (the same layer: rows and conditions are one concatenated input): a D step scores
    fake, real and mixed rows under the same conditions, so their part is computed once (`condition`) and
    its weights' gradient in one product, which was a fifth of the step's matrix work on Adult."""

    def __init__(self, data_dim: int, cond_dim: int, pac: int = 10, hidden: tuple[int, ...] = (256, 256)):
        super().__init__()
        widths = [*hidden, 1]
        self.pac = pac
        self.rows_in = nn.Linear(data_dim * pac, widths[0])
        self.cond_in = nn.Linear(cond_dim * pac, widths[0], bias=False) if cond_dim else None
        layers = []
        for d, h in zip(widths, widths[1:]):
            layers += [nn.LeakyReLU(0.2), ByteDropout(0.5), nn.Linear(d, h)]
        self.net = nn.Sequential(*layers)

    def condition(self, cond: torch.Tensor | None) -> torch.Tensor | None:
        """The conditions' part of the first layer, one row per pack."""
        if cond is None or self.cond_in is None:
            return None
        return self.cond_in(cond.reshape(-1, cond.shape[1] * self.pac))

    def score(self, rows: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        """D's score of each pack of rows, given `condition(cond)` of their conditions (repeated to match)."""
        x = self.rows_in(rows.reshape(-1, rows.shape[1] * self.pac))
        return self.net(x if condition is None else x + condition).squeeze(1)

    def forward(self, rows: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return self.score(rows, self.condition(cond))


def critic_loss(D: PacDiscriminator, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor | None,
                gp_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """WGAN-GP (Gulrajani et al. 2017) on pac groups: D(fake) - D(real) + gp_weight * the penalty, with one
    mixing weight per group and the norm over its whole input. Returns (loss, penalty).

    D scores the fake and real rows in one pass (one matrix product per layer instead of two; each pack is
    scored on its own, so this is the same loss) and the mixed rows in a second: the penalty's gradient and
    its double backward then run over the mixed rows alone, not over all three sets. The conditions are the
    same for all three, so their part of the first layer is computed once."""
    groups = len(real) // D.pac
    t = torch.rand(groups, 1, 1, device=real.device).expand(groups, D.pac, 1).reshape(len(real), 1)
    mixed = (t * real + (1 - t) * fake).requires_grad_(True)
    condition = D.condition(cond)
    on_fake, on_real = D.score(torch.cat([fake, real]),
                               None if condition is None else condition.repeat(2, 1)).split(groups)
    (grad,) = torch.autograd.grad(D.score(mixed, condition).sum(), mixed, create_graph=True)
    penalty = ((grad.reshape(groups, -1).norm(dim=1) - 1) ** 2).mean()
    return on_fake.mean() - on_real.mean() + gp_weight * penalty, penalty


@dataclass(frozen=True)
class Condition:
    """A one-hot G can be conditioned on: a discrete column's categories, or the modes of a numeric column with
    point masses (its exact values, then its Gaussian modes), which only training uses."""

    name: str
    width: int
    categories: list | None  # a discrete column's values; None for a numeric column's modes


class ConditionSampler:
    """Training-by-sampling: pick a conditioned column uniformly, then one of its categories with probability
    proportional to log(1 + count), so rare categories are trained on far more often than they occur; real
    rows are drawn from those holding the picked category. At sampling time categories follow their real
    frequencies, so the generated table keeps the real marginals.

    The conditioned columns are CTGAN's (the discrete ones) and the numeric columns with point masses, by their
    mode, so that G is asked for a column's rare modes (capital-gain's tail beside its 92% zeros) as often as
    for a rare category."""

    def __init__(self, transformer: TableTransformer, matrix: np.ndarray | None, counts: list[list[int]] | None = None):
        self.columns = [Condition(c.name, len(c.categories), c.categories) for c in transformer.discrete()]
        self.data_offsets = [transformer.span_of(c.name)[0] for c in transformer.discrete()]
        for c in transformer.coders:
            if c.numeric and c.points:  # the mode one-hot follows the alpha
                self.columns.append(Condition(c.name, len(c.points) + len(c.means), None))
                self.data_offsets.append(transformer.span_of(c.name)[0] + 1)
        self.offsets, start = [], 0  # where each conditioned column's one-hot starts in the condition vector
        for c in self.columns:
            self.offsets.append(start)
            start += c.width
        self.dim = start
        self.n_rows = len(matrix) if matrix is not None else 0
        if matrix is not None:
            codes = [matrix[:, o:o + c.width].argmax(1) for o, c in zip(self.data_offsets, self.columns)]
            self.rows = [[np.flatnonzero(code == k) for k in range(c.width)] for code, c in zip(codes, self.columns)]
            counts = [[len(r) for r in rows] for rows in self.rows]
        self.counts = counts or []

    def discrete(self) -> list[int]:
        """Indices of the columns a user can condition sampling on: the discrete ones."""
        return [j for j, c in enumerate(self.columns) if c.categories is not None]

    def train_batch(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(condition vectors, picked column per row, picked category per row, real row indices)."""
        if not self.columns:  # an all-numeric table: no conditions, real rows drawn uniformly
            return np.zeros((n, 0), np.float32), np.zeros(n, int), np.zeros(n, int), rng.integers(self.n_rows, size=n)
        cols = rng.integers(len(self.columns), size=n)
        cats = np.empty(n, dtype=int)
        rows = np.empty(n, dtype=int)
        for j in np.unique(cols):
            where = np.flatnonzero(cols == j)
            p = np.log1p(np.asarray(self.counts[j], dtype=float))
            cats[where] = rng.choice(len(p), size=len(where), p=p / p.sum())
            for k in np.unique(cats[where]):
                pool = self.rows[j][k]
                hit = where[cats[where] == k]
                rows[hit] = pool[rng.integers(len(pool), size=len(hit))]
        return self.vectors(cols, cats), cols, cats, rows

    def sample_batch(self, n: int, rng: np.random.Generator, fixed: tuple[int, int] | None = None) -> np.ndarray:
        """Condition vectors for generation: real category frequencies, or one fixed (column, category)."""
        if fixed is not None:
            return self.vectors(np.full(n, fixed[0]), np.full(n, fixed[1]))
        if not self.columns:
            return np.zeros((n, 0), np.float32)
        cols = rng.integers(len(self.columns), size=n)
        # What one rng.choice(k, p=counts / total) per row draws, for all rows at once: numpy's choice takes one
        # uniform per call and searches the normalised cumulative shares, so the same seed gives the same rows
        uniforms = rng.random(n)
        cats = np.empty(n, dtype=int)
        for j in np.unique(cols):
            where = np.flatnonzero(cols == j)
            cdf = (np.asarray(self.counts[j]) / sum(self.counts[j])).cumsum()
            cdf /= cdf[-1]
            cats[where] = cdf.searchsorted(uniforms[where], side="right")
        return self.vectors(cols, cats)

    def vectors(self, cols: np.ndarray, cats: np.ndarray) -> np.ndarray:
        out = np.zeros((len(cols), self.dim), dtype=np.float32)
        out[np.arange(len(cols)), np.asarray(self.offsets)[cols] + cats] = 1.0
        return out

    def condition_loss(self, raw: torch.Tensor, cols: torch.Tensor, cats: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of G's logits for each row's picked column against its picked category.

        One gather for all rows: each row's picked column's logits, padded to the widest column with -inf,
        rather than a masked slice per column (whose backward writes a zero tensor of raw's size each)."""
        if not self.columns:
            return raw.new_zeros(())
        logits = raw.gather(1, self._logit_index[cols]).masked_fill(self._padding[cols], float("-inf"))
        return F.cross_entropy(logits, cats, reduction="sum") / len(raw)

    @functools.cached_property
    def _logit_index(self) -> torch.Tensor:
        """(columns, widest) positions in G's output of each conditioned column's logits, padded by repeats."""
        widest = max(c.width for c in self.columns)
        return torch.tensor([[offset + min(k, c.width - 1) for k in range(widest)]
                             for offset, c in zip(self.data_offsets, self.columns)])

    @functools.cached_property
    def _padding(self) -> torch.Tensor:
        widest = max(c.width for c in self.columns)
        return torch.tensor([[k >= c.width for k in range(widest)] for c in self.columns])
