"""The private log (kindpulse.daemon.store): permissions, schema versions, deduplication,
batching, size, faults (full disk, locked database) and crash safety with a real process
killed at random moments."""

from __future__ import annotations

import itertools
import logging
import os
import random
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kindpulse.daemon.store import DB_NAME, MIGRATIONS, Store, StoreError, WindowRow

T0 = 1_767_600_000.0  # 2026-01-05, epoch seconds


def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def stored_times(path: Path) -> np.ndarray:
    """Every stored beat time (ms), straight from the file."""
    db = sqlite3.connect(path)
    try:
        parts = [
            np.frombuffer(t, dtype="<u2").astype(np.int64) + m * 60_000
            for m, t in db.execute("SELECT minute, t FROM beats ORDER BY minute")
        ]
    finally:
        db.close()
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def beats(seconds: float, start: float = T0, rr_ms: float = 800.0) -> tuple[np.ndarray, ...]:
    n = int(seconds * 1000 / rr_ms)
    rr = np.full(n, rr_ms) + np.arange(n) % 5
    return start + np.cumsum(rr) / 1000.0, rr


def test_directory_database_wal_and_shm_are_private(tmp_path: Path) -> None:
    d = tmp_path / "state"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    store = Store.open(d)
    t, rr = beats(10)
    store.add_beats(t, rr)
    store.flush()
    db = d / DB_NAME
    assert mode(d) == 0o700
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        assert p.exists(), p
        assert mode(p) == 0o600, p
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    store.close()


def test_an_empty_file_is_migrated_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).touch()
    store = Store.open(tmp_path)
    assert store.schema_version == len(MIGRATIONS)
    tables = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"beats", "windows", "episodes", "controls", "breaks", "prompts"} <= tables
    store.close()
    again = Store.open(tmp_path)  # nothing to do the second time
    assert again.schema_version == len(MIGRATIONS)
    again._db.execute("PRAGMA user_version = 99")
    again.close()
    with pytest.raises(StoreError) as e:
        Store.open(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "newer kindpulse" in msg and "99" in msg


def test_not_a_database_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"x" * 4096)
    with pytest.raises(StoreError) as e:
        Store.open(tmp_path)
    assert "\n" not in str(e.value)


def test_the_same_beat_is_stored_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    t, rr = beats(120)
    store.add_beats(t, rr)
    store.flush()
    store.add_beats(t, rr)  # the same absolute times again
    store.add_beats(t[:50] + 0.0004, rr[:50])  # within a millisecond
    store.flush()
    assert store.beat_count() == t.size
    got_t, got_rr = store.beats_between(T0, T0 + 1000)
    np.testing.assert_allclose(got_t, t, atol=5e-4)
    np.testing.assert_allclose(got_rr, rr, atol=1e-3)
    store.close()
    assert np.all(np.diff(stored_times(tmp_path / DB_NAME)) > 1)


