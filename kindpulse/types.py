"""Plain data shared by the core and the edges (frozen dataclasses, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat.

    ``t`` is the time of the beat in seconds on the source's clock (monotonic within a
    session); ``rr_ms`` is the RR interval in milliseconds that ends at it. ``contact`` is
    False when the strap reported no skin contact while sending it (downstream such beats
    count as ``unknown``).
    """

    t: float
    rr_ms: float
    contact: bool = True


@dataclass(frozen=True, slots=True)
class Gap:
    """A break in the beat stream (link loss, dropout): no successive difference spans it.

    ``t`` is the source-clock time in seconds at which the stream was known to break.
    """

    t: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Movement:
    """One second of movement from the strap's accelerometer (:mod:`kindpulse.motion`).

    ``t`` is the end of that second on the source's clock (the same clock as
    :attr:`Beat.t`); ``mg`` the RMS of the dynamic acceleration over it, in milli-g.
    """

    t: float
    mg: float
