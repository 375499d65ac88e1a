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
import itertools
import math
import re
import warnings
from collections.abc import Iterator
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


def read_input(path: str | Path, expected: str) -> bytes:
    """The bytes of an input file; a missing or unreadable one is one line
    (:class:`~kindpulse.errors.NoInputError`): ``expected`` names what it should be
    ("an RR file")."""
    name = str(path)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise NoInputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise NoInputError(f"{name}: is a directory, expected {expected}") from None
    except OSError as e:
        raise NoInputError(f"{name}: cannot be read ({e.strerror})") from None


def read_rr_file(path: str | Path) -> Recording:
    """Read an RR recording; see the module docstring for what is accepted."""
    return parse_rr_bytes(read_input(path, "an RR file"), str(path))


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
    layout = _layout_of(head, bool(text.strip()), name)
    delim, rr_col, t_col, unit_hint = layout.delim, layout.rr_col, layout.t_col, layout.unit_hint
    if t_col is None:
        fast = _fast_column(text, delim, rr_col, head[0][0] if layout.header else 0)
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
    if layout.header:
        data = data[1:]
    return _read_columns(data, delim, rr_col, t_col, unit_hint, name)


def _layout_of(head: list[tuple[int, str]], any_text: bool, name: str) -> _Layout:
    """The delimiter, header, RR and timestamp columns and a unit from the header, found
    from the first data lines ``head`` (line number, text) of a file."""
    if not head:
        what = "the file is empty" if not any_text else "only comments and blank lines"
        raise InputDataError(f"{name}: no RR intervals found ({what})")
    delim = next((d for d in _DELIMS if d in head[0][1]), None)
    fields = _split(head[0][1], delim)
    header: list[str] | None = None
    if not all(_is_number(f) for f in fields) and not _looks_like_data_row(fields):
        header = fields
        head = head[1:]
        if not head:
            raise InputDataError(f"{name}: no RR intervals found (only a header line)")
    rr_col, t_col, unit_hint = _columns(header, head, delim, name)
    return _Layout(delim, rr_col, t_col, unit_hint, header is not None)


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


# ---------------------------------------------------------------------------------------
# Streaming: the same file, values, times and messages, in constant memory

#: Bytes the streaming reader takes at a time (cut after the last line end in them): about
#: 2,500 lines of RR text, so a week-long recording never sits in memory whole.
BLOCK_BYTES = 1 << 14
#: The first bytes looked at for NUL (binary data), as :func:`parse_rr_bytes` does.
_BINARY_PROBE = 65536

F64 = NDArray[np.float64]


def stream_rr_file(path: str | Path, *, block_bytes: int = BLOCK_BYTES) -> RRStream:
    """Check an RR recording in one pass and return a reader of its blocks.

    Accepts exactly what :func:`read_rr_file` accepts and raises the same one-line errors
    (the file is checked whole before this returns, so a bad line is named up front), but
    holds only one block of text and its values at a time; :meth:`RRStream.chunks` then
    gives the same ``rr_ms`` and ``t_ms`` values, in pieces.
    """
    return RRStream(path, block_bytes=block_bytes)


