"""Which device to train on: `auto` picks cuda, then mps, then cpu."""

from __future__ import annotations

import torch

from gankit.errors import GankitError

_KINDS = ("auto", "cpu", "cuda", "mps")


def check_device(name: str) -> None:
    if name.split(":")[0] not in _KINDS:
        raise GankitError(f"unknown device '{name}': use auto, cpu, cuda, cuda:N or mps")


def resolve_device(name: str) -> torch.device:
    check_device(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GankitError(f"device '{name}' asked for, but CUDA is not available here: use --device cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise GankitError("device 'mps' asked for, but MPS is not available here: use --device cpu")
    return torch.device(name)
