"""Replay a recording, or play the simulator, as a live beat source.

Both implement :class:`~kindpulse.sensors.source.BeatSource`, so the daemon, the demo and
the tests share one pipeline with the Bluetooth strap.

Placing beats on the wall clock (DESIGN.md, Data contracts): beat i of a file without
timestamps is at ``start + (C_i − C_0)/1000`` s (``start`` defaults to the moment the
replay starts); a file with date-time timestamps keeps them; plain-second timestamps are
taken relative to ``start``. Pacing: beat times are reached in real time, or ``speed``
times faster; a :class:`~kindpulse.types.Beat`'s ``t`` is its wall-clock time in epoch
seconds, so everything downstream (cooldowns, quiet hours) runs on the source's clock.
Where times jump beyond the RR (a gap in a recording, a dropout), a
:class:`~kindpulse.types.Gap` comes first.

Chunks may carry seconds of movement (the simulator's do): ``(rr_ms, t_ms, end_ms, mg)``,
each second's end on the same own clock as the beats. They come out as
:class:`~kindpulse.types.Movement` items among the beats, in time order and paced the same
way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kindpulse.artifacts import GAP_TOLERANCE_MS
from kindpulse.sensors.source import SourceCounters, SourceStatus
from kindpulse.types import Beat, Gap, Movement

F64 = NDArray[np.float64]
Chunk = tuple[F64, F64 | None]
#: A chunk with its seconds of movement: (rr_ms, t_ms, movement end_ms, movement mg).
MotionChunk = tuple[F64, F64 | None, F64, F64]
_NONE: F64 = np.empty(0)

#: At most this long between wake-ups while waiting for the next beat (s), so close() is
#: honoured promptly.
MAX_SLEEP_S = 0.25
#: Hand the event loop a turn at least this often (beats), however fast the replay.
YIELD_EVERY = 64


class ReplaySource:
    """Beats from chunks of ``(rr_ms, t_ms)`` (``t_ms`` = each beat's own time in ms, or
    None to follow the RR), placed from ``start_epoch_s`` and paced ``speed`` times faster
    than real time."""

    def __init__(
        self,
        chunks: Iterable[Chunk] | Iterable[MotionChunk],
        *,
        start_epoch_s: float,
        speed: float = 1.0,
        name: str = "replay",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self._chunks: Iterator[Chunk | MotionChunk] = iter(chunks)
        self._start = start_epoch_s
        self._speed = speed
        self._name = name
        self._clock = clock
        self._sleep = sleep
        self._closed = asyncio.Event()
        self._beats = 0
        self._gaps = 0
        self._streaming = False
        self._done = False

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        start: datetime | None = None,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], float] = time.time,
    ) -> ReplaySource:
        """A recording in any format ``kindpulse analyze`` reads (raises its errors).

        The file is checked whole here, so a bad line is named before the first beat, and
        then read again a block at a time while it plays: memory stays the same whatever
        the length of the recording."""
        from kindpulse.sensors.rrfile import stream_rr_file

        rec = stream_rr_file(path)
        if rec.has_times and rec.start is not None:
            # Date-time timestamps: the file's own clock; t_ms is (ts_i − ts_0) + rr_0.
            start_s = rec.start.timestamp() - rec.first_rr_ms / 1000.0
        else:
            first = start.timestamp() if start is not None else now()
            start_s = first - rec.first_rr_ms / 1000.0  # beat 0 lands on `start`
        return cls(
            rec.chunks(),
            start_epoch_s=start_s,
            speed=speed,
            name=f"replay of {Path(path).name}",
            clock=clock,
            sleep=sleep,
        )

    @property
    def status(self) -> SourceStatus:
        return SourceStatus(
            connected=self._streaming and not self._done,
            device_name=self._name,
            counters=SourceCounters(
                frames=self._beats,
                beats=self._beats,
                gaps=self._gaps,
                connects=1 if self._streaming else 0,
            ),
        )

    @property
    def finished(self) -> bool:
        """True once every beat has been delivered."""
        return self._done

    async def close(self) -> None:
        self._closed.set()

    async def stream(self) -> AsyncIterator[Beat | Gap | Movement]:
        """The beats (and gaps, and seconds of movement) in time order, paced; ends at the
        end of the data or on :meth:`close`."""
        self._streaming = True
        t0_mono = self._clock()
        first_t: float | None = None
        prev_t: float | None = None  # own time (ms) of the previous beat
        cursor = 0.0  # cumulative ms when following the RR
        items = 0

        async def wait_until(own_ms: float) -> bool:
            """Wait for ``own_ms`` (own clock) to be due; False once closed."""
            assert first_t is not None
            due = t0_mono + (own_ms - first_t) / 1000.0 / self._speed
            while True:
                if self._closed.is_set():
                    return False
                wait = due - self._clock()
                if wait <= 0:
                    return True
                await self._sleep(min(wait, MAX_SLEEP_S))

        for chunk in self._chunks:
            rr = np.asarray(chunk[0], dtype=np.float64)
            own = chunk[1]
            m_end, m_mg = (chunk[2], chunk[3]) if len(chunk) == 4 else (_NONE, _NONE)
            if own is None:
                # The running sum carried across chunks, added in the same order as one
                # cumulative sum over the whole recording (so the same float64 values).
                times = np.cumsum(np.concatenate(([cursor], rr)))[1:]
                cursor = float(times[-1]) if times.size else cursor
            else:
                times = np.asarray(own, dtype=np.float64)
            k = j = 0
            while k < rr.size or j < m_end.size:
                # The earlier of the next beat and the next second of movement.
                if j < m_end.size and (k >= rr.size or m_end[j] < times[k]):
                    t_ms = float(m_end[j])
                    if first_t is None:
                        first_t = t_ms
                    if not await wait_until(t_ms):
                        self._done = True
                        return
                    yield Movement(self._start + t_ms / 1000.0, float(m_mg[j]))
                    j += 1
                else:
                    t_ms = float(times[k])
                    if first_t is None:
                        first_t = t_ms
                    if prev_t is not None and t_ms - prev_t > rr[k] + GAP_TOLERANCE_MS:
                        self._gaps += 1
                        yield Gap(self._start + (prev_t + rr[k]) / 1000.0, "gap in the recording")
                    prev_t = t_ms
                    if not await wait_until(t_ms):
                        self._done = True
                        return
                    self._beats += 1
                    yield Beat(self._start + t_ms / 1000.0, float(rr[k]))
                    k += 1
                items += 1
                if items % YIELD_EVERY == 0:
                    # Fast replays are always behind their schedule and would never wait:
                    # let the event loop run (status, watchdog, signals) now and then.
                    await asyncio.sleep(0)
        self._done = True


def simulated_source(
    scenario: str | None,
    *,
    seed: int = 0,
    start: datetime | None = None,
    speed: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    now: Callable[[], float] = time.time,
) -> ReplaySource:
    """The simulated wearer: a scenario (built-in name or TOML file), or with None an
    endless ordinary day. Beats keep the simulator's own times, so dropouts are gaps; each
    second's movement comes as a :class:`~kindpulse.types.Movement` at the second's end."""
    from kindpulse.sensors import simulator

    first = start.timestamp() if start is not None else now()
    if scenario is None:
        chunks: Iterable[MotionChunk] = simulator.endless_motion_day(seed)
        name = "simulated ordinary days"
    else:
        sc = simulator.load_scenario(scenario)
        chunks = simulator.iter_motion_chunks(sc, seed)
        name = f"simulated {sc.name}"
    return ReplaySource(
        chunks, start_epoch_s=first, speed=speed, name=name, clock=clock, sleep=sleep
    )
