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
        np.testing.assert_allclose(t - t0, (np.cumsum(rec.rr_ms) - rec.rr_ms[0]) / 1000, atol=6e-4)
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
    doc = json.loads(
        run(capsys, "review", "--week", "2026-01-06", "--format", "json", "--state-dir", state)
    )
    stress = [e for e in analyzed["episodes"] if e["kind"] == "stress"]
    s = doc["summary"]
    assert s["episodes"] == len(stress)
    assert s["stress_s"] == pytest.approx(sum(e["end_s"] - e["start_s"] for e in stress), abs=2e-3)
    assert s["wear_s"] == pytest.approx(float(np.sum(read_rr_file(rr_file).rr_ms)) / 1000, abs=1e-3)
    assert [e["explanation"] for e in doc["episodes"]] == [
        e["explanation"] for e in analyzed["episodes"]
    ]
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
    day = json.loads(
        run(capsys, "review", "--day", "2026-01-06", "--format", "json", "--state-dir", state)
    )
    assert day["summary"]["episodes"] == 1
    assert 0 < day["summary"]["stress_s"] < s["stress_s"]

    # Once the beats have aged out, the kept minute windows still tell the time worn.
    with Store.open(Path(state)) as store:
        store.apply_retention(origin() + 40 * 86400, beats_days=30, windows_days=365)
        assert store.beat_count() == 0
    later = json.loads(
        run(capsys, "review", "--week", "2026-01-06", "--format", "json", "--state-dir", state)
    )
    assert later["summary"]["wear_s"] == pytest.approx(s["wear_s"], rel=0.03)
    assert later["summary"]["stress_s"] == s["stress_s"]

    rows = list(
        csv.reader(
            io.StringIO(
                run(
                    capsys,
                    "review",
                    "--since",
                    "2026-01-05",
                    "--until",
                    "2026-01-06",
                    "--format",
                    "csv",
                    "--state-dir",
                    state,
                )
            )
        )
    )
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
    run(
        capsys,
        "export",
        "--what",
        "beats",
        "--format",
        "csv",
        "--out",
        str(out),
        "--state-dir",
        state,
    )
    assert out.read_text().startswith("timestamp,rr_ms\n")
    assert out.stat().st_mode & 0o077 == 0
    back = read_rr_file(out)
    np.testing.assert_allclose(back.rr_ms, read_rr_file(rr_file).rr_ms, atol=1e-4)
    assert back.start is not None
    assert back.start.timestamp() == pytest.approx(origin(), abs=1e-3)
    # The exported file keeps its timestamps when imported: nothing new in the same log.
    again = run(capsys, "import", str(out), "--state-dir", state)
    assert " 0 new beats" in again
    eps = json.loads(
        run(capsys, "export", "--what", "episodes", "--format", "json", "--state-dir", state)
    )
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


