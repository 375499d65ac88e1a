"""Read RR recordings as people have them.

Accepted (documented in the README, "RR files"):

* one interval per line, with or without a header line;
* delimited text (``,`` ``;`` tab, or spaces) with a header naming the RR column, e.g.
  Polar Sensor Logger's ``Phone timestamp;RR-interval [ms]``, ``timestamp,rr_ms`` as
  written by ``kindpulse record``, Elite HRV and Kubios text exports;
* ``#`` starts a comment line; blank lines are skipped.

The RR column is the one whose header mentions ``rr``, ``ibi``, ``nn`` or ``interval``
(else the last numeric column); a timestamp column is one whose header mentions ``time``
or ``date``. Units: a header saying ``ms`` or ``s`` (``[ms]``, ``(s)``, ``_ms``…) wins;
otherwise values whose median is below 10 are seconds, else milliseconds. Timestamps are
ISO 8601 date-times (a time without a zone is local time) or plain numbers of seconds.

Bad input raises :class:`~kindpulse.errors.InputDataError` with one line naming the file
and line, e.g. ``rr.txt:17: 'abc' is not a number``.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kindpulse.errors import InputDataError, NoInputError

MAX_RR_MS = 60_000.0
SECONDS_MEDIAN_LIMIT = 10.0
_DELIMS = (";", ",", "\t")
_RR_NAMES = re.compile(r"\b(rr|ibi|nn|rri|interval)|rr[-_ ]?int|^rr", re.IGNORECASE)
_TIME_NAMES = re.compile(r"time|date", re.IGNORECASE)
_MS_UNIT = re.compile(r"(\[ms\]|\(ms\)|[_ ]ms\b|\bms$|msec|millisec)", re.IGNORECASE)
_S_UNIT = re.compile(r"(\[s\]|\(s\)|[_ ]s\b|\bsec\b|seconds)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Recording:
    """RR intervals read from a file.

    ``rr_ms``: the intervals in ms. ``t_ms``: with a timestamp column, each beat's time in
    ms on the file's own clock, ``T_i = (ts_i − ts_0) + rr_0`` (DESIGN.md, Data contracts),
    else None. ``start``: the wall-clock time of the first timestamp when timestamps are
    date-times (timezone-aware; a zone-less time is taken as local time), else None.
    ``unit``: ``"ms"`` or ``"s"`` as found in the file.
    """

    path: str
    rr_ms: NDArray[np.float64]
    t_ms: NDArray[np.float64] | None
    start: datetime | None
    unit: str


def _split(line: str, delim: str | None) -> list[str]:
    if delim is None:
        return line.split()
    return [f.strip() for f in line.split(delim)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_time(text: str) -> float | datetime | None:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.astimezone()


def read_rr_file(path: str | Path) -> Recording:
    """Read an RR recording; see the module docstring for what is accepted."""
    p = Path(path)
    name = str(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise NoInputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise NoInputError(f"{name}: is a directory, expected an RR file") from None
    except OSError as e:
        raise NoInputError(f"{name}: cannot be read ({e.strerror})") from None
    return parse_rr_bytes(raw, name)


def parse_rr_bytes(raw: bytes, name: str) -> Recording:
    """Parse the bytes of an RR recording named ``name`` (for messages)."""
    if b"\x00" in raw[:65536]:
        raise InputDataError(f"{name}: binary data, expected a text file of RR intervals")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputDataError(
            f"{name}:{line}: not UTF-8 text (byte {e.start}), expected RR intervals as text"
        ) from None
    head = _first_data_lines(text, 3)
    if not head:
        what = "the file is empty" if not text.strip() else "only comments and blank lines"
        raise InputDataError(f"{name}: no RR intervals found ({what})")
    first_no, first = head[0]
    delim = next((d for d in _DELIMS if d in first), None)
    fields = _split(first, delim)
    header: list[str] | None = None
    if not all(_is_number(f) for f in fields) and not _looks_like_data_row(fields):
        header = fields
        head = head[1:]
        if not head:
            raise InputDataError(f"{name}: no RR intervals found (only a header line)")
    rr_col, t_col, unit_hint = _columns(header, head, delim, name)
    if t_col is None:
        fast = _fast_column(text, delim, rr_col, first_no if header is not None else 0)
        if fast is not None:
            unit = unit_hint or _guess_unit(fast)
            rr_ms = fast * 1000.0 if unit == "s" else fast
            if _plausible(rr_ms):
                return Recording(name, rr_ms, None, None, unit)
    # The careful path: line by line, so a problem is named with its line.
    lines = text.splitlines()
    data = [
        (i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if header is not None:
        data = data[1:]
    return _read_columns(data, delim, rr_col, t_col, unit_hint, name)


def _first_data_lines(text: str, count: int) -> list[tuple[int, str]]:
    """The first ``count`` lines that are neither blank nor comments, with line numbers."""
    out: list[tuple[int, str]] = []
    for no, line in enumerate(io.StringIO(text), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append((no, line.rstrip("\r\n")))
            if len(out) == count:
                break
    return out


def _fast_column(text: str, delim: str | None, col: int, skip: int) -> NDArray[np.float64] | None:
    """The RR column of a well-formed file without building a Python object per line
    (numpy's C reader); None when anything is off, so the careful path can say what."""
    try:
        values = np.loadtxt(
            io.StringIO(text),
            dtype=np.float64,
            comments="#",
            delimiter=delim,
            usecols=col,
            skiprows=skip,
            ndmin=1,
            encoding=None,
        )
    except (ValueError, IndexError):
        return None
    return values if values.size else None


def _guess_unit(values: NDArray[np.float64]) -> str:
    return "s" if float(np.median(values)) < SECONDS_MEDIAN_LIMIT else "ms"


def _plausible(rr_ms: NDArray[np.float64]) -> bool:
    return bool(np.all(np.isfinite(rr_ms) & (rr_ms > 0) & (rr_ms <= MAX_RR_MS)))


def _looks_like_data_row(fields: list[str]) -> bool:
    """A first row like ``2024-05-01T10:00:00,812`` is data, not a header."""
    return any(_is_number(f) for f in fields) and all(
        _is_number(f) or _parse_time(f) is not None for f in fields
    )


def _columns(
    header: list[str] | None, data: list[tuple[int, str]], delim: str | None, name: str
) -> tuple[int, int | None, str | None]:
    ncols = len(_split(data[0][1], delim))
    if header is None:
        if ncols == 1:
            return 0, None, None
        sample = _split(data[0][1], delim)
        numeric = [i for i, f in enumerate(sample) if _is_number(f)]
        times = [i for i, f in enumerate(sample) if not _is_number(f) and _parse_time(f)]
        if not numeric:
            raise InputDataError(f"{name}:{data[0][0]}: no numeric column, expected RR intervals")
        return numeric[-1], (times[0] if times else None), None
    rr_candidates = [i for i, h in enumerate(header) if _RR_NAMES.search(h)]
    t_candidates = [
        i for i, h in enumerate(header) if _TIME_NAMES.search(h) and i not in rr_candidates
    ]
    if rr_candidates:
        rr_col = rr_candidates[0]
    elif len(header) == 1:
        rr_col = 0
    else:
        raise InputDataError(
            f"{name}:1: no RR column in the header {header!r} "
            "(expected a column named like 'rr', 'RR-interval [ms]', 'ibi' or 'nn')"
        )
    h = header[rr_col]
    unit = "ms" if _MS_UNIT.search(h) else ("s" if _S_UNIT.search(h) else None)
    return rr_col, (t_candidates[0] if t_candidates else None), unit


def _read_columns(
    data: list[tuple[int, str]],
    delim: str | None,
    rr_col: int,
    t_col: int | None,
    unit_hint: str | None,
    name: str,
) -> Recording:
    n = len(data)
    if delim is None and t_col is None and rr_col == 0:
        texts = [ln.split()[0] if " " in ln or "\t" in ln else ln.strip() for _, ln in data]
    else:
        texts = []
        for line_no, ln in data:
            parts = _split(ln, delim)
            if rr_col >= len(parts):
                raise InputDataError(
                    f"{name}:{line_no}: {len(parts)} columns, expected at least {rr_col + 1}"
                )
            texts.append(parts[rr_col])
    try:
        values = np.array(texts, dtype=np.float64)
    except ValueError:
        values = np.empty(n, dtype=np.float64)
        for k, tx in enumerate(texts):
            try:
                values[k] = float(tx)
            except ValueError:
                raise InputDataError(f"{name}:{data[k][0]}: {tx!r} is not a number") from None
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        k = int(np.argmax(bad))
        raise InputDataError(
            f"{name}:{data[k][0]}: {texts[k]!r} is not an RR interval "
            "(expected a positive, finite number)"
        )
    unit = unit_hint or _guess_unit(values)
    rr_ms = values * 1000.0 if unit == "s" else values
    too_big = rr_ms > MAX_RR_MS
    if too_big.any():
        k = int(np.argmax(too_big))
        raise InputDataError(
            f"{name}:{data[k][0]}: {texts[k]!r} {unit} is not an RR interval "
            f"(expected under {MAX_RR_MS / 1000:g} s)"
        )
    t_ms: NDArray[np.float64] | None = None
    start: datetime | None = None
    if t_col is not None:
        t_ms, start = _timestamps(data, delim, t_col, rr_ms, name)
    return Recording(name, rr_ms, t_ms, start, unit)


def _timestamps(
    data: list[tuple[int, str]],
    delim: str | None,
    t_col: int,
    rr_ms: NDArray[np.float64],
    name: str,
) -> tuple[NDArray[np.float64], datetime | None]:
    secs = np.empty(len(data), dtype=np.float64)
    first_dt: datetime | None = None
    for k, (line_no, ln) in enumerate(data):
        parts = _split(ln, delim)
        text = parts[t_col] if t_col < len(parts) else ""
        value = _parse_time(text)
        if value is None:
            raise InputDataError(
                f"{name}:{line_no}: {text!r} is not a timestamp "
                "(expected ISO 8601 like 2024-05-01T10:00:00+02:00, or seconds)"
            )
        if isinstance(value, datetime):
            if first_dt is None:
                if k != 0:
                    raise InputDataError(f"{name}:{line_no}: timestamps mix numbers and dates")
                first_dt = value
            secs[k] = (value - first_dt).total_seconds()
        else:
            if first_dt is not None:
                raise InputDataError(f"{name}:{line_no}: timestamps mix numbers and dates")
            secs[k] = value
    if not np.all(np.isfinite(secs)):
        k = int(np.argmax(~np.isfinite(secs)))
        raise InputDataError(f"{name}:{data[k][0]}: timestamp is not a finite number")
    back = np.flatnonzero(np.diff(secs) < 0)
    if back.size:
        k = int(back[0]) + 1
        raise InputDataError(
            f"{name}:{data[k][0]}: timestamp goes back in time (expected rows in time order)"
        )
    t_ms = (secs - secs[0]) * 1000.0 + rr_ms[0]
    if not math.isfinite(float(t_ms[-1])):
        raise InputDataError(f"{name}: timestamps out of range")
    return t_ms, first_dt
