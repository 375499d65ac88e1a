"""Convert the Stress-Predict dataset (Iqbal et al. 2022, MIT licence) into the benchmark's
files: per participant the E4 wrist beats, per-second wrist movement and labelled segments.

    .venv/bin/python benchmarks/real/convert_stress_predict.py \
        [--repo /work/.mirror/italha-d+Stress-Predict-Dataset/repo] [--commit HEAD] \
        [--out benchmarks/data/real/stress_predict]

Reads the fetched repository's git objects (nothing is checked out):

* ``Raw_data/SXX/IBI.csv`` and ``ACC.csv`` (Empatica E4 on the wrist, see ``e4.py``);
* ``Processed_data/Improved_All_Combined_hr_rsp_binary.csv``: the authors' own per-second
  labels (``Label`` 1 during the three stress tasks, 0 otherwise, unix seconds), which give
  the stress segments to the second for S02-S35;
* ``Raw_data/S01/tags_S01.csv``: the E4 button presses; S01 is missing from the file above,
  so its stress segments are tags 1-2 (the Stroop test), 4-5 (the interview) and 6-7
  (hyperventilation); tag 3 is the start of its baseline, which S01 did after the Stroop
  test (its row of the time log says so, and agrees with these tags to the minute);
* ``Processed_data/Time_logs.xlsx``: every part of the protocol per participant, to the
  minute, in Irish time (UTC in February and March 2022) on a 12-hour clock (a value before
  06:00 is read as afternoon). It gives the segments that are not stress: consent/setup,
  baseline (with the first questionnaire), the three relax periods, the last questionnaire
  and the closing relax; these are cut where they overlap a stress segment.

Labels: ``stress`` (task ``stroop``, ``interview``, ``hyperventilation``), ``baseline``,
``rest`` (relax), ``questionnaire``, ``setup`` (consent).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import zipfile
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
from e4 import (
    Segment,
    git_show,
    git_show_bytes,
    head_commit,
    read_acc_movement,
    read_ibi,
    subtract,
    write_recording,
)

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_REPO = Path("/work/.mirror/italha-d+Stress-Predict-Dataset/repo")
DEFAULT_OUT = ROOT / "benchmarks" / "data" / "real" / "stress_predict"
SOURCE = "https://github.com/italha-d/Stress-Predict-Dataset"

#: Time-log columns (start, end) of each part of the protocol, with its label.
LOG_PARTS: tuple[tuple[str, str, str, str], ...] = (
    ("E", "F", "setup", "consent"),
    ("G", "H", "baseline", "baseline_questionnaire"),
    ("I", "J", "stress", "stroop"),
    ("K", "L", "rest", "relax_1"),
    ("M", "N", "stress", "interview"),
    ("O", "P", "rest", "relax_2"),
    ("Q", "R", "stress", "hyperventilation"),
    ("S", "T", "rest", "relax_3"),
    ("U", "V", "questionnaire", "questionnaire"),
    ("W", "X", "rest", "relax_baseline"),
)
STRESS_TASKS = ("stroop", "interview", "hyperventilation")
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_EXCEL_EPOCH_DAYS = 25569  # 1970-01-01 as an Excel serial date


def read_time_log(data: bytes) -> dict[str, dict[str, str]]:
    """Rows of the first sheet keyed by participant id: ``{column letter: raw value}``."""
    z = zipfile.ZipFile(io.BytesIO(data))
    shared = [
        "".join(si.itertext())
        for si in ElementTree.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", _NS)
    ]
    sheet = ElementTree.fromstring(z.read("xl/worksheets/sheet1.xml"))
    rows: dict[str, dict[str, str]] = {}
    data_el = sheet.find("m:sheetData", _NS)
    assert data_el is not None
    for row in data_el:
        cells: dict[str, str] = {}
        for c in row:
            v = c.find("m:v", _NS)
            if v is None or v.text is None:
                continue
            text = shared[int(v.text)] if c.get("t") == "s" else v.text
            m = re.match(r"[A-Z]+", c.get("r", ""))
            if m:
                cells[m.group(0)] = text
        pid = cells.get("A", "")
        if re.fullmatch(r"S\d\d", pid):
            rows[pid] = cells
    return rows


def log_unix(cells: dict[str, str], col: str) -> float:
    """A time-log cell as unix seconds (UTC): the row's date plus a 12-hour clock time."""
    day = float(cells["Z"])
    frac = float(cells[col])
    if frac < 0.25:  # before 06:00 on a 12-hour clock: the afternoon
        frac += 0.5
    return (day - _EXCEL_EPOCH_DAYS + frac) * 86400.0


