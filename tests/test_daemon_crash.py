"""The daemon killed with SIGKILL at random moments, 50 times: the log passes SQLite's
integrity check every time, no beat is stored twice, none is missing between the first and
the newest stored, and every beat the daemon had reported as received (its status file)
more than five seconds of source time before the kill is in the log."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from kindpulse.daemon.store import DB_NAME, Store
from kindpulse.sensors.record import CSV_HEADER, format_rr_ms, format_timestamp

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))
DATA = Path(__file__).parent / "data"
T0 = 1_767_600_000.0  # 2026-01-05, epoch seconds
SPEED = 10.0
#: Beats in memory before a write, at most (DESIGN.md: five seconds of beat time).
BATCH_S = 5.0


def master() -> tuple[np.ndarray, np.ndarray]:
    """An hour of real beats (NSRDB) at fixed wall-clock times, in ms."""
    rr = np.loadtxt(DATA / "nsrdb_60min.txt")
    t = np.round((T0 + np.cumsum(rr) / 1000.0) * 1000).astype(np.int64)
    return t, rr


def write_slice(path: Path, t_ms: np.ndarray, rr: np.ndarray, start: int) -> None:
    lines = [CSV_HEADER]
    lines += [
        f"{format_timestamp(a / 1000.0)},{format_rr_ms(b)}"
        for a, b in zip(t_ms[start:].tolist(), rr[start:].tolist(), strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def stored(state: Path) -> np.ndarray:
    with Store.open(state) as store:
        t, _ = store.beats_raw(0.0, 4e9)
    return t


def _last_beat(status: Path) -> float | None:
    """The newest beat the daemon's status file says it received (None: none yet, or no
    file, or caught mid-replace)."""
    try:
        value = json.loads(status.read_text()).get("last_beat_epoch")
    except (json.JSONDecodeError, OSError):
        return None
    return float(value) if value else None


def crash_lane(lane: Path, runs: int, rng: random.Random) -> list[int]:
    lane.mkdir()
    state = lane / "state"
    config = lane / "config.toml"
    config.write_text("")
    t_ms, rr = master()
    counts: list[int] = []
    checked_bound = 0
    for run in range(runs):
        newest = stored(state) if (state / DB_NAME).exists() else np.empty(0, np.int64)
        start = max(0, int(np.searchsorted(t_ms, newest[-1])) - 40) if newest.size else 0
        replay = lane / "slice.csv"
        write_slice(replay, t_ms, rr, start)
        status = state / "status.json"
        status.unlink(missing_ok=True)
        p = subprocess.Popen(
            [KINDPULSE, "run", "--config", str(config), "--source", "replay", "--replay",
             str(replay), "--speed", str(SPEED), "--state-dir", str(state)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/tmp",
            env={k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"},
        )
        # A kill during start-up now and then; mostly while beats stream in: then once the
        # daemon has said what it received (a busy machine starts it slower), and a random
        # while later.
        if run % 5 == 0:
            time.sleep(rng.uniform(0.1, 0.6))
        else:
            deadline = time.monotonic() + 60.0
            while not _last_beat(status) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.5, 2.5))
        reported = _last_beat(status)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
        assert p.returncode == -signal.SIGKILL
        if not (state / DB_NAME).exists():  # killed before it opened the log: nothing to lose
            assert reported is None
            counts.append(0)
            continue

        db = sqlite3.connect(state / DB_NAME)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        times = stored(state)
        assert np.all(np.diff(times) > 1), "a beat time is stored twice"
        # No holes: the stored beats are exactly the master's, from its first beat on.
        assert np.array_equal(times, t_ms[: times.size])
        if reported is not None and reported > 0:
            checked_bound += 1
            assert times.size and times[-1] / 1000.0 >= reported - BATCH_S, (
                f"run {run}: newest stored {times[-1] / 1000.0 if times.size else None}, "
                f"reported received {reported}"
            )
        counts.append(int(times.size))
    assert checked_bound >= runs // 3, f"only {checked_bound} runs had a status to check"
    return counts


def test_the_daemon_killed_fifty_times_keeps_a_whole_log(tmp_path: Path) -> None:
    """2 lanes × 25 runs = 50 kills, each of a real ``kindpulse run`` replaying beats."""
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(
                lambda k: crash_lane(tmp_path / f"lane{k}", 25, random.Random(k)), range(2)
            )
        )
    assert sum(len(r) for r in results) == 50
    # Every lane got somewhere: the log grew over the runs.
    assert all(r[-1] > max(r[0], 0) for r in results)
