"""Module names of gankit 0.1 that moved when the package was regrouped into layers. Importing an old name still
works in this release, with a DeprecationWarning naming the new home; the old names go in the next release."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

# old name -> the modules that now hold its contents, searched in order
MOVED: dict[str, tuple[str, ...]] = {
    "gankit.engine": ("gankit.training.loop",),
    "gankit.config": ("gankit.training.config",),
    "gankit.step": ("gankit.training.step",),
    "gankit.losses": ("gankit.training.losses",),
    "gankit.regularizers": ("gankit.training.regularizers",),
    "gankit.ema": ("gankit.training.ema",),
    "gankit.augment": ("gankit.training.diffaugment",),
    "gankit.health": ("gankit.training.health",),
    "gankit.runlog": ("gankit.training.runlog", "gankit.infra.rundir"),
    "gankit.distributed": ("gankit.training.distributed",),
    "gankit.self_condition": ("gankit.training.self_condition", "gankit.models.self_conditioned"),
    "gankit.periodic_eval": ("gankit.training.periodic_eval", "gankit.data.split"),
    "gankit.sample": ("gankit.generate.sample",),
    "gankit.evaluate": ("gankit.eval.evaluate", "gankit.metrics.reference"),
    "gankit.labelled": ("gankit.augmentation.labelled",),
    "gankit.utility": ("gankit.augmentation.utility", "gankit.augmentation.classic"),
    "gankit.errors": ("gankit.infra.errors",),
    "gankit.io": ("gankit.infra.io",),
    "gankit.device": ("gankit.infra.device",),
    "gankit.checkpoint": ("gankit.infra.checkpoint",),
    "gankit.images": ("gankit.data.pixels",),
    "gankit.data.cache": ("gankit.infra.datadir", "gankit.infra.io"),
    "gankit.data.fetch": ("gankit.infra.fetch",),
    "gankit.data.oneline": ("gankit.infra.errors",),
    "gankit.data.adult": ("gankit.tabular.adult",),
}


class _OldName(types.ModuleType):
    """Stands in for a moved module: each attribute is looked up in the modules that hold it now."""

    def __init__(self, name: str, homes: tuple[str, ...]):
        super().__init__(name, f"Moved to {' and '.join(homes)}.")
        self._homes = homes

    def __getattr__(self, attr: str):
        for home in self._homes:
            module = importlib.import_module(home)
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(f"{self.__name__} (now {' and '.join(self._homes)}) has no attribute {attr!r}")


class _CallableOldName(_OldName):
    """gankit.evaluate was a module and is now also a function: the stand-in for the module calls the function, so
    `gankit.evaluate(...)` works whether or not old code has imported the module name."""

    def __call__(self, *args, **kwargs):
        return sys.modules["gankit"]._evaluate(*args, **kwargs)


CALLABLE = {"gankit.evaluate"}


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def create_module(self, spec):
        homes = MOVED[spec.name]
        warnings.warn(f"{spec.name} is now {' and '.join(homes)}: import it from there (the old name goes in the "
                      "next release)", DeprecationWarning, stacklevel=2)
        return (_CallableOldName if spec.name in CALLABLE else _OldName)(spec.name, homes)

    def exec_module(self, module):
        pass


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
