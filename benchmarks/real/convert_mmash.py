"""Convert MMASH (Multilevel Monitoring of Activity and Sleep in Healthy people; Rossi et al.
2020, PhysioNet) into the benchmark's files, in a local folder outside the repository: a day
and a night of chest-strap RR intervals per person, with the person's activity log.

    .venv/bin/python benchmarks/real/convert_mmash.py \
        [--repo /work/.mirror/james-burdon+MDM3-dynamic-therapeutics/repo] \
        [--commit 9b1481ea7420a54f618d56b8cb8fb55510ff2945] \
        [--out ~/.cache/kindpulse-bench/real/mmash]

Reads, from a fetched copy of MMASH's ``DataPaper/user_N/`` folders (git objects, nothing
checked out; at the default commit the files are in the repository itself, later commits
moved them to Git LFS):

* ``RR.csv``: ``,ibi_s,day,time`` — every interval the strap (Polar H7) reported, in seconds,
  with the day (1, 2) and the clock time to the second of the beat that ends it;
* ``Activity.csv``: ``,Activity,Start,End,Day`` — the person's log, times to the minute.

Beat times: the running sum of the intervals, started at the first beat's clock time and put
back on the clock (at the middle of the logged second) wherever it drifts from it by more
than 2 s, which is where the strap lost beats: those stay gaps.

Labels, the log's categories (MMASH's data descriptor): 1 ``sleep``, 2 ``lying``, 3 ``sitting``,
4 ``light_activity`` (slow or medium walk, chores, work), 5 ``moderate_activity`` (fast walk,
bike), 6 ``vigorous_activity`` (gym, running), 7 ``eating``, 8 ``small_screen`` (phone,
computer), 9 ``large_screen`` (TV, cinema), 10 ``caffeine``, 11 ``smoking``, 12 ``alcohol``;
code 0, which the descriptor does not list, as ``other`` (task ``code_0``). MMASH has no
timed stress tasks: it measures false alarms over a day and a night. An entry whose end is at
or before its start is read as running past midnight, unless that makes it longer than 14 h:
then it is an entry error and skipped (user_6 18:29-18:29, user_8 12:10-10:35 and 07:55-07:35,
user_9 23:30-21:00).

* ``Actigraph.csv``: ``,Axis1,Axis2,Axis3,Steps,HR,Inclinometer Off,Inclinometer Standing,
  Inclinometer Sitting,Inclinometer Lying,Vector Magnitude,day,time`` — an ActiGraph activity
  monitor on the **wrist** (the descriptor's "wrist accelerometry"), one row per second: ActiGraph
  activity counts per axis (filtered, accumulated acceleration, not mg), ``Vector Magnitude``
  = sqrt(Axis1² + Axis2² + Axis3²), the steps the monitor counted in that second, and its
  inclinometer's posture flags. Rows are missing for 19-33 % of the seconds.

Movement, a **proxy** (not the strap's accelerometer, and not mg): each second with an
Actigraph row is *moving* (:data:`MOVING_MG`, 150) when the monitor counted a step in it or
its vector magnitude reaches :data:`MVPA_VM_COUNTS_PER_S` (3,941 counts/min, Montoye et al.
2020's cut point for moderate-to-vigorous activity from a wrist ActiGraph's vector magnitude,
per second), else *still* (:data:`STILL_MG`, 3): the values a chest accelerometer gives walking
and sitting (``kindpulse/motion.py``), so a scoring window is moving (median of its seconds
>= the detector's 20 mg) when more than half of its seconds are. Seconds without a row have no
value. The rows' clock (day, time to the second; a row is the second that starts there) is put
on the RR file's axis (seconds since the first beat).

Days: ``day`` is 1 or 2, except for user_8 and user_9, whose second day is written ``-29``
(its rows follow day 1's 23:59:5x without a break): read as day 2.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from e4 import Beats, Segment, git_show, write_recording

DEFAULT_REPO = Path("/work/.mirror/james-burdon+MDM3-dynamic-therapeutics/repo")
DEFAULT_COMMIT = "9b1481ea7420a54f618d56b8cb8fb55510ff2945"
DEFAULT_OUT = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kindpulse-bench/real/mmash"
)
SOURCE = "https://github.com/james-burdon/MDM3-dynamic-therapeutics"
CATEGORIES = {
    0: ("other", "code_0"),
    1: ("sleep", "sleeping"),
    2: ("lying", "laying_down"),
    3: ("sitting", "sitting"),
    4: ("light_activity", "light_movement"),
    5: ("moderate_activity", "medium_movement"),
    6: ("vigorous_activity", "heavy_movement"),
    7: ("eating", "eating"),
    8: ("small_screen", "small_screen_usage"),
    9: ("large_screen", "large_screen_usage"),
    10: ("caffeine", "caffeinated_drink"),
    11: ("smoking", "smoking"),
    12: ("alcohol", "alcohol"),
}
RESYNC_S = 2.0
#: A log entry read as running past midnight for longer than this is an entry error: skipped.
MAX_ENTRY_S = 14 * 3600.0


#: The movement proxy's two values (mg-equivalent) and its counts threshold: Montoye et al.
#: 2020 (J Sports Sci 38:2569), wrist ActiGraph vector magnitude, moderate-to-vigorous
#: activity from 3,941 counts/min.
MOVING_MG = 150.0
STILL_MG = 3.0
MVPA_VM_COUNTS_PER_S = 3941.0 / 60.0


def clock_s(day: str, hms: str) -> float:
    parts = [int(p) for p in hms.strip().split(":")]
    while len(parts) < 3:
        parts.append(0)
    d = int(float(day))
    if d < 1:  # user_8 and user_9 write their second day as -29
        d = 2
    return (d - 1) * 86400.0 + parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]


def read_rr(text: str) -> tuple[float, Beats]:
    """The first beat's clock time (s from day 1's midnight) and the beats on that clock."""
    rows = [ln.split(",") for ln in text.splitlines()[1:] if ln.strip()]
    ibi = np.array([float(r[1]) for r in rows], dtype=np.float64)
    clock = np.array([clock_s(r[2], r[3]) for r in rows], dtype=np.float64)
    t = np.empty_like(ibi)
    t[0] = clock[0] + 0.5
    for i in range(1, ibi.size):
        t[i] = t[i - 1] + ibi[i]
        if abs(t[i] - (clock[i] + 0.5)) > RESYNC_S:
            t[i] = clock[i] + 0.5
    # A re-anchored beat can fall on or before its predecessor: drop those few.
    keep = np.concatenate(([True], np.diff(t) > 0))
    while not keep.all():
        t, ibi = t[keep], ibi[keep]
        keep = np.concatenate(([True], np.diff(t) > 0))
    zero = float(t[0])
    return zero, Beats(zero, t - zero, 1000.0 * ibi)


def read_activity(text: str, zero: float, end: float) -> list[Segment]:
    segs = []
    for ln in text.splitlines()[1:]:
        r = ln.split(",")
        if len(r) < 5 or not r[1].strip():
            continue
        code = int(float(r[1]))
        a = clock_s(r[4], r[2])
        b = clock_s(r[4], r[3])
        if b <= a:  # past midnight
            b += 86400.0
        if b - a > MAX_ENTRY_S:  # an end before its start in the log (user_8: 12:10-10:35)
            continue
        a, b = max(a - zero, 0.0), min(b - zero, end)
        if b - a < 1.0:
            continue
        label, task = CATEGORIES.get(code, ("other", f"code_{code}"))
        segs.append(Segment(a, b, label, task))
    return segs


def read_actigraph(text: str, zero: float) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The movement proxy (see the module docstring) on the RR file's axis: the end of each
    second that has an Actigraph row (s since the first beat) and its value, with counts for
    the report."""
    lines = text.splitlines()
    head = [h.strip() for h in lines[0].split(",")]
    col = {name: i for i, name in enumerate(head)}
    rows = [ln.split(",") for ln in lines[1:] if ln.strip()]
    start = np.array([clock_s(r[col["day"]], r[col["time"]]) for r in rows], dtype=np.float64)
    steps = np.array([float(r[col["Steps"]]) for r in rows], dtype=np.float64)
    axes = np.array(
        [[float(r[col[a]]) for a in ("Axis1", "Axis2", "Axis3")] for r in rows], dtype=np.float64
    )
    off = np.array([float(r[col["Inclinometer Off"]]) for r in rows], dtype=np.float64)
    vm = np.sqrt(np.sum(axes * axes, axis=1))
    moving = (steps > 0) | (vm >= MVPA_VM_COUNTS_PER_S)
    order = np.argsort(start, kind="stable")
    start, moving, off, steps, vm = start[order], moving[order], off[order], steps[order], vm[order]
    keep = np.concatenate(([True], np.diff(start) > 0))  # one row a second
    end = start[keep] + 1.0 - zero
    value = np.where(moving[keep], MOVING_MG, STILL_MG)
    inside = end > 0.0
    span = float(start[-1] - start[0] + 1.0) if start.size else 0.0
    stats = {
        "rows": float(keep.sum()),
        "row_share": float(keep.sum()) / span if span else 0.0,
        "moving": float(np.mean(moving[keep])) if keep.any() else 0.0,
        "steps": float(np.mean(steps[keep] > 0)) if keep.any() else 0.0,
        "vm": float(np.mean(vm[keep] >= MVPA_VM_COUNTS_PER_S)) if keep.any() else 0.0,
        "off": float(np.mean(off[keep] > 0)) if keep.any() else 0.0,
    }
    return end[inside], value[inside], stats


