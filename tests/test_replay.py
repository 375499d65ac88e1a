"""Replay and simulated sources: the same protocol as the strap, paced, on the wall clock."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from kindpulse.sensors.replay import ReplaySource, simulated_source
from kindpulse.types import Beat, Gap, Movement

from .conftest import DATA


async def collect(src: ReplaySource) -> list[Beat | Gap | Movement]:
    return [item async for item in src.stream()]


def test_plain_file_beats_land_from_start_and_keep_the_rr() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    src = ReplaySource.from_file(DATA / "nsrdb_5min.txt", start=start, speed=1000.0)
    t0 = time.monotonic()
    items = asyncio.run(collect(src))
    took = time.monotonic() - t0
    rr = np.loadtxt(DATA / "nsrdb_5min.txt")
    beats = [b for b in items if isinstance(b, Beat)]
    assert [b.rr_ms for b in beats] == rr.tolist()
    c = np.cumsum(rr)
    expected = start.timestamp() + (c - c[0]) / 1000.0
    np.testing.assert_allclose([b.t for b in beats], expected, rtol=0, atol=1e-6)
    # About 5 minutes of beats at 1000x: about 0.3 s, never instantly, never real time.
    assert 0.2 < took < 5.0
    assert src.finished and not src.status.connected
    assert src.status.counters.beats == rr.size


def test_timestamped_file_keeps_its_clock_and_its_gaps(tmp_path: Path) -> None:
    rr = np.loadtxt(DATA / "nsrdb_5min.txt")[:100]
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    offs = np.cumsum(rr) - rr[0]
    offs[50:] += 20_000.0  # twenty seconds without beats
    f = tmp_path / "rec.csv"
    f.write_text(
        "timestamp,rr_ms\n"
        + "".join(
            f"{(t0 + timedelta(milliseconds=float(o))).isoformat(timespec='milliseconds')},{v:g}\n"
            for o, v in zip(offs, rr, strict=True)
        )
    )
    src = ReplaySource.from_file(f, start=datetime(2000, 1, 1, tzinfo=timezone.utc), speed=5000.0)
    items = asyncio.run(collect(src))
    gaps = [i for i, x in enumerate(items) if isinstance(x, Gap)]
    assert gaps == [50]  # the gap comes right before the first beat after it
    beats = [x for x in items if isinstance(x, Beat)]
    assert beats[0].t == pytest.approx(t0.timestamp(), abs=1e-3)  # its own clock wins
    assert beats[50].t - beats[49].t == pytest.approx(20.0 + rr[50] / 1000.0, abs=1e-3)


def test_close_ends_a_real_time_replay_promptly() -> None:
    async def scenario() -> tuple[int, float]:
        src = ReplaySource.from_file(DATA / "nsrdb_60min.txt", speed=1.0)
        got = 0

        async def consume() -> None:
            nonlocal got
            async for _ in src.stream():
                got += 1

        task = asyncio.create_task(consume())
        await asyncio.sleep(1.5)
        t = time.monotonic()
        await src.close()
        await asyncio.wait_for(task, timeout=2.0)
        return got, time.monotonic() - t

    got, stop_s = asyncio.run(scenario())
    assert 1 <= got <= 4  # real time: about one beat a second, the first at once
    assert stop_s < 1.0


def test_simulated_source_streams_the_scenario() -> None:
    src = simulated_source("stress", seed=3, speed=20000.0, now=lambda: 1_700_000_000.0)
    items = asyncio.run(collect(src))
    beats = [x for x in items if isinstance(x, Beat)]
    from kindpulse.sensors.simulator import load_scenario, simulate

    sim = simulate(load_scenario("stress"), 3)
    assert [b.rr_ms for b in beats] == sim.rr_ms.tolist()
    assert beats[0].t == pytest.approx(1_700_000_000.0 + sim.t_ms[0] / 1000.0)
    assert all(b2.t > b1.t for b1, b2 in itertools.pairwise(beats))
    # Every second's movement, at the second's end on the same clock, among the beats in
    # time order.
    moves = [x for x in items if isinstance(x, Movement)]
    ends, mg = sim.movement_track()
    assert [m.mg for m in moves] == mg.tolist()
    np.testing.assert_allclose([m.t for m in moves], 1_700_000_000.0 + ends / 1000.0, atol=1e-6)
    times = [x.t for x in items if not isinstance(x, Gap)]
    assert times == sorted(times)


def test_a_file_replay_has_no_movement_and_a_motion_chunk_is_paced_too() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    src = ReplaySource.from_file(DATA / "nsrdb_5min.txt", start=start, speed=5000.0)
    assert not any(isinstance(x, Movement) for x in asyncio.run(collect(src)))
    # A chunk of beats and one with movement alone (a dropout of beats, the strap moving).
    rr = np.full(10, 1000.0)
    chunks = [
        (rr, np.cumsum(rr), np.arange(1.0, 11.0) * 1000.0, np.full(10, 5.0)),
        (np.empty(0), np.empty(0), np.arange(11.0, 21.0) * 1000.0, np.full(10, 150.0)),
    ]
    t0 = time.monotonic()
    items = asyncio.run(collect(ReplaySource(chunks, start_epoch_s=100.0, speed=20.0)))
    took = time.monotonic() - t0
    assert [type(x).__name__ for x in items[:3]] == ["Beat", "Movement", "Beat"]
    assert sum(isinstance(x, Movement) for x in items) == 20
    assert items[-1] == Movement(120.0, 150.0)
    assert 0.8 < took < 5.0  # 19 s of source time at 20x: paced, movement included


# -- streaming the file: the same as reading it whole, in constant memory ------------------


def _polar_lines(rr: np.ndarray, *, gap_at: int | None = None) -> str:
    t0 = datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    out = ["Phone timestamp;RR-interval [ms]"]
    for k, c in enumerate(np.cumsum(rr) - rr[0]):
        jump = 30_000.0 if gap_at is not None and k >= gap_at else 0.0
        ts = t0 + timedelta(milliseconds=float(c) + jump)
        out.append(f"{ts.isoformat(timespec='milliseconds')};{rr[k]:g}")
    return "\n".join(out) + "\n"


_RR = np.loadtxt(DATA / "nsrdb_5min.txt")[:60]
#: Recordings people have and broken ones, each read whole and streamed (bytes).
CORPUS: dict[str, bytes] = {
    "plain ms": "".join(f"{v:g}\n" for v in _RR).encode(),
    "no final newline": "\n".join(f"{v:g}" for v in _RR).encode(),
    "seconds, fractional": "".join(f"{v / 1000:.6f}\n" for v in _RR).encode(),
    "seconds in header": ("rr (s)\n" + "".join(f"{v / 1000:.3f}\n" for v in _RR)).encode(),
    "bom, crlf, comments": (
        "\ufeff# exported\r\nRR\r\n\r\n"
        + "".join(f"{v:g}\r\n" + ("# note\r\n" if k % 7 == 0 else "") for k, v in enumerate(_RR))
    ).encode(),
    "polar with gap": _polar_lines(_RR, gap_at=30).encode(),
    "plain second timestamps": (
        "time,rr_ms\n"
        + "".join(f"{c / 1000:.4f},{v:g}\n" for c, v in zip(np.cumsum(_RR), _RR, strict=True))
    ).encode(),
    "date first row, no header": b"2024-05-01T10:00:00,800\n2024-05-01T10:00:00.8,810\n",
    "space columns": "".join(f"{k} {v:g} 1\n" for k, v in enumerate(_RR)).encode(),
    "median on the line, even": b"9\n9.5\n10\n11\n",
    "median on the line, below": b"2\n9.99\n10\n11\n",
    "median on the line, odd": b"9\n10\n11\n",
    "inline comment": b"800 # first\n810\n",
    "empty": b"",
    "only comments": b"# only a note\n\n",
    "only a header": b"rr_ms\n",
    "not a number late": b"800\n810\n" * 40 + b"abc\n790\n",
    "negative": b"800\n-5\n",
    "nan": b"800\nNaN\n",
    "inf": b"800\ninf\n",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "nul after data": b"800\n\xff\xfe\x00garbage",
    "not utf-8 late": b"800\n" * 50 + b"\xc3\x28\n",
    "not utf-8 after bom": b"\xef\xbb\xbf800\n" + b"810\n" * 20 + b"\xc3\x28\n",
    "not a timestamp": b"time,rr\n2024-01-01T10:00:00,800\nyesterday,800\n",
    "back in time": b"time,rr\n10,800\n9,800\n",
    "dates then numbers": b"time,rr\n2024-01-01T10:00:00,800\n5,800\n",
    "numbers then dates": b"time,rr\n5,800\n2024-01-01T10:00:00,800\n",
    "timestamp inf": b"time,rr\n5,800\ninf,800\n",
    "too long in ms": b"800\n999999\n",
    "too long in s": b"0.8\n0.81\n75\n0.8\n0.8\n",
    "no rr column": b"a,b\n1,2\n",
    "too few columns late": b"t;rr\n1;800\n2;810\n3\n4;x\n",
    # Several offences: the whole-file reader's order decides which one is named.
    "negative early, word late": b"800\n-5\n" + b"800\n" * 30 + b"abc\n",
    "too long early, word late": b"800\n999999\n" + b"800\n" * 30 + b"abc\n",
    "late column, early word": b"t;rr\n1;abc\n" + b"2;800\n" * 30 + b"3\n",
    "bad time early, bad rr late": b"t,rr\nnope,800\n" + b"5,800\n" * 30 + b"6,-1\n",
}


def _whole(path: Path) -> tuple[str, object]:
    from kindpulse.errors import KindpulseError
    from kindpulse.sensors.rrfile import read_rr_file

    try:
        rec = read_rr_file(path)
    except KindpulseError as e:
        return "error", (type(e).__name__, str(e))
    return "ok", (rec.rr_ms, rec.t_ms, rec.start, rec.unit)


def _streamed(path: Path, block_bytes: int) -> tuple[str, object]:
    from kindpulse.errors import KindpulseError
    from kindpulse.sensors.rrfile import stream_rr_file

    try:
        s = stream_rr_file(path, block_bytes=block_bytes)
        pieces = list(s.chunks())
    except KindpulseError as e:
        return "error", (type(e).__name__, str(e))
    rr = np.concatenate([p[0] for p in pieces])
    t = np.concatenate([p[1] for p in pieces if p[1] is not None]) if s.has_times else None
    assert s.beats == rr.size
    return "ok", (rr, t, s.start, s.unit)


@pytest.mark.parametrize("case", sorted(CORPUS))
@pytest.mark.parametrize("block_bytes", [1, 5, 64, 1 << 16])
def test_streamed_file_equals_the_whole_file_reader(
    tmp_path: Path, case: str, block_bytes: int
) -> None:
    f = tmp_path / "rr.txt"
    f.write_bytes(CORPUS[case])
    whole, streamed = _whole(f), _streamed(f, block_bytes)
    assert whole[0] == streamed[0], (whole, streamed)
    if whole[0] == "error":
        assert streamed[1] == whole[1]
        return
    (rr_a, t_a, start_a, unit_a), (rr_b, t_b, start_b, unit_b) = whole[1], streamed[1]  # type: ignore[misc]
    assert np.array_equal(rr_a, rr_b)  # bit for bit
    assert (t_a is None and t_b is None) or np.array_equal(t_a, t_b)
    assert (start_a, unit_a) == (start_b, unit_b)


def test_streamed_errors_come_before_the_first_beat(tmp_path: Path) -> None:
    from kindpulse.errors import InputDataError, NoInputError

    f = tmp_path / "late.txt"
    f.write_bytes(b"800\n" * 100_000 + b"oops\n")
    with pytest.raises(InputDataError, match=r":100001: 'oops' is not a number"):
        ReplaySource.from_file(f, speed=1.0)
    with pytest.raises(NoInputError, match="no such file"):
        ReplaySource.from_file(tmp_path / "missing.txt", speed=1.0)
    with pytest.raises(NoInputError, match="is a directory"):
        ReplaySource.from_file(tmp_path, speed=1.0)


def test_a_long_replay_gives_the_whole_file_times_exactly(tmp_path: Path) -> None:
    """Many blocks, fractional seconds: the running sum over blocks is the whole file's."""
    from kindpulse.sensors.rrfile import BLOCK_BYTES, read_rr_file

    rng = np.random.default_rng(5)
    rr_s = rng.uniform(0.6, 1.1, 40_000)
    f = tmp_path / "long.txt"
    f.write_text("".join(f"{v:.6f}\n" for v in rr_s))
    assert f.stat().st_size > 4 * BLOCK_BYTES
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    src = ReplaySource.from_file(f, start=start, speed=1e9)
    beats = [b for b in asyncio.run(collect(src)) if isinstance(b, Beat)]
    rec = read_rr_file(f)
    c = np.cumsum(rec.rr_ms)
    assert [b.rr_ms for b in beats] == rec.rr_ms.tolist()
    start_s = start.timestamp() - float(rec.rr_ms[0]) / 1000.0
    assert [b.t for b in beats] == (start_s + c / 1000.0).tolist()  # bit for bit