def test_review_tells_offers_breaks_quiet_moments_trend_quality_and_reflections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: tuple[Path, dict[str, Any]]
) -> None:
    """Everything the care side logs shows up in the review, in words and in JSON."""
    rr_file, analyzed = recording
    state = tmp_path / "state"
    run(capsys, "import", str(rr_file), "--start", START, "--state-dir", str(state))
    ep = analyzed["episodes"][0]
    base = origin() - read_rr_file(rr_file).rr_ms[0] / 1000.0
    at = base + ep["confirmed_s"]
    with Store.open(state) as store:
        store.add_prompt(at, base + ep["start_s"], "break", at + 20)
        store.add_prompt(at + 3000, base + ep["start_s"], "okay", at + 3010)
        store.add_break(
            at + 20, at + 80, hr_before=80.0, hr_after=70.0, ln_rmssd_before=3.0, ln_rmssd_after=3.4
        )
        store.add_quiet_moment(at + 60, base + ep["start_s"], "quiet_hours")
        store.add_quiet_moment(at + 90, base + 7, "quiet_hours")
        store.add_quiet_moment(at + 95, base + 7, "cooldown")
        store.add_adaptation(at + 3010, 0.1, "I'm okay")
        store.add_gap(at + 100, at + 160, "strap off")
        store.add_reflection(
            at + 4000, "I snapped at a colleague.\nI would tell a friend: it was a long day."
        )
        for h in range(3):
            store.add_baseline(at + h * 3600, _ready_baseline(3.5 + 0.1 * h, 60.0 + h))
    doc = json.loads(
        run(capsys, "review", "--week", "2026-01-06", "--format", "json", "--state-dir", str(state))
    )
    s = doc["summary"]
    assert s["prompts"] == 2 and s["prompt_outcomes"]["break"] == 1
    assert s["prompt_outcomes"]["okay"] == 1 and s["prompt_outcomes"]["failed"] == 0
    assert s["quiet_moments"] == 3
    assert s["quiet_moments_by_reason"] == {"quiet_hours": 2, "cooldown": 1}
    assert sum(d["quiet_moments"] for d in doc["days"]) == 3
    ab = s["around_breaks"]
    assert (ab["hr_before"], ab["hr_after"]) == (80.0, 70.0)
    assert doc["breaks"][0]["ln_rmssd_after"] == 3.4
    assert doc["quality"]["gaps"] == 1 and doc["quality"]["gap_s"] == pytest.approx(60.0)
    assert 0 <= doc["quality"]["artifact_pct"] < 5
    assert doc["baseline"] and doc["baseline"][-1]["hr_bpm"] in (60.0, 61.0, 62.0)
    assert doc["adaptations"][0]["threshold_shift"] == 0.1
    assert "colleague" in doc["reflections"][0]["answers"][0]["answer"]
    # The heatmap holds the stretch of strain: its minutes, by weekday and local hour.
    strain = np.array(doc["heatmap"]["strain_min"])
    assert strain.sum() * 60 == pytest.approx(s["stress_s"], abs=1.0)
    worn = np.array(doc["heatmap"]["worn_min"])
    assert worn.sum() * 60 == pytest.approx(s["wear_s"], rel=0.03)
    start = datetime.fromisoformat(doc["episodes"][0]["start"])
    assert strain[start.weekday()][start.hour] > 0

    text = run(capsys, "review", "--week", "2026-01-06", "--state-dir", str(state))
    assert "Breaks offered: 2 (1 taken, 1 “I'm okay”)." in text
    assert "heart rate 80 → 70 bpm" in text and "variability (RMSSD) 20 → 30 ms" in text
    assert "not as a measure of how well you did" in text
    assert "3 moments passed quietly, with no offer: 2 during quiet hours" in text
    assert "When strain came, by hour of day" in text
    heat = text.split("When strain came")[1].split("\n\n")[0]
    assert re.search("[░▒▓█]", heat) and "·" in heat
    assert "Your usual resting rhythm" in text and "heart rate 62 bpm" in text
    assert "1 gap in the signal (1 min in all)" in text
    assert "I snapped at a colleague." in text
    assert "waits for a somewhat clearer sign" in text
    assert not UNKIND.search(text), UNKIND.search(text)


def _ready_baseline(ln_rmssd: float, hr: float) -> Any:
    from kindpulse.detector import Baseline

    return Baseline(
        ln_rmssd=ln_rmssd, ln_rmssd_spread=0.2, hr_bpm=hr, hr_spread=4.0, samples=500, ready=True
    )


