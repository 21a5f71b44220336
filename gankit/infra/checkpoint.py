"""Checkpoints: atomic save, safe load (`weights_only=True`: a checkpoint can never run code).

A checkpoint is one dict of tensors and plain values: both models, both optimizers, the position
in training (epoch, step, step within the epoch), every RNG state, the fixed noise and the config.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from gankit.infra.errors import GankitError
from gankit.infra.io import atomic_write

FORMAT = "gankit-checkpoint"
VERSION = 1


def save(path: str | Path, state: dict[str, Any]) -> None:
    """Serialise in memory, then write the bytes whole or not at all: a full disk then fails in our own write, as
    DiskFull, and the previous checkpoint stays as it was."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buffer)
    atomic_write(Path(path), buffer.getbuffer(), fix="free space and rerun with --resume")


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"checkpoint {path} not found: train first, or check the run directory")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - a foreign or damaged file fails in many ways inside the unpickler
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GankitError(
            f"{path} is not a gankit checkpoint or is damaged ({first_line[:120]}): use a checkpoint written by gankit train"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GankitError(f"{path} is not a gankit checkpoint: use a checkpoint written by gankit train")
    if state.get("version") != VERSION:
        raise GankitError(f"{path} is checkpoint format {state.get('version')}, this gankit reads {VERSION}: use a matching gankit")
    return state


def load_weights(module: torch.nn.Module, weights: dict[str, torch.Tensor], what: str, path: str | Path) -> None:
    """Load a state dict, turning a mismatch into a one-line error instead of a page of key names."""
    try:
        module.load_state_dict(weights)
    except RuntimeError:
        raise GankitError(
            f"{path} holds a {what} of another shape or architecture than this run's: use the checkpoint of this run"
        ) from None


def rng_state(data_generator: torch.Generator) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "data": data_generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], data_generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    data_generator.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
