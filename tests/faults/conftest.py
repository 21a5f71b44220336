"""What the fault tests share: the CLI run in-process or as a child process, and the check of a one-line error."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gankit.cli import main

ROOT = Path(__file__).resolve().parents[2]


def assert_one_line_error(code, err, *needles):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gankit: error:") and "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def cli(capsys):
    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def _default_sigint() -> None:
    # a shell starts a background job with SIGINT ignored, and children inherit that: Python then never raises
    # KeyboardInterrupt, so a suite run with `&` would hang where a child is sent Ctrl-C before training
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def child(script: str, *args, **popen) -> subprocess.Popen:
    """A Python child process running `script` (with gankit importable), its output as text, taking Ctrl-C
    as a process started from a terminal does."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GANKIT_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    return subprocess.Popen([sys.executable, "-u", "-c", script, *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint, **popen)


def gankit(*argv, **popen) -> subprocess.Popen:
    return child("import sys; from gankit.cli import main; sys.exit(main(sys.argv[1:]))", *argv, **popen)


def wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 120) -> list[str]:
    """Read the child's stdout until a line holds `needle`; the lines read. A hang guard, not a speed check."""
    import selectors
    import time

    lines, deadline = [], time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if sel.select(timeout=1):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if needle in line:
                return lines
    proc.kill()
    raise AssertionError(f"child never printed {needle!r}; got {lines!r}; stderr {proc.stderr.read()!r}")