def test_export_windows_prompts_and_breaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: tuple[Path, dict[str, Any]]
) -> None:
    rr_file, _ = recording
    state = str(tmp_path / "state")
    run(capsys, "import", str(rr_file), "--start", START, "--state-dir", state)
    t = origin() + 1800
    with Store.open(Path(state)) as store:
        store.add_prompt(t, t - 600, "snooze", t + 30)
        store.add_prompt(t + 2700, None, "failed")
        store.add_break(t + 40, t + 100, hr_before=75.5, ln_rmssd_after=3.25)
        n_windows = len(store.windows_between(0, 4e9))
    rows = list(
        csv.DictReader(
            io.StringIO(
                run(capsys, "export", "--what", "windows", "--format", "csv", "--state-dir", state)
            )
        )
    )
    assert len(rows) == n_windows > 0
    assert list(rows[0]) == [
        "end",
        "state",
        "n_beats",
        "mean_hr",
        "ln_rmssd",
        "rmssd",
        "sdnn",
        "artifact_pct",
        "movement_mg",
    ]
    assert {r["movement_mg"] for r in rows} == {""}  # an RR file alone: movement not known
    assert datetime.fromisoformat(rows[0]["end"]).utcoffset() is not None
    assert {r["state"] for r in rows} >= {"stress"}
    prompts = json.loads(
        run(capsys, "export", "--what", "prompts", "--format", "json", "--state-dir", state)
    )["prompts"]
    assert [p["outcome"] for p in prompts] == ["snooze", "failed"]
    assert datetime.fromisoformat(prompts[0]["at"]).timestamp() == pytest.approx(t, abs=1e-3)
    assert prompts[1]["episode_start"] is None and prompts[1]["outcome_at"] is None
    breaks = list(
        csv.DictReader(
            io.StringIO(
                run(capsys, "export", "--what", "breaks", "--format", "csv", "--state-dir", state)
            )
        )
    )
    assert len(breaks) == 1 and breaks[0]["hr_before"] == "75.5"
    assert breaks[0]["hr_after"] == "" and breaks[0]["ln_rmssd_after"] == "3.25"
    # Period options apply: nothing after the log's last day.
    none = run(capsys, "export", "--what", "windows", "--since", "2026-03-01", "--state-dir", state)
    assert none.splitlines()[1:] == []
    p = kp("export", "--what", "windows", "--format", "kubios", "--state-dir", state)
    assert p.returncode == 64 and p.stderr.count("\n") == 1 and "kubios" in p.stderr
    p = kp("export", "--out", str(tmp_path / "no-such-dir" / "x.csv"), "--state-dir", state)
    assert p.returncode == 73 and p.stderr.count("\n") == 1 and "cannot be written" in p.stderr


