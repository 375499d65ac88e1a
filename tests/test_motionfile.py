"""Accelerometer files (:mod:`kindpulse.sensors.motionfile`): sample times against the
truth of a simulated strap (bursty Bluetooth arrival, a drifting strap clock), movement
against the measure on the true times, and bad files as one line and exit 65."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from kindpulse.errors import InputDataError
from kindpulse.motion import movement_per_second
from kindpulse.sensors.motionfile import read_motion_file, track_on_recording
from kindpulse.sensors.rrfile import read_rr_file

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))
POLAR_HEADER = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]"
F64 = NDArray[np.float64]


def kp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KINDPULSE, *args], capture_output=True, text=True, timeout=120)


@dataclass(frozen=True)
class Truth:
    """What the simulated strap really did: each sample's true instant (Unix seconds) and
    its acceleration (mg) as written."""

    epoch_s: F64
    xyz: NDArray[np.float64]


def _suffix(start: datetime) -> str:
    off = start.utcoffset()
    if off is None:
        return ""
    sec = int(off.total_seconds())
    if sec == 0 and start.tzinfo is timezone.utc:
        return "Z"
    sign = "+" if sec >= 0 else "-"
    return f"{sign}{abs(sec) // 3600:02d}:{abs(sec) % 3600 // 60:02d}"


def _acceleration(
    rng: np.random.Generator,
    t: F64,
    gravity: tuple[float, float, float],
    walk: tuple[float, float] | None,
) -> NDArray[np.float64]:
    """Gravity on whichever axes, a few mg of breathing and noise, and a walk (about 110 mg
    of vertical bounce at 1.8 steps a second and some sway) in the ``walk`` span (s)."""
    g = np.asarray(gravity, dtype=np.float64)[:, None]
    acc = g + rng.normal(0.0, 3.0, (3, t.size))
    acc += 4.0 * np.sin(2 * np.pi * 0.25 * t) * (g / 1000.0)
    if walk is not None:
        on = (t >= walk[0]) & (t < walk[1])
        up = g[:, 0] / np.linalg.norm(g[:, 0])
        side = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
        bounce = 150.0 * np.sin(2 * np.pi * 1.8 * t[on])
        sway = 60.0 * np.sin(2 * np.pi * 0.9 * t[on])
        acc[:, on] += up[:, None] * bounce + side[:, None] * sway
    return np.rint(acc)


def write_polar(
    path: Path,
    *,
    fs: float,
    duration_s: float,
    start: datetime,
    gravity: tuple[float, float, float] = (0.0, 0.0, 1000.0),
    drift_ppm: float = 40.0,
    walk: tuple[float, float] | None = None,
    seed: int = 0,
    whole_seconds: bool = False,
) -> Truth:
    """A Polar Sensor Logger accelerometer export of a strap sampling at ``fs`` on its own
    clock (running ``drift_ppm`` fast), whose frames (about 0.28 s of samples each) reach the
    phone late by a random latency (a few ms to tens of ms, now and then a stall of up to
    1.5 s that frames queue behind), every sample of a frame stamped with its arrival.
    ``start`` is the phone-clock instant of the recording's start (naive: local time, and
    the file's times are written without an offset)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    nominal = np.arange(n) / fs
    # On the phone's clock the strap's samples are a little closer together, from a phase
    # that is no whole number of ms.
    t = 0.0123457 + nominal / (1.0 + drift_ppm * 1e-6)
    sensor_ns = 599_616_000_000_000_000 + np.rint(nominal * 1e9).astype(np.int64)
    acc = _acceleration(rng, t, gravity, walk)
    per_frame = max(1, round(fs * 0.28))
    frame = np.arange(n) // per_frame
    last = np.minimum((np.arange(frame[-1] + 1) + 1) * per_frame - 1, n - 1)
    latency = rng.exponential(0.02, last.size)
    latency += np.where(rng.random(last.size) < 0.02, rng.uniform(0.3, 1.5, last.size), 0.0)
    arrival = np.maximum.accumulate(t[last] + latency)[frame]
    wall = np.datetime64(start.replace(tzinfo=None), "us")
    stamps = wall + np.floor(arrival * 1e6).astype(np.int64).astype("timedelta64[us]")
    iso = np.datetime_as_string(stamps, unit="s" if whole_seconds else "ms")
    suffix = _suffix(start)
    ai = acc.astype(np.int64)
    rows = [
        f"{a}{suffix};{s};{x};{y};{z}"
        for a, s, x, y, z in zip(iso.tolist(), sensor_ns.tolist(), *ai.tolist(), strict=True)
    ]
    path.write_text(POLAR_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return Truth(start.astimezone().timestamp() + t, acc)


def write_plain(
    path: Path,
    *,
    fs: float,
    duration_s: float,
    start: datetime,
    epoch: bool = False,
    walk: tuple[float, float] | None = None,
) -> Truth:
    """``timestamp,x_mg,y_mg,z_mg`` with the true sample times (ISO with ms, or epoch
    seconds) and values with a decimal."""
    rng = np.random.default_rng(7)
    t = 0.25 + np.arange(int(duration_s * fs)) / fs
    acc = _acceleration(rng, t, (0.0, -1000.0, 0.0), walk) + 0.5
    t0 = start.astimezone().timestamp()
    if epoch:
        stamps = [f"{t0 + v:.3f}" for v in t.tolist()]
    else:
        wall = np.datetime64(start.replace(tzinfo=None), "us")
        us = np.rint(t * 1e6).astype(np.int64).astype("timedelta64[us]")
        stamps = [s + _suffix(start) for s in np.datetime_as_string(wall + us, unit="ms").tolist()]
    rows = [
        f"{s},{x:.1f},{y:.1f},{z:.1f}" for s, x, y, z in zip(stamps, *acc.tolist(), strict=True)
    ]
    path.write_text("timestamp,x_mg,y_mg,z_mg\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return Truth(t0 + t, acc)


def per_second_agreement(truth: Truth, t_epoch: F64, xyz: tuple[F64, F64, F64]) -> F64:
    """Relative difference of each second's movement (read vs true times), on whole
    seconds of the true clock's epoch."""
    ref = float(np.floor(truth.epoch_s[0]))
    e1, m1 = movement_per_second(truth.epoch_s - ref, *truth.xyz)
    e2, m2 = movement_per_second(t_epoch - ref, *xyz)
    _, i1, i2 = np.intersect1d(e1, e2, return_indices=True)
    assert i1.size >= 0.95 * e1.size
    return np.abs(m2[i2] - m1[i1]) / m1[i1]


LOCAL = datetime(2026, 1, 5, 9, 0, 0)
PLUS_ONE = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone(timedelta(hours=1)))
UTC = datetime(2026, 1, 5, 8, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("fs", "gravity", "start"),
    [
        (25, (0.0, 0.0, 1000.0), LOCAL),  # upright, local phone time
        (50, (0.0, 0.0, -1000.0), PLUS_ONE),  # upside down, with an offset
        (100, (600.0, 0.0, 800.0), UTC),  # tilted, UTC
        (200, (0.0, 1000.0, 0.0), LOCAL),  # on its side
    ],
)
def test_polar_samples_land_on_their_true_times_and_keep_their_movement(
    tmp_path: Path, fs: int, gravity: tuple[float, float, float], start: datetime
) -> None:
    path = tmp_path / f"acc{fs}.txt"
    truth = write_polar(
        path, fs=fs, duration_s=1200, start=start, gravity=gravity, walk=(400, 800), seed=fs
    )
    got = read_motion_file(path)
    assert got.layout == "polar"
    assert got.rate_hz == pytest.approx(fs, rel=1e-3)
    assert got.drift_ppm == pytest.approx(40.0, abs=3.0)
    err = got.t0_epoch_s + got.t_s - truth.epoch_s
    assert np.abs(err).max() < 0.003  # s; the phone stamps are up to 1.5 s late
    np.testing.assert_array_equal(np.vstack([got.x_mg, got.y_mg, got.z_mg]), truth.xyz)
    rel = per_second_agreement(truth, got.t0_epoch_s + got.t_s, (got.x_mg, got.y_mg, got.z_mg))
    assert float(np.median(rel)) < 0.01
    assert float(np.percentile(rel, 99)) < 0.05
    # The measure does not care how the strap sits: still a few mg, walking ~100 mg.
    ref = float(np.floor(truth.epoch_s[0]))
    end, mg = movement_per_second(got.t0_epoch_s + got.t_s - ref, got.x_mg, got.y_mg, got.z_mg)
    assert float(np.median(mg[(end > 450) & (end < 750)])) > 80.0
    assert float(np.median(mg[end < 350])) < 15.0


def test_the_phone_stamps_alone_would_be_tens_of_ms_off(tmp_path: Path) -> None:
    """The fit earns its keep: the raw phone times are late by the arrival latency."""
    path = tmp_path / "acc.txt"
    truth = write_polar(path, fs=25, duration_s=600, start=LOCAL)
    lines = path.read_text().splitlines()[1:]
    phone = np.array(
        [datetime.fromisoformat(ln.split(";")[0]).astimezone().timestamp() for ln in lines]
    )
    assert float(np.mean(phone - truth.epoch_s)) > 0.05
    got = read_motion_file(path)
    assert abs(float(np.mean(got.t0_epoch_s + got.t_s - truth.epoch_s))) < 0.001


def test_phone_times_in_whole_seconds_still_align(tmp_path: Path) -> None:
    path = tmp_path / "acc.txt"
    truth = write_polar(path, fs=25, duration_s=3600, start=LOCAL, whole_seconds=True)
    assert "T09:00:00;" in path.read_text()[:200]
    got = read_motion_file(path)
    err = got.t0_epoch_s + got.t_s - truth.epoch_s
    assert np.abs(err).max() < 0.015
    assert got.drift_ppm == pytest.approx(40.0, abs=3.0)


@pytest.mark.parametrize("epoch", [False, True])
@pytest.mark.parametrize("start", [LOCAL, PLUS_ONE])
def test_plain_layout_keeps_its_times(tmp_path: Path, epoch: bool, start: datetime) -> None:
    path = tmp_path / "acc.csv"
    truth = write_plain(path, fs=50, duration_s=120, start=start, epoch=epoch)
    got = read_motion_file(path)
    assert got.layout == "plain" and got.drift_ppm is None
    np.testing.assert_allclose(got.t0_epoch_s + got.t_s, truth.epoch_s, atol=6e-4, rtol=0)
    np.testing.assert_allclose(got.y_mg, truth.xyz[1], atol=1e-9)


def test_other_columns_and_a_trailing_delimiter_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "acc.txt"
    truth = write_polar(path, fs=50, duration_s=120, start=PLUS_ONE)
    lines = path.read_text().splitlines()
    extra = [lines[0].replace("Phone timestamp;", "Phone timestamp;note;") + ";"]
    extra += [ln.replace(";", ";n/a;", 1) + ";" for ln in lines[1:]]
    path.write_text("\n".join(extra) + "\n")
    got = read_motion_file(path)
    np.testing.assert_allclose(got.t0_epoch_s + got.t_s, truth.epoch_s, atol=0.003, rtol=0)
    np.testing.assert_array_equal(got.z_mg, truth.xyz[2])


def test_rows_a_little_out_of_order_are_sorted(tmp_path: Path) -> None:
    path = tmp_path / "acc.csv"
    write_plain(path, fs=25, duration_s=20, start=PLUS_ONE)
    lines = path.read_text().splitlines()
    lines[10], lines[11] = lines[11], lines[10]
    path.write_text("\n".join(lines) + "\n")
    got = read_motion_file(path)
    assert np.all(np.diff(got.t_s) > 0)


def test_comments_blank_lines_crlf_and_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    path = tmp_path / "acc.csv"
    truth = write_plain(path, fs=25, duration_s=10, start=PLUS_ONE)
    lines = path.read_text().splitlines()
    text = "\ufeff# exported\r\n" + "\r\n".join(lines[:5]) + "\r\n\r\n" + "\r\n".join(lines[5:])
    path.write_bytes(text.encode("utf-8"))
    got = read_motion_file(path)
    np.testing.assert_allclose(got.t0_epoch_s + got.t_s, truth.epoch_s, atol=6e-4, rtol=0)


def test_motion_lands_on_the_beats_axis(tmp_path: Path) -> None:
    """Beat time T (the RR file's axis, T_i = (ts_i − ts_0) + rr_0) and the instant
    start + (T − T_0): a walk from 09:05 is at T = 300 s when the first beat, 800 ms long,
    is stamped 09:00:00.800."""
    rr = tmp_path / "rr.csv"
    beats = ["timestamp,rr_ms"]
    t = 0.8
    while t < 600:
        beats.append(f"{(LOCAL + timedelta(seconds=t)).isoformat(timespec='milliseconds')},800")
        t += 0.8
    rr.write_text("\n".join(beats) + "\n")
    rec = read_rr_file(rr)
    acc = tmp_path / "acc.txt"
    write_polar(acc, fs=25, duration_s=900, start=LOCAL - timedelta(seconds=60), walk=(360, 480))
    track = track_on_recording(read_motion_file(acc), rec.start, rec.t_ms, str(rr))
    moving = track.end_s[track.mg > 60]
    assert moving.min() == pytest.approx(301, abs=1.0)
    assert moving.max() == pytest.approx(420, abs=1.0)
    assert track.end_s.min() >= 0 and track.end_s.max() <= 601


def test_files_that_do_not_overlap_say_so(tmp_path: Path) -> None:
    rr = tmp_path / "rr.csv"
    rr.write_text(
        "timestamp,rr_ms\n"
        + "\n".join(f"2026-01-05T12:00:{s:02d}.000+01:00,1000" for s in range(1, 59))
        + "\n"
    )
    rec = read_rr_file(rr)
    acc = tmp_path / "acc.txt"
    write_polar(acc, fs=25, duration_s=120, start=PLUS_ONE)
    with pytest.raises(InputDataError, match="does not overlap"):
        track_on_recording(read_motion_file(acc), rec.start, rec.t_ms, str(rr))


# -- bad files: one line on stderr, exit 65 (66 for a missing file) ----------------------


def _good_rr(tmp_path: Path) -> Path:
    rr = tmp_path / "rr.csv"
    rr.write_text(
        "timestamp,rr_ms\n"
        + "\n".join(
            f"{(LOCAL + timedelta(seconds=s)).isoformat(timespec='milliseconds')},1000"
            for s in range(1, 400)
        )
        + "\n"
    )
    return rr


def _polar_rows(n: int = 40) -> list[str]:
    return [
        f"2026-01-05T09:00:{i // 25:02d}.{i % 25 * 40:03d};{599616000000000000 + i * 40_000_000}"
        f";12;-8;1001"
        for i in range(n)
    ]


def _bad(rows: list[str], line: int, replace: str) -> str:
    rows = list(rows)
    rows[line - 2] = replace
    return "\n".join([POLAR_HEADER, *rows]) + "\n"


BAD_FILES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "no accelerometer samples found (the file is empty)"),
    ("blank", b" \n\n", "no accelerometer samples found (the file is empty)"),
    ("comments_only", b"# nothing\n\n# here\n", "(only comments and blank lines)"),
    ("header_only", (POLAR_HEADER + "\n").encode(), "only a header line"),
    ("unknown_header", b"a,b,c\n1,2,3\n", ":1: 'a,b,c' is not a known header, expected"),
    ("no_header", b"1,2,3,4\n5,6,7,8\n", ":1: '1,2,3,4' is not a known header"),
    (
        "word_in_x",
        _bad(_polar_rows(), 7, "2026-01-05T09:00:00.240;599616000240000000;abc;-8;1001").encode(),
        ":7: 'abc' is not a number",
    ),
    (
        "nan",
        _bad(_polar_rows(), 5, "2026-01-05T09:00:00.160;599616000160000000;12;nan;1001").encode(),
        ":5: 'nan' is not a number",
    ),
    (
        "bad_time",
        _bad(_polar_rows(), 9, "2026-01-05 9:00:00.320;599616000320000000;12;-8;1001").encode(),
        ":9: '2026-01-05 9:00:00.320' is not a timestamp",
    ),
    (
        "time_back",
        _bad(_polar_rows(), 30, "2026-01-05T08:59:50.000;599616001120000000;12;-8;1001").encode(),
        ":30: time goes back 11.080 s (expected rows in time order; up to 1 s of jitter",
    ),
    (
        "sensor_back",
        _bad(_polar_rows(), 20, "2026-01-05T09:00:00.720;599616000000000000;12;-8;1001").encode(),
        ":20: sensor timestamp goes back 0.680 s (expected rows in time order)",
    ),
    (
        "fields",
        _bad(_polar_rows(), 11, "2026-01-05T09:00:00.400;599616000400000000;12").encode(),
        ":11: 3 fields, expected 5",
    ),
    ("binary", b"\x00\x01\x02" * 10, "binary data"),
    (
        "sensor_in_us",
        "\n".join(
            [POLAR_HEADER]
            + [
                f"2026-01-05T09:{i // 1500:02d}:{i // 25 % 60:02d}.{i % 25 * 40:03d};"
                f"{599616000000000 + i * 40_000};12;-8;1001"
                for i in range(25 * 120)
            ]
        ).encode(),
        "the sensor timestamps span 0.120 s where the phone's span 119.960 s",
    ),
    (
        "epoch_then_word",
        b"timestamp,x_mg,y_mg,z_mg\n1767600000.00,1,2,3\nNaT,1,2,3\n",
        ":3: 'NaT' is not a number (expected a timestamp, ISO 8601",
    ),
    ("not_utf8", (POLAR_HEADER + "\n").encode() + b"\xff\xfe;1;2;3;4\n", ":2: not UTF-8"),
    (
        "relative_seconds",
        b"timestamp,x_mg,y_mg,z_mg\n0.00,1,2,3\n0.04,1,2,3\n",
        ":2: 0.0 seconds is not a wall-clock time",
    ),
]


