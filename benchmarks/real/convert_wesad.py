"""Convert WESAD (Schmidt et al. 2018) wrist recordings into the benchmark's files — into a
local folder outside the repository: WESAD states no licence that allows passing the data
on, so only this script and the figures it gives are kept in the repository.

    .venv/bin/python benchmarks/real/convert_wesad.py \
        [--repo /work/.mirror/arsen-movsesyan+springboard_WESAD/repo] [--commit HEAD] \
        [--out ~/.cache/kindpulse-bench/real/wesad]

Reads, from a fetched copy of WESAD's per-subject files (git objects, nothing checked out):
``data/SX/SX_E4_Data/IBI.csv`` and ``ACC.csv`` (Empatica E4 on the non-dominant wrist, see
``e4.py``) and ``data/SX/SX_quest.csv`` (the protocol: lines ``# ORDER``, ``# START``,
``# END``, times as minutes.seconds counted from the start of the chest RespiBAN recording).

The protocol's clock is the RespiBAN's, not the E4's; WESAD synchronised the two by hand
(a double tap on the chest, seen by both accelerometers) and publishes the result only in its
large ``SX.pkl`` files. So a subject is converted only when the offset from the E4 start to the
RespiBAN start is known from what could be read:

* S2: 1416 s. The RespiBAN header (``"date": "2017-5-22", "time": "9:39:1.0"``, local time,
  UTC+2) is 07:39:01 UTC, and the E4 started at 1495437325 (07:15:25 UTC): 1416 s. The E4
  accelerometer shows the double tap at 1416.6-1417.5 s, which confirms it to a second.

Labels: ``baseline`` (Base), ``stress`` (TSST: preparation, speech and arithmetic),
``amusement`` (Fun), ``meditation`` (Medi 1, Medi 2); the reading periods (sRead, fRead,
bRead), which WESAD says to ignore, as ``read``.

WESAD's readme says the E4's ``IBI.csv`` is derived data that WESAD itself does not use; it is
what an E4 wearer gets, so it is what is tested here.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from e4 import (
    Segment,
    git_show,
    head_commit,
    read_acc_movement,
    read_ibi,
    write_recording,
)

DEFAULT_REPO = Path("/work/.mirror/arsen-movsesyan+springboard_WESAD/repo")
DEFAULT_OUT = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kindpulse-bench/real/wesad"
)
SOURCE = "https://github.com/arsen-movsesyan/springboard_WESAD"
#: Seconds from the E4's start to the RespiBAN's (the protocol's time zero); see above.
OFFSETS_S: dict[str, float] = {"S2": 1416.0}
LABELS = {
    "Base": "baseline",
    "TSST": "stress",
    "Fun": "amusement",
    "Medi 1": "meditation",
    "Medi 2": "meditation",
    "sRead": "read",
    "fRead": "read",
    "bRead": "read",
}


def minutes_seconds(value: str) -> float:
    """``39.55`` is 39 min 55 s, ``50.3`` is 50 min 30 s (a spreadsheet's dropped zero)."""
    whole, _, frac = value.strip().partition(".")
    secs = int((frac + "00")[:2]) if frac else 0
    return 60.0 * int(whole) + secs


def protocol(text: str) -> list[tuple[str, float, float]]:
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(";")]
        if parts and parts[0] in ("# ORDER", "# START", "# END"):
            rows[parts[0]] = parts[1:]
    out = []
    for name, a, b in zip(rows["# ORDER"], rows["# START"], rows["# END"], strict=False):
        if name and a and b:
            out.append((name, minutes_seconds(a), minutes_seconds(b)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=DEFAULT_REPO, help="the fetched git directory")
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    repo: Path = args.repo
    commit = head_commit(repo) if args.commit == "HEAD" else args.commit
    for sid, offset in OFFSETS_S.items():
        base = f"data/{sid}"
        beats = read_ibi(git_show(repo, commit, f"{base}/{sid}_E4_Data/IBI.csv"))
        movement = read_acc_movement(git_show(repo, commit, f"{base}/{sid}_E4_Data/ACC.csv"))
        parts = protocol(git_show(repo, commit, f"{base}/{sid}_quest.csv"))
        segs = [
            Segment(offset + a, offset + b, LABELS.get(name, "other"), name.replace(" ", "_"))
            for name, a, b in parts
        ]
        header = (
            f"WESAD {sid} ({SOURCE}, commit {commit}; WESAD: Schmidt et al., ICMI 2018; "
            "no licence to pass the data on: do not commit)\n"
            f"E4 session start (unix) {beats.start_unix:.0f}; times in seconds since then; "
            f"protocol times + {offset:.0f} s (RespiBAN start on the E4 clock)."
        )
        write_recording(args.out, sid, beats, movement, segs, header)
        dur = float(movement.end_s[-1])
        cover = float(np.sum(beats.rr_ms)) / 1000.0 / dur
        print(
            f"{sid}: {beats.t_s.size} beats, {dur / 60:.1f} min, beats cover {100 * cover:.0f} %; "
            + ", ".join(f"{s.task} {s.start_s / 60:.1f}-{s.end_s / 60:.1f}" for s in segs)
            + f" (min on the E4 clock) -> {args.out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
