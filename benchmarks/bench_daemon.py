"""Daemon footprint: time to READY, steady RSS while streaming, CPU per beat end to end,
and RSS growth over 7 simulated days.

    .venv/bin/python benchmarks/bench_daemon.py [--days 7] [--speed 20000]

Runs the real ``kindpulse run`` process replaying ``--days`` days of real beats (the NSRDB
hour in tests/data, repeated) as a live source would deliver them, through the whole
pipeline (windows, detector, log, care),
reads ``READY=1`` from a real sd_notify socket, samples the process's resident memory from
/proc, and takes CPU time from the kernel's accounting of the finished child. Prints a
Markdown table (paste it into benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Beats in a replayed day (the NSRDB hour has 4,684).
BEATS_PER_DAY = 24 * 4684


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--speed", type=float, default=20000.0)
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("kindpulse"))
    with tempfile.TemporaryDirectory() as tmp:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(Path(tmp) / "notify"))
        sock.settimeout(0.05)
        env = dict(os.environ, NOTIFY_SOCKET=str(Path(tmp) / "notify"))
        state = Path(tmp) / "state"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        hour = (ROOT / "tests" / "data" / "nsrdb_60min.txt").read_text()
        week = Path(tmp) / "week.txt"
        week.write_text(hour * (24 * args.days))
        proc = subprocess.Popen(
            [exe, "run", "--source", "replay", "--replay", str(week), "--speed",
             str(args.speed), "--start", "2026-11-02T00:00:00", "--until-end",
             "--state-dir", str(state)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        ready_s = float("nan")
        samples: list[tuple[float, float, int]] = []  # (elapsed s, RSS MB, beats)
        while proc.poll() is None:
            try:
                msg = sock.recv(4096).decode()
                if "READY=1" in msg and ready_s != ready_s:
                    ready_s = time.monotonic() - t0
            except TimeoutError:
                pass
            try:
                beats = json.loads((state / "status.json").read_text()).get("beats", 0)
                samples.append((time.monotonic() - t0, rss_mb(proc.pid), int(beats)))
                if beats >= args.days * BEATS_PER_DAY:
                    proc.send_signal(signal.SIGTERM)
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        beats = json.loads((state / "status.json").read_text())["beats"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    streaming = [s for s in samples if s[2] > 0]
    total = max(s[2] for s in streaming)
    day1 = [s[1] for s in streaming if s[2] <= total / args.days]
    last = [s[1] for s in streaming if s[2] >= total * (1 - 0.5 / args.days)]
    steady = max(day1) if day1 else float("nan")
    end = max(last) if last else float("nan")
    rows = [
        ("time to READY", f"{ready_s:.2f} s", "< 1.5 s"),
        ("steady RSS while streaming (first day)", f"{steady:.1f} MB", "< 60 MB"),
        ("CPU per beat, end to end", f"{1000.0 * cpu / beats:.3f} ms ({beats:,} beats)",
         "< 0.5 ms"),
        (f"RSS growth over {args.days} replayed days", f"{end - steady:+.1f} MB", "< 2 MB"),
        ("wall time", f"{wall:.0f} s at --speed {args.speed:g}", ""),
    ]
    print("| measure | result | target |\n|---|---|---|")
    for a, b, c in rows:
        print(f"| {a} | {b} | {c} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
