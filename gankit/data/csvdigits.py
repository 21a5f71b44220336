"""A fast parser for CSV files of small non-negative integers (0-255), such as MNIST stored as text.

The general CSV readers take several seconds for 60,000 rows of 785 values; this works on the bytes
with numpy, a few thousand rows at a time to bound memory, and refuses anything that is not digits,
commas and newlines in a regular grid.
"""

from __future__ import annotations

import numpy as np

from gankit.infra.errors import GankitError

_COMMA, _NEWLINE, _CR, _ZERO = ord(","), ord("\n"), ord("\r"), ord("0")
_ROWS_PER_CHUNK = 4096


def parse_uint8_csv(text: bytes, columns: int, source: str, *, header: bool = True) -> np.ndarray:
    """The (rows, columns) uint8 values of `text`; its first line is skipped when `header`."""
    skip = 0
    if header:
        newline = text.find(b"\n")
        skip = len(text) if newline < 0 else newline + 1
    buf = np.frombuffer(text, dtype=np.uint8)[skip:]
    buf = buf[buf != _CR]  # Windows line ends
    last = buf.size
    while last and buf[last - 1] == _NEWLINE:  # blank lines at the end
        last -= 1
    if last == 0:
        raise GankitError(f"{source} has no data rows: fetch the file again")
    buf = np.append(buf[:last], np.uint8(_NEWLINE))
    line_ends = np.flatnonzero(buf == _NEWLINE)
    rows = np.empty((line_ends.size, columns), np.uint8)
    start = 0
    for first in range(0, line_ends.size, _ROWS_PER_CHUNK):
        stop = min(first + _ROWS_PER_CHUNK, line_ends.size)
        end = line_ends[stop - 1] + 1
        rows[first:stop] = _parse_chunk(buf[start:end], columns, source, first)
        start = end
    return rows


def _parse_chunk(chunk: np.ndarray, columns: int, source: str, first_row: int) -> np.ndarray:
    """Rows of `chunk` (whole lines, each ending in a newline) as uint8 values."""
    def bad(reason: str) -> GankitError:
        return GankitError(f"{source}: {reason} in the data rows from row {first_row + 1} on: fetch the file again")

    is_sep = (chunk == _COMMA) | (chunk == _NEWLINE)
    digits = chunk - np.uint8(_ZERO)  # wraps around below '0', so every non-digit is above 9
    if np.any((digits > 9) & ~is_sep):
        raise bad("a character that is not a digit, comma or newline")
    ends = np.flatnonzero(is_sep)
    lengths = np.diff(ends, prepend=-1) - 1
    if lengths.min() < 1 or lengths.max() > 3:
        raise bad("an empty value or one of more than 3 digits")
    newlines = chunk[ends] == _NEWLINE
    if ends.size % columns or newlines.sum() != ends.size // columns or not newlines[columns - 1::columns].all():
        raise bad(f"a row without exactly {columns} values")
    values = digits[ends - 1].astype(np.int32)
    # The tens and hundreds digits, where a value has them (elsewhere the index points at another
    # value's characters, which np.where drops).
    values += np.where(lengths >= 2, digits[ends - 2], 0).astype(np.int32) * 10
    values += np.where(lengths >= 3, digits[ends - 3], 0).astype(np.int32) * 100
    if values.max() > 255:
        raise bad("a value above 255")
    return values.astype(np.uint8).reshape(-1, columns)