def test_beats_wait_for_five_seconds_of_beat_time_then_one_transaction(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    other = sqlite3.connect(tmp_path / DB_NAME)
    for k in range(6):  # beats at 0, 0.9, … 4.5 s: under 5 s of beat time
        store.add_beats([T0 + 0.9 * k], [900.0])
        assert other.execute("SELECT count(*) FROM beats").fetchone()[0] == 0
    assert statements == []
    store.add_beats([T0 + 5.0], [500.0])
    assert sum(s.startswith("BEGIN") for s in statements) == 1
    assert sum(s == "COMMIT" for s in statements) == 1
    assert other.execute("SELECT sum(n) FROM beats").fetchone()[0] == 7
    other.close()
    store.close()


def test_a_day_of_beats_and_windows_is_under_1_5_mb(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rr = rng.normal(800, 50, 108_000).clip(400, 1500)  # 24 h at 75 bpm
    t = T0 + np.cumsum(rr) / 1000.0
    store = Store.open(tmp_path)
    for i in range(0, t.size, 500):
        store.add_beats(t[i : i + 500], rr[i : i + 500])
    for k in range(1440):
        store.add_window(
            WindowRow(
                T0 + 60.0 * (k + 1),
                "calm",
                75,
                75 + rng.random(),
                3.7 + rng.random(),
                40 + rng.random(),
                50 + rng.random(),
                rng.random(),
            )
        )
    store.flush()
    store._db.execute("VACUUM")
    store.close()
    size = os.path.getsize(tmp_path / DB_NAME)
    assert size < 1_500_000, size


def test_a_full_disk_warns_once_keeps_running_counts_drops_and_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(tmp_path, max_buffer_s=120.0)
    t, rr = beats(60)
    store.add_beats(t, rr)
    store.flush()
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    caplog.set_level(logging.WARNING, logger="kindpulse.daemon.store")
    t2, rr2 = beats(600, start=float(t[-1]))  # 10 minutes while the disk is full
    for i in range(t2.size):
        store.add_beats(t2[i : i + 1], rr2[i : i + 1])
    store.add_window(WindowRow(float(t2[-1]), "calm", 70, 70.0, 3.7))
    assert store.write_failures > 10
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot be written" in warnings[0].getMessage()
    assert store.dropped_beats > 0
    dropped = store.dropped_beats
    store._db.execute("PRAGMA max_page_count = 1073741823")
    assert store.flush()
    # All beats but the counted, dropped oldest ones are there, and a gap says so.
    assert store.beat_count() == t.size + t2.size - dropped
    (gap,) = list(store.query("SELECT start_ms, end_ms, dropped, reason FROM gaps"))
    assert gap[2] == dropped and str(dropped) in gap[3]
    assert gap[0] >= round(t2[0] * 1000) and gap[1] < round(t2[-1] * 1000) - 100_000
    assert len(store.windows_between(T0, T0 + 10_000)) == 1
    store.close()


def test_a_locked_database_keeps_running_and_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Store.open(tmp_path).close()
    store = Store.open(tmp_path, busy_timeout_ms=20)
    locker = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    caplog.set_level(logging.WARNING, logger="kindpulse.daemon.store")
    t, rr = beats(60)
    for i in range(t.size):
        store.add_beats(t[i : i + 1], rr[i : i + 1])
    store.add_control("pause", T0 + 3600, at_epoch_s=T0)
    assert store.write_failures > 0
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    locker.execute("ROLLBACK")
    locker.close()
    assert store.flush()
    assert store.beat_count() == t.size
    assert store.dropped_beats == 0
    assert [c.kind for c in store.controls_since(T0)] == ["pause"]
    store.close()


def test_a_read_only_log_keeps_running_and_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # chmod 0400 does not stop root, so the connection is made read-only instead.
    store = Store.open(tmp_path)
    store._db.execute("PRAGMA query_only = 1")
    caplog.set_level(logging.WARNING, logger="kindpulse.daemon.store")
    t, rr = beats(90)
    for i in range(t.size):
        store.add_beats(t[i : i + 1], rr[i : i + 1])
    store.add_device_event(T0, "connected", "strap")
    assert store.write_failures > 5
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    store._db.execute("PRAGMA query_only = 0")
    assert store.flush()
    assert store.beat_count() == t.size
    assert list(store.query("SELECT kind FROM device_events")) == [("connected",)]
    store.close()


def test_controls_are_read_back_in_order(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.add_control("snooze", T0 + 1800, at_epoch_s=T0)
        store.add_control("resume", at_epoch_s=T0 + 60)
        with pytest.raises(ValueError):
            store.add_control("explode")
    with Store.open(tmp_path) as store:  # written at once, kept across restarts
        got = store.controls_since(T0 + 1)
        assert [(c.kind, c.until) for c in got] == [("resume", None)]
        assert store.controls_since(T0)[0].until == pytest.approx(T0 + 1800)


def test_retention_and_forget(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    day = 86400.0
    for k in range(3):
        t, rr = beats(120, start=T0 + k * day)
        store.add_beats(t, rr)
        store.add_window(WindowRow(T0 + k * day + 60, "calm", 70, 70.0, 3.7))
    store.flush()
    store.apply_retention(T0 + 2 * day + 200, beats_days=1.5, windows_days=2.5)
    assert store.beat_count() == beats(120)[0].size * 2
    assert len(store.windows_between(0, 2e9)) == 3
    store.forget(T0 + 2 * day + 60)
    t_left, _ = store.beats_between(0, 2e9)
    assert t_left.min() >= T0 + 2 * day + 60
    assert len(store.windows_between(0, 2e9)) == 1
    store.forget(None)
    assert store.beat_count() == 0 and store.windows_between(0, 2e9) == []
    store.close()


WRITER = """
import sys
from pathlib import Path
from kindpulse.daemon.store import Store
store = Store.open(Path(sys.argv[1]))
t0 = float(sys.argv[2])
for i in range(int(sys.argv[3]), 10**6):
    t = t0 + 0.8 * (i + 1)
    store.add_beats([t], [800.0])
    print(round(t * 1000), flush=True)
"""


def _crash_lane(state: Path, runs: int, rng: random.Random) -> list[int]:
    """Start, kill at a random moment, check; ``runs`` times. Each run starts 40 beats
    before the newest stored one, so it both repeats beats and adds new ones. Returns the
    beats stored after each run."""
    counts = [0]
    reported = 0
    for _ in range(runs):
        p = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(state), str(T0), str(max(0, counts[-1] - 40))],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd="/tmp",
            text=True,
        )
        assert p.stdout is not None
        first = p.stdout.readline()
        assert first, "the writer did not start"
        time.sleep(rng.uniform(0.0, 0.25))
        p.kill()
        out = first + p.stdout.read()
        p.wait()
        lines = [ln for ln in out.split("\n")[:-1] if ln]  # complete lines only
        reported = max(reported, int(lines[-1]))
        db = sqlite3.connect(state / DB_NAME)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        times = stored_times(state / DB_NAME)
        assert times.size > 0
        assert np.all(np.diff(times) > 1), "a beat time is stored twice"
        assert times[-1] >= reported - 5000, (times[-1], reported)
        # No holes: every beat from the first to the newest stored one is there.
        first_ms = round((T0 + 0.8) * 1000)
        assert times.size == round((times[-1] - first_ms) / 800) + 1
        counts.append(int(times.size))
    return counts[1:]


def test_killed_writers_leave_a_consistent_log_losing_at_most_five_seconds(
    tmp_path: Path,
) -> None:
    """Writers killed with SIGKILL at random moments, 2 lanes × 26 runs = 52 kills."""
    from concurrent.futures import ThreadPoolExecutor

    lanes = [tmp_path / f"lane{k}" for k in range(2)]
    with ThreadPoolExecutor(len(lanes)) as pool:
        results = list(
            pool.map(lambda a: _crash_lane(a[1], 26, random.Random(a[0])), enumerate(lanes))
        )
    assert sum(len(r) for r in results) >= 50
    # Every run got somewhere: the log grew over the runs.
    assert all(r[-1] > r[0] for r in results)


@pytest.mark.parametrize("version", range(1, len(MIGRATIONS)))
def test_a_log_of_every_earlier_version_is_migrated_keeping_its_rows(
    tmp_path: Path, version: int
) -> None:
    """A log written at ``version`` (its schema steps only, with rows in it) opens at the
    latest version and keeps every row."""
    db = sqlite3.connect(tmp_path / DB_NAME)
    for k in range(version):
        db.executescript(f"BEGIN;\n{MIGRATIONS[k]}\nPRAGMA user_version = {k + 1};\nCOMMIT;")
    db.execute(
        "INSERT INTO episodes (kind, start_ms, confirmed_ms, end_ms, explanation)"
        " VALUES ('stress', 1000, 2000, 3000, 'why')"
    )
    db.execute("INSERT INTO reflections (t_ms, text) VALUES (5, 'kept')")
    db.execute(  # minute 100: two beats of a second each (RR in 1/16 µs)
        "INSERT INTO beats (minute, n, t, rr) VALUES (100, 2, ?, ?)",
        (np.array([0, 1000], "<u2").tobytes(), np.array([16_000_000] * 2, "<u4").tobytes()),
    )
    db.executemany(
        "INSERT INTO windows (t_ms, state, n_beats, mean_hr, artifact_pct) VALUES (?, ?, ?, ?, ?)",
        [(900_000 + 60_000 * k, "calm", 60, 60.0, 1.0) for k in range(1, 21)],
    )
    db.commit()
    db.close()
    store = Store.open(tmp_path)
    assert store.schema_version == len(MIGRATIONS)
    assert list(store.query("SELECT kind, explanation FROM episodes")) == [("stress", "why")]
    assert list(store.query("SELECT text FROM reflections")) == [("kept",)]
    store.add_quiet_moment(10.0, 1.0, "quiet_hours")
    store.add_quiet_moment(11.0, 1.0, "quiet_hours")  # the same episode and reason: once
    store.add_quiet_moment(12.0, 1.0, "cooldown")
    store.flush()
    assert store.rr_totals([6000.0, 6000.5, 6060.0]) == [1.0, 1.0]  # sums of old rows too
    store.add_beats([6061.0], [900.0])  # a new minute has its sum stored
    assert store.rr_totals([5000.0, 7000.0]) == [2.9]
    q = store.window_buckets(0.0, 3600.0)  # the quarter-hour totals, built from the rows
    assert q["start"].tolist() == [900.0, 1800.0] and q["minutes"].tolist() == [15, 5]
    assert q["wear_s"].tolist() == [900.0, 300.0]
    np.testing.assert_allclose(q["artifact_beats"], [9.0, 3.0])
    rows = list(store.query("SELECT episode_start_ms, reason FROM quiet_moments ORDER BY t_ms"))
    assert rows == [(1000, "quiet_hours"), (1000, "cooldown")]
    store.close()


def test_quarter_hour_totals_follow_every_write_replace_and_delete(tmp_path: Path) -> None:
    """``window_buckets`` (kept by triggers) equals summing the windows themselves, after
    inserts, replacements of the same minute, retention and ``forget``, for periods that
    cut quarters anywhere."""
    rng = random.Random(3)
    store = Store.open(tmp_path)

    def row(minute: int) -> WindowRow:
        n = rng.choice([0, 55, 60, 70, 90])
        hr = rng.choice([None, 0.0, 48.5, 61.0, 80.2])
        return WindowRow(
            T0 + 60.0 * minute,
            rng.choice(["calm", "stress"]),
            n,
            hr,
            3.5,
            33.0,
            40.0,
            rng.choice([None, 0.0, 1.5]),
            rng.choice([None, None, 3.0, 150.0]),
        )

    for minute in range(600):
        store.add_window(row(minute))
    for minute in rng.sample(range(600), 150):  # the same minute written again
        store.add_window(row(minute))
    store.flush()
    store.apply_retention(T0 + 100 * 60.0 + 30 * 86400, beats_days=30, windows_days=30)
    store.forget(T0 + 130 * 60.0 + 7)

    def brute(a: float, b: float) -> dict[tuple[int, str], float]:
        out: dict[tuple[int, str], float] = {}
        for w in store.windows_between(a - 60, b + 60):
            if not (a < w.end_epoch_s <= b) or not w.n_beats or not w.mean_hr:
                continue
            q = (round(w.end_epoch_s * 1000) - 1) // 900_000
            for k, v in (
                ("minutes", 1.0),
                ("wear_s", min(60.0, w.n_beats * 60 / w.mean_hr)),
                ("beats", w.n_beats),
                ("artifact_beats", (w.artifact_pct or 0) * w.n_beats / 100),
                ("movement_minutes", float(w.movement_mg is not None)),
            ):
                out[(q, k)] = out.get((q, k), 0.0) + v
        return out

    for _ in range(40):
        a = T0 + rng.uniform(-600, 40000)
        b = a + rng.choice([10.0, 300.0, 900.0, rng.uniform(0, 40000)])
        got = store.window_buckets(a, b)
        want = brute(a, b)
        assert sorted({q for q, _ in want}) == [round(s / 900) for s in got["start"]]
        for i, s in enumerate(got["start"]):
            for k in ("minutes", "wear_s", "beats", "artifact_beats", "movement_minutes"):
                assert got[k][i] == pytest.approx(want[(round(s / 900), k)], abs=1e-6), k
        moving = [
            w.end_epoch_s
            for w in store.windows_between(a - 60, b + 60)
            if a < w.end_epoch_s <= b and w.n_beats and w.mean_hr and (w.movement_mg or 0) >= 20
        ]
        assert store.moving_minutes(a, b, 20.0).tolist() == pytest.approx(moving)
    store.close()


def test_time_worn_between_any_edges_is_the_rr_of_the_beats_between_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    store = Store.open(tmp_path)
    t, rr = beats(3000)
    store.add_beats(t, rr)
    store.flush()
    stored_t, stored_rr = store.beats_between(T0 - 10, T0 + 10_000)
    for _ in range(30):
        edges = np.sort(rng.uniform(T0 - 100, stored_t[-1] + 100, size=rng.integers(2, 6)))
        if rng.random() < 0.5:
            edges = np.floor(edges / 60) * 60  # whole minutes, read from the stored sums
        got = store.rr_totals(edges.tolist())
        want = [
            float(stored_rr[(stored_t >= a) & (stored_t < b)].sum()) / 1000
            for a, b in itertools.pairwise(edges)
        ]
        np.testing.assert_allclose(got, want, atol=1e-6)
    store.close()


@pytest.mark.parametrize("version", [3, 4])
def test_an_older_log_gains_movement_and_keeps_its_minutes_readable(
    tmp_path: Path, version: int
) -> None:
    """Movement came with log version 4 (and its quarter-hour count with 5): a version 3
    log's minutes read back with no movement (not known, never 0), a version 4 log's keep
    theirs and are counted; new minutes keep theirs, also when a minute is replaced."""
    db = sqlite3.connect(tmp_path / DB_NAME)
    for k in range(version):
        db.executescript(f"BEGIN;\n{MIGRATIONS[k]}\nPRAGMA user_version = {k + 1};\nCOMMIT;")
    db.execute(
        "INSERT INTO windows (t_ms, state, n_beats, mean_hr, ln_rmssd) VALUES (?, ?, ?, ?, ?)",
        (round((T0 + 60) * 1000), "calm", 60, 61.0, 3.7),
    )
    if version >= 4:
        db.execute(
            "INSERT INTO windows (t_ms, state, n_beats, mean_hr, movement_mg)"
            " VALUES (?, 'calm', 60, 61.0, 7.0)",
            (round((T0 + 360) * 1000),),
        )
    db.commit()
    db.close()
    store = Store.open(tmp_path)
    assert store.schema_version == len(MIGRATIONS) >= 5
    (old,) = store.windows_between(T0, T0 + 61)
    assert (old.state, old.mean_hr, old.movement_mg) == ("calm", 61.0, None)
    counted = store.window_buckets(T0, T0 + 3600)["movement_minutes"].sum()
    assert counted == (1 if version >= 4 else 0)
    if version >= 4:
        store.add_window(WindowRow(T0 + 360, "calm", 60, 61.0, 3.7))  # its movement unknown now
    assert store.window_buckets(T0, T0 + 3600)["movement_minutes"].sum() == 0
    store.add_window(WindowRow(T0 + 120, "active", 90, 95.0, 3.1, movement_mg=180.5))
    store.add_window(WindowRow(T0 + 180, "calm", 60, 62.0, 3.6, movement_mg=4.0))
    store.add_window(WindowRow(T0 + 180, "calm", 60, 62.0, 3.6, movement_mg=6.5))  # replaced
    store.add_window(WindowRow(T0 + 240, "calm", 60, 62.0, 3.6))  # no accelerometer
    got = {w.end_epoch_s: w.movement_mg for w in store.windows_between(T0, T0 + 300)}
    assert got == {T0 + 60: None, T0 + 120: 180.5, T0 + 180: 6.5, T0 + 240: None}
    assert store.moving_minutes(T0, T0 + 300, 20.0).tolist() == [T0 + 120]
    assert store.moving_minutes(T0, T0 + 300, 5.0).tolist() == [T0 + 120, T0 + 180]
    q = store.window_buckets(T0, T0 + 300)
    assert q["minutes"].sum() == 4 and q["movement_minutes"].sum() == 2
    store.close()


def test_the_moving_threshold_is_the_detectors_else_twenty_mg() -> None:
    from dataclasses import dataclass

    from kindpulse.daemon.store import DEFAULT_MOVING_MG, moving_threshold_mg
    from kindpulse.detector import DetectorConfig

    @dataclass(frozen=True)
    class WithMoving:
        moving_mg: float = 35.0

    assert DEFAULT_MOVING_MG == 20.0
    assert moving_threshold_mg(WithMoving()) == 35.0
    assert moving_threshold_mg(object()) == 20.0
    assert moving_threshold_mg(WithMoving(float("nan"))) == 20.0
    expected = getattr(DetectorConfig(), "moving_mg", 20.0)
    assert moving_threshold_mg() == moving_threshold_mg(DetectorConfig()) == expected
