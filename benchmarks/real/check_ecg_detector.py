"""Check the numpy R-peak detector (``ecg.py``) against the reference beat annotations of the
QT Database (Laguna et al. 1997, PhysioNet, Open Data Commons Attribution 1.0): 105 records
of 15 minutes, 250 Hz, two leads, beats annotated (``.atr``).

    .venv/bin/python benchmarks/real/check_ecg_detector.py \
        [--repo /work/.mirror/akaymaram+ecg_stress_prediction/repo] [--commit HEAD]

Reads a fetched copy of the database's files (git objects, nothing checked out); the first
lead of every record whose ``.dat`` and ``.atr`` are both there. A reference beat is matched
by a detection within 150 ms. Prints sensitivity, positive predictive value and the RR error
over consecutive matched beats, per record and pooled.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
from e4 import git_show, git_show_bytes, head_commit
from ecg import agreement, r_peaks, read_beat_annotations, read_header, read_signal

DEFAULT_REPO = Path("/work/.mirror/akaymaram+ecg_stress_prediction/repo")
QT_DIR = "ecg_peak_finder/QT_data/QT_raw_data"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=DEFAULT_REPO)
    ap.add_argument("--commit", default="HEAD")
    args = ap.parse_args(argv)
    commit = head_commit(args.repo) if args.commit == "HEAD" else args.commit
    names = subprocess.run(
        ["git", "--git-dir", str(args.repo), "ls-tree", "--name-only", commit, QT_DIR + "/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    records = sorted({Path(n).stem for n in names if n.endswith(".hea")})
    sens, ppv, rr_med, all_err = [], [], [], []
    ref_total = det_total = match_total = 0
    for rec in records:
        try:
            hea = read_header(git_show(args.repo, commit, f"{QT_DIR}/{rec}.hea"))
            data = git_show_bytes(args.repo, commit, f"{QT_DIR}/{rec}.dat")
            atr = git_show_bytes(args.repo, commit, f"{QT_DIR}/{rec}.atr")
        except subprocess.CalledProcessError:
            continue
        ecg, fs = read_signal(hea, data, hea.signals[0].name)
        ref = read_beat_annotations(atr)
        ref = ref[ref < ecg.size]
        if ref.size < 10:
            continue
        det = r_peaks(ecg, fs)
        # The annotations cover the record; skip its first and last second (edge effects).
        lo, hi = int(fs), ecg.size - int(fs)
        ref = ref[(ref >= lo) & (ref < hi)]
        det = det[(det >= lo) & (det < hi)]
        a = agreement(det, ref, fs)
        sens.append(a.sensitivity)
        ppv.append(a.ppv)
        ref_total += a.reference
        det_total += a.detected
        match_total += a.matched
        if a.rr_pairs:
            rr_med.append(float(np.median(a.rr_abs_err_ms)))
            all_err.append(a.rr_abs_err_ms)
        print(
            f"{rec}: {a.reference} beats, sensitivity {100 * a.sensitivity:.1f} %, "
            f"PPV {100 * a.ppv:.1f} %, RR error median "
            f"{float(np.median(a.rr_abs_err_ms)) if a.rr_pairs else float('nan'):.1f} ms"
        )
    if not sens:
        print("no QT records found", file=sys.stderr)
        return 66
    errs = np.concatenate(all_err)
    print(
        f"\n{len(sens)} records, {ref_total} reference beats: sensitivity "
        f"{100 * match_total / ref_total:.2f} %, PPV {100 * match_total / det_total:.2f} % "
        f"(per record median {100 * statistics.median(sens):.1f} % / "
        f"{100 * statistics.median(ppv):.1f} %; below 99 %: "
        f"{sum(s < 0.99 for s in sens)} / {sum(p < 0.99 for p in ppv)} records); "
        f"RR |error| over {errs.size} consecutive matched pairs: median "
        f"{np.median(errs):.1f} ms, 95th percentile {np.percentile(errs, 95):.1f} ms, "
        f"share within 8 ms {100 * np.mean(errs <= 8.0):.1f} %"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
