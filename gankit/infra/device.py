"""Which device to train on: `auto` picks cuda, then mps, then cpu; whether bf16 is fast on it; and which
precision `auto` trains in there."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit.infra.errors import GankitError

_KINDS = ("auto", "cpu", "cuda", "mps")


def check_device(name: str) -> None:
    kind, colon, index = name.partition(":")
    if kind not in _KINDS or (colon and not (kind == "cuda" and index.isdigit() and len(index) < 4)):
        raise GankitError(f"unknown device {_shown(name)}: use auto, cpu, cuda, cuda:N or mps")


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


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


# x86 extensions with bf16 dot products; without one, oneDNN emulates bf16 products (measured here: about
# 1 GFLOP/s against 89 fp32), with one it beats fp32 (AVX512_BF16: 405 against 156 GFLOP/s)
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
X86_MACHINES = ("x86_64", "amd64", "i386", "i686")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo (x86 "flags", ARM "Features"); None where the file cannot be
    read (not Linux) or has no such line."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def bf16_warning(device: torch.device, precision: str, flags: set[str] | None, machine: str) -> str | None:
    """A warning for bf16 on an x86 CPU without bf16 instructions (it runs many times slower than fp32 there).
    `machine` is platform.machine()."""
    if precision != "bf16" or device.type != "cpu" or flags is None or machine.lower() not in X86_MACHINES:
        return None  # GPUs, ARM (its own bf16 story) and CPUs whose flags are unknown: no claim either way
    if bf16_is_fast(device, flags, machine):
        return None
    return ("warning: --precision bf16 on a CPU without bf16 instructions (avx512_bf16 or amx_bf16): autocast "
            "emulates bf16 products and trains many times slower than fp32; start runs on this CPU without it")


def bf16_is_fast(device: torch.device, flags: set[str] | None, machine: str) -> bool:
    """Whether bf16 autocast beats fp32 here: a CUDA GPU with native bf16 (compute capability 8.0 or newer, or
    ROCm), or an x86 CPU with bf16 dot products. MPS, ARM and CPUs whose flags are unknown: no (fp32 is the safe
    choice where nothing is measured)."""
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        return cuda_bf16_is_native(torch.cuda.get_device_capability(device), torch.version.hip is not None)
    if device.type != "cpu" or flags is None or machine.lower() not in X86_MACHINES:
        return False
    return any(f in flags for f in BF16_CPU_FLAGS)


def cuda_bf16_is_native(capability: tuple[int, int], rocm: bool) -> bool:
    """Whether a GPU of this compute capability computes bf16 natively (Ampere, 8.0, and newer; every ROCm GPU
    torch supports). Older ones emulate it, slower than fp32."""
    return rocm or capability[0] >= 8


def resolve_precision(precision: str, device: torch.device, flags: set[str] | None, machine: str) -> str:
    """`auto` is bf16 where bf16 is fast (bf16_is_fast), fp32 elsewhere; fp32 and bf16 are kept as asked."""
    if precision != "auto":
        return precision
    return "bf16" if bf16_is_fast(device, flags, machine) else "fp32"


def available_memory(device: torch.device | str = "cpu") -> int | None:
    """Bytes this process can still allocate on `device`, as the system reports them; None where it does not say."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.mem_get_info(device)[0])
    try:  # Linux: what can be had without swapping
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os

        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits_in_memory(needed: int, what: str, fix: str, device: torch.device | str = "cpu") -> None:
    """Refuse, before allocating, what cannot fit: `needed` bytes against what the device has free."""
    free = available_memory(device)
    if free is not None and needed > free:
        raise GankitError(f"{what} need about {_bytes(needed)} of memory and {torch.device(device).type} has "
                          f"{_bytes(free)} free: {fix}")


def _bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} PB"
