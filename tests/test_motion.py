"""The movement measure (kindpulse.motion): per second, per window, live and batch alike."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kindpulse.motion import MotionBuffer, MotionTrack, movement_per_second


def walking(rate_hz: float, seconds: int, amp_mg: float, rotation: np.ndarray) -> tuple:  # type: ignore[type-arg]
    """Gravity plus a 2 Hz step rhythm of ``amp_mg`` along the body's vertical, the strap
    turned by ``rotation``."""
    t = np.arange(0.0, seconds, 1.0 / rate_hz)
    body = np.stack(
        [np.zeros_like(t), np.zeros_like(t), 1000.0 + amp_mg * np.sin(2 * math.pi * 2.0 * t)]
    )
    x, y, z = rotation @ body
    return t, x, y, z


def rot(angle: float, axis: int) -> np.ndarray:  # type: ignore[type-arg]
    c, s = math.cos(angle), math.sin(angle)
    i, j = [k for k in range(3) if k != axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


@pytest.mark.parametrize("rate", [25.0, 50.0, 100.0, 200.0])
@pytest.mark.parametrize(
    "rotation",
    [np.eye(3), rot(math.pi, 0), rot(0.6, 1) @ rot(1.1, 0)],
    ids=["upright", "upside down", "tilted"],
)
def test_movement_is_the_rms_of_dynamic_acceleration_whatever_the_rate_and_the_tilt(
    rate: float,
    rotation: np.ndarray,  # type: ignore[type-arg]
) -> None:
    end, mg = movement_per_second(*walking(rate, 10, 150.0, rotation))
    assert end.tolist() == [float(k) for k in range(1, 11)]
    # A sine of amplitude A has an RMS of A/sqrt(2), gravity taken off.
    assert mg == pytest.approx(np.full(10, 150.0 / math.sqrt(2)), rel=0.02)


def test_a_second_with_too_few_samples_has_no_value() -> None:
    t = np.array([0.1, 0.2, 0.3, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6])
    end, mg = movement_per_second(t, np.zeros(9), np.zeros(9), np.full(9, 1000.0))
    assert end.tolist() == [2.0] and mg.tolist() == [0.0]


def test_a_window_is_the_median_of_its_seconds_and_unknown_when_half_are_missing() -> None:
    ends = np.arange(1.0, 121.0)
    mg = np.where((ends > 30) & (ends <= 35), 400.0, 4.0)  # a few seconds of a gesture
    mg[85:] = np.nan
    track = MotionTrack(ends[~np.isnan(mg)], mg[~np.isnan(mg)])
    got = track.window_movement([60.0, 120.0], 60.0)
    assert got[0] == 4.0  # one gesture does not make a still minute moving
    assert math.isnan(got[1])  # only 25 of its 60 seconds known: under half


def test_the_live_buffer_gives_the_windows_the_batch_track_gives() -> None:
    rng = np.random.default_rng(2)
    ends = np.arange(1.0, 1801.0)
    mg = rng.lognormal(2.0, 1.2, ends.size)
    keep = rng.random(ends.size) > 0.3
    track = MotionTrack(ends[keep], mg[keep])
    buf = MotionBuffer(keep_s=600.0)
    for e, m in zip(ends[keep].tolist(), mg[keep].tolist(), strict=True):
        buf.add(e, m)
        if e % 15 == 0 and e >= 60:
            live = buf.window_movement(e, 60.0)
            batch = float(track.window_movement([e], 60.0)[0])
            assert (live is None and math.isnan(batch)) or live == batch
    assert buf.last == (float(ends[keep][-1]), float(mg[keep][-1]))
