"""``kindpulse import``, ``review``, ``export`` and ``forget`` over a real log, checked
against what ``kindpulse analyze --episodes`` finds in the same recording."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kindpulse.daemon.review import add_store_commands
from kindpulse.daemon.store import DB_NAME, Store
from kindpulse.errors import UsageError
from kindpulse.sensors.rrfile import read_rr_file

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))
START = "2026-01-05T23:30:00"  # local time: the stress stretch crosses midnight
UNKIND = re.compile(r"\b(bad|poor|fail\w*|wrong|should)\b", re.IGNORECASE)


def kp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KINDPULSE, *args], capture_output=True, text=True, timeout=120)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    parser = argparse.ArgumentParser()
    add_store_commands(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    capsys.readouterr()
    assert args.handler(args) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    d = tmp_path_factory.mktemp("rec")
    rr = d / "stress.txt"
    p = kp("simulate", "--scenario", "stress", "--seed", "1", "--out", str(rr))
    assert p.returncode == 0, p.stderr
    a = kp("analyze", str(rr), "--episodes", "--format", "json")
    assert a.returncode == 0, a.stderr
    return rr, json.loads(a.stdout)


def dump(state: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(state / DB_NAME)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: sorted(db.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for n in names}
    finally:
        db.close()


def origin() -> float:
    return datetime.fromisoformat(START).astimezone().timestamp()


def test_import_keeps_what_analyze_finds_and_twice_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: tuple[Path, dict[str, Any]]
) -> None:
    rr_file, analyzed = recording
    state = tmp_path / "state"
    out = run(capsys, "import", str(rr_file), "--start", START, "--state-dir", str(state))
    assert "1 stretch of sustained strain" in out
    first = dump(state)
    out2 = run(capsys, "import", str(rr_file), "--start", START, "--state-dir", str(state))
    assert "0 new beats" in out2
    assert dump(state) == first

    rec = read_rr_file(rr_file)
    with Store.open(state) as store:
        assert store.beat_count() == rec.rr_ms.size
        t, rr = store.beats_between(0, 4e9)
        np.testing.assert_allclose(rr, rec.rr_ms, atol=1e-9)  # 1/1024 s values are exact
        # Beat 0 at --start, the others after it by the cumulative RR (to the ms).
        t0 = origin()
        np.testing.assert_allclose(t - t0, (np.cumsum(rec.rr_ms) - rec.rr_ms[0]) / 1000,
                                   atol=6e-4)
        # beat i sits at start + (C_i - C_0)/1000, so file second s is at t0 - rr_0/1000 + s
        base = t0 - rec.rr_ms[0] / 1000.0
        stored = store.episodes_between(0, 4e9)
        windows = store.windows_between(0, 4e9)
    assert len(windows) == int(np.sum(rec.rr_ms) // 60000)
    assert {w.state for w in windows} <= {"calm", "elevated", "stress", "active", "unknown"}
    expected = analyzed["episodes"]
    assert [e["kind"] for e in expected].count("stress") == 1
    assert len(stored) == len(expected)
    for got, want in zip(stored, expected, strict=True):
        assert got.kind == want["kind"]
        assert got.start == pytest.approx(base + want["start_s"], abs=1e-3)
        assert got.confirmed == pytest.approx(base + want["confirmed_s"], abs=1e-3)
        assert got.end == pytest.approx(base + want["end_s"], abs=1e-3)
        assert got.duration_s == pytest.approx(want["duration_s"], abs=2e-3)
        assert got.explanation == want["explanation"]
        assert got.peak_z_hr == want["peak_z_hr"]
        assert got.mean_hr == want["mean_hr"]


def test_review_totals_equal_the_episodes_analyze_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: tuple[Path, dict[str, Any]]
) -> None:
    rr_file, analyzed = recording
    state = str(tmp_path / "state")
    run(capsys, "import", str(rr_file), "--start", START, "--state-dir", state)
    doc = json.loads(run(capsys, "review", "--week", "2026-01-06", "--format", "json",
                         "--state-dir", state))
    stress = [e for e in analyzed["episodes"] if e["kind"] == "stress"]
    s = doc["summary"]
    assert s["episodes"] == len(stress)
    assert s["stress_s"] == pytest.approx(sum(e["end_s"] - e["start_s"] for e in stress),
                                          abs=2e-3)
    assert s["wear_s"] == pytest.approx(float(np.sum(read_rr_file(rr_file).rr_ms)) / 1000,
                                        abs=1e-3)
    assert [e["explanation"] for e in doc["episodes"]] == [e["explanation"] for e in
                                                           analyzed["episodes"]]
    # Seven local days; the stretch crosses midnight and is split between two of them.
    assert [d["date"] for d in doc["days"]][-2:] == ["2026-01-05", "2026-01-06"]
    assert len(doc["days"]) == 7
    touched = [d for d in doc["days"] if d["stress_s"] > 0]
    assert len(touched) == 2 and all(d["episodes"] == 1 for d in touched)
    assert sum(d["stress_s"] for d in doc["days"]) == pytest.approx(s["stress_s"], abs=1e-6)
    assert sum(d["wear_s"] for d in doc["days"]) == pytest.approx(s["wear_s"], abs=1e-6)
    for e in doc["episodes"]:
        for k in ("start", "end"):
            assert datetime.fromisoformat(e[k]).utcoffset() is not None
        assert set(e) >= {"kind", "start", "end", "duration_s", "explanation"}
    assert datetime.fromisoformat(doc["period"]["start"]).hour == 0

    # One day: the part of the stretch after midnight.
    day = json.loads(run(capsys, "review", "--day", "2026-01-06", "--format", "json",
                         "--state-dir", state))
    assert day["summary"]["episodes"] == 1
    assert 0 < day["summary"]["stress_s"] < s["stress_s"]

    # Once the beats have aged out, the kept minute windows still tell the time worn.
    with Store.open(Path(state)) as store:
        store.apply_retention(origin() + 40 * 86400, beats_days=30, windows_days=365)
        assert store.beat_count() == 0
    later = json.loads(run(capsys, "review", "--week", "2026-01-06", "--format", "json",
                           "--state-dir", state))
    assert later["summary"]["wear_s"] == pytest.approx(s["wear_s"], rel=0.03)
    assert later["summary"]["stress_s"] == s["stress_s"]

    rows = list(csv.reader(io.StringIO(run(capsys, "review", "--since", "2026-01-05",
                                           "--until", "2026-01-06", "--format", "csv",
                                           "--state-dir", state))))
    assert rows[0][:3] == ["date", "start", "end"] and len(rows) == 3


def test_review_text_describes_in_kind_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: tuple[Path, dict[str, Any]]
) -> None:
    rr_file, analyzed = recording
    state = tmp_path / "state"
    run(capsys, "import", str(rr_file), "--start", START, "--state-dir", str(state))
    text = run(capsys, "review", "--week", "2026-01-06", "--state-dir", str(state))
    assert "1 stretch of sustained strain" in text
    assert "no break was logged around it" in text
    assert analyzed["episodes"][0]["explanation"] in text
    assert not UNKIND.search(text), UNKIND.search(text)
    assert not re.search(r"\bscore\b|/100|grade", text, re.IGNORECASE)
    # A break taken during the stretch is told as such.
    ep = analyzed["episodes"][0]
    base = origin() - read_rr_file(rr_file).rr_ms[0] / 1000.0
    with Store.open(state) as store:
        store.add_break(base + ep["end_s"] - 120, base + ep["end_s"] - 60)
    text = run(capsys, "review", "--week", "2026-01-06", "--state-dir", str(state))
    assert "you took a break in 1" in text
    assert not UNKIND.search(text)
    empty = run(capsys, "review", "--day", "2026-02-01", "--state-dir", str(state))
    assert "not worn" in empty and not UNKIND.search(empty)


def test_export_beats_round_trips_through_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: tuple[Path, dict[str, Any]]
) -> None:
    rr_file, analyzed = recording
    state = str(tmp_path / "state")
    run(capsys, "import", str(rr_file), "--start", START, "--state-dir", state)
    out = tmp_path / "beats.csv"
    run(capsys, "export", "--what", "beats", "--format", "csv", "--out", str(out),
        "--state-dir", state)
    assert out.read_text().startswith("timestamp,rr_ms\n")
    assert out.stat().st_mode & 0o077 == 0
    back = read_rr_file(out)
    np.testing.assert_allclose(back.rr_ms, read_rr_file(rr_file).rr_ms, atol=1e-4)
    assert back.start is not None
    assert back.start.timestamp() == pytest.approx(origin(), abs=1e-3)
    # The exported file keeps its timestamps when imported: nothing new in the same log.
    again = run(capsys, "import", str(out), "--state-dir", state)
    assert " 0 new beats" in again
    eps = json.loads(run(capsys, "export", "--what", "episodes", "--format", "json",
                         "--state-dir", state))
    assert [e["kind"] for e in eps["episodes"]] == [e["kind"] for e in analyzed["episodes"]]
    kubios = run(capsys, "export", "--format", "kubios", "--state-dir", state)
    first = kubios.splitlines()[0].split("\t")
    assert first[0] == "0.000" and float(first[1]) == pytest.approx(0.894531, abs=1e-6)


def test_forget_deletes_for_real(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: tuple[Path, dict[str, Any]]
) -> None:
    rr_file, _ = recording
    state = tmp_path / "state"
    run(capsys, "import", str(rr_file), "--start", START, "--state-dir", str(state))
    run(capsys, "forget", "--before", "2026-01-06", "--state-dir", str(state))
    with Store.open(state) as store:
        t, _ = store.beats_between(0, 4e9)
        assert t.size > 0 and t.min() >= datetime(2026, 1, 6).astimezone().timestamp()
    run(capsys, "forget", "--all", "--state-dir", str(state))
    tables = dump(state)
    assert all(rows == [] for rows in tables.values())
    parser = argparse.ArgumentParser()
    add_store_commands(parser.add_subparsers())
    args = parser.parse_args(["forget", "--state-dir", str(state)])
    with pytest.raises(UsageError):
        args.handler(args)
