"""``kindpulse analyze --motion`` and ``kindpulse import --motion`` end to end: a simulated
wearer's beats with ISO timestamps, the strap's accelerometer showing the walk, and the
movement in each scoring window; analyze and import find the same episodes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kindpulse.daemon.store import Store
from kindpulse.sensors.rrfile import read_rr_file

from .test_motionfile import write_polar

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))
START = datetime(2026, 1, 5, 9, 0, 0)  # local time, as phone exports write it
WALK = (1800.0, 2400.0)  # the scenario's walk, seconds from START

SCENARIO = """
name = "walk_in_the_day"
[[segment]]
kind = "calm"
minutes = 30
[[segment]]
kind = "walk"
minutes = 10
[[segment]]
kind = "calm"
minutes = 10
"""


def kp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KINDPULSE, *args], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The beats (``timestamp,rr_ms``, local ISO times) and a Polar accelerometer export
    that starts a minute before them and shows the walk."""
    d = tmp_path_factory.mktemp("walk")
    scenario = d / "walk.toml"
    scenario.write_text(SCENARIO)
    rr = d / "rr.csv"
    p = kp(
        "simulate",
        "--scenario",
        str(scenario),
        "--seed",
        "3",
        "--timestamps",
        "--start",
        START.isoformat(),
        "--out",
        str(rr),
    )
    assert p.returncode == 0, p.stderr
    acc = d / "acc.txt"
    write_polar(
        acc,
        fs=25,
        duration_s=3120,
        start=START - timedelta(seconds=60),
        walk=(WALK[0] + 60, WALK[1] + 60),
        seed=11,
    )
    return rr, acc


def analyze(*args: str) -> dict[str, Any]:
    p = kp("analyze", *args, "--format", "json")
    assert p.returncode == 0, p.stderr
    doc: dict[str, Any] = json.loads(p.stdout)
    return doc


def test_each_state_carries_the_movement_the_file_shows(files: tuple[Path, Path]) -> None:
    rr, acc = files
    doc = analyze(str(rr), "--episodes", "--motion", str(acc))
    window = doc["detector"]["window_s"]
    states = doc["states"]
    assert states and all("movement_mg" in s for s in states)
    walking = [s["movement_mg"] for s in states if WALK[0] + window <= s["end_s"] <= WALK[1]]
    still = [
        s["movement_mg"] for s in states if s["end_s"] <= WALK[0] or s["end_s"] >= WALK[1] + window
    ]
    assert len(walking) >= 30 and min(walking) > 80.0
    assert len(still) >= 100 and max(still) < 15.0
    motion = doc["motion"]
    assert motion["file"] == str(acc)
    assert motion["layout"] == "polar"
    assert motion["rate_hz"] == pytest.approx(25.0, rel=1e-3)
    assert motion["drift_ppm"] == pytest.approx(40.0, abs=3.0)
    assert motion["seconds_covered"] == pytest.approx(motion["recording_s"], abs=2.0)
    assert motion["covered_share"] > 0.99
    assert motion["windows"] == len(states)
    assert motion["windows_with_movement"] == len(states)
    assert motion["windows_share"] == 1.0


def test_motion_implies_episodes(files: tuple[Path, Path]) -> None:
    rr, acc = files
    with_flag = analyze(str(rr), "--episodes", "--motion", str(acc))
    without = analyze(str(rr), "--motion", str(acc))
    assert without == with_flag


