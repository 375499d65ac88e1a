"""A full disk under the running daemon: its log on a 16 MB tmpfs in a private mount
namespace, filled up while beats stream in, then freed. The daemon keeps running, says so
once, holds at most five minutes of beats, drops the oldest beyond that (counted and
recorded as a gap, never silently), and catches up when there is room again."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kindpulse.daemon.store import DB_NAME, Store

from .conftest import DATA, need_program

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))
SCENARIO = Path(__file__).with_name("full_disk.py")
SPEED = 200.0  # as in full_disk.py


@pytest.mark.integration
def test_a_full_disk_under_the_daemon_loses_only_counted_beats_and_catches_up(
    tmp_path: Path,
) -> None:
    unshare = need_program("unshare", "util-linux")
    need_program("mount", "mount")
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs in a private mount namespace")
    replay = DATA / "nsrdb_60min.txt"
    p = subprocess.run(
        [unshare, "--mount", "--propagation", "private", sys.executable, str(SCENARIO),
         str(tmp_path), KINDPULSE, str(replay)],
        capture_output=True, text=True, timeout=240,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    err = out["stderr"]
    assert out["started"], err
    assert out["alive_while_full"], err
    assert out["returncode"] == 0, err
    assert "Traceback" not in err
    # Said once, and once that it caught up; the status file too, once.
    assert err.count("the log cannot be written") == 1, err
    assert err.count("caught up") == 1, err
    assert err.count("status file not written") <= 1, err

    copy = tmp_path / "copy"
    db = sqlite3.connect(copy / DB_NAME)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    gaps = db.execute("SELECT start_ms, end_ms, dropped, reason FROM gaps").fetchall()
    db.close()
    total = np.loadtxt(replay).size
    with Store.open(copy) as store:
        t, _ = store.beats_raw(0.0, 4e9)
    assert np.all(np.diff(t) > 1), "a beat stored twice"
    dropped = sum(g[2] for g in gaps)
    # Full for longer than the five minutes held: the oldest were dropped, and said so.
    assert dropped > 0 and len([g for g in gaps if g[2]]) == 1, gaps
    (gap,) = [g for g in gaps if g[2]]
    assert str(gap[2]) in gap[3]
    # Nothing else is missing: every beat is stored or counted as dropped.
    assert t.size + dropped == total, (t.size, dropped, total)
    # The dropped ones are exactly the stored beats' hole, where the gap says.
    hole = np.flatnonzero(np.diff(t) > 3000)
    assert hole.size == 1
    assert t[hole[0]] < gap[0] <= gap[1] < t[hole[0] + 1]
    # Five minutes held, no more and no less: the hole is the time the log could not be
    # written (the disk full, then up to the next retry, 5 s later) less those five minutes.
    hole_s = (t[hole[0] + 1] - t[hole[0]]) / 1000.0
    full_s = out["full_for_s"] * SPEED
    assert full_s - 300 - 60 <= hole_s <= full_s + (5 + 2) * SPEED - 300, (hole_s, full_s)
    assert out["final_status"].get("running") is False
