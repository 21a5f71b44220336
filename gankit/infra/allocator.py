"""Freed memory kept in the process for reuse, rather than handed back to the OS after every step (glibc's malloc).

A training step on a CPU allocates and frees the same megabytes of activations and gradients every step.
glibc maps blocks above its mmap threshold on their own and unmaps them when freed, and gives the heap's free
top back once it passes the trim threshold, so each step faults the same pages in again, zero-filled by the
kernel: about 4,000 page faults and 8 ms of system time in each 50-55 ms step of `best` on a 2-core AMD EPYC.
With the mmap threshold at glibc's maximum (32 MiB) and the trim threshold at 1 GiB, freed blocks stay in the
heap for the next step: 30-50 faults, the step 1.09x-1.15x as fast (`benchmarks/conv_kernels.py --allocator`,
results/conv_kernels_best_epyc_avx512_bf16_run2.json).
The process keeps up to 1 GiB of freed memory it would otherwise return; its peak does not change.
Nothing is done where the C library is not glibc, or where the user set glibc's own MALLOC_*_ variables.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's largest: blocks above it are still mapped, and unmapped when freed
TRIM_THRESHOLD = 1 << 30
_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")

_state = {"set": False}


def keep_freed_memory() -> bool:
    """Raise glibc's thresholds, once per process. True if they are raised (now or before)."""
    if _state["set"]:
        return True
    if platform.libc_ver()[0] != "glibc" or any(v in os.environ for v in _ENV):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    _state["set"] = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _state["set"]