class RRStream:
    """A checked recording, read again block by block by :meth:`chunks`.

    Attributes as in :class:`Recording`: ``unit`` (as found), ``start`` (the first
    date-time timestamp, or None), ``has_times`` (a timestamp column), ``first_rr_ms``, and
    ``beats`` (how many intervals).
    """

    def __init__(self, path: str | Path, *, block_bytes: int = BLOCK_BYTES) -> None:
        if block_bytes < 1:
            raise ValueError("block_bytes must be positive")
        self.path = Path(path)
        self.name = str(path)
        self._block_bytes = block_bytes
        self._check_bytes()
        self._layout = self._find_layout()
        scan = _Scan(self._layout, self.name)
        for first_no, text in self._text_blocks():
            scan.feed(first_no, text)
        self.unit, self.start = scan.finish()
        self.has_times = self._layout.t_col is not None
        self.beats = scan.n
        self.first_rr_ms = scan.first_rr_ms(self.unit)
        self._secs0 = scan.secs0

    # -- the passes over the file ---------------------------------------------------------

    def _raw_blocks(self) -> Iterator[tuple[int, bytes]]:
        """(byte offset, bytes) cut just after a line end, so no line (and no UTF-8
        sequence) is split between blocks."""
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            raise NoInputError(f"{self.name}: no such file") from None
        except IsADirectoryError:
            raise NoInputError(f"{self.name}: is a directory, expected an RR file") from None
        except OSError as e:
            raise NoInputError(f"{self.name}: cannot be read ({e.strerror})") from None
        with f:
            offset = 0
            rest = b""
            while True:
                try:
                    more = f.read(self._block_bytes)
                except OSError as e:
                    raise NoInputError(f"{self.name}: cannot be read ({e.strerror})") from None
                if not more:
                    if rest:
                        yield offset, rest
                    return
                buf = rest + more
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    rest = buf
                    continue
                yield offset, buf[:cut]
                offset += cut
                rest = buf[cut:]

    def _text_blocks(self) -> Iterator[tuple[int, str]]:
        """(number of the block's first line, text), line numbers as ``str.splitlines``."""
        line_no = 1
        for offset, raw in self._raw_blocks():
            text = raw.decode("utf-8-sig" if offset == 0 else "utf-8")
            yield line_no, text
            line_no += len(text.splitlines())

    def _check_bytes(self) -> None:
        """Binary data and text that is not UTF-8, named as :func:`parse_rr_bytes` does."""
        probe = b""
        for _, raw in self._raw_blocks():
            probe += raw[: _BINARY_PROBE - len(probe)]
            if len(probe) >= _BINARY_PROBE:
                break
        if b"\x00" in probe:
            raise InputDataError(f"{self.name}: binary data, expected a text file of RR intervals")
        newlines = 0
        bom = probe.startswith(b"\xef\xbb\xbf")
        recent = b""  # the last bytes before this block (a byte-order mark's length)
        for offset, raw in self._raw_blocks():
            try:
                raw.decode("utf-8-sig" if offset == 0 else "utf-8")
            except UnicodeDecodeError as e:
                # As the whole-file decode reports it: the position after a byte-order mark
                # (and the lines before that position in the file as it is).
                at = offset + e.start - (3 if bom and offset > 0 else 0)
                if at >= offset:
                    line = newlines + raw[: at - offset].count(b"\n") + 1
                else:
                    line = newlines - recent[len(recent) - (offset - at) :].count(b"\n") + 1
                raise InputDataError(
                    f"{self.name}:{line}: not UTF-8 text (byte {at}), expected RR intervals as text"
                ) from None
            newlines += raw.count(b"\n")
            recent = (recent + raw)[-3:]

    def _find_layout(self) -> _Layout:
        """The header, the RR and timestamp columns and a unit from the header, found from
        the first data lines as :func:`parse_rr_bytes` finds them."""
        text = ""
        head: list[tuple[int, str]] = []
        any_text = False
        for _, block in self._text_blocks():
            text += block
            any_text = any_text or bool(block.strip())
            head = _first_data_lines(text, 3)
            if len(head) == 3:
                break
        return _layout_of(head, any_text, self.name)

    def chunks(self) -> Iterator[tuple[F64, F64 | None]]:
        """``(rr_ms, t_ms)`` a block at a time: concatenated, the ``rr_ms`` and ``t_ms`` of
        :func:`read_rr_file` (``t_ms`` None without a timestamp column)."""
        scan = _Scan(self._layout, self.name, secs0=self._secs0)
        for first_no, text in self._text_blocks():
            values, secs = scan.feed(first_no, text)
            if scan.fatal(self.unit) is not None:
                raise InputDataError(f"{self.name}: the file changed while it was read")
            rr_ms = values * 1000.0 if self.unit == "s" else values
            if secs is None:
                yield rr_ms, None
            else:
                yield rr_ms, (secs - self._secs0) * 1000.0 + self.first_rr_ms


@dataclass(frozen=True, slots=True)
class _Layout:
    delim: str | None
    rr_col: int
    t_col: int | None
    unit_hint: str | None
    header: bool