def write_movement(
    out_dir: Path, rec_id: str, end_s: np.ndarray, mg: np.ndarray, header: str
) -> None:
    """``<id>.movement.csv`` (``end_s,movement_mg``), the second's end to 0.1 s (the RR axis
    starts half-way through a clock second)."""
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    body = "".join(f"{e:.1f},{m:.0f}\n" for e, m in zip(end_s.tolist(), mg.tolist(), strict=True))
    (out_dir / f"{rec_id}.movement.csv").write_text(comment + "end_s,movement_mg\n" + body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=DEFAULT_REPO)
    ap.add_argument("--commit", default=DEFAULT_COMMIT)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    users = sorted(
        {
            p.split("/")[1]
            for p in subprocess.run(
                [
                    "git",
                    "--git-dir",
                    str(args.repo),
                    "ls-tree",
                    "-r",
                    "--name-only",
                    args.commit,
                    "DataPaper/",
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            if p.endswith("/RR.csv")
        },
        key=lambda u: int(u.split("_")[1]),
    )
    for user in users:
        base = f"DataPaper/{user}"
        rr_text = git_show(args.repo, args.commit, f"{base}/RR.csv")
        if rr_text.startswith("version https://git-lfs"):
            print(f"{user}: RR.csv is a Git LFS pointer at this commit; skipped", file=sys.stderr)
            continue
        zero, beats = read_rr(rr_text)
        dur = float(beats.t_s[-1])
        segs = read_activity(git_show(args.repo, args.commit, f"{base}/Activity.csv"), zero, dur)
        rec_id = f"U{int(user.split('_')[1]):02d}"
        h, m, s = int(zero // 3600) % 24, int(zero % 3600 // 60), zero % 60
        header = (
            f"MMASH {user} ({SOURCE}, commit {args.commit}; MMASH: Rossi et al. 2020, PhysioNet, "
            "doi:10.13026/cerq-fc86; converted locally, not committed)\n"
            "Polar H7 chest strap RR; seconds since the first beat, "
            f"day 1 {h:02d}:{m:02d}:{s:04.1f}."
        )
        write_recording(args.out, rec_id, beats, None, segs, header)
        mv_end, mv, st = read_actigraph(
            git_show(args.repo, args.commit, f"{base}/Actigraph.csv"), zero
        )
        write_movement(
            args.out,
            rec_id,
            mv_end,
            mv,
            header + "\nMovement PROXY from the wrist ActiGraph's activity counts (Actigraph.csv), "
            f"not the strap's accelerometer: {MOVING_MG:.0f} for a second with a step or a vector "
            f"magnitude >= {MVPA_VM_COUNTS_PER_S:.1f} counts/s (3941 counts/min, Montoye et al. "
            f"2020, wrist MVPA), else {STILL_MG:.0f}; seconds without a row have no value.",
        )
        steps = np.diff(beats.t_s)
        gaps = int(np.sum(steps - beats.rr_ms[1:] / 1000.0 > RESYNC_S))
        cover = float(np.sum(beats.rr_ms)) / 1000.0 / dur
        print(
            f"{rec_id}: {dur / 3600:.1f} h, {beats.t_s.size} beats, {gaps} gaps, beats cover "
            f"{100 * cover:.0f} %, {len(segs)} logged activities; Actigraph rows for "
            f"{100 * st['row_share']:.0f} % of its seconds, moving {100 * st['moving']:.0f} % "
            f"(a step {100 * st['steps']:.0f} %, VM at MVPA {100 * st['vm']:.0f} %), inclinometer "
            f"off {100 * st['off']:.0f} % -> {args.out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
