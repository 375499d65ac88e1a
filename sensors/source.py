"""The protocol every beat source implements (BLE strap, replay file, simulator).

A source is an async stream of :class:`~kindpulse.types.Beat` and
:class:`~kindpulse.types.Gap` items (and, from a strap with an accelerometer, a replay or
the simulator, :class:`~kindpulse.types.Movement` items: one a second) plus a snapshot of
its state. The daemon's run loop
and ``kindpulse record`` depend on this protocol only, so tests can drive them with a
hand-written fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from kindpulse.types import Beat, Gap, Movement

__all__ = ["BeatSource", "SourceCounters", "SourceStatus"]


@dataclass(frozen=True, slots=True)
class SourceCounters:
    """Running totals since the source was created (all counts, never reset).

    ``frames``: notifications (or records) received; ``dropped_short`` / ``odd_trailing``:
    malformed Heart Rate Measurement frames (see :class:`kindpulse.sensors.hrm.ParseStats`);
    ``beats``: RR intervals delivered; ``connects``: connections that reached streaming;
    ``failed_attempts``: connection attempts that did not; ``link_losses``: streaming
    connections the link dropped; ``watchdog_trips``: connections dropped because no RR
    interval arrived in time; ``gaps``: :class:`~kindpulse.types.Gap` items delivered.
    """

    frames: int = 0
    dropped_short: int = 0
    odd_trailing: int = 0
    beats: int = 0
    connects: int = 0
    failed_attempts: int = 0
    link_losses: int = 0
    watchdog_trips: int = 0
    gaps: int = 0


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A snapshot of a source's state, for ``kindpulse status`` and the log.

    ``connected``: beats can flow now. ``device_name`` / ``device_address``: the device
    in use (or last used), ``None`` when unknown. ``battery_pct``: battery level in percent
    (Battery Service 0x180F, Battery Level 0x2A19), ``None`` when not reported.
    ``contact``: skin contact as last reported, ``None`` when the sensor does not report
    it. ``hr_bpm``: the last heart rate the sensor reported, in beats per minute.
    """

    connected: bool = False
    device_name: str | None = None
    device_address: str | None = None
    battery_pct: int | None = None
    contact: bool | None = None
    hr_bpm: int | None = None
    counters: SourceCounters = field(default_factory=SourceCounters)


class BeatSource(Protocol):
    """Something that produces beats: ``async for item in source.stream(): ...``.

    ``stream()`` yields beats in time order and a :class:`~kindpulse.types.Gap` wherever
    the stream broke (no successive difference may span it); it ends after ``close()``.
    ``close()`` releases everything the source holds and is safe to call more than once.
    """

    @property
    def status(self) -> SourceStatus:
        """The source's current state."""
        ...

    def stream(self) -> AsyncIterator[Beat | Gap | Movement]:
        """The beats, gaps and seconds of movement, as they come."""
        ...

    async def close(self) -> None:
        """Stop the stream and release the device."""
        ...
