"""Read accelerometer recordings and put their movement on an RR recording's time axis.

Accepted (documented in the README, "Movement from a file"):

* Polar Sensor Logger's accelerometer export,
  ``Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]``: ISO 8601 phone times
  (with or without fractional seconds; without a UTC offset they are local time, with one
  they are absolute) and the strap's own sample times in ns, at any rate (25-200 Hz);
* ``timestamp,x_mg,y_mg,z_mg``: ISO 8601 times (with or without an offset) or Unix epoch
  seconds.

``,`` ``;`` and tab delimit; ``#`` lines are comments; blank lines are skipped.

Sample times. A phone timestamp is when a Bluetooth frame *arrived*: several samples share
one, frames come in bursts, and each carries some latency (never negative). The strap's
sensor timestamps are evenly spaced but on the strap's own clock, which drifts against the
phone's by tens of ppm. With both, a sample's time is a straight line of its sensor time,
``phone = a + b·sensor``, fitted under the points (the lower envelope: the least-delayed
sample of each few seconds, a trimmed least-squares line through those minima for the
slope, then lowered to their 2nd percentile; phone times written in whole ms or seconds are
taken as cut, so the line rises by one step), which keeps the even spacing and takes out
the drift. Without sensor timestamps the times are used as they are (rows up to
:data:`JITTER_TOLERANCE_S` out of order are put in order).

Everything is read with numpy over the whole file at once (the byte buffer, its line and
delimiter positions, numpy's datetime64 parser over the fixed-width date-time bytes, the
digits of the numbers one character position at a time): a 4-hour recording at 25 Hz
(360,000 rows) reads in about 0.5 s.

Bad input raises :class:`~kindpulse.errors.InputDataError` with one line naming the file
and line (exit 65); a missing file :class:`NoInputError` (exit 66).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kindpulse.errors import InputDataError
from kindpulse.motion import MotionTrack, movement_per_second

from .rrfile import read_input

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

__all__ = [
    "JITTER_TOLERANCE_S",
    "AlignedMotion",
    "MotionSamples",
    "load_motion",
    "read_motion_file",
    "track_on_recording",
]

#: Phone timestamps may go back this much between rows (frames arriving out of step)
#: before the file counts as out of order.
JITTER_TOLERANCE_S = 1.0
#: The block of sensor time whose least-delayed sample is one point of the lower envelope.
ENVELOPE_BLOCK_S = 4.0
#: The share (%) of envelope points allowed under the fitted line.
ENVELOPE_PERCENTILE = 2.0
#: A fitted clock rate further than this from the phone's is not a drifting clock but a
#: wrong column or unit.
MAX_DRIFT = 0.01
#: Unix epoch seconds before this (2000-01-01) are not a wall-clock time.
MIN_EPOCH_S = 946_684_800.0

_POLAR_HEADER = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]"
_PLAIN_HEADER = "timestamp,x_mg,y_mg,z_mg"
_EXPECTED = f"expected a header '{_POLAR_HEADER}' or '{_PLAIN_HEADER}'"
_TIME_EXAMPLE = "ISO 8601 like 2026-01-05T09:00:00.120 (optionally +01:00) or Unix seconds"

_PHONE_TIME = re.compile(r"^(phone[ _]?)?(time[ _]?stamp|time|date[ _]?time)$", re.IGNORECASE)
_SENSOR_TIME = re.compile(r"^sensor[ _]?time[ _]?stamp[ _]?(\[ns\]|\(ns\)|_ns)$", re.IGNORECASE)
_AXIS = re.compile(r"^(?P<axis>[xyz])[ _]?(\[mg\]|\(mg\)|mg)$", re.IGNORECASE)
_DELIMS = (";", ",", "\t")


@dataclass(frozen=True, slots=True)
class MotionSamples:
    """Accelerometer samples read from a file.

    ``t_s``: each sample's time in seconds after ``t0_epoch_s`` (whole Unix seconds, UTC),
    non-decreasing; ``x_mg``, ``y_mg``, ``z_mg``: acceleration in milli-g. ``layout``:
    ``"polar"`` or ``"plain"``. ``drift_ppm``: how much faster the strap's clock ran than the
    phone's, when the file had sensor timestamps (else None).
    """

    path: str
    t0_epoch_s: float
    t_s: F64
    x_mg: F64
    y_mg: F64
    z_mg: F64
    layout: str
    drift_ppm: float | None

    @property
    def rate_hz(self) -> float:
        """The median sampling rate."""
        if self.t_s.size < 2:
            return math.nan
        d = float(np.median(np.diff(self.t_s)))
        return 1.0 / d if d > 0 else math.nan


# -- reading -----------------------------------------------------------------------------


def read_motion_file(path: str | Path) -> MotionSamples:
    """Read an accelerometer recording; see the module docstring for what is accepted."""
    return parse_motion_bytes(read_input(path, "an accelerometer file"), str(path))


@dataclass(frozen=True, slots=True)
class _Lines:
    """Where each non-blank, non-comment line lies in the buffer (``end`` excludes the line
    end) and its 1-based line number."""

    start: I64
    end: I64
    number: I64


def _lines(buf: NDArray[np.uint8]) -> _Lines:
    nl = np.flatnonzero(buf == 10).astype(np.int64)
    start = np.r_[np.int64(0), nl + 1]
    end = np.r_[nl, np.int64(buf.size)]
    number = np.arange(1, start.size + 1, dtype=np.int64)
    if buf.size:
        cr = (end > start) & (buf[np.maximum(end - 1, 0)] == 13)
        end = end - cr
    # Leading and trailing blanks off each line (a few passes; lines rarely have any).
    for _ in range(8):
        first, last = buf[np.minimum(start, buf.size - 1)], buf[np.maximum(end - 1, 0)]
        lead = ((first == 32) | (first == 9)) & (end > start)
        trail = ((last == 32) | (last == 9)) & (end > start)
        if not (lead.any() or trail.any()):
            break
        start = start + lead
        end = end - trail
    keep = end > start
    if buf.size:
        keep &= buf[np.minimum(start, buf.size - 1)] != ord("#")
    return _Lines(start[keep], end[keep], number[keep])


def _text(buf: NDArray[np.uint8], a: int, b: int) -> str:
    return bytes(buf[a:b]).decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class _Header:
    delim: str
    ncols: int
    time_col: int
    sensor_col: int | None
    axes: tuple[int, int, int]


def _header(fields: list[str], delim: str) -> _Header | None:
    time_col = sensor_col = None
    axes: dict[str, int] = {}
    for i, f in enumerate(fields):
        if _SENSOR_TIME.match(f) and sensor_col is None:
            sensor_col = i
        elif _PHONE_TIME.match(f) and time_col is None:
            time_col = i
        elif (m := _AXIS.match(f)) is not None and m["axis"].lower() not in axes:
            axes[m["axis"].lower()] = i
    if time_col is None or set(axes) != {"x", "y", "z"}:
        return None
    return _Header(delim, len(fields), time_col, sensor_col, (axes["x"], axes["y"], axes["z"]))


def parse_motion_bytes(raw: bytes, name: str) -> MotionSamples:
    """Parse the bytes of an accelerometer recording named ``name`` (for messages)."""
    if b"\x00" in raw[:65536]:
        raise InputDataError(f"{name}: binary data, expected a text file of accelerometer samples")
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputDataError(
            f"{name}:{line}: not UTF-8 text (byte {e.start}), expected accelerometer samples"
        ) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = b"   " + raw[3:]
    if not raw or raw.isspace():
        raise InputDataError(f"{name}: no accelerometer samples found (the file is empty)")
    buf = np.frombuffer(raw, dtype=np.uint8)
    lines = _lines(buf)
    if lines.start.size == 0:
        raise InputDataError(
            f"{name}: no accelerometer samples found (only comments and blank lines)"
        )
    head_no = int(lines.number[0])
    head_text = _text(buf, int(lines.start[0]), int(lines.end[0]))
    delim = next((d for d in _DELIMS if d in head_text), None)
    hdr = None
    if delim is not None:
        hdr = _header([f.strip() for f in head_text.split(delim)], delim)
    if hdr is None:
        raise InputDataError(
            f"{name}:{head_no}: {head_text[:80]!r} is not a known header, {_EXPECTED}"
        )
    rows = _Lines(lines.start[1:], lines.end[1:], lines.number[1:])
    if rows.start.size == 0:
        raise InputDataError(f"{name}: no accelerometer samples (only a header line)")
    # Zeros on both sides, so fixed-width windows never run off the buffer.
    pad = np.concatenate([np.zeros(_PAD, np.uint8), buf, np.zeros(_PAD, np.uint8)])
    fstart, fend = _fields(buf, rows, hdr, name)
    fstart += _PAD
    fend += _PAD
    tc = hdr.time_col
    iso = bool(pad[fstart[0, tc] + 4] == ord("-"))
    # Only the columns used are read (an export may add others, or end rows with a delimiter).
    used = {tc, *hdr.axes} | ({hdr.sensor_col} if hdr.sensor_col is not None else set())
    numeric = sorted(c for c in used if not (iso and c == tc))
    col: dict[int, F64] = {}
    for c in numeric:
        expected = f"a timestamp, {_TIME_EXAMPLE}" if c == tc else "a finite number"
        col[c] = _number_column(pad, rows, fstart[:, c], fend[:, c], name, expected)
    x, y, z = (col[c] for c in hdr.axes)
    if iso:
        micros = _iso_column(pad, rows, fstart[:, tc], fend[:, tc], name)
        t0 = float(micros[0] // 1_000_000)
        phone = (micros - int(t0) * 1_000_000).astype(np.float64) / 1e6
        resolution = _resolution(micros)
    else:
        secs = col[tc]
        if float(secs.min()) < MIN_EPOCH_S:
            k = int(np.argmin(secs))
            raise InputDataError(
                f"{name}:{rows.number[k]}: {float(secs[k])!r} seconds is not a wall-clock time "
                "(expected Unix epoch seconds, after 2000-01-01, or ISO 8601)"
            )
        t0 = float(math.floor(float(secs[0])))
        phone = secs - t0
        resolution = 0.0
    _check_order(phone, rows.number, name, "time", JITTER_TOLERANCE_S)
    drift: float | None = None
    if hdr.sensor_col is not None:
        sensor_ns = col[hdr.sensor_col]
        _check_order(sensor_ns / 1e9, rows.number, name, "sensor timestamp", 0.0)
        sensor = (sensor_ns - sensor_ns[0]) / 1e9
        t, drift = _map_sensor_clock(sensor, phone, resolution, name)
        layout = "polar"
    else:
        t = phone
        layout = "plain"
        if np.any(np.diff(t) < 0):
            order = np.argsort(t, kind="stable")
            t, x, y, z = t[order], x[order], y[order], z[order]
    return MotionSamples(name, t0, t, x, y, z, layout, drift)


#: Zero bytes around the buffer (longer than any field that is read).
_PAD = 40


def _fields(buf: NDArray[np.uint8], rows: _Lines, hdr: _Header, name: str) -> tuple[I64, I64]:
    """Start and end of every field of every row, shape ``(rows, columns)``; a row with
    another number of fields is named."""
    dpos = np.flatnonzero(buf == ord(hdr.delim)).astype(np.int64)
    n, per = rows.start.size, hdr.ncols - 1
    # The usual case at a glance: exactly ``per`` delimiters after the header, each row's
    # inside its own line. Else (comments holding delimiters, a row with more or fewer
    # fields) every row is counted.
    ds = dpos[np.searchsorted(dpos, rows.start[0]) :]
    grid: I64 | None = None
    if ds.size == n * per:
        grid = ds.reshape(n, per)
        if not (np.all(grid[:, 0] >= rows.start) and np.all(grid[:, -1] < rows.end)):
            grid = None
    if grid is None:
        first = np.searchsorted(dpos, rows.start)
        count = np.searchsorted(dpos, rows.end) - first
        wrong = count != per
        if wrong.any():
            k = int(np.argmax(wrong))
            raise InputDataError(
                f"{name}:{rows.number[k]}: {int(count[k]) + 1} fields, expected {hdr.ncols} "
                f"separated by {hdr.delim!r}"
            )
        grid = dpos[first[:, None] + np.arange(per)]
    fstart = np.empty((n, hdr.ncols), dtype=np.int64)
    fend = np.empty((n, hdr.ncols), dtype=np.int64)
    fstart[:, 0] = rows.start
    fend[:, -1] = rows.end
    fend[:, :-1] = grid
    fstart[:, 1:] = grid + 1
    # Blanks around a field (rare: a pass that finds none ends it).
    last = buf.size - 1
    for _ in range(8):
        lead = (fend > fstart) & (buf[np.minimum(fstart, last)] == 32)
        trail = (fend > fstart) & (buf[np.maximum(fend - 1, 0)] == 32)
        if not (lead.any() or trail.any()):
            break
        fstart += lead
        fend -= trail
    return fstart, fend


def _windows(pad: NDArray[np.uint8], at: I64, width: int) -> NDArray[np.uint8]:
    """The ``width`` bytes from each position ``at``, shape ``(len(at), width)`` (a copy)."""
    return np.lib.stride_tricks.sliding_window_view(pad, width)[at]


def _iso_column(pad: NDArray[np.uint8], rows: _Lines, start: I64, end: I64, name: str) -> I64:
    """ISO 8601 date-times as Unix microseconds: numpy's datetime64 parser over the
    fixed-width date-time part, then each row's UTC offset (its own, or the local one for a
    time without a zone)."""
    length = end - start
    # A zone at the end: Z, ±HH:MM or ±HHMM.
    zulu = pad[end - 1] == ord("Z")
    sign_c = pad[end - 6]
    colon = ((sign_c == 43) | (sign_c == 45)) & (pad[end - 3] == ord(":")) & (length >= 25)
    sign_p = pad[end - 5]
    compact = ~colon & ((sign_p == 43) | (sign_p == 45)) & (length >= 24)
    off_len = np.where(zulu, 1, np.where(colon, 6, np.where(compact, 5, 0)))
    body = length - off_len
    bad = (body < 19) | (body > 29)
    bad |= (pad[start + 10] != ord("T")) & (pad[start + 10] != ord(" "))
    bad |= (pad[start + 13] != ord(":")) | (pad[start + 16] != ord(":"))
    width = int(np.clip(body, 19, 29).max())
    win = _windows(pad, start, width)
    win = win * (np.arange(width) < body[:, None])
    text = np.ascontiguousarray(win).view(f"S{width}").reshape(-1)
    micros: I64 | None = None
    if not bad.any():
        try:
            micros = text.astype("datetime64[us]").view(np.int64)
        except ValueError:
            micros = None
    if micros is None or bool(np.any(micros == np.iinfo(np.int64).min)):
        _name_bad_time(pad, rows, start, end, bad, name)
    assert micros is not None
    has_off = off_len > 1
    if has_off.any():
        s0 = end - off_len
        hm = [pad[s0 + i].astype(np.int64) - 48 for i in (1, 2)]
        mm_at = np.where(colon, s0 + 4, s0 + 3)
        mm = [pad[mm_at + i].astype(np.int64) - 48 for i in (0, 1)]
        digits = np.stack([*hm, *mm], axis=1)
        wrong = has_off & np.any((digits < 0) | (digits > 9), axis=1)
        if wrong.any():
            _name_bad_time(pad, rows, start, end, wrong, name)
        sign = np.where(pad[s0] == ord("-"), -1, 1)
        offset_s = sign * ((hm[0] * 10 + hm[1]) * 3600 + (mm[0] * 10 + mm[1]) * 60)
        micros = micros - np.where(has_off, offset_s, 0) * 1_000_000
    naive = ~has_off & ~zulu
    if naive.any():
        micros = micros - np.where(naive, _local_offsets(micros // 1_000_000), 0) * 1_000_000
    return micros


def _name_bad_time(
    pad: NDArray[np.uint8],
    rows: _Lines,
    start: I64,
    end: I64,
    flagged: NDArray[np.bool_],
    name: str,
) -> None:
    """Raise for the first field that is not an ISO 8601 date-time (Python, only on the way
    to an error)."""
    for k in range(start.size):
        text = _text(pad, int(start[k]), int(end[k]))
        ok = not bool(flagged[k])
        if ok:
            try:
                ok = len(text) >= 19 and bool(
                    datetime.fromisoformat(text.replace("Z", "+00:00")).year
                )
            except ValueError:
                ok = False
        if not ok:
            raise InputDataError(
                f"{name}:{rows.number[k]}: {text!r} is not a timestamp (expected {_TIME_EXAMPLE})"
            )
    raise InputDataError(f"{name}: the timestamps could not be read")  # pragma: no cover


def _local_offsets(wall: I64) -> I64:
    """The local UTC offset (s) of each local wall-clock time (seconds since 1970 as if it
    were UTC), as :meth:`datetime.astimezone` takes a time without a zone; looked up once
    per hour (rows in time order change hour rarely)."""
    hours = wall // 3600
    change = np.flatnonzero(hours[1:] != hours[:-1]) + 1
    if change.size > 10_000:
        uniq, inverse = np.unique(hours, return_inverse=True)
        return np.array([_offset_at(h) for h in uniq.tolist()], dtype=np.int64)[inverse]
    firsts = np.r_[0, change]
    offs = np.array([_offset_at(int(hours[i])) for i in firsts.tolist()], dtype=np.int64)
    return np.repeat(offs, np.diff(np.r_[firsts, hours.size]))


def _offset_at(hour: int) -> int:
    naive = datetime.fromtimestamp(hour * 3600, tz=timezone.utc).replace(tzinfo=None)
    delta = naive.astimezone().utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _number_column(
    pad: NDArray[np.uint8], rows: _Lines, start: I64, end: I64, name: str, expected: str
) -> F64:
    """A numeric column. Plain decimals (``-12``, ``3.25``, an 18-digit count of ns) are
    read digit by digit over the whole column at once; a column with anything else
    (exponents, ``nan``) goes through numpy's C parser; a field that is not a finite
    number is named."""
    column = _decimals(pad, start, end)
    if column is None:
        column = _parsed(pad, start, end)
    if column is None or not np.all(np.isfinite(column)):
        _name_bad_number(pad, rows, start, end, name, expected)
        raise InputDataError(f"{name}: the numbers could not be read")  # pragma: no cover
    return column


def _decimals(pad: NDArray[np.uint8], start: I64, end: I64) -> F64 | None:
    """``[+-]digits[.digits]`` fields (at most 18 digits) as numbers; None when any field
    is something else. One pass per character position, from the last: each pass looks at
    one byte of every field."""
    sign_ch = pad[start]
    neg = sign_ch == ord("-")
    length = end - (start + (neg | (sign_ch == ord("+"))))
    if length.size == 0 or int(length.min()) < 1 or int(length.max()) > 19:
        return None
    width = int(length.max())
    n = length.size
    acc = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    pos = end - 1
    pow10 = 1
    for k in range(width):
        c = pad[pos] - np.uint8(48)  # a digit is 0-9, anything else wraps to more
        inside = length > k
        digit = c <= 9
        if k < int(length.min()):
            if not digit.all():
                break  # a dot (or a bad byte) among the shortest fields' digits
            acc += c.astype(np.int64) * pow10
        else:
            bad |= inside & ~digit
            acc += np.where(inside & digit, c, np.uint8(0)).astype(np.int64) * pow10
        pos -= 1
        pow10 *= 10
    else:
        if bad.any():
            return None
        values = acc.astype(np.float64)
        return np.where(neg, -values, values)
    return _decimals_with_point(pad, start, end)


def _decimals_with_point(pad: NDArray[np.uint8], start: I64, end: I64) -> F64 | None:
    """:func:`_decimals` for fields that may hold a decimal point."""
    sign_ch = pad[start]
    neg = sign_ch == ord("-")
    s = start + (neg | (sign_ch == ord("+")))
    length = end - s
    width = int(length.max())
    # Right-aligned: each field's last character in the last column.
    win = _windows(pad, end - width, width)
    inside = np.arange(width) >= (width - length)[:, None]
    digit = win - np.uint8(48)
    is_digit = digit <= 9
    is_dot = win == ord(".")
    if np.any(inside & ~is_digit & ~is_dot):
        return None
    digit = np.where(inside & is_digit, digit, np.uint8(0))
    dots = np.count_nonzero(inside & is_dot, axis=1)
    if int(dots.max()) > 1 or np.any(length - dots < 1) or np.any(length - dots > 18):
        return None
    cols = np.ascontiguousarray(digit.T).astype(np.int64)  # one row per position
    dot_at = inside & is_dot
    skip = np.ascontiguousarray(dot_at.T)
    acc = np.zeros(s.size, dtype=np.int64)
    for k in range(width):
        acc = np.where(skip[k], acc, acc * 10 + cols[k])
    frac = np.where(dots > 0, width - 1 - np.argmax(dot_at, axis=1), 0)
    values = acc.astype(np.float64) / 10.0 ** frac.astype(np.float64)
    return np.where(neg, -values, values)


def _parsed(pad: NDArray[np.uint8], start: I64, end: I64) -> F64 | None:
    """One column through numpy's C number parser; None when it cannot read every field."""
    size = pad.size + 1
    keep = np.cumsum(np.bincount(start, minlength=size) - np.bincount(end, minlength=size))
    text = np.where(keep[:-1] > 0, pad, np.uint8(32)).tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            flat = np.fromstring(text, dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    return flat if flat.size == start.size else None


def _name_bad_number(
    pad: NDArray[np.uint8], rows: _Lines, start: I64, end: I64, name: str, expected: str
) -> None:
    """Raise for the first field of a column that is not a finite number (a loop in Python,
    only on the way to an error)."""
    for k in range(start.size):
        tx = _text(pad, int(start[k]), int(end[k]))
        try:
            v = float(tx)
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            raise InputDataError(
                f"{name}:{rows.number[k]}: {tx!r} is not a number (expected {expected})"
            )


def _check_order(t: F64, number: I64, name: str, what: str, tolerance: float) -> None:
    step = np.diff(t)
    back = step < -tolerance
    if back.any():
        k = int(np.argmax(back))
        amount = f"{-float(step[k]):.3f} s"
        allowed = f"; up to {tolerance:g} s of jitter is accepted" if tolerance > 0 else ""
        raise InputDataError(
            f"{name}:{number[k + 1]}: {what} goes back {amount} "
            f"(expected rows in time order{allowed})"
        )


def _resolution(micros: I64) -> float:
    """The step phone times are written in (1 s, 0.1 s … 1 µs), 0 for finer."""
    for step in (1_000_000, 100_000, 10_000, 1000, 100, 10, 1):
        if not np.any(micros % step):
            return step / 1e6
    return 0.0  # pragma: no cover (micros are whole)


def _map_sensor_clock(sensor: F64, phone: F64, resolution: float, name: str) -> tuple[F64, float]:
    """Sample times on the phone's clock from the strap's evenly spaced sensor times: the
    line ``phone = a + b·sensor`` under the (sensor, phone) points. Phone times written in
    steps of ``resolution`` (cut, not rounded, as date-time formatters do) lie up to one
    step before the arrival: the line is raised by that step, and the envelope's blocks are
    long enough (30 steps) to hold an arrival just after a step. Returns the times and the
    strap clock's drift in ppm."""
    lag = phone - sensor
    block_s = max(ENVELOPE_BLOCK_S, 30.0 * resolution)
    block = np.floor(sensor / block_s).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    # The least-delayed sample of each block.
    lows = np.minimum.reduceat(lag, starts)
    ends = np.r_[starts[1:], sensor.size]
    seg = np.repeat(np.arange(starts.size), ends - starts)
    is_low = lag == lows[seg]
    pick = np.flatnonzero(is_low)
    pick = pick[np.r_[True, seg[pick][1:] != seg[pick][:-1]]]
    xs, ys = sensor[pick], lag[pick]
    slope = 0.0
    intercept = float(ys.min())
    if xs.size >= 3 and float(xs[-1] - xs[0]) >= 30.0:
        keep = np.ones(xs.size, dtype=bool)
        for _ in range(4):
            slope, intercept = (float(v) for v in np.polyfit(xs[keep], ys[keep], 1))
            r = ys - (intercept + slope * xs)
            med = float(np.median(r[keep]))
            mad = 1.4826 * float(np.median(np.abs(r[keep] - med)))
            new = r <= med + 3.0 * max(mad, 1e-4)
            if new.sum() < 3 or np.array_equal(new, keep):
                break
            keep = new
        r = ys - (intercept + slope * xs)
        # The line lies under the envelope: latency is never negative, so the least-delayed
        # blocks are the truest; a low percentile rather than the minimum, so a stray block
        # (a phone clock stepping back) cannot pull it down.
        intercept += float(np.percentile(r, ENVELOPE_PERCENTILE))
    sensor_span = float(sensor[-1] - sensor[0])
    phone_span = float(phone[-1] - phone[0])
    # A rate far from the phone's, or spans that differ by more than the latency could
    # explain, is no drifting clock but another unit.
    if abs(slope) > MAX_DRIFT or abs(sensor_span - phone_span) > 2.0 + MAX_DRIFT * phone_span:
        raise InputDataError(
            f"{name}: the sensor timestamps span {sensor_span:.3f} s where the phone's span "
            f"{phone_span:.3f} s (expected the strap's clock in ns, within 1 % of the phone's)"
        )
    intercept += resolution
    return intercept + (1.0 + slope) * sensor, -slope / (1.0 + slope) * 1e6


# -- on the beats' time axis -------------------------------------------------------------


def track_on_recording(
    samples: MotionSamples,
    rr_start: datetime | None,
    rr_t_ms: F64 | None,
    rr_name: str,
) -> MotionTrack:
    """Per-second movement of ``samples`` on an RR recording's time axis.

    ``rr_start`` and ``rr_t_ms`` are the recording's (:class:`~kindpulse.sensors.rrfile.
    Recording`): the wall-clock time of its first timestamp and each beat's time in ms,
    ``T_i = (ts_i − ts_0) + rr_0``. So beat time ``T`` is the instant
    ``start + (T − T_0)``, and a sample at instant ``u`` sits at ``u − start + T_0``.
    """
    if rr_start is None or rr_t_ms is None or rr_t_ms.size == 0:
        raise InputDataError(_no_wall_clock(rr_name, samples.path))
    origin = rr_start.timestamp() - float(rr_t_ms[0]) / 1000.0
    axis = (samples.t0_epoch_s - origin) + samples.t_s
    last_s = float(rr_t_ms[-1]) / 1000.0
    if axis.size == 0 or float(axis[-1]) <= 0.0 or float(axis[0]) >= last_s:
        raise InputDataError(
            f"{samples.path}: {_span(samples.t0_epoch_s + samples.t_s)} does not overlap "
            f"{rr_name}: {_span(np.array([origin + float(rr_t_ms[0]) / 1000.0, origin + last_s]))}"
        )
    # Seconds are whole seconds of the wall clock, as the live daemon groups them, then
    # moved onto the beats' axis: the same samples give the same values in both. Only the
    # seconds ending on the recording (up to a second past its last beat) are kept.
    end, mg = movement_per_second(samples.t_s, samples.x_mg, samples.y_mg, samples.z_mg)
    end = end + (samples.t0_epoch_s - origin)
    keep = (end >= 0.0) & (end <= last_s + 1.0)
    return MotionTrack(end[keep], mg[keep])


@dataclass(frozen=True, slots=True)
class AlignedMotion:
    """An accelerometer file put on an RR recording's time axis: the samples as read, the
    per-second track on the beats' axis, and the recording's length (s, the last beat)."""

    samples: MotionSamples
    track: MotionTrack
    recording_s: float

    @property
    def seconds_covered(self) -> int:
        """Seconds of the recording (0 to its last beat) with a movement value."""
        e = self.track.end_s
        return int(np.count_nonzero((e > 0.0) & (e <= self.recording_s)))

    def window_movement(self, ends: Sequence[float], window_s: float) -> list[float | None]:
        """Each window's movement (mg), None where it is not known."""
        mg = self.track.window_movement(np.asarray(ends, dtype=np.float64), window_s)
        return [None if math.isnan(v) else v for v in mg.tolist()]

    def summary(self, moving: Sequence[float | None]) -> dict[str, Any]:
        """The ``motion`` member of ``analyze --format json``, given each scoring window's
        movement (:meth:`window_movement`)."""
        known = sum(v is not None for v in moving)
        covered = self.seconds_covered
        rate = self.samples.rate_hz
        return {
            "file": self.samples.path,
            "layout": self.samples.layout,
            "rate_hz": round(rate, 3) if math.isfinite(rate) else None,
            "drift_ppm": (
                None if self.samples.drift_ppm is None else round(self.samples.drift_ppm, 2)
            ),
            "recording_s": self.recording_s,
            "seconds_covered": covered,
            "covered_share": covered / self.recording_s if self.recording_s > 0 else 0.0,
            "windows": len(moving),
            "windows_with_movement": known,
            "windows_share": known / len(moving) if len(moving) else 0.0,
        }

    def describe(self, moving: Sequence[float | None]) -> str:
        """One line for the terminal: where the movement came from and how much it covered,
        given each scoring window's movement (:meth:`window_movement`)."""
        doc = self.summary(moving)
        return (
            f"Movement from {self.samples.path}: {_duration(doc['seconds_covered'])} of the "
            f"{_duration(self.recording_s)} recording ({100 * doc['covered_share']:.0f} %), "
            f"known in {doc['windows_with_movement']} of {doc['windows']} scoring windows."
        )


def load_motion(
    acc_path: str | Path, rr_start: datetime | None, rr_t_ms: F64 | None, rr_name: str
) -> AlignedMotion:
    """:func:`read_motion_file` then :func:`track_on_recording`: what ``analyze --motion``
    and ``import --motion`` both do. The RR file's lack of date-time timestamps is said
    before the accelerometer file is read (it could not help)."""
    if rr_start is None or rr_t_ms is None or rr_t_ms.size == 0:
        raise InputDataError(_no_wall_clock(rr_name, str(acc_path)))
    samples = read_motion_file(acc_path)
    track = track_on_recording(samples, rr_start, rr_t_ms, rr_name)
    return AlignedMotion(samples, track, float(rr_t_ms[-1]) / 1000.0)


def _no_wall_clock(rr_name: str, acc_name: str) -> str:
    return (
        f"{rr_name}: no date-time timestamps, so the movement in {acc_name} cannot be placed "
        "on its beats (expected an RR file with ISO 8601 times, e.g. 'timestamp,rr_ms' as "
        "'kindpulse record' writes)"
    )


def _duration(seconds: float) -> str:
    m = round(seconds / 60.0)
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min"


def _span(epoch: F64) -> str:
    def at(t: float) -> str:
        return datetime.fromtimestamp(t, tz=timezone.utc).astimezone().isoformat(timespec="seconds")

    return f"{at(float(epoch[0]))} to {at(float(epoch[-1]))}"
