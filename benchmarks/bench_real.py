"""Detection on real labelled recordings: the detector with its default parameters over every
converted recording, RR only and with the recording's movement, scored against the labels.

    .venv/bin/python benchmarks/bench_real.py [--data DIR ...] [--out benchmarks/results/real.md]

Recordings are the converted files of ``benchmarks/real/convert_*.py``: by default every
folder of ``benchmarks/data/real/`` (committed) and of ``~/.cache/kindpulse-bench/real/``
(converted locally, for data that may not be passed on); the folder's name is the dataset's.
Each recording is ``<id>.rr.csv`` (``time_s,rr_ms``), ``<id>.labels.csv``
(``start_s,end_s,label,task``) and, when there is one, ``<id>.movement.csv``
(``end_s,movement_mg``), all on the recording's own clock.

Measures, per dataset and mode:

* windows ``unknown``: the share of scoring windows the detector could not score (poor
  signal, gaps, or still learning the usual); also after the usual was learnt (from the
  first window it scored calm, elevated or stress);
* stress segments caught: a labelled stress segment is caught when a stress episode overlaps
  it; given per task with its durations, for segments of at least 8 minutes, and for the
  segments that began after the usual was learnt (before that nothing can be called);
* false stress episodes: stress episodes that overlap no stress segment, per 24 h of the
  recordings' time outside stress segments, with the label where each was confirmed;
* episodes on resting parts: stress episodes confirmed in baseline, rest or meditation.

Nothing is tuned here: ``DetectorConfig()`` as it is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kindpulse.analysis import detect
from kindpulse.detector import BaselineTracker, DetectorConfig, WindowInput
from kindpulse.hrv import Series, metrics_for_windows, prepare, window_ends
from kindpulse.motion import MotionTrack

ROOT = Path(__file__).resolve().parent.parent
#: The detector's parameters: defaults unless ``--set KEY=VALUE`` overrides them.
CONFIG = DetectorConfig()
COMMITTED = ROOT / "benchmarks" / "data" / "real"
LOCAL = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kindpulse-bench/real"
LONG_STRESS_S = 8 * 60.0
RESTING = ("baseline", "rest", "meditation")
SCORED = ("calm", "elevated", "stress")
F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Segment:
    start_s: float
    end_s: float
    label: str
    task: str

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Recording:
    dataset: str
    rec_id: str
    t_s: F64
    rr_ms: F64
    movement: MotionTrack | None
    segments: tuple[Segment, ...]


def _rows(path: Path) -> list[list[str]]:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return [ln.split(",") for ln in lines[1:]]  # the first is the header


def load_dataset(folder: Path) -> list[Recording]:
    recs = []
    for rr_path in sorted(folder.glob("*.rr.csv")):
        rec_id = rr_path.name.removesuffix(".rr.csv")
        rr = np.array(_rows(rr_path), dtype=np.float64).reshape(-1, 2)
        mv_path = folder / f"{rec_id}.movement.csv"
        track = None
        if mv_path.exists():
            mv = np.array(_rows(mv_path), dtype=np.float64).reshape(-1, 2)
            track = MotionTrack(mv[:, 0].copy(), mv[:, 1].copy())
        segs = tuple(
            Segment(float(r[0]), float(r[1]), r[2], r[3])
            for r in _rows(folder / f"{rec_id}.labels.csv")
        )
        recs.append(Recording(folder.name, rec_id, rr[:, 0].copy(), rr[:, 1].copy(), track, segs))
    return recs


@dataclass(slots=True)
class Result:
    rec: Recording
    duration_s: float
    windows: int
    unknown: int
    learnt_s: float | None
    unknown_after: int
    windows_after: int
    covered: int  # windows whose beats cover at least the detector's min_coverage
    stress: list[tuple[float, float, float]] = field(default_factory=list)  # start, conf, end
    active: int = 0


def known_usual(rec: Recording, series: Series) -> BaselineTracker:
    """The usual a wearer's earlier days would have given: learnt from this recording's own
    resting parts (baseline, rest, meditation: never a stress label), one-minute windows
    that pass the detector's signal rules, as if kept from before the session."""
    cfg = CONFIG
    tracker = BaselineTracker(
        bootstrap_s=0.0, horizon_s=cfg.baseline_days * 86400.0, span_s=cfg.sustain_min * 60.0
    )
    if not series.t_ms.size:
        return tracker
    ends = window_ends(float(series.t_ms[-1]), cfg.window_s, cfg.window_s)
    table = metrics_for_windows(series, ends, cfg.window_s, spectrum=False)
    for row in table.rows():
        end = float(row["end_s"] or 0.0)
        w = WindowInput.from_row(row)
        if w.ln_rmssd is None or w.mean_hr is None or w.mean_rr is None:
            continue
        if w.n_beats * w.mean_rr < 1000.0 * cfg.window_s * cfg.min_coverage:
            continue
        if w.artifact_pct is not None and w.artifact_pct > cfg.max_artifact_pct:
            continue
        if any(
            s.label in RESTING and s.start_s <= end - cfg.window_s and end <= s.end_s
            for s in rec.segments
        ):
            tracker.offer(end, w.ln_rmssd, w.mean_hr, cfg.step_s)
    tracker.ready = len(tracker.samples) > 0
    return tracker


