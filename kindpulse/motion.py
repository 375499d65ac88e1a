"""Movement from a chest strap's accelerometer: one number per second, one per window.

The measure (``movement`` in mg) is the RMS of the *dynamic* acceleration: within each
whole second of the source's clock, each axis has its mean taken off (gravity and slow
tilt), and the RMS of the residual vector's length over that second's samples is the
second's movement. It does not depend on how the strap sits (upside down, tilted: gravity
on any axis) nor on the sampling rate (25-200 Hz), and it needs no filter state, so the
live daemon and a file give the same numbers for the same samples.

Typical values on the chest (measured and from the literature on trunk accelerometry):
sitting still or typing 1-10 mg (breathing moves the chest a few mg), talking with
gestures 5-20 mg, cycling 30-120 mg (the torso rocks at pedal cadence), walking
100-300 mg, running above 400 mg.

A scoring window's movement is the median of its seconds' values (a shift in the chair
or one gesture does not make a still minute "moving"); it is ``None`` when fewer than half
of the window's seconds have a value.

Pure: numpy arrays in, arrays out; time is an argument.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]

#: A second needs at least this many samples to have a value (a 25 Hz stream gives 25).
MIN_SAMPLES_PER_SECOND = 5
#: A window's movement needs values for at least this share of its seconds.
MIN_WINDOW_COVERAGE = 0.5

__all__ = [
    "MIN_SAMPLES_PER_SECOND",
    "MotionBuffer",
    "MotionTrack",
    "movement_per_second",
]


def movement_per_second(
    t_s: ArrayLike, x_mg: ArrayLike, y_mg: ArrayLike, z_mg: ArrayLike
) -> tuple[F64, F64]:
    """Per-second movement of accelerometer samples.

    ``t_s``: sample times in seconds (any origin, non-decreasing); ``x_mg``, ``y_mg``,
    ``z_mg``: acceleration in milli-g. Returns ``(end_s, movement_mg)``: for every whole
    second ``[k, k+1)`` holding at least :data:`MIN_SAMPLES_PER_SECOND` samples, its end
    ``k + 1`` and its movement (RMS of the dynamic acceleration's length, mg), in time order.
    """
    t = np.asarray(t_s, dtype=np.float64)
    xyz = np.stack([np.asarray(a, dtype=np.float64) for a in (x_mg, y_mg, z_mg)], axis=1)
    if t.size == 0:
        return np.empty(0), np.empty(0)
    if t.ndim != 1 or xyz.shape[0] != t.size:
        raise ValueError("movement_per_second: t and x, y, z must have the same length")
    sec = np.floor(t).astype(np.int64)
    # Group by second (t is non-decreasing, so the groups are runs).
    starts = np.flatnonzero(np.r_[True, sec[1:] != sec[:-1]])
    counts = np.diff(np.r_[starts, t.size])
    sums = np.add.reduceat(xyz, starts, axis=0)
    sq = np.add.reduceat(xyz * xyz, starts, axis=0)
    n = counts[:, None].astype(np.float64)
    # Sum over axes of the per-axis variance (population): the mean squared length of the
    # residual vector.
    var = np.maximum(sq / n - (sums / n) ** 2, 0.0).sum(axis=1)
    keep = counts >= MIN_SAMPLES_PER_SECOND
    return (sec[starts][keep] + 1).astype(np.float64), np.sqrt(var[keep])


@dataclass(frozen=True, slots=True)
class MotionTrack:
    """Per-second movement on the beats' time axis: ``end_s`` (the end of each second, in
    the same seconds as the scoring windows' ``end_s``) and ``mg``."""

    end_s: F64
    mg: F64

    @classmethod
    def from_samples(
        cls, t_s: ArrayLike, x_mg: ArrayLike, y_mg: ArrayLike, z_mg: ArrayLike
    ) -> MotionTrack:
        """From raw accelerometer samples already on the beats' time axis."""
        end, mg = movement_per_second(t_s, x_mg, y_mg, z_mg)
        return cls(end, mg)

    def window_movement(self, ends: ArrayLike, window_s: float) -> F64:
        """Each window's movement (the median of its seconds' values, mg), NaN where fewer
        than half of the window's seconds have a value. A second belongs to the window
        ``(E - W, E]`` when its end lies in it."""
        e = np.asarray(ends, dtype=np.float64)
        out = np.full(e.size, np.nan)
        lo = np.searchsorted(self.end_s, e - window_s, side="right")
        hi = np.searchsorted(self.end_s, e, side="right")
        need = MIN_WINDOW_COVERAGE * window_s
        for i in np.flatnonzero(hi - lo >= max(1.0, need)).tolist():
            out[i] = float(np.median(self.mg[lo[i] : hi[i]]))
        return out


class MotionBuffer:
    """The live form: per-second values as they arrive, the last ``keep_s`` seconds kept,
    the same window rule as :meth:`MotionTrack.window_movement`."""

    def __init__(self, keep_s: float = 600.0) -> None:
        self.keep_s = keep_s
        self._t: deque[float] = deque()
        self._mg: deque[float] = deque()

    def add(self, end_s: float, mg: float) -> None:
        """One second's movement, ending at ``end_s`` (non-decreasing)."""
        if not math.isfinite(mg):
            return
        self._t.append(end_s)
        self._mg.append(mg)
        while self._t and self._t[0] < end_s - self.keep_s:
            self._t.popleft()
            self._mg.popleft()

    @property
    def last(self) -> tuple[float, float] | None:
        """The latest second: ``(end_s, mg)``."""
        return (self._t[-1], self._mg[-1]) if self._t else None

    def window_movement(self, end_s: float, window_s: float) -> float | None:
        vals = [m for t, m in zip(self._t, self._mg, strict=True) if end_s - window_s < t <= end_s]
        if len(vals) < max(1.0, MIN_WINDOW_COVERAGE * window_s):
            return None
        return float(np.median(vals))
