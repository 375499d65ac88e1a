"""Beats from the log as text, fast enough for a month of them (millions of lines).

The CSV is what ``kindpulse record`` writes: ``timestamp,rr_ms`` with the timestamp in ISO
8601 local time with its UTC offset, to the millisecond, and the RR interval in ms with four
decimals; a ``# gap: reason`` line stands before the first beat after a gap began. Kubios
text is the time from the first beat and the RR interval, both in seconds, tab-separated.

Lines are built as a byte matrix with numpy, a row per beat: the minute's date, hour and
offset come from a table made once per minute, every other digit from integer arithmetic on
the stored values (epoch ms and RR in 1/16 µs), rounded as Python prints the same float, so
the text is the same as formatting each beat on its own. Padding is a NUL byte, removed at
the end.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone

import numpy as np
from numpy.typing import NDArray

from kindpulse.daemon.store import MINUTE_MS, RR_UNITS_PER_MS

__all__ = ["CHUNK", "beats_csv", "beats_json", "beats_kubios"]

I64 = NDArray[np.int64]
U8 = NDArray[np.uint8]

#: Beats formatted at a time (bounds the memory a long export needs).
CHUNK = 1 << 17

_ZERO = ord("0")


def _printed(units: I64, per: int, decimals: int) -> I64:
    """``units / per`` as Python prints the float with ``decimals`` places (``f"{x:.4f}"``),
    as an integer count of the last place. Away from a tie the exact value decides; at an
    exact tie the float is a hair above or below it, so Python's own formatting decides
    (once per distinct value)."""
    q, r = np.divmod(units * 10**decimals, per)
    up = 2 * r > per
    tie = np.flatnonzero(2 * r == per)
    if tie.size:
        values, inverse = np.unique(units[tie], return_inverse=True)
        scale = 10**decimals
        printed = np.array(
            [int(f"{u / per:.{decimals}f}".replace(".", "")) for u in values.tolist()], np.int64
        )
        up[tie] = printed[inverse] > (units[tie] * scale) // per
    out: I64 = q + up
    return out


def _digits(v: I64, width: int, pad: bool) -> U8:
    """Decimal digits of non-negative ``v`` in ``width`` columns: leading zeros kept
    (``pad=False``) or blanked to NUL except the last digit (``pad=True``)."""
    out = np.empty((v.size, width), np.uint8)
    x = v.copy()
    for k in range(width - 1, -1, -1):
        out[:, k] = x % 10 + _ZERO
        x //= 10
    if pad and width > 1:
        lead = np.ones(v.size, np.bool_)
        for k in range(width - 1):
            lead &= out[:, k] == _ZERO
            out[lead, k] = 0
    return out


def _decimal(q: I64, decimals: int) -> U8:
    """``q / 10**decimals`` written with ``decimals`` places, no sign, no padding shown."""
    scale = 10**decimals
    whole = q // scale
    width = max(1, len(str(int(whole.max())))) if q.size else 1
    dot = np.full((q.size, 1), ord("."), np.uint8)
    return np.hstack((_digits(whole, width, True), dot, _digits(q % scale, decimals, False)))


def _strings(texts: Sequence[str]) -> U8:
    """ASCII strings as NUL-padded rows."""
    width = max((len(t) for t in texts), default=0)
    return (
        np.array([t.encode("ascii").ljust(width, b"\0") for t in texts], f"S{width}")
        .view(np.uint8)
        .reshape(len(texts), width)
    )


def _join(columns: Sequence[U8]) -> bytes:
    m = np.hstack(columns)
    flat = m.ravel()
    return bytes(flat[flat != 0].tobytes())


def _const(text: str, n: int) -> U8:
    return np.tile(np.frombuffer(text.encode("ascii"), np.uint8), (n, 1))


def _stamps(t_ms: I64) -> tuple[U8, U8, U8]:
    """Date-hour-minute heads and offset tails per beat, and the seconds.milliseconds."""
    minutes, inverse = np.unique(t_ms // MINUTE_MS, return_inverse=True)
    heads, tails = [], []
    for m in minutes.tolist():
        local = datetime.fromtimestamp(m * 60.0, tz=timezone.utc).astimezone()
        stamp = local.isoformat(timespec="seconds")  # 2026-01-05T09:30:00+01:00
        heads.append(stamp[:17])
        tails.append(stamp[19:])
    within = t_ms % MINUTE_MS
    sec = np.hstack(
        (
            _digits(within // 1000, 2, False),
            _const(".", t_ms.size),
            _digits(within % 1000, 3, False),
        )
    )
    return _strings(heads)[inverse], sec, _strings(tails)[inverse]


def beats_csv(t_ms: I64, rr_units: I64, gaps: Sequence[tuple[int, str]]) -> Iterator[bytes]:
    """``record``'s CSV of the beats (header first), in pieces."""
    yield b"timestamp,rr_ms\n"
    # Gap notes go before the first beat later than the gap's start.
    at = np.searchsorted(t_ms, [g for g, _ in gaps], side="right").tolist()
    notes = sorted((pos, reason) for pos, (_g, reason) in zip(at, gaps, strict=True))
    notes = [(p, r) for p, r in notes if p < t_ms.size]
    cuts = sorted({0, t_ms.size, *(p for p, _ in notes), *range(0, t_ms.size, CHUNK)})
    k = 0
    for a, b in itertools.pairwise(cuts):
        while k < len(notes) and notes[k][0] == a:
            yield f"# gap: {notes[k][1]}\n".encode()
            k += 1
        t, rr = t_ms[a:b], rr_units[a:b]
        head, sec, tail = _stamps(t)
        # RR in ms with four decimals: units / 16000 ms = units · 5/8 ten-thousandths.
        q = _printed(rr, int(RR_UNITS_PER_MS), 4)
        yield _join((head, sec, tail, _const(",", t.size), _decimal(q, 4), _const("\n", t.size)))