def run(rec: Recording, with_motion: bool, usual_known: bool = False) -> Result:
    series = prepare(rec.rr_ms, rec.t_s * 1000.0)
    start = known_usual(rec, series) if usual_known else None
    d = detect(series, CONFIG, start, motion=rec.movement if with_motion else None)
    states = [(s.end_s, s.state.value) for s in d.scores]
    learnt = next((t for t, st in states if st in SCORED), None)
    cfg = CONFIG
    ends = np.array([t for t, _ in states], dtype=np.float64)
    csum = np.concatenate(([0.0], np.cumsum(series.rr_ms)))
    lo = np.searchsorted(series.t_ms, 1000.0 * (ends - cfg.window_s), side="right")
    hi = np.searchsorted(series.t_ms, 1000.0 * ends, side="right")
    cover = (csum[hi] - csum[lo]) / (1000.0 * cfg.window_s)
    need = float(getattr(cfg, "min_coverage", 0.8))
    after = [st for t, st in states if learnt is not None and t >= learnt]
    last_beat = float(series.t_ms[-1]) / 1000.0 if series.t_ms.size else 0.0
    last_move = float(rec.movement.end_s[-1]) if rec.movement and rec.movement.end_s.size else 0.0
    res = Result(
        rec=rec,
        duration_s=max(last_beat, last_move),
        windows=len(states),
        unknown=sum(st == "unknown" for _, st in states),
        learnt_s=learnt,
        unknown_after=sum(st == "unknown" for st in after),
        windows_after=len(after),
        covered=int(np.sum(cover >= need)),
    )
    for e in d.episodes:
        if e.kind == "stress":
            res.stress.append((e.start_s, e.confirmed_s, e.end_s))
        else:
            res.active += 1
    return res


def _overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return a0 < b1 and b0 < a1


def label_at(rec: Recording, t: float) -> str:
    for s in rec.segments:
        if s.start_s <= t < s.end_s:
            return s.label
    return "unlabelled"


def _pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.1f} % ({n}/{d})" if d else "–"


def _frac(n: int, d: int) -> str:
    return f"{n}/{d}" if d else "0/0"


def _minutes(xs: list[float]) -> str:
    if not xs:
        return "–"
    return f"{min(xs) / 60:.1f}–{max(xs) / 60:.1f} (median {statistics.median(xs) / 60:.1f})"


def moving_windows(rec: Recording, a: float, e: float) -> tuple[int, int]:
    """The scoring windows (every ``step_s``) ending within an episode ``[a, e]`` that the
    recording's movement track calls moving (median of their seconds >= ``moving_mg``), and
    those it has a value for: (moving, with a value)."""
    if rec.movement is None:
        return 0, 0
    ends = np.arange(a + CONFIG.window_s, e + 1e-6, CONFIG.step_s)
    if not ends.size:
        ends = np.array([e])
    mv = rec.movement.window_movement(ends, CONFIG.window_s)
    known = mv[~np.isnan(mv)]
    return int(np.sum(known >= CONFIG.moving_mg)), int(known.size)