def test_a_replay_holds_one_block_not_the_file(tmp_path: Path) -> None:
    """Memory stays the same whatever the recording's length: reading it whole would hold
    its text and its values (megabytes here); the replay holds about one block."""
    import tracemalloc

    f = tmp_path / "week.txt"
    f.write_bytes((DATA / "nsrdb_60min.txt").read_bytes() * 60)  # 281,040 beats, 1.7 MB
    size = f.stat().st_size

    async def first_beats(src: ReplaySource, n: int) -> int:
        got = 0
        async for item in src.stream():
            got += isinstance(item, Beat)
            if got == n:
                break
        return got

    tracemalloc.start()
    try:
        src = ReplaySource.from_file(f, speed=1e9)
        got = asyncio.run(first_beats(src, 100_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == 100_000
    assert peak < size / 4, f"peak {peak:,} bytes for a {size:,}-byte file"


def test_replay_and_simulator_sources_leave_bluetooth_and_dbus_unloaded(tmp_path: Path) -> None:
    """Memory: a daemon on a replay or the simulator never loads bleak or D-Bus, and the
    desktop notifier loads desktop-notifier only when it first notifies."""
    import subprocess
    import sys

    code = f"""
import sys
from pathlib import Path
from kindpulse.config.loader import default_config
from kindpulse.daemon.notifier import DesktopNotifier, default_notifier
from kindpulse.daemon.run import RunOptions, make_source
for source in ("replay", "sim"):
    opts = RunOptions(source=source, replay=Path({str(DATA / "nsrdb_5min.txt")!r}), start=None,
                      scenario=None, speed=1.0, state_dir=Path({str(tmp_path)!r}),
                      until_end=True)
    make_source(opts, default_config())
assert isinstance(default_notifier(), DesktopNotifier)
loaded = sorted(m for m in ("bleak", "dbus_fast", "desktop_notifier") if m in sys.modules)
assert not loaded, loaded
"""
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120
    )
    assert p.returncode == 0, p.stderr