def test_a_file_covering_part_of_the_recording_says_how_much(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    rr, _ = files
    part = tmp_path / "first_half.txt"
    write_polar(part, fs=50, duration_s=1500, start=START, seed=5)
    doc = analyze(str(rr), "--motion", str(part))
    motion = doc["motion"]
    assert motion["seconds_covered"] == pytest.approx(1500, abs=2)
    assert motion["covered_share"] == pytest.approx(1500 / motion["recording_s"], abs=0.01)
    assert 0 < motion["windows_with_movement"] < motion["windows"]
    late = [s for s in doc["states"] if s["end_s"] > 1600]
    assert late and all(s["movement_mg"] is None for s in late)
    early = [s for s in doc["states"] if 100 < s["end_s"] < 1400]
    assert early and all(s["movement_mg"] is not None for s in early)
    text = kp("analyze", str(rr), "--motion", str(part)).stdout
    said = [ln for ln in text.splitlines() if ln.startswith("Movement from")]
    assert said == [
        f"Movement from {part}: 25 min of the 50 min recording (50 %), known in "
        f"{motion['windows_with_movement']} of {motion['windows']} scoring windows."
    ]


def test_analyze_and_import_find_the_same_episodes(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    rr, acc = files
    analyzed = analyze(str(rr), "--episodes", "--motion", str(acc))
    state = tmp_path / "state"
    p = kp("import", str(rr), "--motion", str(acc), "--state-dir", str(state))
    assert p.returncode == 0, p.stderr
    assert f"Movement from {acc}: 50 min of the 50 min recording (100 %)" in p.stdout
    rec = read_rr_file(rr)
    assert rec.start is not None and rec.t_ms is not None
    base = rec.start.timestamp() - float(rec.t_ms[0]) / 1000.0
    with Store.open(state) as store:
        stored = store.episodes_between(0, 4e9)
        windows = store.windows_between(0, 4e9)
    expected = analyzed["episodes"]
    assert len(stored) == len(expected)
    for got, want in zip(stored, expected, strict=True):
        assert got.kind == want["kind"]
        assert got.start == pytest.approx(base + want["start_s"], abs=1e-3)
        assert got.confirmed == pytest.approx(base + want["confirmed_s"], abs=1e-3)
        assert got.end == pytest.approx(base + want["end_s"], abs=1e-3)
        assert got.explanation == want["explanation"]
    # Each minute keeps its movement: the walk's minutes move, the others are still.
    ends = np.array([w.end_epoch_s - base for w in windows])
    mg = np.array([np.nan if w.movement_mg is None else w.movement_mg for w in windows])
    assert np.all(np.isfinite(mg))
    walking = (ends >= WALK[0] + 60) & (ends <= WALK[1])
    still = (ends <= WALK[0]) | (ends >= WALK[1] + 60)
    assert walking.sum() >= 9 and float(mg[walking].min()) > 80.0
    assert still.sum() >= 35 and float(mg[still].max()) < 15.0


def test_import_of_beats_without_date_times_cannot_take_motion(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    _, acc = files
    rr = tmp_path / "plain.txt"
    rr.write_text("\n".join(["800"] * 500) + "\n")
    p = kp(
        "import",
        str(rr),
        "--motion",
        str(acc),
        "--state-dir",
        str(tmp_path / "s"),
        "--start",
        START.isoformat(),
    )
    assert p.returncode == 65
    assert p.stderr.splitlines() == [
        f"kindpulse: {rr}: no date-time timestamps, so the movement in {acc} cannot be "
        "placed on its beats (expected an RR file with ISO 8601 times, e.g. "
        "'timestamp,rr_ms' as 'kindpulse record' writes)"
    ]


def walking_and_still(doc: dict[str, Any]) -> tuple[list[float], list[float]]:
    window = doc["detector"]["window_s"]
    walking = [s["movement_mg"] for s in doc["states"] if WALK[0] + window <= s["end_s"] <= WALK[1]]
    still = [
        s["movement_mg"]
        for s in doc["states"]
        if s["end_s"] <= WALK[0] or s["end_s"] >= WALK[1] + window
    ]
    return walking, still


def test_polar_sensor_logger_rr_export_takes_motion(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    rr, acc = files
    polar_rr = tmp_path / "Polar_H10_RR.txt"
    rows = [ln.split(",") for ln in rr.read_text().splitlines() if ln[:1].isdigit()]
    polar_rr.write_text(
        "Phone timestamp;RR-interval [ms]\n" + "\n".join(f"{t};{v}" for t, v in rows) + "\n"
    )
    walking, still = walking_and_still(analyze(str(polar_rr), "--motion", str(acc)))
    assert min(walking) > 80.0 and max(still) < 15.0


def test_zone_less_times_are_this_machine_s_local_time(tmp_path: Path) -> None:
    """Beats stamped with an offset (-05:00), the accelerometer in zone-less local time:
    they meet only if the zone-less times are read in the machine's zone (TZ)."""
    scenario = tmp_path / "walk.toml"
    scenario.write_text(SCENARIO)
    rr = tmp_path / "rr.csv"
    p = kp(
        "simulate",
        "--scenario",
        str(scenario),
        "--seed",
        "3",
        "--timestamps",
        "--start",
        "2026-01-05T09:00:00-05:00",
        "--out",
        str(rr),
    )
    assert p.returncode == 0, p.stderr
    assert "T09:00:00.875-05:00," in rr.read_text()
    acc = tmp_path / "acc.txt"
    write_polar(
        acc,
        fs=25,
        duration_s=3120,
        start=START - timedelta(seconds=60),
        walk=(WALK[0] + 60, WALK[1] + 60),
        seed=11,
    )
    env = {**os.environ, "TZ": "America/New_York"}
    p = subprocess.run(
        [KINDPULSE, "analyze", str(rr), "--motion", str(acc), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    walking, still = walking_and_still(json.loads(p.stdout))
    assert min(walking) > 80.0 and max(still) < 15.0
    # Read in UTC instead, the accelerometer is five hours away.
    p = subprocess.run(
        [KINDPULSE, "analyze", str(rr), "--motion", str(acc)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "TZ": "UTC"},
    )
    assert p.returncode == 65 and "does not overlap" in p.stderr
