"""Convert PhysioNet's Stress Recognition in Automobile Drivers database (drivedb; Healey &
Picard 2005; Open Data Commons Attribution 1.0) into the benchmark's files: R-peaks found in
the chest ECG by ``ecg.py``, and the drive's segments from its marker signal.

    .venv/bin/python benchmarks/real/convert_drivedb.py \
        [--repo /work/.mirror/akaymaram+ecg_stress_prediction/repo] [--commit HEAD] \
        [--out benchmarks/data/real/drivedb]

Reads ``ecg_peak_finder/Driver_data/Driver_raw_data/driveXX.hea`` and ``.dat`` from a fetched
copy (git objects, nothing checked out). Only records whose ``.dat`` is in the copy are
converted (drive17a and drive17b: the other records' signal files are not in it).

Per record, on the record's own clock (seconds from its first sample):

* ``<id>.rr.csv``: every R peak found and the interval ending there; an interval longer than
  2 s (a beat the detector missed, or lost signal) is left out, so it stays a gap;
* ``<id>.labels.csv``: the segments between marker presses (the marker signal steps up
  when the experimenter pressed it). Drive 17 is not in Healey & Picard's table of segment
  durations, so the segments are named from the protocol (a 15-minute rest in the garage,
  city, highway, city, highway, city, a final 15-minute rest) and the marker times; see
  ``PROVENANCE.md``.

No accelerometer was recorded: there is no movement file.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
from e4 import Beats, Segment, git_show, git_show_bytes, head_commit, write_recording
from ecg import r_peaks, read_header, read_signal

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REPO = Path("/work/.mirror/akaymaram+ecg_stress_prediction/repo")
DEFAULT_OUT = ROOT / "benchmarks" / "data" / "real" / "drivedb"
SOURCE = "https://github.com/akaymaram/ecg_stress_prediction"
RAW = "ecg_peak_finder/Driver_data/Driver_raw_data"
MAX_RR_MS = 2000.0
#: Per record, the segments between its marker presses, in order: (label, task).
#: drive17a: the initial rest, then the first city drive (the record ends during it);
#: drive17b: the last driving segment (the protocol's third city drive), then the final rest.
#: ``None``: the minutes before the first press (setting off), left unlabelled.
SEGMENTS: dict[str, list[tuple[str, str] | None]] = {
    "drive17a": [("rest", "initial_rest"), ("stress", "city_1")],
    "drive17b": [None, ("stress", "city_3"), ("rest", "final_rest"), None],
}


def marker_bounds(marker: np.ndarray, fs: float) -> list[float]:
    """Segment boundaries (s) from the marker signal: runs where it exceeds its median by
    more than 4 units (400 ADC steps), runs less than 5 s apart merged; a boundary at the end
    of each run, and the record's end at the start of a run that reaches it (else at the
    record's end)."""
    idx = np.nonzero(marker > float(np.median(marker)) + 4.0)[0]
    runs: list[list[int]] = []
    for i in idx.tolist():
        if runs and i - runs[-1][1] <= 5.0 * fs:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    end = marker.size
    bounds = [(b + 1) / fs for a, b in runs if b < end - 1]
    tail = [a / fs for a, b in runs if b >= end - 1]
    return [*bounds, tail[0] if tail else end / fs]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=DEFAULT_REPO)
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    commit = head_commit(args.repo) if args.commit == "HEAD" else args.commit
    for rec, names in SEGMENTS.items():
        hea = read_header(git_show(args.repo, commit, f"{RAW}/{rec}.hea"))
        data = git_show_bytes(args.repo, commit, f"{RAW}/{rec}.dat")
        ecg, fs = read_signal(hea, data, "ECG")
        marker, mfs = read_signal(hea, data, "marker")
        hr_dev, _ = read_signal(hea, data, "HR")
        peaks = r_peaks(ecg, fs)
        t = peaks / fs
        rr = np.diff(t) * 1000.0
        keep = rr <= MAX_RR_MS
        beats = Beats(0.0, t[1:][keep], rr[keep])
        dur = ecg.size / fs
        bounds = marker_bounds(marker, mfs)
        if len(bounds) - 1 != len(names):
            raise SystemExit(f"{rec}: marker boundaries at {bounds}, expected segments {names}")
        segs = [
            Segment(a, b, name[0], name[1])
            for (a, b), name in zip(itertools.pairwise(bounds), names, strict=True)
            if name is not None
        ]
        marks = bounds
        # Agreement with the recorder's own heart rate channel (one value a frame), as the
        # medians of 10-second bins (the channel is the recorder's smoothed rate).
        frame_t = np.arange(hr_dev.size) / mfs
        diff_l = []
        for b0 in np.arange(0.0, dur - 10.0, 10.0):
            dev = hr_dev[(frame_t >= b0) & (frame_t < b0 + 10.0)]
            own = beats.rr_ms[(beats.t_s >= b0) & (beats.t_s < b0 + 10.0)]
            if own.size >= 5 and dev.size and np.median(dev) > 30:
                diff_l.append(abs(60000.0 / float(np.median(own)) - float(np.median(dev))))
        diff = np.array(diff_l)
        header = (
            f"drivedb {rec} (PhysioNet drivedb 1.0.0, Healey & Picard 2005, ODC-By 1.0; read "
            f"from {SOURCE}, commit {commit})\n"
            f"R peaks of the chest ECG ({fs:g} Hz) by benchmarks/real/ecg.py; seconds from the "
            "record's first sample; intervals over 2 s left out as gaps."
        )
        write_recording(args.out, rec, beats, None, segs, header)
        cover = float(np.sum(beats.rr_ms)) / 1000.0 / dur
        print(
            f"{rec}: {dur / 60:.1f} min, ECG {fs:g} Hz, {peaks.size} R peaks, "
            f"{int(np.sum(~keep))} intervals > 2 s left out, beats cover {100 * cover:.1f} %; "
            f"HR vs the recorder's HR channel (10-s medians): |diff| median {np.median(diff):.1f} "
            f"bpm, "
            f"95th pct {np.percentile(diff, 95):.1f} bpm; markers at "
            + ", ".join(f"{m:.1f}" for m in marks)
            + " s; "
            + ", ".join(f"{s.task} {s.start_s / 60:.1f}-{s.end_s / 60:.1f} min" for s in segs)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
