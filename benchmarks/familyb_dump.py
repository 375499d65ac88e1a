"""Write one family-B scenario (``benchmarks/familyb.py``) as files, so the offline path can
be tried on it:

    .venv/bin/python benchmarks/familyb_dump.py --list
    .venv/bin/python benchmarks/familyb_dump.py b_stress_17 --out /tmp/b17.csv --truth /tmp/b17.json
    .venv/bin/kindpulse analyze /tmp/b17.csv --episodes --motion /tmp/b17.acc.txt

* the beats as ``timestamp,rr_ms`` (as ``kindpulse record`` writes them): the beat's time in
  ISO 8601 local time to the millisecond (no offset), the RR in ms; a dropout shows as a
  jump of the timestamps;
* the accelerometer (``--acc``, default ``<out stem>.acc.txt`` next to ``--out``) in the
  layout of Polar Sensor Logger's ACC files:
  ``Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]``, one 25 Hz sample a line,
  whole mg; the phone timestamp is the sample's time on the same clock as the beats, the
  sensor timestamp nanoseconds since 2000-01-01 (the strap's epoch) of the same instant;
* the truth (``--truth``): segments, stress episodes, exercise bouts and faults, in
  seconds from the first beat's clock origin, plus ``start``.

All synthetic.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import familyb  # a sibling script, not part of the package

DEFAULT_START = datetime(2026, 1, 5, 9, 0, 0)
SENSOR_EPOCH = datetime(2000, 1, 1)
ACC_HEADER = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]"


def _iso(start: datetime, t_s: float) -> str:
    us = round(t_s * 1e6)
    return (start + timedelta(microseconds=us)).isoformat(timespec="milliseconds")


def write_beats(out: TextIO, b: familyb.Beats, start: datetime) -> None:
    out.write("timestamp,rr_ms\n")
    for t, rr in zip(b.t_ms.tolist(), b.rr_ms.tolist(), strict=True):
        out.write(f"{_iso(start, t / 1000.0)},{rr:.4f}\n")


def write_acc(out: TextIO, b: familyb.Beats, seed: int, start: datetime) -> int:
    """The accelerometer samples in Polar Sensor Logger's layout; returns their number."""
    out.write(ACC_HEADER + "\n")
    base_ns = int((start - SENSOR_EPOCH).total_seconds()) * 1_000_000_000
    n = 0
    phase = familyb.breath_phase_fn(b.breaths_per_min)
    for t, x, y, z in familyb.accelerometer_chunks(b.moves, phase, b.gaps, seed):
        ns = base_ns + np.rint(t * 1e9).astype(np.int64)
        xs, ys, zs = (np.rint(a).astype(np.int64).tolist() for a in (x, y, z))
        rows = [
            f"{_iso(start, ti)};{ni};{xi};{yi};{zi}"
            for ti, ni, xi, yi, zi in zip(t.tolist(), ns.tolist(), xs, ys, zs, strict=True)
        ]
        out.write("\n".join(rows) + "\n")
        n += len(rows)
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("scenario", nargs="?", help="a family-B scenario name (see --list)")
    ap.add_argument("--list", action="store_true", help="list the suite's scenarios")
    ap.add_argument("--out", type=Path, help="the RR file (timestamp,rr_ms)")
    ap.add_argument("--acc", type=Path, help="the accelerometer file (default <stem>.acc.txt)")
    ap.add_argument("--truth", type=Path, help="the truth as JSON")
    ap.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=DEFAULT_START,
        help="wall-clock time of the clock origin (default 2026-01-05T09:00:00, local)",
    )
    args = ap.parse_args(argv)
    scenarios = {sc.name: sc for sc in familyb.suite()}
    if args.list:
        for sc in scenarios.values():
            kinds = ",".join(sorted({s.kind for s in sc.segments}))
            print(f"{sc.name}\t{sc.group}\t{sc.duration_s / 3600:.2f} h\t{kinds}")
        return 0
    if args.scenario not in scenarios or args.out is None:
        ap.error("give a scenario name from --list and --out FILE")
    sc = scenarios[args.scenario]
    b = familyb.generate(sc)
    acc = args.acc or args.out.with_name(f"{args.out.stem}.acc.txt")
    with args.out.open("w") as f:
        write_beats(f, b, args.start)
    with acc.open("w") as f:
        n = write_acc(f, b, sc.seed, args.start)
    if args.truth is not None:
        truth = dict(b.truth, start=args.start.isoformat())
        args.truth.write_text(json.dumps(truth, indent=1) + "\n")
    print(f"{args.out}: {b.rr_ms.size} beats; {acc}: {n} samples", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
