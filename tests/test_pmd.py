"""Polar Measurement Data: control point requests and responses, accelerometer frames of
every supported type, and placing samples on the source clock (no bus needed)."""

from __future__ import annotations

import math
import random
import struct

import numpy as np
import pytest

from kindpulse.motion import movement_per_second
from kindpulse.sensors.pmd import (
    AccTimeline,
    CpStatus,
    MovementAccumulator,
    PmdError,
    PmdStats,
    Setting,
    choose_acc_settings,
    parse_acc_frame,
    parse_cp_response,
    parse_settings,
    settings_request,
    start_request,
    stop_request,
)
from kindpulse.types import Movement

from .fakebluez import H10_ACC_SETTINGS, acc_frame

TS = 599_634_123_456_789_000  # a sensor timestamp, ns
TS_BYTES = TS.to_bytes(8, "little")


# -- control point ------------------------------------------------------------------------


def test_requests_are_the_documented_bytes() -> None:
    assert settings_request() == bytes([0x01, 0x02])
    assert stop_request() == bytes([0x03, 0x02])
    start = start_request(
        {Setting.SAMPLE_RATE: 25, Setting.RESOLUTION: 16, Setting.RANGE: 8, Setting.FACTOR: 1}
    )
    # 02 02 | rate: 00 01 19 00 | resolution: 01 01 10 00 | range: 02 01 08 00 (no factor)
    assert start.hex(" ") == "02 02 00 01 19 00 01 01 10 00 02 01 08 00"
    assert start_request({Setting.CHANNELS: 3, Setting.SAMPLE_RATE: 52}).hex(" ") == (
        "02 02 00 01 34 00 04 01 03"
    )


def test_settings_response_of_an_h10() -> None:
    response = parse_cp_response(bytes([0xF0, 0x01, 0x02, 0x00, 0x00]) + H10_ACC_SETTINGS)
    assert response.ok and response.op == 1 and response.measurement == 2
    assert not response.more
    offered = parse_settings(response.parameters)
    assert offered == {
        Setting.SAMPLE_RATE: (25, 50, 100, 200),
        Setting.RESOLUTION: (16,),
        Setting.RANGE: (2, 4, 8),
    }
    assert choose_acc_settings(offered) == {
        Setting.SAMPLE_RATE: 25,
        Setting.RESOLUTION: 16,
        Setting.RANGE: 8,
    }


def test_settings_choice_without_25_hz_or_8_g() -> None:
    # a Verity Sense: 26-416 Hz, 2-16 G, 3 channels
    offered = parse_settings(
        bytes.fromhex("0005 1a00 3400 6800 d000 a001 0101 1000 0204 0200 0400 0800 1000 0401 03")
    )
    assert choose_acc_settings(offered) == {
        Setting.SAMPLE_RATE: 26,
        Setting.RESOLUTION: 16,
        Setting.RANGE: 8,
        Setting.CHANNELS: 3,
    }
    assert choose_acc_settings({Setting.SAMPLE_RATE: (50, 100), Setting.RANGE: (2, 4)}) == {
        Setting.SAMPLE_RATE: 50,
        Setting.RANGE: 4,
    }
    with pytest.raises(PmdError, match="no accelerometer sample rate"):
        choose_acc_settings({Setting.RANGE: (8,)})


