"""Empatica E4 session files, read from a fetched repository's git objects, and the three
files a converted recording is made of.

E4 exports (Empatica's own ``info.txt``, shipped with each session):

* ``IBI.csv``: line 1 is ``<unix start>, IBI``; then ``t, ibi``: the beat's time in seconds
  since the start and the interval that ends there, in seconds (from the wrist's BVP). Beats
  the E4 could not find are simply missing, so a jump ``t_i - t_{i-1} > ibi_i`` is a gap.
* ``ACC.csv``: line 1 the start (unix, per axis), line 2 the sample rate (32 Hz), then
  ``x, y, z`` in 1/64 g.

Written per recording, all on the E4's own clock (seconds since its session start):

* ``<id>.rr.csv``: ``time_s,rr_ms`` — the beat's time and the interval ending there, so gaps
  stay gaps (``kindpulse analyze`` reads it; it moves the axis to start at the first RR);
* ``<id>.movement.csv``: ``end_s,movement_mg`` — per-second movement
  (:func:`kindpulse.motion.movement_per_second`) of the wrist accelerometer, in place of the
  raw 32 Hz samples, to keep the repository small;
* ``<id>.labels.csv``: ``start_s,end_s,label,task`` — labelled segments; ``label`` is one of
  the benchmark's words (baseline, stress, rest, amusement, meditation, ...), ``task`` the
  dataset's own name for the segment.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kindpulse.motion import movement_per_second

F64 = NDArray[np.float64]

#: E4 accelerometer units: 1/64 g.
E4_ACC_MG_PER_UNIT = 1000.0 / 64.0


def git_show(git_dir: Path, commit: str, path: str) -> str:
    """A file's text at ``commit`` in a bare repository (``git show commit:path``)."""
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    )
    return out.stdout.decode("utf-8")


def git_show_bytes(git_dir: Path, commit: str, path: str) -> bytes:
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    )
    return out.stdout


def head_commit(git_dir: Path) -> str:
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


@dataclass(frozen=True, slots=True)
class Beats:
    """E4 inter-beat intervals: unix start, beat times (s since start), intervals (ms)."""

    start_unix: float
    t_s: F64
    rr_ms: F64


def read_ibi(text: str) -> Beats:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or "IBI" not in lines[0]:
        raise ValueError("IBI.csv: the first line should be '<unix start>, IBI'")
    start = float(lines[0].split(",")[0])
    if len(lines) == 1:
        return Beats(start, np.empty(0), np.empty(0))
    rows = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]], dtype=np.float64)
    t, ibi_s = rows[:, 0], rows[:, 1]
    if np.any(np.diff(t) <= 0):
        raise ValueError("IBI.csv: beat times must increase")
    return Beats(start, t, 1000.0 * ibi_s)


@dataclass(frozen=True, slots=True)
class Movement:
    """Per-second wrist movement on the E4 clock: second ends (s) and mg."""

    start_unix: float
    end_s: F64
    mg: F64


def read_acc_movement(text: str) -> Movement:
    lines = text.splitlines()
    start = float(lines[0].split(",")[0])
    rate = float(lines[1].split(",")[0])
    xyz = np.array(
        [[float(v) for v in ln.split(",")] for ln in lines[2:] if ln.strip()], dtype=np.float64
    )
    t = np.arange(xyz.shape[0], dtype=np.float64) / rate
    mg = xyz * E4_ACC_MG_PER_UNIT
    end, move = movement_per_second(t, mg[:, 0], mg[:, 1], mg[:, 2])
    return Movement(start, end, move)


@dataclass(frozen=True, slots=True)
class Segment:
    start_s: float
    end_s: float
    label: str
    task: str


def write_recording(
    out_dir: Path,
    rec_id: str,
    beats: Beats,
    movement: Movement | None,
    segments: list[Segment],
    header: str,
) -> None:
    """The recording's three files (see the module docstring); ``header`` becomes ``#``
    comment lines at the top of each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    pairs = zip(beats.t_s.tolist(), beats.rr_ms.tolist(), strict=True)
    rr_lines = [f"{t:.6f},{rr:.3f}" for t, rr in pairs]
    (out_dir / f"{rec_id}.rr.csv").write_text(
        comment + "time_s,rr_ms\n" + "".join(line + "\n" for line in rr_lines)
    )
    if movement is not None:
        secs = zip(movement.end_s.tolist(), movement.mg.tolist(), strict=True)
        mv = [f"{int(e)},{m:.1f}" for e, m in secs]
        (out_dir / f"{rec_id}.movement.csv").write_text(
            comment + "end_s,movement_mg\n" + "".join(line + "\n" for line in mv)
        )
    seg_lines = [
        f"{s.start_s:.1f},{s.end_s:.1f},{s.label},{s.task}"
        for s in sorted(segments, key=lambda s: s.start_s)
    ]
    (out_dir / f"{rec_id}.labels.csv").write_text(
        comment + "start_s,end_s,label,task\n" + "".join(line + "\n" for line in seg_lines)
    )


def subtract(seg: Segment, cuts: list[tuple[float, float]]) -> list[Segment]:
    """The parts of ``seg`` outside every ``(start, end)`` in ``cuts``."""
    parts = [(seg.start_s, seg.end_s)]
    for c0, c1 in cuts:
        nxt: list[tuple[float, float]] = []
        for a, b in parts:
            if c1 <= a or c0 >= b:
                nxt.append((a, b))
                continue
            if a < c0:
                nxt.append((a, c0))
            if c1 < b:
                nxt.append((c1, b))
        parts = nxt
    return [Segment(a, b, seg.label, seg.task) for a, b in parts if b - a >= 1.0]
