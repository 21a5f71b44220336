"""Training health: notice the three ways a GAN run goes wrong, and say so in the log.

- divergence: a loss or D output is NaN or infinite;
- a discriminator that wins outright: D(G(z)) below 0.01 for `patience` log windows in a row (G gets no
  useful gradient: the tutorial's run reaches this within 10 epochs);
- mode collapse: classes covered (from --eval-every) falling below the best seen so far by 2 or more.
The monitor only reads the statistics the loop already has at its log points: no extra host syncs.
"""

from __future__ import annotations

import math
from typing import Callable

ON_DIVERGENCE = ("warn", "rollback")
D_WINS_BELOW = 0.01


class HealthMonitor:
    def __init__(self, log: Callable[[str], None], patience: int = 5, watch_d_wins: bool = True):
        # D(G(z)) is a probability only for the BCE losses; hinge and Wasserstein outputs are not
        self.log, self.patience, self.watch_d_wins = log, patience, watch_d_wins
        self.d_wins_windows = 0
        self.warned_d_wins = False
        self.most_classes = 0.0

    def diverged(self, row: dict[str, float], step: int) -> bool:
        """True when the window's statistics are not finite; warns once per window that is."""
        bad = [k for k in ("d_loss", "g_loss", "d_real", "d_fake") if not math.isfinite(row[k])]
        if bad:
            self.log(f"warning: training diverged at step {step} ({', '.join(bad)} not finite)")
            return True
        if not self.watch_d_wins:
            return False
        self.d_wins_windows = self.d_wins_windows + 1 if row["d_fake"] < D_WINS_BELOW else 0
        if self.d_wins_windows >= self.patience and not self.warned_d_wins:
            self.warned_d_wins = True
            self.log(f"warning: the discriminator wins outright at step {step}: D(G(z)) < {D_WINS_BELOW} for "
                     f"{self.patience} log windows; G learns little from here (try --preset best, a lower --lr-d, "
                     "or --r1-gamma)")
        return False

    def check_classes(self, classes_covered: float, epoch: int) -> None:
        if classes_covered <= self.most_classes - 2:
            self.log(f"warning: possible mode collapse at epoch {epoch}: {classes_covered:.0f} classes covered, "
                     f"down from {self.most_classes:.0f}")
        self.most_classes = max(self.most_classes, classes_covered)
