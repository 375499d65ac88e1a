"""``kindpulse review --plot``: real pictures (matplotlib, Agg) of a real log made by
importing simulated recordings, checked for size, content and the exit codes."""

from __future__ import annotations

import argparse
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from kindpulse.daemon.review import period_from_args
from kindpulse.daemon.store import Store

from .conftest import require_integration

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))
UNKIND = re.compile(r"\b(bad|poor|fail\w*|wrong|should|score|unhealthy)\b", re.IGNORECASE)
MORNING = "2026-01-05T09:00:00"  # local time: a stress recording, 55 min
LATER = "2026-01-05T10:30:00"  # a calm hour after 35 min without the strap
WEDNESDAY = "2026-01-07T14:00:00"  # the stress recording again, two days on


def kp(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KINDPULSE, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def need_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        message = "needs matplotlib (pip install 'kindpulse[plot]')"
        if require_integration():
            pytest.fail(message)
        pytest.skip(message)


def epoch(local: str) -> float:
    return datetime.fromisoformat(local).astimezone().timestamp()


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", head
    w, h = struct.unpack(">II", head[16:24])
    return int(w), int(h)


def svg_text(svg: str) -> str:
    """The words an SVG shows (text kept as text: svg.fonttype none)."""
    return " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A log with a stress stretch and a break in it, a gap without data, a calm hour, and
    the same stress recording two days later."""
    need_matplotlib()
    d = tmp_path_factory.mktemp("plotlog")
    state = d / "state"
    for scenario in ("stress", "calm"):
        p = kp("simulate", "--scenario", scenario, "--seed", "3", "--out", str(d / scenario))
        assert p.returncode == 0, p.stderr
    for name, start in (("stress", MORNING), ("calm", LATER), ("stress", WEDNESDAY)):
        p = kp("import", str(d / name), "--start", start, "--state-dir", str(state))
        assert p.returncode == 0, p.stderr
    with Store.open(state) as store:
        stress = store.episodes_between(0, 4e9, kind="stress")
        assert len(stress) == 2, stress
        store.add_break(stress[0].start + 300.0, stress[0].start + 360.0)
    yield state


def test_a_day_as_png_is_large_enough_and_private(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.png"
    p = kp("review", "--day", "2026-01-05", "--plot", str(out), "--state-dir", str(log))
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"Plot written to {out}\n"
    w, h = png_size(out)
    assert w >= 1200 and h >= 600, (w, h)
    assert out.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_day_as_svg_shows_strain_break_gap_and_the_usual_band(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.svg"
    p = kp("review", "--day", "2026-01-05", "--plot", str(out), "--state-dir", str(log))
    assert p.returncode == 0, p.stderr
    svg = out.read_text()
    words = svg_text(svg)
    for label in (
        "sustained strain",
        "moving or exercising",
        "break taken",
        "no data (strap off or signal lost)",
        "your usual range",
        "heart-rate variability",
        "beats per minute",
        "Your day, Monday 5 January 2026",
        "1 stretch of sustained strain",
        "1 break taken",
    ):
        assert label in words, label
    # The stretch of strain is shaded on both panels, the break drawn on both, and the
    # 35 minutes without the strap are hatched.
    assert len(re.findall(r'id="sustained-strain-1"', svg)) == 2
    assert len(re.findall(r'id="break-1"', svg)) == 2
    assert len(re.findall(r'id="no-data-1"', svg)) == 2
    assert 'id="no-data-2"' not in svg
    assert 'id="heart-rate-average"' in svg and 'id="ln-rmssd-average"' in svg
    assert not UNKIND.search(words), UNKIND.search(words)


def test_the_usual_band_is_the_logged_baseline(log: Path) -> None:
    period = period_from_args(argparse.Namespace(day="2026-01-05", since=None, until=None))
    from kindpulse.daemon.plot import usual_for

    with Store.open(log) as store:
        usual = usual_for(store, period)
        (row,) = [
            r
            for r in store.query(
                "SELECT ln_rmssd, ln_rmssd_spread, hr_bpm, hr_spread FROM baselines"
                " WHERE t_ms <= ? ORDER BY t_ms DESC LIMIT 1",
                (round(period.end * 1000),),
            )
        ]
    assert usual is not None
    assert (usual.ln, usual.ln_spread, usual.hr, usual.hr_spread) == row
    # A plausible usual for the simulated wearer (66 bpm at rest).
    assert 55 < usual.hr < 80 and 2.5 < usual.ln < 4.5


def test_a_week_is_an_hour_by_day_map(log: Path, tmp_path: Path) -> None:
    png, svg = tmp_path / "week.png", tmp_path / "week.SVG"
    for out in (png, svg):
        p = kp("review", "--week", "2026-01-08", "--plot", str(out), "--state-dir", str(log))
        assert p.returncode == 0, p.stderr
    w, h = png_size(png)
    assert w >= 1200 and h >= 600, (w, h)
    words = svg_text(svg.read_text())
    for label in (
        "minutes of sustained strain in the hour",
        "not worn",
        "break taken",
        "Mon 5 Jan",
        "Thu 8 Jan",
        "hour of the day (local time)",
    ):
        assert label in words, label
    assert re.search(r'id="sustained-strain-2026-01-07-14"', svg.read_text())
    assert not UNKIND.search(words), UNKIND.search(words)


def test_the_map_counts_the_minutes_of_strain_and_wear(log: Path) -> None:
    from kindpulse.daemon.plot import hour_grid

    period = period_from_args(
        argparse.Namespace(day=None, since=None, until=None, week="2026-01-08")
    )
    with Store.open(log) as store:
        grid = hour_grid(store, period)
        stress = store.episodes_between(period.start, period.end, kind="stress")
        minutes = len(store.windows_between(period.start, period.end + 60))
    days = [d.isoformat() for d in period.days]
    mon, wed = days.index("2026-01-05"), days.index("2026-01-07")
    # All the strain of the period, in the hours it happened.
    assert grid.strain_min.sum() == pytest.approx(sum(e.duration_s for e in stress) / 60, abs=1e-6)
    per_day = grid.strain_min.sum(axis=1)
    for e in stress:
        row = days.index(datetime.fromtimestamp(e.start).date().isoformat())
        assert per_day[row] == pytest.approx(e.duration_s / 60, abs=1e-6)
    # Worn: the hours of the recordings only (09, 10 on Monday; 14 on Wednesday).
    assert set(np.flatnonzero(grid.worn_min[mon])) == {9, 10, 11}
    assert set(np.flatnonzero(grid.worn_min[wed])) == {14}
    assert grid.worn_min.sum() == pytest.approx(minutes, abs=3)
    assert grid.worn_min.max() <= 60
    others = [i for i in range(len(days)) if i not in (mon, wed)]
    assert not grid.worn_min[others].any() and not grid.strain_min[others].any()


def test_a_day_without_data_says_so(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty.svg"
    p = kp("review", "--day", "2026-02-01", "--plot", str(out), "--state-dir", str(log))
    assert p.returncode == 0, p.stderr
    assert "not worn" in svg_text(out.read_text())


def test_part_of_a_day_is_drawn_as_that_part(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "part.svg"
    p = kp(
        "review",
        "--since",
        "2026-01-05T09:00",
        "--until",
        "2026-01-05T10:00",
        "--plot",
        str(out),
        "--state-dir",
        str(log),
    )
    assert p.returncode == 0, p.stderr
    words = svg_text(out.read_text())
    assert "Your day, Monday 5 January 2026, 09:00–10:00" in words
    assert "09:15" in words and "11:00" not in words  # quarter hours, within the part


def test_another_suffix_is_a_usage_error(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.pdf"
    p = kp("review", "--day", "2026-01-05", "--plot", str(out), "--state-dir", str(log))
    assert p.returncode == 64
    assert p.stderr.count("\n") == 1 and ".png or .svg" in p.stderr, p.stderr
    assert not out.exists()


def test_a_file_that_cannot_be_written_exits_73(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "no such dir" / "day.png"
    p = kp("review", "--day", "2026-01-05", "--plot", str(out), "--state-dir", str(log))
    assert p.returncode == 73, p.stderr
    assert p.stderr.count("\n") == 1 and "cannot be written" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr


def test_without_matplotlib_one_line_and_exit_69(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.png"
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from kindpulse.daemon.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["review", "--day", "2026-01-05", "--plot", str(out), "--state-dir", str(log)]
    p = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert p.returncode == 69, p.stderr
    assert p.stderr == "kindpulse: plots need matplotlib: pip install 'kindpulse[plot]'\n"
    assert not out.exists()


@pytest.fixture(scope="module")
def moving_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hours from 10:00 on 9 Jan 2026 with a motion sensor: still (5 mg), a walk of 12
    minutes from 10:20 (180 mg), a fidget minute at 10:50 (25 mg: at the threshold), still
    again, and the last ten minutes' movement not known."""
    from kindpulse.daemon.store import WindowRow

    need_matplotlib()
    state = tmp_path_factory.mktemp("movinglog") / "state"
    t0 = epoch("2026-01-09T10:00:00")
    rng = np.random.default_rng(1)
    with Store.open(state) as store:
        t = np.arange(t0 + 1.0, t0 + 7200.5, 1.0)
        store.add_beats(t, np.full(t.size, 1000.0))
        for m in range(120):
            walking = 20 <= m < 32
            mg = 180.0 if walking else 25.0 if m == 50 else 5.0
            hr = (95.0 if walking else 62.0) + float(rng.normal(0, 1))
            store.add_window(
                WindowRow(
                    t0 + 60.0 * (m + 1),
                    "active" if walking else "calm",
                    60,
                    hr,
                    3.7 + float(rng.normal(0, 0.05)),
                    movement_mg=None if m >= 110 else mg,
                )
            )
    return state


def test_the_moving_band_is_the_minutes_at_or_above_the_threshold(moving_log: Path) -> None:
    from kindpulse.daemon.plot import moving_spans

    period = period_from_args(argparse.Namespace(day="2026-01-09", since=None, until=None))
    t0 = epoch("2026-01-09T10:00:00")
    with Store.open(moving_log) as store:
        windows = store.windows_between(period.start, period.end)
    assert moving_spans(windows, 20.0) == [(t0 + 1200.0, t0 + 1920.0), (t0 + 3000.0, t0 + 3060.0)]
    assert moving_spans(windows, 30.0) == [(t0 + 1200.0, t0 + 1920.0)]
    assert moving_spans(windows, 500.0) == []


def test_a_day_with_a_motion_sensor_shades_the_minutes_on_the_move(
    moving_log: Path, tmp_path: Path
) -> None:
    from kindpulse.daemon.plot import render_plot

    period = period_from_args(argparse.Namespace(day="2026-01-09", since=None, until=None))
    svg_path, png_path = tmp_path / "day.svg", tmp_path / "day.png"
    with Store.open(moving_log) as store:
        render_plot(store, period, svg_path, moving_mg=30.0)
    svg = svg_path.read_text()
    words = svg_text(svg)
    assert "on the move (motion sensor)" in words and "on the move 12 min" in words
    assert len(re.findall(r'id="on-the-move-1"', svg)) == 2  # on both panels
    assert 'id="on-the-move-2"' not in svg  # the fidget minute is under 30 mg
    assert not UNKIND.search(words), UNKIND.search(words)
    # The command, with the default threshold (20 mg: the fidget minute counts), as a PNG.
    p = kp("review", "--day", "2026-01-09", "--plot", str(png_path), "--state-dir", str(moving_log))
    assert p.returncode == 0, p.stderr
    w, h = png_size(png_path)
    assert w >= 1200 and h >= 600
    keep = _artifacts_dir()
    if keep is not None:
        (keep / "review-day-moving.png").write_bytes(png_path.read_bytes())


def test_a_day_without_a_motion_sensor_has_no_moving_band(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.svg"
    p = kp("review", "--day", "2026-01-05", "--plot", str(out), "--state-dir", str(log))
    assert p.returncode == 0, p.stderr
    svg = out.read_text()
    assert "on-the-move" not in svg and "motion sensor" not in svg_text(svg)


def _artifacts_dir() -> Path | None:
    import os

    d = os.environ.get("KINDPULSE_ARTIFACTS")
    return Path(d) if d else None
