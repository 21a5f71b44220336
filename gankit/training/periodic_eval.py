"""Evaluation during training (`--eval-every K`): every K epochs, score a fixed batch of samples against a
validation slice and keep the best checkpoint by FID.

The validation slice is a fixed random `eval_holdout` images of the training split (by default 5,000, or a
tenth of a smaller set: gankit.data.split), which the run then does not train on; the test split stays
untouched for the final `gankit evaluate`, so choosing the best epoch never sees the data the final scores are
reported against.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.data.imagedata import labels_at_shares
from gankit.data.pixels import to_uint8
from gankit.infra.log import Log
from gankit.metrics import METRICS, TRACKED, Features, compute
from gankit.training.config import TrainConfig, load_options

# The metrics whose keys are tracked (cheap enough for every few epochs); the full set is `gankit evaluate`'s.
TRACKED_METRICS = tuple(m.name for m in METRICS.values() if any(k.tracked for k in m.outputs))

class PeriodicEvaluator:
    """Features from the data set's domain network where it has one (MNIST, Fashion-MNIST), else Inception's."""

    def __init__(self, cfg: TrainConfig, device: torch.device, log: Log):
        from gankit.metrics.networks import load_extractor
        from gankit.metrics.reference import reference_features

        self.cfg, self.device = cfg, device
        self.extractor = load_extractor("auto", cfg.dataset, device, log)
        self.real = reference_features(self.extractor, cfg.dataset, "train", cfg.eval_n, cfg.seed, cfg.data_dir, log,
                                       holdout=cfg.eval_holdout, load_options=load_options(cfg))
        # The same noise at every evaluation, so scores differ only because G changed.
        self.noise = torch.randn(cfg.eval_n, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 2))

    def due(self, epoch: int) -> bool:
        return epoch % self.cfg.eval_every == 0 or epoch == self.cfg.epochs

    @torch.no_grad()
    def score(self, G: nn.Module, class_counts: torch.Tensor | None = None) -> dict[str, float]:
        """Scores of G's samples; a conditional G (`class_counts`: its training images per class) is asked for
        its classes at their shares and also scored on whether the domain classifier agrees with the label it
        was asked for."""
        labels = labels_at_shares(class_counts, len(self.noise)) if class_counts is not None else None
        was_training = G.training
        G.eval()
        images = []
        for start in range(0, len(self.noise), 1000):
            z = self.noise[start:start + 1000].to(self.device)
            out = G(z) if labels is None else G(z, labels[start:start + 1000].to(self.device))
            images.append(to_uint8(out).cpu())
        G.train(was_training)
        fake = Features(*self.extractor.extract(torch.cat(images)), labels_requested=labels)
        # metrics that need requested labels (label_accuracy) only for a conditional G
        names = [m for m in TRACKED_METRICS if labels is not None or "fake.labels" not in METRICS[m].needs]
        scores = compute(names, self.real, fake, seed=self.cfg.seed)
        return {k.name: scores[k.name] for k in TRACKED if k.name in scores}