def test_exported_beats_are_each_beat_formatted_as_record_formats_it(tmp_path: Path) -> None:
    """The vectorised text equals formatting each beat alone, RR values at exact ties of
    the fourth place included, with the gap notes where ``record`` puts them."""
    from kindpulse.daemon.beatstext import beats_csv, beats_json, beats_kubios
    from kindpulse.daemon.store import RR_UNITS_PER_MS
    from kindpulse.sensors.record import format_rr_ms, format_timestamp

    rng = np.random.default_rng(5)
    t = 1_767_600_000_000 + np.cumsum(rng.integers(300, 1500, 5000)).astype(np.int64)
    rr = rng.integers(300 * 16_000, 1500 * 16_000, t.size).astype(np.int64)
    rr[::7] = (rr[::7] // 8) * 8 + 4  # exact ties of the fourth decimal place
    gaps = [(int(t[10]) + 1, "strap off"), (int(t[2000]), "lost"), (int(t[-1]) + 1, "end")]
    want = ["timestamp,rr_ms"]
    g = 0
    for ti, ri in zip((t / 1000).tolist(), (rr / RR_UNITS_PER_MS).tolist(), strict=True):
        while g < len(gaps) and gaps[g][0] / 1000 < ti:
            want.append(f"# gap: {gaps[g][1]}")
            g += 1
        want.append(f"{format_timestamp(ti)},{format_rr_ms(ri)}")
    assert b"".join(beats_csv(t, rr, gaps)).decode().splitlines() == want
    doc = json.loads(b"".join(beats_json(t, rr)))
    assert [b["rr_ms"] for b in doc["beats"]] == (rr / RR_UNITS_PER_MS).tolist()
    assert [b["timestamp"] for b in doc["beats"]] == [
        w.split(",")[0] for w in want if not w.startswith(("#", "time"))
    ]
    kub = b"".join(beats_kubios(t, rr)).decode().splitlines()
    assert kub == [
        f"{(a - t[0]) / 1000:.3f}\t{b / 16e6:.6f}"
        for a, b in zip(t.tolist(), rr.tolist(), strict=True)
    ]


def _log_with_movement(state: Path, moving: range) -> float:
    """Two hours of beats and minute windows from 10:00 on 5 Jan 2026, every minute with its
    movement: 150 mg in the minutes of ``moving`` (counted from 0), else 5 mg; and the hour
    before it worn with a strap that has no accelerometer. Returns 10:00 (epoch s)."""
    from kindpulse.daemon.store import WindowRow

    t0 = datetime.fromisoformat("2026-01-05T10:00:00").astimezone().timestamp()
    with Store.open(state) as store:
        t = np.arange(t0 - 3600.0 + 1.0, t0 + 7200.0 + 0.5, 1.0)
        store.add_beats(t, np.full(t.size, 1000.0))
        for m in range(-60, 120):
            mg = None if m < 0 else 150.0 if m in moving else 5.0
            store.add_window(WindowRow(t0 + 60.0 * (m + 1), "calm", 60, 60.0, 3.7, movement_mg=mg))
    return t0


def test_review_tells_time_on_the_move_where_the_motion_sensor_felt_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kindpulse.daemon.review import build_review, period_from_args, render_text

    state = tmp_path / "state"
    _log_with_movement(state, range(40, 75))
    doc = json.loads(
        run(capsys, "review", "--day", "2026-01-05", "--format", "json", "--state-dir", str(state))
    )
    s = doc["summary"]
    assert s["moving_s"] == 35 * 60.0 and s["movement_s"] == 120 * 60.0
    assert s["moving_mg"] > 0
    assert doc["days"][0]["moving_s"] == 35 * 60.0
    text = run(capsys, "review", "--day", "2026-01-05", "--state-dir", str(state))
    assert "You were up and moving for 35 min, as the strap's motion sensor felt it" in text
    # Only two of the three hours worn had a motion sensor: said so, plainly.
    assert "(the motion sensor covered 2 h 00 min of that time)" in text
    table = text.split("  day ")[1].splitlines()
    assert "moving" in table[0] and table[1].rstrip().endswith("35 min")
    assert not UNKIND.search(text), UNKIND.search(text)
    rows = list(
        csv.DictReader(
            io.StringIO(
                run(
                    capsys,
                    "review",
                    "--day",
                    "2026-01-05",
                    "--format",
                    "csv",
                    "--state-dir",
                    str(state),
                )
            )
        )
    )
    assert rows[0]["moving_s"] == "2100.0" and rows[0]["movement_s"] == "7200.0"
    # The moving threshold decides: at 200 mg none of these minutes moved.
    period = period_from_args(argparse.Namespace(day="2026-01-05", since=None, until=None))
    with Store.open(state) as store:
        still = build_review(store, period, moving_mg=200.0)
    assert still["summary"]["moving_s"] == 0.0 and still["summary"]["moving_mg"] == 200.0
    words = render_text(still)
    assert "The strap's motion sensor felt you keeping still all along" in words
    exported = list(
        csv.DictReader(
            io.StringIO(
                run(
                    capsys,
                    "export",
                    "--what",
                    "windows",
                    "--format",
                    "csv",
                    "--state-dir",
                    str(state),
                )
            )
        )
    )
    assert [r["movement_mg"] for r in exported[59:62]] == ["", "5.0", "5.0"]
    assert sum(r["movement_mg"] == "150.0" for r in exported) == 35


def test_review_without_movement_says_nothing_of_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recording: tuple[Path, dict[str, Any]]
) -> None:
    rr_file, _ = recording
    state = tmp_path / "state"
    run(capsys, "import", str(rr_file), "--start", START, "--state-dir", str(state))
    doc = json.loads(
        run(capsys, "review", "--week", "2026-01-06", "--format", "json", "--state-dir", str(state))
    )
    assert doc["summary"]["moving_s"] is None and doc["summary"]["movement_s"] is None
    assert all(d["moving_s"] is None for d in doc["days"])
    text = run(capsys, "review", "--week", "2026-01-06", "--state-dir", str(state))
    assert "motion sensor" not in text and "moving" not in text.split("  day ")[1].splitlines()[0]
