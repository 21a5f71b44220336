"""The numerical tests hold on every CPU's floating-point path, not only on this machine's.

CI runs on whichever CPU it is given (AMD without AVX-512, AMD with AVX512_BF16, Intel with AMX), and each takes
other kernels in ATen, oneDNN and MKL, which round differently. A tolerance tuned on one of them fails on another,
so the tests marked `numerics` run again here in child processes that force the narrower kernel paths this CPU
also has: AVX2 (the AMD EPYC without AVX-512 takes it) and, on an AMX CPU, AVX-512 without the matrix units.
(SSE4, ATen's default, is no CI CPU's path: every one of them has AVX2.) The compiled-step variant is left out
of the reruns (inductor's C++ takes no ISA cap from these variables, and its compile costs half a minute per
path); it runs once in the main suite.
"""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from gankit.infra.device import cpu_flags

ROOT = Path(__file__).resolve().parents[1]

# (name, environment) of each kernel path, widest last; a CPU runs the paths its own flags allow.
PATHS = [
    ("avx2", {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
     {"avx2"}),
    # an AMX CPU's AVX-512 path, without the matrix units
    ("avx512", {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
                "MKL_ENABLE_INSTRUCTIONS": "AVX512"}, {"avx512f", "amx_bf16"}),
]


def _numerics_files() -> list[str]:
    """The test files with numerics-marked tests: collecting the whole suite would cost each child more than
    running them."""
    return sorted(str(f) for f in (ROOT / "tests").rglob("test_*.py")
                  if f.name != Path(__file__).name and "mark.numerics" in f.read_text())


def _paths():
    flags = cpu_flags() or set()
    return [pytest.param(env, id=name) for name, env, needs in PATHS if needs <= flags]


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the kernel paths named are x86's")
@pytest.mark.parametrize("env", _paths())
def test_numerical_tests_pass_on_a_narrower_kernel_path(env):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "numerics", "-k", "not compiled",
         *_numerics_files()], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, f"on the {env} path: {summary}\n{result.stdout[-4000:]}"
    assert " passed" in summary and "deselected" in summary, summary  # it ran the numerics tests, and only them
