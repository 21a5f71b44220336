"""Exceptions from other libraries as short one-line text, to put inside a GankitError or a log line."""

from __future__ import annotations


def describe(exc: BaseException, limit: int = 160) -> str:
    kind = type(exc).__name__
    text = " ".join(str(exc).split())  # library messages can span lines; ours are one line
    if not text:
        text = kind
    elif kind not in text:
        text = f"{kind}: {text}"
    return text if len(text) <= limit else text[:limit - 3] + "..."
