"""Freed memory stays in the process for the next step: an 8 MiB block freed by torch is still in glibc's heap
afterwards, where without keep_freed_memory it is handed back to the OS (and the next step faults it in again).
Each case runs in a child process, whose allocator starts from glibc's defaults."""

import ctypes
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or not hasattr(ctypes.CDLL(None), "mallinfo2"),
                                reason="glibc's allocator (mallinfo2: glibc 2.33 or newer)")

CHILD = """
import ctypes, sys, torch
from gankit.infra.allocator import keep_freed_memory

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
x = torch.ones(2 << 20)  # 8 MiB
del x
print(kept, libc.mallinfo2().fordblks)
"""


def _free_bytes_after(mode: str, env: dict | None = None) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})}).stdout.split()
    return out[0], int(out[1])


def test_a_freed_block_stays_in_the_heap_for_the_next_step():
    kept, free = _free_bytes_after("keep")
    assert kept == "True" and free >= 8 << 20


def test_without_it_glibc_hands_the_block_back():
    _, free = _free_bytes_after("default")
    assert free < 8 << 20


def test_the_users_own_malloc_settings_are_left_alone():
    kept, free = _free_bytes_after("keep", {"MALLOC_TRIM_THRESHOLD_": "131072"})
    assert kept == "False" and free < 8 << 20