def beats_kubios(t_ms: I64, rr_units: I64) -> Iterator[bytes]:
    """Seconds from the first beat (three places) and RR in seconds (six places)."""
    t0 = int(t_ms[0]) if t_ms.size else 0
    for a in range(0, t_ms.size, CHUNK):
        t, rr = t_ms[a : a + CHUNK] - t0, rr_units[a : a + CHUNK]
        q = _printed(rr, int(RR_UNITS_PER_MS) * 1000, 6)
        yield _join((_decimal(t, 3), _const("\t", t.size), _decimal(q, 6), _const("\n", t.size)))


def _exact_ms(rr_units: I64) -> U8:
    """RR in ms written exactly (a 1/16 µs unit is 0.0000625 ms, so seven places always
    suffice), trailing zeros dropped but one place kept: a JSON number that reads back as
    the same float as the log's value."""
    m = _decimal(rr_units * 625, 7)  # units · 0.0000625 ms = units · 625 ten-millionths
    trailing = np.ones(rr_units.size, np.bool_)
    for k in range(m.shape[1] - 1, m.shape[1] - 7, -1):
        trailing &= m[:, k] == _ZERO
        m[trailing, k] = 0
    return m


def beats_json(t_ms: I64, rr_units: I64) -> Iterator[bytes]:
    """``{"beats": [{"timestamp": ..., "rr_ms": ...}, ...]}``, timestamps as in the CSV."""
    yield b'{"beats": ['
    for a in range(0, t_ms.size, CHUNK):
        t, rr = t_ms[a : a + CHUNK], rr_units[a : a + CHUNK]
        head, sec, tail = _stamps(t)
        text = _join(
            (
                _const('{"timestamp": "', t.size),
                head,
                sec,
                tail,
                _const('", "rr_ms": ', t.size),
                _exact_ms(rr),
                _const("}, ", t.size),
            )
        )
        yield text[:-2] if a + CHUNK >= t_ms.size else text
    yield b"]}\n"
