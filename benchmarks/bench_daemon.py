"""Daemon footprint: time to READY, steady RSS while streaming, CPU per beat end to end,
and RSS growth over 7 simulated days.

    .venv/bin/python benchmarks/bench_daemon.py [--days 7] [--speed 30000] [--source replay|sim]

Runs the real ``kindpulse run`` process through the whole pipeline (windows, detector, log,
care), reads ``READY=1`` from a real sd_notify socket, samples the process's resident
memory from /proc, and takes CPU time from the kernel's accounting of the finished child.
``--source replay`` (the default) replays ``--days`` days of real beats (the NSRDB hour in
tests/data, repeated) as a live source would deliver them; ``--source sim`` runs the
service's built-in simulated wearer (ordinary days, endless) for ``--days`` days of its
clock. Prints a Markdown table (paste it into benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--speed", type=float, default=30000.0)
    ap.add_argument("--source", choices=("replay", "sim"), default="replay")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("kindpulse"))
    day_s = 86400.0
    with tempfile.TemporaryDirectory() as tmp:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(Path(tmp) / "notify"))
        sock.settimeout(0.05)
        env = dict(os.environ, NOTIFY_SOCKET=str(Path(tmp) / "notify"))
        state = Path(tmp) / "state"
        start = "2026-11-02T00:00:00"
        start_epoch = datetime.fromisoformat(start).astimezone().timestamp()
        if args.source == "replay":
            hour = (ROOT / "tests" / "data" / "nsrdb_60min.txt").read_text()
            week = Path(tmp) / "week.txt"
            week.write_text(hour * (24 * args.days))
            del hour
            source = ["--source", "replay", "--replay", str(week)]
        else:
            source = ["--source", "sim"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [
                exe,
                "run",
                *source,
                "--speed",
                str(args.speed),
                "--start",
                start,
                "--until-end",
                "--state-dir",
                str(state),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ready_s = float("nan")
        peak = 0.0
        # (elapsed s, RSS MB, beats, seconds of the source's clock since the start)
        samples: list[tuple[float, float, int, float]] = []
        while proc.poll() is None:
            try:
                msg = sock.recv(4096).decode()
                if "READY=1" in msg and ready_s != ready_s:
                    ready_s = time.monotonic() - t0
            except TimeoutError:
                pass
            try:
                doc = json.loads((state / "status.json").read_text())
                beats = int(doc.get("beats", 0))
                clock = float(doc.get("last_beat_epoch") or start_epoch) - start_epoch
                samples.append((time.monotonic() - t0, rss_mb(proc.pid), beats, clock))
                peak = max(peak, rss_mb(proc.pid, "VmHWM"))
                if clock >= args.days * day_s:
                    proc.send_signal(signal.SIGTERM)
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        beats = json.loads((state / "status.json").read_text())["beats"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    streaming = [s for s in samples if s[2] > 0]
    span = max(s[3] for s in streaming)
    day1 = [s[1] for s in streaming if s[3] <= day_s]
    last = [s[1] for s in streaming if s[3] >= span - 0.5 * day_s]
    what = "replayed" if args.source == "replay" else "simulated"
    rows = [
        ("time to READY", f"{ready_s:.2f} s", "< 1.5 s"),
        (
            "steady RSS while streaming (first day: median, highest sample)",
            f"{statistics.median(day1):.1f} MB, {max(day1):.1f} MB",
            "< 60 MB",
        ),
        (
            "CPU per beat, end to end",
            f"{1000.0 * cpu / beats:.3f} ms ({beats:,} beats)",
            "< 0.5 ms",
        ),
        (
            f"RSS growth over {span / day_s:.1f} {what} days (last half day against the "
            "first day: medians, highest samples)",
            f"{statistics.median(last) - statistics.median(day1):+.1f} MB, "
            f"{max(last) - max(day1):+.1f} MB",
            "< 2 MB",
        ),
        ("peak RSS (VmHWM)", f"{peak:.1f} MB", ""),
        ("wall time", f"{wall:.0f} s at --speed {args.speed:g}", ""),
    ]
    print(f"--source {args.source}")
    print("| measure | result | target |\n|---|---|---|")
    for a, b, c in rows:
        print(f"| {a} | {b} | {c} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