@pytest.mark.parametrize(("label", "content", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_motion_file_is_one_line_and_exit_65(
    tmp_path: Path, label: str, content: bytes, message: str
) -> None:
    acc = tmp_path / f"{label}.txt"
    acc.write_bytes(content)
    p = kp("analyze", str(_good_rr(tmp_path)), "--motion", str(acc))
    assert p.returncode == 65, p.stderr
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"kindpulse: {acc}")
    assert message in lines[0]
    assert "Traceback" not in p.stderr


def test_a_missing_motion_file_is_exit_66(tmp_path: Path) -> None:
    p = kp("analyze", str(_good_rr(tmp_path)), "--motion", str(tmp_path / "nope.txt"))
    assert p.returncode == 66
    assert p.stderr.strip() == f"kindpulse: {tmp_path / 'nope.txt'}: no such file"


def test_an_rr_file_without_date_times_cannot_take_motion(tmp_path: Path) -> None:
    rr = tmp_path / "plain.txt"
    rr.write_text("\n".join(["800"] * 500) + "\n")
    acc = tmp_path / "acc.txt"
    write_polar(acc, fs=25, duration_s=60, start=LOCAL)
    p = kp("analyze", str(rr), "--motion", str(acc))
    assert p.returncode == 65
    assert len(p.stderr.splitlines()) == 1
    assert p.stderr.startswith(f"kindpulse: {rr}: no date-time timestamps")


def test_files_that_do_not_overlap_are_exit_65(tmp_path: Path) -> None:
    acc = tmp_path / "acc.txt"
    write_polar(acc, fs=25, duration_s=60, start=LOCAL + timedelta(hours=2))
    p = kp("analyze", str(_good_rr(tmp_path)), "--motion", str(acc))
    assert p.returncode == 65
    assert len(p.stderr.splitlines()) == 1
    assert "does not overlap" in p.stderr


def test_what_kindpulse_record_writes_reads_back(tmp_path: Path) -> None:
    """``kindpulse record``'s accelerometer file (Polar Sensor Logger's layout, its phone
    times already placed, values with decimals when frames are scaled) reads back to its
    samples: times to the ms it was written in, values exactly."""
    from kindpulse.sensors.record import ACC_HEADER, format_mg, format_phone_time

    rng = np.random.default_rng(3)
    t = 1_767_600_000.0123 + np.arange(25 * 300) / 25.0 / (1 + 30e-6)
    ns = 599_616_000_000_000_000 + np.arange(t.size) * 40_000_000
    xyz = np.round(rng.normal(0.0, 200.0, (3, t.size)) * 8) / 8  # steps of 1/8 mg
    rows = [
        f"{format_phone_time(a)};{s};{format_mg(x)};{format_mg(y)};{format_mg(z)}"
        for a, s, x, y, z in zip(t.tolist(), ns.tolist(), *xyz.tolist(), strict=True)
    ]
    path = tmp_path / "walk.acc.txt"
    path.write_text(ACC_HEADER + "\n" + "\n".join(rows) + "\n")
    assert any("." in r.split(";")[2] for r in rows)
    got = read_motion_file(path)
    assert np.abs(got.t0_epoch_s + got.t_s - t).max() < 0.0015
    np.testing.assert_array_equal(np.vstack([got.x_mg, got.y_mg, got.z_mg]), xyz)
    assert got.drift_ppm == pytest.approx(30.0, abs=5.0)


def test_a_files_seconds_are_the_wall_clocks_seconds_as_the_live_daemon_groups_them() -> None:
    """The daemon turns samples into movement per whole second of the wall clock; a file
    put on a recording whose first beat is at a fractional second groups the same way, so
    the same samples give the same values live and from the file."""
    from datetime import datetime, timezone

    import numpy as np

    from kindpulse.motion import movement_per_second
    from kindpulse.sensors.motionfile import MotionSamples

    rng = np.random.default_rng(5)
    t0 = 1_790_000_000.0
    t = np.arange(0.0, 120.0, 0.04)  # 25 Hz for two minutes
    x, y, z = (rng.normal(0, 30, t.size) for _ in range(3))
    samples = MotionSamples("acc.txt", t0, t, x, y, z + 1000.0, "plain", None)
    start = datetime.fromtimestamp(t0 + 10.37, tz=timezone.utc)  # first beat's timestamp
    rr_t_ms = np.arange(900.0, 110_000.0, 900.0)  # T_0 = 0.9 s
    track = track_on_recording(samples, start, rr_t_ms, "rr.csv")
    origin = t0 + 10.37 - 0.9
    live_end, live_mg = movement_per_second(t0 + t, x, y, z + 1000.0)  # whole epoch seconds
    on_axis = dict(zip((live_end - origin).round(6).tolist(), live_mg.tolist(), strict=True))
    assert track.end_s.size > 100
    for e, m in zip(track.end_s.round(6).tolist(), track.mg.tolist(), strict=True):
        assert on_axis[e] == pytest.approx(m)