class _Scan:
    """The checks of :func:`parse_rr_bytes`, one block at a time: values and seconds of
    each block, plus what the whole-file checks need (the first offence of each kind, in
    the order the whole-file reader raises them, and counts for the unit rule)."""

    def __init__(self, layout: _Layout, name: str, *, secs0: float = 0.0) -> None:
        self.lay = layout
        self.name = name
        self._header_left = layout.header
        #: First offence of each kind: column count, not a number, not positive/finite,
        #: too long in ms, too long in s, timestamp text, timestamp not finite, time going
        #: back. Each is (line number, message).
        self.errors: dict[str, tuple[int, str]] = {}
        self.n = 0
        self._below = 0  # values under SECONDS_MEDIAN_LIMIT
        self._max_below = -math.inf
        self._min_above = math.inf
        self._first_value: float | None = None
        self._first_dt: datetime | None = None
        self._times_k = 0  # rows whose timestamp has been read
        self._prev_secs: float | None = None
        self._last_secs = 0.0
        self.secs0 = secs0

    def _err(self, kind: str, line_no: int, message: str) -> None:
        self.errors.setdefault(kind, (line_no, message))

    @staticmethod
    def _data(first_no: int, text: str) -> list[tuple[int, str]]:
        """The block's lines that are neither blank nor comments, with line numbers."""
        return list(_Scan._data_lines(first_no, text))

    @staticmethod
    def _data_lines(first_no: int, text: str) -> Iterator[tuple[int, str]]:
        for i, ln in enumerate(text.splitlines()):
            if ln.strip() and not ln.lstrip().startswith("#"):
                yield first_no + i, ln

    def feed(self, first_no: int, text: str) -> tuple[F64, F64 | None]:
        """Values (in the file's unit) and seconds of one block of lines."""
        lay = self.lay
        data: list[tuple[int, str]] | None = None
        values: F64 | None = None
        if self._header_left:
            data = self._data(first_no, text)
            if data:
                data = data[1:]
                self._header_left = False
            if lay.t_col is None and data:
                values = _fast_column("\n".join(ln for _, ln in data), lay.delim, lay.rr_col, 0)
        elif lay.t_col is None:
            # numpy's C reader over the block as it is: no Python object per line. A block
            # of comments alone is no data (and no warning).
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "loadtxt: input contained no data")
                values = _fast_column(text, lay.delim, lay.rr_col, 0)
        if values is None:
            if data is None:
                data = self._data(first_no, text)
            if not data:
                empty = np.empty(0, dtype=np.float64)
                return empty, (None if lay.t_col is None else empty.copy())
        texts: list[str] | None = None
        if values is None:
            assert data is not None
            values, texts = self._careful(data)
        values = self._count(values, first_no, text, data, texts)
        secs = None
        if lay.t_col is not None:
            assert data is not None
            secs = self._timestamps(data)
        return values, secs

    def _rr_text(self, line: str) -> str:
        lay = self.lay
        if lay.delim is None and lay.t_col is None and lay.rr_col == 0:
            return line.split()[0] if " " in line or "\t" in line else line.strip()
        parts = _split(line, lay.delim)
        return parts[lay.rr_col] if lay.rr_col < len(parts) else ""

    def _careful(self, data: list[tuple[int, str]]) -> tuple[F64, list[str]]:
        lay = self.lay
        texts: list[str] = []
        values = np.full(len(data), np.nan)
        for k, (line_no, ln) in enumerate(data):
            if not (lay.delim is None and lay.t_col is None and lay.rr_col == 0):
                parts = _split(ln, lay.delim)
                if lay.rr_col >= len(parts):
                    self._err(
                        "columns",
                        line_no,
                        f"{self.name}:{line_no}: {len(parts)} columns, expected at least "
                        f"{lay.rr_col + 1}",
                    )
                    texts.append("")
                    continue
            tx = self._rr_text(ln)
            texts.append(tx)
            try:
                values[k] = float(tx)
            except ValueError:
                self._err("number", line_no, f"{self.name}:{line_no}: {tx!r} is not a number")
        return values, texts

    def _count(
        self,
        values: F64,
        first_no: int,
        text: str,
        data: list[tuple[int, str]] | None,
        texts: list[str] | None,
    ) -> F64:
        """Note the block's offences and its part of the unit rule; returns the values."""
        bad = ~np.isfinite(values) | (values <= 0)
        big = values * 1000.0 > MAX_RR_MS  # too long if the unit is s (ms: checked below)
        wanted = bad.any() or (big.any() and "big_s" not in self.errors)
        wanted = wanted or (bool(np.any(values > MAX_RR_MS)) and "big_ms" not in self.errors)
        if not wanted:
            return self._tally(values)
        # A line is needed to name an offence (once for each kind). The block's lines are
        # counted (as numpy saw them), then found one at a time, never held as a list.
        lines_seen = None if texts is not None or data is not None else values.size
        if (
            lines_seen is not None
            and sum(1 for _ in self._data_lines(first_no, text)) != lines_seen
        ):
            data = self._data(first_no, text)
            values, texts = self._careful(data)
            bad = ~np.isfinite(values) | (values <= 0)

        def line(k: int) -> tuple[int, str]:
            if data is not None:
                return data[k]
            return next(itertools.islice(self._data_lines(first_no, text), k, None))

        def text_of(k: int) -> str:
            return texts[k] if texts is not None else self._rr_text(line(k)[1])

        if bad.any() and "columns" not in self.errors and "number" not in self.errors:
            for i in np.flatnonzero(bad).tolist():
                tx = text_of(i)
                try:
                    float(tx)
                except ValueError:
                    continue  # a column or number problem, named already
                line_no = line(i)[0]
                self._err(
                    "value",
                    line_no,
                    f"{self.name}:{line_no}: {tx!r} is not an RR interval "
                    "(expected a positive, finite number)",
                )
                break
        for unit, scaled in (("ms", values), ("s", values * 1000.0)):
            over = scaled > MAX_RR_MS
            if over.any() and f"big_{unit}" not in self.errors:
                j = int(np.argmax(over))
                line_no = line(j)[0]
                self._err(
                    f"big_{unit}",
                    line_no,
                    f"{self.name}:{line_no}: {text_of(j)!r} {unit} is not an RR interval "
                    f"(expected under {MAX_RR_MS / 1000:g} s)",
                )
        return self._tally(values)

    def _tally(self, values: F64) -> F64:
        if self._first_value is None:
            self._first_value = float(values[0])
        self.n += values.size
        below = values < SECONDS_MEDIAN_LIMIT
        self._below += int(np.count_nonzero(below))
        if below.any():
            self._max_below = max(self._max_below, float(values[below].max()))
        above = values >= SECONDS_MEDIAN_LIMIT
        if above.any():
            self._min_above = min(self._min_above, float(values[above].min()))
        return values

    def _timestamps(self, data: list[tuple[int, str]]) -> F64:
        """Seconds of each row, as :func:`_timestamps` computes them (relative to the first
        date-time, or the plain numbers)."""
        assert self.lay.t_col is not None
        secs = np.full(len(data), np.nan)
        if "timestamp" in self.errors:
            return secs
        for k, (line_no, ln) in enumerate(data):
            parts = _split(ln, self.lay.delim)
            text = parts[self.lay.t_col] if self.lay.t_col < len(parts) else ""
            value = _parse_time(text)
            mix = f"{self.name}:{line_no}: timestamps mix numbers and dates"
            if value is None:
                self._err(
                    "timestamp",
                    line_no,
                    f"{self.name}:{line_no}: {text!r} is not a timestamp "
                    "(expected ISO 8601 like 2024-05-01T10:00:00+02:00, or seconds)",
                )
                return secs
            if isinstance(value, datetime):
                if self._first_dt is None:
                    if self._times_k != 0:
                        self._err("timestamp", line_no, mix)
                        return secs
                    self._first_dt = value
                secs[k] = (value - self._first_dt).total_seconds()
            else:
                if self._first_dt is not None:
                    self._err("timestamp", line_no, mix)
                    return secs
                secs[k] = value
            if self._times_k == 0:
                self.secs0 = float(secs[k])
            if not math.isfinite(secs[k]):
                self._err(
                    "time_finite",
                    line_no,
                    f"{self.name}:{line_no}: timestamp is not a finite number",
                )
            elif self._prev_secs is not None and secs[k] - self._prev_secs < 0:
                self._err(
                    "time_back",
                    line_no,
                    f"{self.name}:{line_no}: timestamp goes back in time "
                    "(expected rows in time order)",
                )
            self._prev_secs = float(secs[k])
            self._last_secs = float(secs[k])
            self._times_k += 1
        return secs

    def first_rr_ms(self, unit: str) -> float:
        first = self._first_value if self._first_value is not None else math.nan
        return first * 1000.0 if unit == "s" else first

    def _median_below_limit(self) -> bool:
        """``np.median(values) < SECONDS_MEDIAN_LIMIT`` from counts alone."""
        n, k = self.n, self._below
        if n % 2:
            return k >= n // 2 + 1
        if k != n // 2:
            return k > n // 2
        pair = np.array([self._max_below, self._min_above], dtype=np.float64)
        return float(np.median(pair)) < SECONDS_MEDIAN_LIMIT

    def fatal(self, unit: str) -> str | None:
        """The message of the offence the whole-file reader raises first, if any."""
        kinds = ("columns", "number", "value", f"big_{unit}", "timestamp", "time_finite")
        for kind in (*kinds, "time_back"):
            if kind in self.errors:
                return self.errors[kind][1]
        return None

    def finish(self) -> tuple[str, datetime | None]:
        """The unit and the start, or the error the whole-file reader raises first."""
        unit = self.lay.unit_hint or ("s" if self._median_below_limit() else "ms")
        message = self.fatal(unit)
        if message is not None:
            raise InputDataError(message)
        if self.lay.t_col is not None:
            last = (self._last_secs - self.secs0) * 1000.0 + self.first_rr_ms(unit)
            if not math.isfinite(last):
                raise InputDataError(f"{self.name}: timestamps out of range")
        return unit, self._first_dt