def test_start_response_with_a_factor_and_error_responses() -> None:
    factor = struct.pack("<f", 2.44e-4)
    ok = parse_cp_response(bytes([0xF0, 0x02, 0x02, 0x00, 0x00, 0x05, 0x01]) + factor)
    assert ok.ok and ok.status_text == "SUCCESS"
    assert parse_settings(ok.parameters)[Setting.FACTOR][0] == pytest.approx(2.44e-4)
    bad = parse_cp_response(bytes([0xF0, 0x02, 0x02, 0x08]))
    assert not bad.ok and bad.status == CpStatus.INVALID_SAMPLE_RATE
    assert bad.status_text == "INVALID_SAMPLE_RATE" and bad.parameters == b""
    assert parse_cp_response(bytes([0xF0, 0x02, 0x02, 0x63])).status_text == "status 99"
    more = parse_cp_response(bytes([0xF0, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0x19, 0x00]))
    assert more.more
    for junk in (b"", b"\xf0\x01", bytes([0x01, 0x02]), bytes([0x0F, 0x05, 0x00, 0x00])):
        with pytest.raises(PmdError):
            parse_cp_response(junk)
    for params in (b"\x00", b"\x00\x02\x19\x00", b"\x09\x01\x00"):
        with pytest.raises(PmdError):
            parse_settings(params)


# -- data frames ----------------------------------------------------------------------------


def test_uncompressed_int8_int16_int24_frames_by_hand() -> None:
    stats = PmdStats()
    head = b"\x02" + TS_BYTES
    int8 = parse_acc_frame(head + bytes([0x00, 0x01, 0xFF, 0x7F, 0x80, 0x00, 0x05]), stats)
    assert int8 is not None and int8.sensor_ns == TS and int8.frame_type == 0x00
    assert int8.mg.tolist() == [[1, -1, 127], [-128, 0, 5]]
    int16 = parse_acc_frame(head + bytes.fromhex("01 e8 03 18 fc 00 80"), stats)
    assert int16 is not None and int16.mg.tolist() == [[1000, -1000, -32768]]
    int24 = parse_acc_frame(head + bytes.fromhex("02 a0 86 01 60 79 fe ff ff 7f"), stats)
    assert int24 is not None and int24.mg.tolist() == [[100000, -100000, 8388607]]
    assert stats.frames == 3 and stats.samples == 4
    assert stats.dropped_short == stats.dropped_type == stats.dropped_malformed == 0


def test_compressed_frame_by_hand() -> None:
    # reference (100, -200, 1000); one block: width 4, 2 samples, deltas (1, -1, 0) and
    # (-8, 7, 2) packed LSB first: 0x2780F1 -> f1 80 27
    body = bytes.fromhex("64 00 38 ff e8 03 04 02 f1 80 27")
    frame = parse_acc_frame(b"\x02" + TS_BYTES + b"\x81" + body)
    assert frame is not None and frame.frame_type == 0x81
    assert frame.mg.tolist() == [[100, -200, 1000], [101, -201, 1000], [93, -194, 1002]]
    # type 0x81 with a factor other than 1 is scaled by it
    scaled = parse_acc_frame(b"\x02" + TS_BYTES + b"\x81" + body, factor=0.5)
    assert scaled is not None and scaled.mg[0].tolist() == [50, -100, 500]
    # type 0x80 is in counts of factor G
    counts = parse_acc_frame(b"\x02" + TS_BYTES + b"\x80" + body, factor=0.001)
    assert counts is not None
    assert counts.mg[2].tolist() == pytest.approx([93.0, -194.0, 1002.0])
    # without a factor: 8 G over 16 bits, 0.244140625 mg per count
    full_scale = parse_acc_frame(b"\x02" + TS_BYTES + b"\x80" + body)
    assert full_scale is not None
    assert full_scale.mg[0].tolist() == pytest.approx([24.4140625, -48.828125, 244.140625])
    # a reference sample alone is one sample
    alone = parse_acc_frame(b"\x02" + TS_BYTES + b"\x80" + body[:6], factor=0.001)
    assert alone is not None and alone.mg.shape == (1, 3)


