"""Data-parallel training under torchrun: `torchrun --nproc-per-node N -m gankit train ...`.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them gankit trains in one process and every
function here is a no-op. Each rank holds a full copy of G and D (DistributedDataParallel averages
their gradients), takes its 1/N shard of every global batch, and only rank 0 writes to the run directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from gankit.infra.errors import GankitError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch (indices or noise): equal, contiguous slices."""
        if not self.distributed:
            return batch
        per_rank = len(batch) // self.size
        return batch[self.rank * per_rank:(self.rank + 1) * per_rank]

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        if not self.distributed:
            return module
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of a statistics tensor over ranks (every rank gets it)."""
        if self.distributed:
            dist.all_reduce(values)
            values /= self.size
        return values

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when any rank says True: ranks stop together or not at all."""
        if not self.distributed:
            return flag
        t = torch.tensor([float(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def from_main(self, values: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Rank 0's `values` on every rank (the others pass a tensor of the same shape and dtype)."""
        if not self.distributed:
            return values
        t = values.to(device)
        dist.broadcast(t, src=0)
        return t.to(values.device)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def init(device: torch.device) -> World:
    """Join the process group torchrun describes (NCCL on GPUs, gloo otherwise); one process if none."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size())


def local_device(device: torch.device) -> torch.device:
    """Under torchrun each rank takes the GPU of its local rank."""
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def check_batch(batch_size: int, world: World) -> None:
    if batch_size % world.size:
        raise GankitError(f"--batch-size {batch_size} is the global batch and must divide evenly among "
                          f"{world.size} processes: use a multiple of {world.size}")


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
