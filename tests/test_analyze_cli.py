"""`kindpulse analyze` as a person runs it: real processes, real files, real exit codes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from kindpulse.hrv import COLUMNS, windowed_metrics
from kindpulse.sensors.rrfile import read_rr_file

from .conftest import DATA

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KINDPULSE, *args], capture_output=True, text=True, timeout=120)


def test_json_has_every_column_in_order_with_full_precision() -> None:
    p = run("analyze", str(DATA / "nsrdb_60min.txt"), "--format", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    rows = doc["windows"]
    assert list(rows[0]) == list(COLUMNS)
    rr = np.loadtxt(DATA / "nsrdb_60min.txt")
    table = windowed_metrics(rr)
    assert len(rows) == len(table) == int((rr.sum() / 1000 - 300) // 60) + 1
    for got, want in zip(rows, table.rows(), strict=True):
        assert got == want  # floats survive JSON exactly (repr)


def test_csv_and_table_agree_with_json() -> None:
    f = str(DATA / "nsrdb_5min.txt")
    js = json.loads(run("analyze", f, "--window", "60", "--step", "30", "--format", "json").stdout)
    csv_out = run("analyze", f, "--window", "60", "--step", "30", "--format", "csv").stdout
    lines = csv_out.strip().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert len(lines) - 1 == len(js["windows"]) == 8
    first = dict(zip(COLUMNS, lines[1].split(","), strict=True))
    assert float(first["rmssd"]) == js["windows"][0]["rmssd"]
    table = run("analyze", f, "--window", "60", "--step", "30").stdout.splitlines()
    assert table[0].split() == list(COLUMNS)
    assert len(table) == 9


def test_no_correct_analyses_the_raw_series(tmp_path: Path) -> None:
    rr = np.loadtxt(DATA / "nsrdb_60min.txt")
    rr[1000] = 3000.0  # outside the hard limits: kept as read with --no-correct
    f = tmp_path / "rr.txt"
    np.savetxt(f, rr)
    raw = json.loads(run("analyze", str(f), "--no-correct", "--format", "json").stdout)
    fixed = json.loads(run("analyze", str(f), "--format", "json").stdout)
    ref = windowed_metrics(rr, correct=False)
    assert [w["rmssd"] for w in raw["windows"]] == ref.rmssd.tolist()
    assert all(w["artifact_pct"] == 0 for w in raw["windows"])
    assert max(w["artifact_pct"] for w in fixed["windows"]) > 0


def test_shorter_than_one_window_is_empty_not_an_error(tmp_path: Path) -> None:
    f = tmp_path / "short.txt"
    f.write_text("800\n810\n790\n")
    p = run("analyze", str(f), "--format", "json")
    assert p.returncode == 0
    assert json.loads(p.stdout) == {"windows": []}
    assert "shorter than one window" in run("analyze", str(f)).stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "no RR intervals found (the file is empty)"),
        (b"# only a note\n\n", "no RR intervals found (only comments and blank lines)"),
        (b"800\n810\nabc\n790\n", ":3: 'abc' is not a number"),
        (b"800\n-5\n", ":2: '-5' is not an RR interval"),
        (b"800\n0\n", ":2: '0' is not an RR interval"),
        (b"800\nNaN\n", ":2: 'NaN' is not an RR interval"),
        (b"800\ninf\n", ":2: 'inf' is not an RR interval"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data, expected a text file"),
        (b"800\n\xff\xfe\x00garbage", "binary data"),
        (b"800\n\xc3\x28\n", ":2: not UTF-8 text"),
        (
            b"time,rr\n2024-01-01T10:00:00,800\nyesterday,800\n",
            ":3: 'yesterday' is not a timestamp",
        ),
        (b"time,rr\n10,800\n9,800\n", ":3: timestamp goes back in time"),
        (b"800\n999999\n", ":2: '999999' ms is not an RR interval"),
        (b"a,b\n1,2\n", ":1: no RR column in the header"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_65(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    f = tmp_path / "rr.txt"
    f.write_bytes(content)
    p = run("analyze", str(f))
    assert p.returncode == 65, p.stderr
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    assert lines[0].startswith(f"kindpulse: {f}")
    assert expected in lines[0]


def test_missing_file_and_bad_flags_have_their_own_codes(tmp_path: Path) -> None:
    p = run("analyze", str(tmp_path / "nope.txt"))
    assert (
        p.returncode == 66
        and p.stderr.strip() == f"kindpulse: {tmp_path / 'nope.txt'}: no such file"
    )
    p = run("analyze", str(DATA / "nsrdb_5min.txt"), "--window", "-3")
    assert p.returncode == 64 and len(p.stderr.strip().splitlines()) == 1
    assert "must be a positive number of seconds" in p.stderr


def _same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_formats_people_have(tmp_path: Path) -> None:
    rr = np.loadtxt(DATA / "nsrdb_5min.txt")
    # Seconds, one per line (Kubios RR text), auto-detected.
    f = tmp_path / "kubios.txt"
    f.write_text("\n".join(f"{v / 1000:.6f}" for v in rr))
    rec = read_rr_file(f)
    assert rec.unit == "s" and rec.t_ms is None
    _same(rec.rr_ms, rr)
    # Polar Sensor Logger: semicolon CSV with a timestamp column and an RR column in ms.
    t0 = datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    ts = [t0 + timedelta(milliseconds=float(c)) for c in np.cumsum(rr) - rr[0]]
    f = tmp_path / "polar.txt"
    f.write_text(
        "Phone timestamp;RR-interval [ms]\n"
        + "".join(
            f"{t.isoformat(timespec='milliseconds')};{v:g}\n" for t, v in zip(ts, rr, strict=True)
        )
    )
    rec = read_rr_file(f)
    assert rec.unit == "ms" and rec.start == t0
    _same(rec.rr_ms, rr)
    assert rec.t_ms is not None
    np.testing.assert_allclose(rec.t_ms, np.cumsum(rr), atol=0.01)
    # Same numbers as the plain file: a gap-free timestamped file keeps the plain times.
    a = windowed_metrics(rec.rr_ms, 60, 30, t_ms=rec.t_ms)
    b = windowed_metrics(rr, 60, 30)
    for col in COLUMNS:
        _same(a.column(col), b.column(col))
    # kindpulse record's CSV, with comments and a gap that shows as a jump in time.
    f = tmp_path / "record.csv"
    lines = ["timestamp,rr_ms", "# device: strap"]
    for k, (t, v) in enumerate(zip(ts, rr, strict=True)):
        if k == 150:
            lines.append("# gap: link lost")
        t = t + timedelta(seconds=30) if k >= 150 else t
        lines.append(f"{t.isoformat(timespec='milliseconds')},{v:.4f}")
    f.write_text("\n".join(lines) + "\n")
    rec = read_rr_file(f)
    assert rec.t_ms is not None and rec.rr_ms.size == rr.size
    assert rec.t_ms[150] - rec.t_ms[149] == pytest.approx(rr[150] + 30_000, abs=0.01)
    # Elite HRV style: a header word and values in ms; zone-less times are local time.
    f = tmp_path / "elite.txt"
    f.write_text("RR\n" + "\n".join(f"{v:g}" for v in rr))
    _same(read_rr_file(f).rr_ms, rr)
    f = tmp_path / "local.csv"
    f.write_text("date,ibi\n2024-05-01 10:00:00,800\n2024-05-01 10:00:00.8,800\n")
    rec = read_rr_file(f)
    assert rec.start is not None and rec.start.tzinfo is not None


def test_a_gap_in_timestamps_nulls_the_spectrum_of_windows_holding_it(tmp_path: Path) -> None:
    rr = np.loadtxt(DATA / "nsrdb_60min.txt")[:1500]
    secs = (np.cumsum(rr) - rr[0]) / 1000
    secs[700:] += 20.0
    f = tmp_path / "gap.csv"
    f.write_text(
        "time,rr_ms\n" + "".join(f"{s:.4f},{v:g}\n" for s, v in zip(secs, rr, strict=True))
    )
    doc = json.loads(run("analyze", str(f), "--format", "json").stdout)
    before, after = np.cumsum(rr)[699] / 1000, (np.cumsum(rr)[700] + 20_000) / 1000

    def holds(w: dict[str, float]) -> bool:  # both beats around the gap are in the window
        return w["end_s"] - 300 < before and after <= w["end_s"]

    holding = [w for w in doc["windows"] if holds(w)]
    clear = [w for w in doc["windows"] if not holds(w)]
    assert holding and clear
    assert all(w["lf"] is None and w["hf"] is None for w in holding)
    assert all(w["lf"] is not None and math.isfinite(w["lf"]) for w in clear)


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    import os
    import pty

    rr = np.tile(np.loadtxt(DATA / "nsrdb_60min.txt"), 55)  # over 200,000 intervals
    f = tmp_path / "long.txt"
    f.write_text("\n".join(f"{v:g}" for v in rr) + "\n")
    quiet = run("analyze", str(f), "--format", "csv")
    assert quiet.returncode == 0 and quiet.stderr == ""
    main, sub = pty.openpty()
    p = subprocess.Popen(
        [KINDPULSE, "analyze", str(f), "--format", "csv"],
        stdout=subprocess.DEVNULL, stderr=sub, close_fds=True,
    )
    os.close(sub)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert p.wait(timeout=120) == 0
    os.close(main)
    assert b"windows [" in seen and b"]" in seen
    assert seen.endswith(b"\r\x1b[K")  # the bar is cleared when done
