"""Whole-process time of ``kindpulse analyze --episodes --motion`` on 4 hours.

    .venv/bin/python benchmarks/bench_motion.py [--repeat 5] [--out benchmarks/results/motion.md]

Makes, in a temporary directory, a 4-hour simulated wearer (``kindpulse simulate`` with
``--timestamps``: calm, a walk, desk work, a stretch of strain, calm) and the strap's
accelerometer for the same 4 hours as a Polar Sensor Logger export at 25 Hz (360,000 rows;
frames of 7 samples stamped on arrival, a 40 ppm strap clock). Then it times, as a person
runs them (a new process each, wall-clock, best of ``--repeat``):

- ``analyze FILE --episodes --motion ACC --format json`` (target: under 3 s);
- ``analyze FILE --episodes --format json`` (the same without movement, for comparison);

and, in this process, reading the accelerometer file alone
(:func:`kindpulse.sensors.motionfile.read_motion_file`). Writes a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))
START = datetime(2026, 1, 5, 9, 0, 0)
HOURS = 4.0
SCENARIO = """
name = "four_hours"
[[segment]]
kind = "calm"
minutes = 60
[[segment]]
kind = "walk"
minutes = 20
[[segment]]
kind = "desk"
minutes = 100
[[segment]]
kind = "stress"
minutes = 20
[[segment]]
kind = "calm"
minutes = 40
"""


def write_acc(path: Path, fs: float = 25.0, hours: float = HOURS, seed: int = 1) -> int:
    """A Polar Sensor Logger accelerometer export of ``hours`` at ``fs``; returns its rows."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 * fs)
    nominal = np.arange(n) / fs
    t = 0.0123 + nominal / (1.0 + 40e-6)
    sensor_ns = 599_616_000_000_000_000 + np.rint(nominal * 1e9).astype(np.int64)
    acc = np.array([0.0, 0.0, 1000.0])[:, None] + rng.normal(0.0, 3.0, (3, n))
    walk = (t >= 3600) & (t < 4800)
    acc[2, walk] += 150.0 * np.sin(2 * np.pi * 1.8 * t[walk])
    per_frame = 7
    frame = np.arange(n) // per_frame
    last = np.minimum((np.arange(frame[-1] + 1) + 1) * per_frame - 1, n - 1)
    arrival = np.maximum.accumulate(t[last] + rng.exponential(0.02, last.size))[frame]
    wall = np.datetime64(START, "us") + np.floor(arrival * 1e6).astype("timedelta64[us]")
    iso = np.datetime_as_string(wall, unit="ms").tolist()
    ai = np.rint(acc).astype(np.int64).tolist()
    rows = [
        f"{a};{s};{x};{y};{z}" for a, s, x, y, z in zip(iso, sensor_ns.tolist(), *ai, strict=True)
    ]
    header = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return n


def best_of(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "motion.md")
    args = ap.parse_args()
    from kindpulse.sensors.motionfile import read_motion_file

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "day.toml").write_text(SCENARIO)
        rr = d / "rr.csv"
        subprocess.run(
            [
                KINDPULSE,
                "simulate",
                "--scenario",
                str(d / "day.toml"),
                "--seed",
                "1",
                "--timestamps",
                "--start",
                START.isoformat(),
                "--out",
                str(rr),
            ],
            check=True,
        )
        acc = d / "acc.txt"
        rows = write_acc(acc)
        beats = sum(1 for ln in rr.read_text().splitlines() if ln[:1].isdigit())
        mb = acc.stat().st_size / 1e6
        with_motion = best_of(
            [KINDPULSE, "analyze", str(rr), "--episodes", "--motion", str(acc), "--format", "json"],
            args.repeat,
        )
        without = best_of(
            [KINDPULSE, "analyze", str(rr), "--episodes", "--format", "json"], args.repeat
        )
        reads = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            read_motion_file(acc)
            reads.append(time.perf_counter() - t0)
        read_s = min(reads)

    end = START + timedelta(hours=HOURS)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    table = [
        f"| what | seconds (best of {args.repeat}) | target |",
        "|---|---:|---|",
        f"| analyze --episodes --motion, whole process | {with_motion:.2f} | < 3 s |",
        f"| analyze --episodes (no motion), whole process | {without:.2f} | |",
        f"| read_motion_file alone ({rows:,} rows, {mb:.1f} MB) | {read_s:.3f} | < 1 s |",
    ]
    text = "\n".join(
        [
            "# Movement from a file: speed",
            "",
            "`.venv/bin/python benchmarks/bench_motion.py`",
            "",
            f"Input: {HOURS:g} hours ({START:%H:%M}-{end:%H:%M}) of a simulated wearer, "
            f"{beats:,} beats as `timestamp,rr_ms`, and a Polar Sensor Logger accelerometer "
            f"export at 25 Hz ({rows:,} rows, frames of 7 samples stamped on arrival, a "
            "40 ppm strap clock). Python "
            f"{platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
            f"{os.cpu_count()} cores shared with other work (load average at the end: {load}).",
            "",
            *table,
            "",
        ]
    )
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
