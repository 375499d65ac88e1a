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
timed stress tasks: it measures false alarms over a day and a night.

No movement file: MMASH's accelerometer (``Actigraph.csv``) gives activity counts a second,
not accelerations in mg.
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


def clock_s(day: str, hms: str) -> float:
    parts = [int(p) for p in hms.strip().split(":")]
    while len(parts) < 3:
        parts.append(0)
    return (int(float(day)) - 1) * 86400.0 + parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]


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
        a, b = max(a - zero, 0.0), min(b - zero, end)
        if b - a < 1.0:
            continue
        label, task = CATEGORIES.get(code, ("other", f"code_{code}"))
        segs.append(Segment(a, b, label, task))
    return segs


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
        steps = np.diff(beats.t_s)
        gaps = int(np.sum(steps - beats.rr_ms[1:] / 1000.0 > RESYNC_S))
        cover = float(np.sum(beats.rr_ms)) / 1000.0 / dur
        print(
            f"{rec_id}: {dur / 3600:.1f} h, {beats.t_s.size} beats, {gaps} gaps, beats cover "
            f"{100 * cover:.0f} %, {len(segs)} logged activities -> {args.out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
