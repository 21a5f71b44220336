"""gankit: Generative Adversarial Networks on PyTorch — train, sample and evaluate, offline.

    import gankit
    run = gankit.train(preset="seed", epochs=5)      # trains, writes a run directory
    g = gankit.load(run.run_dir)                        # the trained generator
    images = g.sample(16)                               # uint8 (16, 1, 28, 28)
    report = gankit.evaluate(run.run_dir)               # scores beside the real-data floor
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit import _moved
from gankit.infra.errors import GankitError
from gankit.infra.version import __version__

_moved.install()  # the module names of 0.1 keep importing, with a DeprecationWarning


def train(preset: str | None = None, run_dir: str | Path | None = None, *, config: str | Path | None = None,
          resume: bool = False, force: bool = False, data: Any = None, labels: Any = None, log=print,
          **options: Any):
    """Train a GAN: a preset (default: `best`, at most 15 minutes, as `gankit train`; `"seed"` is the tutorial's
    GAN), then a TOML config file, then keyword options (`epochs=5`, `dataset="fashion-mnist"`).

    Returns a RunResult with `run_dir`, `epochs_done`, `steps_done` and the last epoch's statistics; the run
    directory gets its report.html.
    With `resume=True` the run's saved config is used and `options` may only extend it (e.g. `epochs`).
    `data` trains on images in memory instead of a data set by name: a uint8 NumPy array or tensor, (N, H, W),
    (N, C, H, W) or (N, H, W, C), with optional `labels` (N,); they are checked as files are and saved in the run
    directory (data.npz), so the run stays reproducible from it alone.
    """
    from gankit.training.config import DEFAULT_PRESET, config_from
    from gankit.training.loop import train as _train

    if data is None and labels is not None:
        raise GankitError("labels= goes with data=: give the images too, or name a data set with labels")
    arrays = None if data is None else (data, labels)
    result = _train(config_from(preset or DEFAULT_PRESET, config, options), run_dir, resume=resume, force=force, overrides=options,
                     log=log, arrays=arrays)
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        from gankit.report import write_report

        write_report(result.run_dir)
    return result


def load(run_dir: str | Path, checkpoint: str = "last", device: str = "auto"):
    """The trained generator of a run directory; `.sample(n)` draws uint8 images (N, C, H, W)."""
    from gankit.generate.sample import load as _load

    return _load(run_dir, checkpoint, device)


def evaluate(source: str | Path, **options: Any):
    """Score what a run made, beside real data: a run directory, an .npz of samples (`images`, optional `labels`) or
    a folder of images (options as `gankit evaluate`'s flags: `n`, `metrics`, `features`, `dataset`, `seed`,
    `checkpoint`, `device`; returns a Report with `.metrics`, `.floor`, `.protocol`, `.table()`); or a tabular run
    directory (options `n`, `seed`, `real_test`; returns a TableReport with `.scores` and `.summary()`)."""
    from gankit.tabular import spec as tabular_spec

    if tabular_spec.is_tabular_run(source):
        from gankit.tabular.run import evaluate_run

        return evaluate_run(source, **options)
    from gankit.eval.evaluate import evaluate as _evaluate_images

    return _evaluate_images(source, **options)


# `import gankit.evaluate`, the 0.1 module name, binds gankit.evaluate to a stand-in module; the stand-in calls this.
_evaluate = evaluate

__all__ = ["train", "load", "evaluate", "__version__"]