@pytest.mark.parametrize("frame_type", [0x00, 0x01, 0x02, 0x80, 0x81])
def test_encoded_frames_of_every_type_round_trip(frame_type: int) -> None:
    rng = random.Random(frame_type)
    limit = {0x00: 127, 0x01: 8000, 0x02: 100000, 0x80: 32000, 0x81: 8000}[frame_type]
    samples: list[tuple[int, int, int]] = []
    x, y, z = 0, 0, 0
    for _ in range(37):
        step = rng.choice([1, 30, 900])
        x = max(-limit, min(limit, x + rng.randint(-step, step)))
        y = max(-limit, min(limit, y + rng.randint(-step, step)))
        z = max(-limit, min(limit, z + rng.randint(-step, step)))
        samples.append((x, y, z))
    stats = PmdStats()
    frame = parse_acc_frame(acc_frame(TS, samples, frame_type, block=7), stats, factor=0.001)
    assert frame is not None and frame.sensor_ns == TS and stats.samples == 37
    expected = np.asarray(samples, dtype=float)
    if frame_type == 0x80:
        expected = expected * 1.0  # 0.001 G per count = 1 mg per count
    elif frame_type == 0x81:
        expected = expected * 0.001  # the factor scales mg frames
    assert frame.mg == pytest.approx(expected)


def test_malformed_frames_are_counted_and_dropped_never_raised() -> None:
    good = acc_frame(TS, [(1, 2, 3), (4, 5, 6), (7, 8, 9)], 0x81)
    stats = PmdStats()
    cases = {
        "short": [
            b"",
            b"\x02",
            b"\x02" + TS_BYTES,
            b"\x02" + TS_BYTES + b"\x01",
            b"\x02" + TS_BYTES + b"\x80\x01\x00",
        ],
        "type": [
            b"\x00" + TS_BYTES + b"\x00" + bytes(3),  # ECG
            b"\x02" + TS_BYTES + b"\x05" + bytes(6),  # unknown frame type
            b"\x02" + TS_BYTES + b"\x83" + bytes(6),
        ],
        "malformed": [
            b"\x02" + TS_BYTES + b"\x01" + bytes(7),  # a partial int16 sample
            b"\x02" + TS_BYTES + b"\x02" + bytes(8),
            good[:-1],  # the delta block cut short
            good + b"\x04",  # a block header cut short
            b"\x02" + TS_BYTES + b"\x80" + bytes(6) + b"\x00\x01",  # width 0
            b"\x02" + TS_BYTES + b"\x80" + bytes(6) + b"\x21\x01" + bytes(13),
        ],
    }
    for frames in cases.values():
        for frame in frames:
            assert parse_acc_frame(frame, stats) is None, frame.hex()
    assert stats.dropped_short == len(cases["short"])
    assert stats.dropped_type == len(cases["type"])
    assert stats.dropped_malformed == len(cases["malformed"])
    assert stats.frames == sum(len(v) for v in cases.values()) and stats.samples == 0
    assert parse_acc_frame(good, stats) is not None and stats.samples == 3
    # random garbage never raises
    rng = random.Random(5)
    for _ in range(2000):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        blob = bytes([0x02]) + blob if rng.random() < 0.7 else blob
        parse_acc_frame(blob, stats)


# -- time and movement ----------------------------------------------------------------------


def _frames(
    seconds: float, rate: float, per_frame: int, *, ppm: float = 0.0
) -> list[tuple[int, int, float]]:
    """(sensor_ns of the last sample, n, true source time of the last sample) per frame
    of a sensor whose clock runs ``ppm`` fast."""
    out: list[tuple[int, int, float]] = []
    n_total = int(seconds * rate)
    t0_sensor = 5_000_000_000_000
    for end in range(per_frame, n_total + 1, per_frame):
        true_t = 1_700_000_000.0 + (end - 1) / rate
        sensor = t0_sensor + round((end - 1) / rate * 1e9 * (1 + ppm * 1e-6))
        out.append((sensor, per_frame, true_t))
    return out


