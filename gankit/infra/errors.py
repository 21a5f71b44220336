"""The one exception type a user sees, and other libraries' exceptions made short enough to quote in it."""

from __future__ import annotations


class GankitError(Exception):
    """Bad input or an unusable environment. The CLI prints the message alone and exits with code 2.

    The message names the problem and, after a colon or semicolon, how to fix it.
    """


def describe(exc: BaseException, limit: int = 160) -> str:
    """Another library's exception as one short line, to put inside a GankitError or a log line."""
    kind = type(exc).__name__
    text = " ".join(str(exc).split())  # library messages can span lines; ours are one line
    if not text:
        text = kind
    elif kind not in text:
        text = f"{kind}: {text}"
    return text if len(text) <= limit else text[:limit - 3] + "..."
