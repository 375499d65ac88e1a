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
from kindpulse.types import Beat, Gap

from .conftest import DATA


async def collect(src: ReplaySource) -> list[Beat | Gap]:
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