def binary_stress_runs(text: str) -> dict[int, list[tuple[float, float]]]:
    """Per participant, runs of ``Label == 1`` as ``(first second, last second + 1)``."""
    by: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for row in csv.DictReader(io.StringIO(text)):
        by[int(row["Participant"])].append((int(row["Time(sec)"]), int(row["Label"])))
    out: dict[int, list[tuple[float, float]]] = {}
    for pid, rows in by.items():
        rows.sort()
        runs: list[tuple[float, float]] = []
        cur: list[int] | None = None
        for t, lab in rows:
            if lab != 1:
                continue
            if cur is not None and t - cur[1] <= 1:
                cur[1] = t
            else:
                if cur is not None:
                    runs.append((float(cur[0]), float(cur[1] + 1)))
                cur = [t, t]
        if cur is not None:
            runs.append((float(cur[0]), float(cur[1] + 1)))
        out[pid] = runs
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=DEFAULT_REPO, help="the fetched git directory")
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    repo: Path = args.repo
    commit = head_commit(repo) if args.commit == "HEAD" else args.commit

    log = read_time_log(git_show_bytes(repo, commit, "Processed_data/Time_logs.xlsx"))
    runs = binary_stress_runs(
        git_show(repo, commit, "Processed_data/Improved_All_Combined_hr_rsp_binary.csv")
    )
    summary: list[str] = []
    worst: list[float] = []
    for n in range(1, 36):
        pid = f"S{n:02d}"
        beats = read_ibi(git_show(repo, commit, f"Raw_data/{pid}/IBI.csv"))
        movement = read_acc_movement(git_show(repo, commit, f"Raw_data/{pid}/ACC.csv"))
        if movement.start_unix != beats.start_unix:
            raise SystemExit(f"{pid}: IBI and ACC start differ")
        t0 = beats.start_unix
        if n in runs:
            stress_unix = runs[n]
            how = "authors' binary labels"
        else:
            tags = [
                float(v) for v in git_show(repo, commit, f"Raw_data/{pid}/tags_{pid}.csv").split()
            ]
            stress_unix = [(tags[0], tags[1]), (tags[3], tags[4]), (tags[5], tags[6])]
            how = "E4 tags 1-2, 4-5, 6-7"
        if len(stress_unix) != 3:
            raise SystemExit(f"{pid}: expected three stress tasks, found {len(stress_unix)}")
        stress = [
            Segment(a - t0, b - t0, "stress", task)
            for (a, b), task in zip(stress_unix, STRESS_TASKS, strict=True)
        ]
        cuts = [(s.start_s, s.end_s) for s in stress]
        others: list[Segment] = []
        cells = log[pid]
        dur = float(movement.end_s[-1]) if movement.end_s.size else 0.0
        for c0, c1, label, task in LOG_PARTS:
            if label == "stress" or c0 not in cells or c1 not in cells:
                continue
            seg = Segment(log_unix(cells, c0) - t0, log_unix(cells, c1) - t0, label, task)
            if seg.end_s <= seg.start_s:
                continue
            others.extend(subtract(seg, cuts))
        # The stress segments and the time log's (to the minute) must tell the same story.
        off = 0.0
        for s, (c0, c1, _, task) in zip(
            stress, [p for p in LOG_PARTS if p[2] == "stress"], strict=True
        ):
            assert s.task == task
            d0 = abs(s.start_s - (log_unix(cells, c0) - t0))
            d1 = abs(s.end_s - (log_unix(cells, c1) - t0))
            off = max(off, d0, d1)
            if not (0 <= s.start_s < s.end_s <= dur + 60.0):
                raise SystemExit(f"{pid}: stress segment {s} outside the recording")
        worst.append(off)
        # Only what lies within the recording.
        others = [
            Segment(max(0.0, s.start_s), min(dur, s.end_s), s.label, s.task)
            for s in others
            if s.end_s > 0.0 and s.start_s < dur and min(dur, s.end_s) - max(0.0, s.start_s) >= 1
        ]
        header = (
            f"Stress-Predict {pid} ({SOURCE}, commit {commit}, MIT licence, "
            "Copyright (c) 2022 Talha Iqbal)\n"
            f"E4 session start (unix) {t0:.0f}; times in seconds since then; "
            f"stress segments from the {how}. See PROVENANCE.md."
        )
        write_recording(args.out, pid, beats, movement, [*stress, *others], header)
        cover = float(np.sum(beats.rr_ms)) / 1000.0 / dur if dur else 0.0
        summary.append(
            f"{pid}: {beats.t_s.size} beats, {dur / 60:.1f} min, beats cover "
            f"{100 * cover:.0f} %, stress "
            + ", ".join(f"{s.task} {s.start_s / 60:.1f}-{s.end_s / 60:.1f} min" for s in stress)
        )
    print("\n".join(summary))
    print(
        "stress segments against the time log: largest difference per participant, "
        f"median {np.median(worst):.0f} s, max {max(worst):.0f} s "
        f"({[f'S{i + 1:02d}' for i, w in enumerate(worst) if w > 150]} over 150 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