def report(dataset: str, mode: str, results: list[Result]) -> list[str]:
    out = [f"### {dataset}, {mode}", ""]
    hours = sum(r.duration_s for r in results) / 3600.0
    beats = sum(int(r.rec.rr_ms.size) for r in results)
    cover = [
        float(np.sum(r.rec.rr_ms)) / 1000.0 / r.duration_s for r in results if r.duration_s > 0
    ]
    learnt = [r.learnt_s for r in results if r.learnt_s is not None]
    win = sum(r.windows for r in results)
    unk = sum(r.unknown for r in results)
    win_a = sum(r.windows_after for r in results)
    unk_a = sum(r.unknown_after for r in results)
    covered = sum(r.covered for r in results)
    need = float(CONFIG.min_coverage)
    out += [
        "| measure | result |",
        "|---|---|",
        f"| recordings | {len(results)} ({hours:.1f} h, {beats:,} beats) |",
        f"| time covered by beats (median of recordings) | {100 * statistics.median(cover):.0f} % |"
        if cover
        else "| time covered by beats | – |",
        f"| usual learnt (recordings) | {_frac(len(learnt), len(results))}"
        + (f", after {_minutes(learnt)} min |" if learnt else " |"),
        f"| windows whose beats cover >= {100 * need:.0f} % of them | {_pct(covered, win)} |",
        f"| windows `unknown`, all | {_pct(unk, win)} |",
        f"| windows `unknown` after the usual was learnt | {_pct(unk_a, win_a)} |",
    ]
    # Stress segments.
    tasks: dict[str, list[tuple[Segment, bool, bool]]] = {}
    for r in results:
        for s in r.rec.segments:
            if s.label != "stress":
                continue
            caught = any(_overlaps(a, e, s.start_s, s.end_s) for a, _, e in r.stress)
            scorable = r.learnt_s is not None and r.learnt_s <= s.start_s
            tasks.setdefault(s.task, []).append((s, caught, scorable))
    out += [
        "",
        "| stress segments | n | duration, min | caught "
        "| caught, begun after the usual was learnt |",
    ]
    out += ["|---|---:|---|---|---|"]
    for task, rows in tasks.items():
        durs = [s.duration_s for s, _, _ in rows]
        n_caught = sum(c for _, c, _ in rows)
        sc = [c for _, c, ok in rows if ok]
        out.append(
            f"| {task} | {len(rows)} | {_minutes(durs)} | {_frac(n_caught, len(rows))} | "
            f"{_frac(sum(sc), len(sc))} |"
        )
    every = [row for rows in tasks.values() for row in rows if row[0].duration_s >= LONG_STRESS_S]
    sc_long = [c for _, c, ok in every if ok]
    out.append(
        f"| all stress segments of >= 8 min | {len(every)} | "
        f"{_minutes([s.duration_s for s, _, _ in every])} | "
        f"{_frac(sum(c for _, c, _ in every), len(every))} | {_frac(sum(sc_long), len(sc_long))} |"
    )
    # False episodes and where they fell.
    false_at: Counter[str] = Counter()
    resting: Counter[str] = Counter()
    n_stress_eps = 0
    non_stress_s = 0.0
    non_stress_after_s = 0.0
    for r in results:
        stress_segs = [s for s in r.rec.segments if s.label == "stress"]
        in_stress = sum(
            max(0.0, min(s.end_s, r.duration_s) - max(s.start_s, 0.0)) for s in stress_segs
        )
        non_stress_s += r.duration_s - in_stress
        if r.learnt_s is not None:
            after_stress = sum(
                max(0.0, min(s.end_s, r.duration_s) - max(s.start_s, r.learnt_s))
                for s in stress_segs
            )
            non_stress_after_s += (r.duration_s - r.learnt_s) - after_stress
        for a, conf, e in r.stress:
            n_stress_eps += 1
            where = label_at(r.rec, conf)
            if where in RESTING:
                resting[where] += 1
            if not any(_overlaps(a, e, s.start_s, s.end_s) for s in stress_segs):
                false_at[where] += 1
    n_false = sum(false_at.values())
    per_day = f"{n_false / (non_stress_s / 86400.0):.1f}" if non_stress_s > 0 else "–"
    per_day_after = (
        f"{n_false / (non_stress_after_s / 86400.0):.1f}" if non_stress_after_s > 0 else "–"
    )
    active = sum(r.active for r in results)
    moving_row: list[str] = []
    if any(r.rec.movement is not None for r in results):
        # How many stress episodes overlap movement (the recording's own track, whether or not
        # this mode gave it to the detector): most of their windows moving, some, none.
        most = some = still = blind = 0
        for r in results:
            for a, _, e in r.stress:
                n_mv, n_known = moving_windows(r.rec, a, e)
                if n_known == 0:
                    blind += 1
                elif 2 * n_mv >= n_known:
                    most += 1
                elif n_mv:
                    some += 1
                else:
                    still += 1
        moving_row = [
            "| stress episodes by the movement track's windows within them | "
            f"half or more moving {most}, some moving {some}, none moving {still}, "
            f"no movement values {blind} |"
        ]
    out += [
        "",
        "| episodes | result |",
        "|---|---|",
        f"| stress episodes | {n_stress_eps} |",
        f"| false stress episodes (overlapping no stress segment) | {n_false}: "
        f"{per_day} per 24 h of time outside stress "
        f"({non_stress_s / 3600:.1f} h); {per_day_after} per 24 h of it after the usual "
        f"was learnt ({non_stress_after_s / 3600:.1f} h) |",
        "| false stress episodes, confirmed in | "
        + (", ".join(f"{k} {v}" for k, v in sorted(false_at.items())) or "–")
        + " |",
        "| stress episodes confirmed in baseline, rest or meditation | "
        + (", ".join(f"{k} {v}" for k, v in sorted(resting.items())) or "0")
        + " |",
        f"| activity episodes | {active} |",
        *moving_row,
        "",
    ]
    return out


