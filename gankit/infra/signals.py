"""Ctrl-C and SIGTERM, honoured in every phase of a command.

Outside training steps (loading data, clustering, compiling the first step, sampling, evaluating) a signal
stops the command at once: KeyboardInterrupt, which the CLI turns into exit code 130 and which leaves no half
file (writes are atomic). Between training steps, once the first step has run, the first signal asks for a clean
stop at the next step boundary, checkpoint included; a second one stops at once.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def terminate_as_interrupt() -> None:
    """Let SIGTERM stop a command as Ctrl-C does (cleanly, exit code 130), not kill it where it stands."""
    try:
        signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        pass


class StopSignal:
    """`with StopSignal() as stop:` while training. `stop.arm()` once a step has run: from then on the first
    signal only sets `stop.requested`; `with stop.immediate():` around work that must stop at once (an
    evaluation) whether armed or not."""

    def __init__(self):
        self.requested = False
        self.armed = False
        self._previous: dict = {}

    def _handler(self, signum, frame) -> None:
        if self.requested or not self.armed:  # a second signal, or no step yet to stop after: now
            raise KeyboardInterrupt
        self.requested = True

    def arm(self) -> None:
        self.armed = True

    def request(self) -> None:
        self.requested = True

    @contextmanager
    def immediate(self) -> Iterator[None]:
        armed, self.armed = self.armed, False
        try:
            yield
        finally:
            self.armed = armed

    def __enter__(self) -> StopSignal:
        try:
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handler)
        except ValueError:  # not the main thread (e.g. a notebook worker): no handlers, no clean stop
            pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
