"""Evaluation during training (`--eval-every K`): every K epochs, score a fixed batch of samples against a
validation slice and keep the best checkpoint by FID.

The validation slice is a fixed random `eval_holdout` images of the training split, which the run then does
not train on; the test split stays untouched for the final `gankit evaluate`, so choosing the best epoch
never sees the data the final scores are reported against.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from gankit.config import TrainConfig
from gankit.errors import GankitError
from gankit.images import to_uint8
from gankit.metrics import Features, compute

METRICS = ("fid", "kid", "pr", "classes")  # cheap enough for every few epochs; the full set is `gankit evaluate`'s
Log = Callable[[str], None]


class PeriodicEvaluator:
    def __init__(self, cfg: TrainConfig, device: torch.device, log: Log):
        from gankit.evaluate import reference_features
        from gankit.metrics.domain import load_domain_classifier

        self.cfg, self.device = cfg, device
        self.extractor = load_domain_classifier(cfg.dataset, device)
        self.real = reference_features(self.extractor, cfg.dataset, "train", cfg.eval_n, cfg.seed, cfg.data_dir, log,
                                       holdout=cfg.eval_holdout)
        # The same noise at every evaluation, so scores differ only because G changed.
        self.noise = torch.randn(cfg.eval_n, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 2))

    def due(self, epoch: int) -> bool:
        return epoch % self.cfg.eval_every == 0 or epoch == self.cfg.epochs

    @torch.no_grad()
    def score(self, G: nn.Module, num_classes: int = 0) -> dict[str, float]:
        """Scores of G's samples; a conditional G is asked for every class in turn and also scored on whether
        the domain classifier agrees with the label it was asked for."""
        labels = torch.arange(len(self.noise)) % num_classes if num_classes else None
        was_training = G.training
        G.eval()
        images = []
        for start in range(0, len(self.noise), 1000):
            z = self.noise[start:start + 1000].to(self.device)
            out = G(z) if labels is None else G(z, labels[start:start + 1000].to(self.device))
            images.append(to_uint8(out).cpu())
        G.train(was_training)
        fake = Features(*self.extractor.extract(torch.cat(images)), labels_requested=labels)
        names = [*METRICS, "label_accuracy"] if num_classes else list(METRICS)
        scores = compute(names, self.real, fake, seed=self.cfg.seed)
        return {k: v for k, v in scores.items() if k in SCORES}


SCORES = ("fid", "kid", "precision", "recall", "classes_covered", "label_accuracy")


VALIDATION_SEED = 20261126  # fixed, so runs with different --seed are scored against the same slice


def validation_split(count: int, holdout: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices in file order, validation indices): a seeded random `holdout` of `count` training
    images is the validation slice. Random, not the split's tail: MNIST's last training images differ in
    style from the rest (FID 48 against the test set where a random 2,000 score 10)."""
    if holdout >= count:
        raise GankitError(f"--eval-holdout {holdout} leaves none of the {count} training images: use a smaller holdout")
    val = torch.randperm(count, generator=torch.Generator().manual_seed(VALIDATION_SEED))[:holdout]
    keep = torch.ones(count, dtype=torch.bool)
    keep[val] = False
    return keep.nonzero().squeeze(1), val


def training_slice(images: torch.Tensor, holdout: int, limit: int | None) -> torch.Tensor:
    """The full training split minus the validation slice, then the first `limit` of what is left."""
    train_idx, _ = validation_split(len(images), holdout)
    return images[train_idx[:limit]]