def test_jitter_does_not_move_samples() -> None:
    rng = random.Random(3)
    timeline = AccTimeline(25.0)
    errors = []
    for k, (sensor, n, true_t) in enumerate(_frames(120, 25.0, 10)):
        latency = 0.030 + rng.expovariate(1 / 0.040)  # 30 ms floor + jitter
        _ns, times = timeline.place(sensor, n, true_t + latency)
        if k >= 20:  # after a few seconds the floor has been seen
            errors.append(times[-1] - (true_t + 0.030))
        assert np.all(np.diff(times) > 0)
    err = np.abs(np.asarray(errors))
    print(f"\n[pmd] placement error over 2 min of jittery frames: max {err.max() * 1000:.1f} ms")
    assert err.max() < 0.010  # jitter of ~40 ms mean moves the samples by under 10 ms


def test_spacing_follows_the_sensor_timestamps_and_drift_is_followed() -> None:
    timeline = AccTimeline(25.0)
    frames = _frames(600, 25.0, 25, ppm=-80.0)  # sensor clock 80 ppm slow
    for sensor, n, true_t in frames:
        ns, times = timeline.place(sensor, n, true_t + 0.02)
    assert ns[-1] == frames[-1][0] and len(ns) == 25
    spacing = np.diff(ns)
    assert np.all(np.abs(spacing - 40e6 * (1 - 80e-6)) <= 1)  # the sensor's own spacing
    # after 10 minutes the estimate still puts the last sample at its true time + 20 ms
    assert abs(times[-1] - (frames[-1][2] + 0.02)) < 0.005


def test_clock_set_forward_is_followed_a_late_burst_is_not() -> None:
    timeline = AccTimeline(25.0)
    frames = _frames(20, 25.0, 10)
    for sensor, n, true_t in frames[:20]:
        timeline.place(sensor, n, true_t + 0.02)
    base = timeline.offset
    sensor, n, true_t = frames[20]
    timeline.place(sensor, n, true_t + 3.0)  # one frame 3 s late
    assert timeline.offset == base
    for sensor, n, true_t in frames[21:]:
        timeline.place(sensor, n, true_t + 60.02)  # the wall clock jumped a minute
    assert timeline.offset is not None and base is not None
    assert timeline.offset == pytest.approx(base + 60.0, abs=0.01)


def test_accumulator_equals_the_batch_measure_and_carries_open_seconds() -> None:
    rng = np.random.default_rng(1)
    rate = 25.0
    t = 1_700_000_000.3 + np.arange(int(30 * rate)) / rate
    walking = (t - t[0]) > 15
    xyz = rng.normal(0, 2, (t.size, 3))
    xyz[:, 2] += 1000.0  # gravity on z
    xyz[walking, 1] += 212.0 * np.sin(2 * math.pi * 2.0 * t[walking])
    acc = MovementAccumulator()
    got: list[Movement] = []
    for start in range(0, t.size, 9):  # frames of 9 samples, not aligned to seconds
        got += acc.add(t[start : start + 9], xyz[start : start + 9])
    ends, mg = movement_per_second(t, xyz[:, 0], xyz[:, 1], xyz[:, 2])
    # the last second is still open
    assert [m.t for m in got] == ends[:-1].tolist()
    assert [m.mg for m in got] == pytest.approx(mg[:-1].tolist(), rel=1e-9)
    still = [m.mg for m in got if m.t < t[0] + 14]
    moving = [m.mg for m in got if m.t > t[0] + 17]
    assert max(still) < 6 and min(moving) > 120
    assert acc.late == 0


def test_accumulator_drops_late_samples_and_restarts_after_the_clock_went_back() -> None:
    acc = MovementAccumulator()
    t = 100.0 + np.arange(50) / 25.0
    xyz = np.zeros((50, 3))
    assert [m.t for m in acc.add(t, xyz)] == [101.0]
    assert acc.add(np.array([100.5]), np.zeros((1, 3))) == []  # second 100 is given out
    assert acc.late == 1
    back = 50.0 + np.arange(50) / 25.0  # the clock went back 50 s
    assert [m.t for m in acc.add(back, xyz)] == [51.0]
    assert acc.late == 1
