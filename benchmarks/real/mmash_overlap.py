"""How many of the detector's stress episodes on MMASH fall while the wrist ActiGraph marks
the wearer as moving: the movement proxy of ``convert_mmash.py`` (a step or MVPA-level counts
in a second: moving), scored in the detector's own windows.

    .venv/bin/python benchmarks/real/mmash_overlap.py [--data ~/.cache/kindpulse-bench/real/mmash]

For each mode (RR only; with the movement given to the detector), every stress episode is
classed by the scoring windows (60 s, every 15 s) ending within it: *mostly moving* when half
or more of those with a movement value are moving (median of their seconds >= the detector's
``moving_mg``), *some movement* when at least one is, *still* when none is. For comparison, the
share of all scoring windows of the recordings that are moving, and of those in the hour
before each episode. The episode's label is the activity log's where it was confirmed.
Nothing is tuned: ``DetectorConfig()`` as it is.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import bench_real as br


def moving_share(rec: br.Recording, a: float, e: float) -> tuple[int, int]:
    """Moving windows among those with a value, every ``step_s`` ending in ``(a, e]``."""
    if rec.movement is None or e <= a:
        return 0, 0
    ends = np.arange(a + br.CONFIG.step_s, e + 1e-6, br.CONFIG.step_s)
    mv = rec.movement.window_movement(ends, br.CONFIG.window_s)
    known = mv[~np.isnan(mv)]
    return int(np.sum(known >= br.CONFIG.moving_mg)), int(known.size)


def classify(rec: br.Recording, a: float, e: float) -> str:
    n_mv, n_known = br.moving_windows(rec, a, e)
    if n_known == 0:
        return "no movement values"
    if 2 * n_mv >= n_known:
        return "mostly moving"
    return "some movement" if n_mv else "still"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=br.LOCAL / "mmash")
    args = ap.parse_args(argv)
    recs = br.load_dataset(args.data)
    if not recs or all(r.movement is None for r in recs):
        print(f"no MMASH recordings with movement in {args.data}", file=sys.stderr)
        return 66
    mv_all = known_all = 0
    hours = 0.0
    for r in recs:
        end = float(r.t_s[-1]) if r.t_s.size else 0.0
        hours += end / 3600.0
        n_mv, n_known = moving_share(r, 0.0, end)
        mv_all += n_mv
        known_all += n_known
    print(f"# MMASH: stress episodes and the wrist ActiGraph's movement ({len(recs)} recordings)")
    print()
    print(
        f"Scoring windows with a movement value that are moving, all recordings ({hours:.0f} h): "
        f"{100 * mv_all / max(known_all, 1):.1f} % ({mv_all:,}/{known_all:,})."
    )
    classes = ("mostly moving", "some movement", "still", "no movement values")
    for mode, with_motion in (("RR only", False), ("with movement", True)):
        results = [br.run(r, with_motion) for r in recs]
        by_class: Counter[str] = Counter()
        by_label: dict[str, Counter[str]] = {}
        before_mv = before_known = 0
        n = 0
        for res in results:
            for a, conf, e in res.stress:
                n += 1
                c = classify(res.rec, a, e)
                by_class[c] += 1
                by_label.setdefault(br.label_at(res.rec, conf), Counter())[c] += 1
                m, k = moving_share(res.rec, max(a - 3600.0, 0.0), a)
                before_mv += m
                before_known += k
        print()
        print(f"## {mode}: {n} stress episodes")
        print()
        print("| episodes | " + " | ".join(classes) + " |")
        print("|---|" + "---:|" * len(classes))
        print("| all | " + " | ".join(str(by_class[c]) for c in classes) + " |")
        for label in sorted(by_label):
            row = by_label[label]
            print(f"| confirmed in {label} | " + " | ".join(str(row[c]) for c in classes) + " |")
        print()
        print(
            "Moving windows in the hour before the episodes began: "
            f"{100 * before_mv / max(before_known, 1):.1f} % ({before_mv:,}/{before_known:,})."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
