"""HRV engine benchmark: kindpulse against hrv-analysis, neurokit2 and pyHRV in one run.

    bash benchmarks/peers/setup.sh          # once: the peers, each in its own venv
    .venv/bin/python benchmarks/bench_hrv.py [--repeat 5] [--big-lines 2000000]

Input: a 24 h recording (the NSRDB 60-minute series tiled 24 times, ~113k beats), 1436
five-minute windows stepped 60 s, time and frequency domain. Like with like: kindpulse with
``correct=False`` against the peers' uncorrected per-window features; the cost of artifact
correction is reported on its own. Also the whole ``kindpulse analyze`` process on a file of
``--big-lines`` lines (time and peak RSS). Prints a Markdown table (paste it into
benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from kindpulse.hrv import metrics_for_windows, prepare, window_ends, windowed_metrics

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"
VENVS = ROOT / "benchmarks" / ".venvs"


def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--big-lines", type=int, default=2_000_000)
    ap.add_argument("--skip-peers", action="store_true")
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    base = np.loadtxt(ROOT / "tests" / "data" / "nsrdb_60min.txt")
    rr = np.tile(base, 24)
    day = CACHE / "nsrdb_24h.txt"
    day.write_text("\n".join(f"{v:g}" for v in rr) + "\n")

    rows: list[tuple[str, float, str]] = []
    t0 = time.perf_counter()
    table = windowed_metrics(rr, correct=False)
    first = time.perf_counter() - t0
    n_windows = len(table)
    warm = best(lambda: windowed_metrics(rr, correct=False), args.repeat)
    rows.append(("kindpulse, time + frequency (correct=False)", warm, f"first call {first:.3f} s"))
    s = prepare(rr, correct=False)
    ends = window_ends(float(s.t_ms[-1]), 300.0, 60.0)
    td = best(lambda: metrics_for_windows(s, ends, 300.0, spectrum=False), args.repeat)
    rows.append(("kindpulse, time domain only", td, ""))
    corr = best(lambda: prepare(rr, correct=True), max(1, args.repeat // 2))
    rows.append(("kindpulse, artifact correction alone", corr, "Lipponen & Tarvainen, 4 passes"))

    peers: dict[str, float] = {}
    if not args.skip_peers:
        for peer in ("hrvanalysis", "neurokit2", "pyhrv"):
            py = VENVS / peer / "bin" / "python"
            if not py.exists():
                rows.append((peer, float("nan"), "not installed: bash benchmarks/peers/setup.sh"))
                continue
            out = subprocess.run(
                [str(py), str(ROOT / "benchmarks/peers/peer_timing.py"), "--peer", peer,
                 "--rr", str(day), "--window", "300", "--step", "60", "--repeat", "1"],
                capture_output=True, text=True, check=True,
            )
            res = json.loads(out.stdout.strip().splitlines()[-1])
            peers[peer] = res["seconds"]
            rows.append((f"{peer} {res['version']}", res["seconds"],
                         f"{warm and res['seconds'] / warm:.0f}x kindpulse"))

    big = CACHE / f"big_{args.big_lines}.txt"
    if not big.exists():
        reps = args.big_lines // base.size + 1
        big.write_text("\n".join(f"{v:g}" for v in np.tile(base, reps)[: args.big_lines]) + "\n")
    exe = Path(sys.executable).with_name("kindpulse")
    t0 = time.perf_counter()
    subprocess.run([str(exe), "analyze", str(big), "--format", "csv"], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rows.append((f"kindpulse analyze, {args.big_lines:,} lines, whole process", wall,
                 f"peak RSS {rss:.0f} MB"))

    print(f"24 h: {rr.size} beats, {n_windows} windows of 300 s stepped 60 s\n")
    print("| what | seconds | note |\n|---|---:|---|")
    for name, sec, note in rows:
        print(f"| {name} | {sec:.4f} | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
