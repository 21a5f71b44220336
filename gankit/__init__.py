"""gankit: Generative Adversarial Networks on PyTorch — train, sample and evaluate, offline.

    import gankit
    run = gankit.train(preset="seed", epochs=5)      # trains, writes a run directory
    g = gankit.load(run.run_dir)                        # the trained generator
    images = g.sample(16)                               # uint8 (16, 1, 28, 28)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"


def train(preset: str = "seed", run_dir: str | Path | None = None, *, config: str | Path | None = None,
          resume: bool = False, force: bool = False, log=print, **options: Any):
    """Train a GAN: a preset, then a TOML config file, then keyword options (`epochs=5`, `dataset="fashion-mnist"`).

    Returns a RunResult with `run_dir`, `epochs_done`, `steps_done` and the last epoch's statistics.
    With `resume=True` the run's saved config is used and `options` may only extend it (e.g. `epochs`).
    """
    from gankit import config as cfg_mod
    from gankit.engine import train as _train

    cfg = cfg_mod.preset_config(preset)
    if config is not None:
        cfg = cfg_mod.replace(cfg, cfg_mod.load_toml(config), source=str(config))
    cfg = cfg_mod.replace(cfg, options)
    return _train(cfg, run_dir, resume=resume, force=force, overrides=options, log=log)


def load(run_dir: str | Path, checkpoint: str = "last", device: str = "auto"):
    """The trained generator of a run directory; `.sample(n)` draws uint8 images (N, C, H, W)."""
    from gankit.sample import load as _load

    return _load(run_dir, checkpoint, device)


__all__ = ["train", "load", "__version__"]
