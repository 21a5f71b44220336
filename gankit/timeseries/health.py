"""Training health for sequences, read at log points: say once when D wins outright or G's series collapse.

- D wins outright: the conv recipe's hinge loss below 0.05 for `patience` windows in a row (every real and
  generated series beyond its margin: G's gradient carries little);
- collapse: generated series spread (the standard deviation across a batch, per step and feature) below a
  quarter of the real series' for `patience` windows: G makes nearly one series whatever the noise.
"""

from __future__ import annotations

import torch

from gankit.infra.log import Log

D_WINS_BELOW = 0.05
COLLAPSED_BELOW = 0.25


def spread(series: torch.Tensor) -> float:
    return float(series.std(dim=0).mean())


class SeriesHealth:
    def __init__(self, log: Log, real_spread: float, patience: int = 5):
        self.log, self.real_spread, self.patience = log, real_spread, patience
        self.d_wins = self.collapsed = 0
        self.warned: set[str] = set()

    def check(self, row: dict[str, float], step: int, generated_spread: float) -> None:
        self.d_wins = self.d_wins + 1 if row.get("d_loss", 1.0) < D_WINS_BELOW and "d_real" in row else 0
        self.collapsed = self.collapsed + 1 if generated_spread < COLLAPSED_BELOW * self.real_spread else 0
        if self.d_wins >= self.patience:
            self._warn("d_wins", f"warning: the discriminator wins outright at step {step} (hinge loss below "
                       f"{D_WINS_BELOW} for {self.patience} log windows): G learns little from here; try a lower --lr")
        if self.collapsed >= self.patience:
            self._warn("collapse", f"warning: possible mode collapse at step {step}: generated series vary "
                       f"{generated_spread / self.real_spread:.0%} as much as real ones across a batch")

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self.warned:
            self.warned.add(kind)
            self.log(message)
