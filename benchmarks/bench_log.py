"""Whole-command times of the log commands on a realistic log.

    .venv/bin/python benchmarks/bench_log.py [--repeat 3]

Builds, in a temporary state directory, the log a year of daily wear leaves behind: one
window row per minute for 365 days (525,600 rows), two episodes a day (a stress episode and
an exercise bout), a baseline row an hour, a break and a prompt a day, and the last 30 days
of beats (the default beat retention; the NSRDB hour in tests/data, repeated). Then it times
the real ``kindpulse`` commands as a person runs them (a new process each, wall-clock):

- ``review --since`` a year ago, text and JSON (the issue's target: under 1 s);
- ``import`` of a 7-day RR file into an empty log (target: under 30 s);
- ``export --what beats`` of 30 days as CSV (target: under 5 s);

and prints a Markdown table (paste it into benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DAY_S = 86_400.0


def build_year(state: Path, end: datetime) -> tuple[int, int]:
    """A year of windows/episodes/baselines and 30 days of beats ending at ``end``."""
    from kindpulse.daemon.store import DB_NAME, Store

    t_end = end.timestamp()
    t0 = t_end - 365 * DAY_S
    store = Store.open(state)
    hour = np.loadtxt(ROOT / "tests" / "data" / "nsrdb_60min.txt")
    day_rr = np.tile(hour, int(np.ceil(DAY_S / (hour.sum() / 1000.0))))
    day_t = np.cumsum(day_rr) / 1000.0
    keep = day_t < DAY_S
    day_rr, day_t = day_rr[keep], day_t[keep]
    n_beats = 0
    for d in range(30):
        start = t_end - (30 - d) * DAY_S
        store.add_beats(start + day_t, day_rr)
        n_beats += day_rr.size
        store.flush()
    store.close()

    rng = np.random.default_rng(7)
    minutes = np.arange(365 * 1440)
    t_ms = np.round((t0 + 60.0 * (minutes + 1)) * 1000).astype(np.int64)
    hr = 62 + 8 * np.sin(minutes / 1440 * 2 * np.pi) + rng.normal(0, 2, minutes.size)
    ln = 3.6 + rng.normal(0, 0.2, minutes.size)
    states = np.array(["calm", "elevated", "stress", "active", "unknown"])
    st = states[rng.choice(5, size=minutes.size, p=[0.7, 0.15, 0.05, 0.05, 0.05])]
    db = sqlite3.connect(state / DB_NAME)
    db.executemany(
        "INSERT INTO windows VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (int(t), str(s), 70, float(h), float(x), float(np.exp(x)), 50.0, 0.5)
            for t, s, h, x in zip(t_ms, st, hr, ln, strict=True)
        ),
    )
    eps, bls, brk, prm = [], [], [], []
    for d in range(365):
        day0 = t0 + d * DAY_S
        s = day0 + 10 * 3600 + (d % 7) * 1800
        eps.append(("stress", s, s + 300, s + 1500, "Your heart rate stayed up and its "
                    "variability low for a while, while you were still."))
        a = day0 + 18 * 3600
        eps.append(("active", a, a + 120, a + 2700, "You were moving."))
        brk.append((round((s + 400) * 1000), round((s + 460) * 1000), 66.0, 63.0, 3.2, 3.5))
        prm.append((round((s + 300) * 1000), round(s * 1000), "break", round((s + 400) * 1000)))
        for h in range(24):
            bls.append((round((day0 + h * 3600) * 1000), 3.6, 0.2, 62.0, 4.0, 5000, 1))
    db.executemany(
        "INSERT INTO episodes (kind, start_ms, confirmed_ms, end_ms, explanation)"
        " VALUES (?, ?, ?, ?, ?)",
        [(k, round(a * 1000), round(c * 1000), round(b * 1000), x) for k, a, c, b, x in eps],
    )
    db.executemany(
        "INSERT INTO breaks (start_ms, end_ms, hr_before, hr_after, ln_rmssd_before,"
        " ln_rmssd_after) VALUES (?, ?, ?, ?, ?, ?)",
        brk,
    )
    db.executemany(
        "INSERT INTO prompts (t_ms, episode_start_ms, outcome, outcome_ms) VALUES (?, ?, ?, ?)",
        prm,
    )
    db.executemany("INSERT INTO baselines VALUES (?, ?, ?, ?, ?, ?, ?)", bls)
    db.commit()
    db.close()
    return minutes.size, n_beats


def timed(cmd: list[str], repeat: int, env: dict[str, str]) -> tuple[float, str]:
    times = []
    out = ""
    for _ in range(repeat):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        times.append(time.perf_counter() - t)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
        out = p.stdout
    return statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("kindpulse"))
    env = dict(os.environ, TZ=os.environ.get("TZ", "Europe/Berlin"))
    time.tzset()
    end = datetime(2026, 11, 2).astimezone()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "year"
        t = time.perf_counter()
        n_windows, n_beats = build_year(state, end)
        print(f"built a year: {n_windows} windows, {n_beats} beats in "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr)
        until = (end - timedelta(days=1)).date().isoformat()
        since = (end - timedelta(days=365)).date().isoformat()
        period = ["--since", since, "--until", until, "--state-dir", str(state)]
        for fmt in ("text", "json"):
            s, out = timed([exe, "review", *period, "--format", fmt], args.repeat, env)
            rows.append((f"review a year ({n_windows:,} windows), {fmt}", s, 1.0,
                         f"{len(out):,} bytes"))
        month = ["--since", (end - timedelta(days=30)).date().isoformat(), "--until", until]
        s, out = timed([exe, "export", "--what", "beats", "--format", "csv", *month,
                        "--state-dir", str(state)], args.repeat, env)
        rows.append((f"export 30 days of beats ({n_beats:,}), csv", s, 5.0,
                     f"{out.count(chr(10)) - 1:,} rows"))

        hour = (ROOT / "tests" / "data" / "nsrdb_60min.txt").read_text()
        week = Path(tmp) / "week.txt"
        week.write_text(hour * (24 * 7))
        n_week = hour.count("\n") * 24 * 7
        times = []
        for k in range(args.repeat):
            fresh = Path(tmp) / f"import{k}"
            t = time.perf_counter()
            p = subprocess.run([exe, "import", str(week), "--start", "2026-10-01T00:00:00",
                                "--state-dir", str(fresh)], capture_output=True, text=True,
                               env=env, check=False)
            times.append(time.perf_counter() - t)
            if p.returncode != 0:
                raise SystemExit(f"import failed: {p.stderr.strip()}")
        rows.append((f"import 7 days of beats ({n_week:,})", statistics.median(times), 30.0,
                     p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""))

    print(f"Median of {args.repeat} runs, whole command (a new process each).\n")
    print("| command | time | target | met | output |")
    print("|---|---:|---:|:-:|---|")
    for name, s, target, note in rows:
        print(f"| {name} | {s:.2f} s | < {target:g} s | {'yes' if s < target else 'no'} "
              f"| {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