def per_recording(results: list[Result]) -> list[str]:
    out = [
        "| recording | min | beats cover | usual learnt at, min | unknown | stress episodes "
        "(start–end min, label where confirmed) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        cover = float(np.sum(r.rec.rr_ms)) / 1000.0 / r.duration_s if r.duration_s else 0.0
        eps = "; ".join(f"{a / 60:.1f}–{e / 60:.1f} {label_at(r.rec, c)}" for a, c, e in r.stress)
        learnt = f"{r.learnt_s / 60:.1f}" if r.learnt_s is not None else "never"
        out.append(
            f"| {r.rec.rec_id} | {r.duration_s / 60:.0f} | {100 * cover:.0f} % | {learnt} | "
            f"{100 * r.unknown / max(r.windows, 1):.0f} % | {eps or '–'} |"
        )
    return out


def _detector_version() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "kindpulse"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes in kindpulse/" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, action="append", help="a dataset folder (repeatable)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "real.md")
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a [detector] override"
    )
    args = ap.parse_args(argv)
    global CONFIG
    CONFIG = DetectorConfig.from_mapping(dict(item.split("=", 1) for item in args.set))
    folders: list[Path] = args.data or [
        p for base in (COMMITTED, LOCAL) if base.is_dir() for p in sorted(base.iterdir())
    ]
    folders = [f for f in folders if f.is_dir() and any(f.glob("*.rr.csv"))]
    if not folders:
        print("no converted recordings found (run benchmarks/real/convert_*.py)", file=sys.stderr)
        return 66
    t0 = time.perf_counter()
    overrides = " with " + ", ".join(args.set) if args.set else " defaults"
    lines = [
        "# Detection on real labelled recordings",
        "",
        "`.venv/bin/python benchmarks/bench_real.py`",
        "",
        f"Detector: `DetectorConfig()`{overrides}, code at {_detector_version()}: "
        f"{CONFIG.to_dict()}",
        "",
        "How each dataset was converted, and what its labels mean: "
        "`benchmarks/data/real/<dataset>/PROVENANCE.md`. A stress segment is caught when a "
        "stress episode overlaps it; a false episode overlaps no stress segment.",
        "",
        "Reading these tables: stress_predict and wesad are an Empatica E4 on the wrist, whose "
        "beats come from the pulse (PPG), not from an ECG strap; it drops every beat it is "
        "unsure of, so the intervals cover only part of the time and most scoring windows fall "
        "short of the detector's coverage rule (`unknown`). drivedb is R peaks found in a chest "
        "ECG (one driver, two parts of about half an hour, no movement); mmash is a chest "
        "strap's RR over a day and a night, with an activity log and no timed stress, so it "
        "counts false alarms only (it has no resting labels: its *usual known* mode only skips "
        "the wait). The lab sessions are an hour or two long and each "
        "starts from a fresh usual, which the detector learns from its first 20 minutes of "
        "good windows before it calls anything; a task that ends before then cannot be "
        "caught (the last column counts only the segments that began after the usual was "
        "learnt). The movement is the wrist's, not the chest's: stress_predict's is the E4's "
        "accelerometer in mg; mmash's is a proxy from a wrist ActiGraph's activity counts (a "
        "second with a step or moderate-to-vigorous counts is moving, 150, else still, 3; see "
        "its PROVENANCE.md), not an accelerometer in mg.",
        "",
        "The modes marked *usual known* start from the usual a wearer's earlier days would "
        "have given (`analyze --baseline` does the same with a saved one): learnt from the "
        "recording's own resting parts (baseline, rest, meditation labels; never a stress "
        "label), so every task is judged against the person's usual from its first minute.",
        "",
    ]
    details: list[str] = []
    for folder in folders:
        recs = load_dataset(folder)
        where = "committed" if folder.parent == COMMITTED else f"local, {folder}"
        lines += [f"## {folder.name} ({len(recs)} recordings, {where})", ""]
        for mode, with_motion, usual in (
            ("RR only", False, False),
            ("with movement", True, False),
            ("RR only, usual known", False, True),
            ("with movement, usual known", True, True),
        ):
            if with_motion and not any(r.movement is not None for r in recs):
                lines += [f"No movement recorded for {folder.name} ({mode}).", ""]
                continue
            results = [run(r, with_motion, usual) for r in recs]
            lines += report(folder.name, mode, results)
            if not with_motion:
                details += [f"### {folder.name}, {mode}", "", *per_recording(results), ""]
    lines += ["## Per recording", "", *details]
    lines.append(f"All recordings, both modes, took {time.perf_counter() - t0:.0f} s.")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
