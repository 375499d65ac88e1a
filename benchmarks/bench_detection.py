"""Detection benchmark: two independent families of simulated wearers, each with and
without the strap's accelerometer, plus the real resting recordings, through the same
pipeline as ``kindpulse analyze --episodes``.

    .venv/bin/python benchmarks/bench_detection.py [--family a|b|both] [--mode rr|motion|both]
        [--set KEY=VALUE ...] [--out benchmarks/results/detection.md]

Family A is the project's own simulator (``sensors/simulator.py``) over a fixed suite of
scenarios; family B is ``benchmarks/familyb.py``, built on different assumptions (beats
laid in the beat domain, its own faults), over its own fixed suite. Both get an
accelerometer track from the same model (``familyb.accelerometer_chunks``): family B's
from its own plan, family A's from its truth segments. Modes: ``rr`` (``motion=None``,
the RR-only rule) and ``motion`` (the per-second movement given to the detector).

Prints (and writes) per family and mode: recall of clear stress episodes (big-HR ones
also on their own), false stress episodes per 24 h with a table per kind of confounder,
exercise bouts and walks reported as stress, the median latency from onset to
confirmation, the share of windows ``unknown`` and the false alarm rate on long
calm/desk-only days; then episodes on the real recordings and the whole
``analyze --episodes`` process on a 3 h recording. Tune on one family, report on the other.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kindpulse.analysis import detect
from kindpulse.detector import DetectorConfig
from kindpulse.hrv import Series, prepare
from kindpulse.motion import MotionTrack
from kindpulse.sensors.simulator import load_scenario, parse_scenario, simulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import familyb  # a sibling script, not part of the package

ROOT = Path(__file__).resolve().parent.parent
CLEAR_MIN_S = 8 * 60.0
CLEAR_HR = 10.0
CLEAR_FACTOR = 0.6
#: A stress episode with a heart-rate rise this large is "big-HR" (a talk, an exam).
BIG_HR = 25.0
#: Walks longer than this are "long" (reported apart in RR-only mode).
SHORT_WALK_S = 4 * 60.0
LONG_WALK = "walk > 4 min"
FAULTS = ("ectopic", "missed", "extra", "loose_strap", "dropout")
LABEL_STEP_S = 10


def _segment(kind: str, minutes: float, **extra: float) -> str:
    lines = ["[[segment]]", f'kind = "{kind}"', f"minutes = {minutes:g}"]
    lines += [f"{k} = {v:g}" for k, v in extra.items()]
    return "\n".join(lines)


def _fault(kind: str, at_min: float, **extra: float) -> str:
    lines = ["[[fault]]", f'kind = "{kind}"', f"at_min = {at_min:g}"]
    lines += [f"{k} = {v:g}" for k, v in extra.items()]
    return "\n".join(lines)


def _total_min(segs: list[str]) -> float:
    return sum(
        float(line.split("=")[1])
        for seg in segs
        for line in seg.splitlines()
        if line.startswith("minutes =")
    )


def suite() -> list[tuple[str, str, int]]:
    """(name, scenario TOML, seed) for every scenario of the benchmark; fixed."""
    rng = np.random.default_rng(20261125)
    out: list[tuple[str, str, int]] = []

    def person() -> str:
        hr = float(rng.uniform(56, 78))
        rmssd = float(rng.uniform(25, 60))
        return f"[person]\nhr_bpm = {hr:.1f}\nrmssd_ms = {rmssd:.1f}"

    def filler(minutes: float) -> list[str]:
        """Ordinary stretches (no stress) adding up to about ``minutes``."""
        parts, left = [], minutes
        while left > 0:
            kind = str(rng.choice(["calm", "desk", "desk", "coffee", "posture", "stairs", "walk"]))
            # Posture changes, stairs and short walks are short (the confounders);
            # long walks and long standing are scored on their own below.
            typical = {"calm": 25, "desk": 35, "coffee": 40, "posture": 2, "stairs": 2, "walk": 4}
            m = float(min(left, max(1.0, typical[kind] * rng.uniform(0.6, 1.4))))
            parts.append(_segment(kind, round(m, 1)))
            left -= m
        return parts

    # Clear stress among ordinary activity: 24 scenarios of about 3 h.
    for i in range(24):
        segs = [_segment("calm", 30), *filler(float(rng.uniform(20, 50)))]
        for _ in range(int(rng.integers(1, 3))):
            segs.append(
                _segment(
                    "stress",
                    round(float(rng.uniform(8, 25)), 1),
                    hr_delta_bpm=round(float(rng.uniform(CLEAR_HR, 20)), 1),
                    rmssd_factor=round(float(rng.uniform(0.4, CLEAR_FACTOR)), 2),
                    onset_min=round(float(rng.uniform(1, 3)), 1),
                )
            )
            segs += filler(float(rng.uniform(30, 60)))
        total = _total_min(segs)
        faults = [
            _fault("ectopic", float(rng.uniform(5, total - 5)), count=int(rng.integers(1, 6)))
        ]
        body = "\n\n".join([f'name = "stress_{i:02d}"', person(), *segs, *faults])
        out.append((f"stress_{i:02d}", body, 1000 + i))
    # Weaker stress (welcome when caught, never a false alarm): 6 scenarios of about 2 h.
    for i in range(6):
        segs = [_segment("calm", 30), *filler(30)]
        segs.append(
            _segment(
                "stress",
                12,
                hr_delta_bpm=round(float(rng.uniform(6, 9)), 1),
                rmssd_factor=round(float(rng.uniform(0.65, 0.8)), 2),
            )
        )
        segs += filler(40)
        out.append((f"weak_{i}", "\n\n".join([f'name = "weak_{i}"', person(), *segs]), 2000 + i))
    # Ordinary days with confounders and faults, no stress: 16 scenarios of about 5 h.
    for i in range(16):
        segs = [_segment("calm", 30), *filler(270)]
        hi = _total_min(segs) - 10
        at = sorted(rng.choice(np.arange(40.0, hi, 12.0), 5, replace=False) + rng.uniform(0, 4, 5))
        faults = [
            _fault("ectopic", at[0], count=int(rng.integers(2, 10))),
            _fault("missed", at[1], count=int(rng.integers(1, 5))),
            _fault("extra", at[2], count=int(rng.integers(1, 5))),
            _fault("loose_strap", at[3], duration_s=round(float(rng.uniform(20, 120)))),
            _fault("dropout", at[4], duration_s=round(float(rng.uniform(5, 300)))),
        ]
        body = "\n\n".join([f'name = "day_{i:02d}"', person(), *segs, *faults])
        out.append((f"day_{i:02d}", body, 3000 + i))
    # Exercise bouts with recovery: 8 scenarios of about 2 h.
    for i in range(8):
        segs = [_segment("calm", 30), *filler(15)]
        segs.append(_segment("exercise", round(float(rng.uniform(15, 50)))))
        segs += [_segment("calm", 30), *filler(20)]
        out.append(
            (f"exercise_{i}", "\n\n".join([f'name = "exercise_{i}"', person(), *segs]), 4000 + i)
        )
    # Long walks and long standing (harder than the short confounders; scored apart).
    for i in range(6):
        segs = [_segment("calm", 30)]
        for _ in range(4):
            segs.append(_segment("walk", round(float(rng.uniform(8, 15)), 1)))
            segs.append(_segment("desk", round(float(rng.uniform(10, 20)), 1)))
            segs.append(_segment("posture", round(float(rng.uniform(5, 10)), 1)))
            segs.append(_segment("calm", round(float(rng.uniform(10, 20)), 1)))
        out.append((f"long_{i}", "\n\n".join([f'name = "long_{i}"', person(), *segs]), 6000 + i))
    # Nights: falling asleep, sleep, waking: 4 scenarios of about 8 h.
    for i in range(4):
        segs = [
            _segment("calm", 40),
            _segment("sleep", round(float(rng.uniform(360, 450)))),
            _segment("waking", 15),
            _segment("calm", 30),
        ]
        out.append((f"night_{i}", "\n\n".join([f'name = "night_{i}"', person(), *segs]), 5000 + i))
    return out


def calm_suite_a() -> list[tuple[str, str, int]]:
    """Long calm/desk-only days for family A (about 8 h each): the calm-only false alarm
    rate. Apart from the main suite, so its figures stay as they were."""
    rng = np.random.default_rng(20261203)
    out: list[tuple[str, str, int]] = []
    for i in range(3):
        hr = float(rng.uniform(56, 78))
        rmssd = float(rng.uniform(25, 60))
        segs = [_segment("calm", 30)]
        while _total_min(segs) < 480:
            kind = str(rng.choice(["calm", "desk"]))
            segs.append(_segment(kind, round(float(rng.uniform(20, 60)))))
        person = f"[person]\nhr_bpm = {hr:.1f}\nrmssd_ms = {rmssd:.1f}"
        out.append((f"calm_{i}", "\n\n".join([f'name = "calm_{i}"', person, *segs]), 7000 + i))
    return out


# ----------------------------------------------------------------------------------------
# Cases: one scenario of either family, simulated once


@dataclass
class Case:
    family: str
    name: str
    group: str  # main, long (long walks and standing), calm (calm/desk only)
    truth: dict[str, Any]
    series: Series
    motion: MotionTrack | None
    beats: int


def _a_motion(truth: dict[str, Any], seed: int) -> MotionTrack:
    """Family A's accelerometer track from its truth segments, on the plain file's axis."""
    segs = [(str(s["kind"]), "", float(s["start_s"]), float(s["end_s"])) for s in truth["segments"]]
    moves = familyb.moves_for(segs, np.random.default_rng([seed, 5]))
    n = math.ceil(float(truth["duration_s"])) + 2
    br = np.full(n, float(truth["person"].get("breaths_per_min") or 14.0))
    for s in truth["segments"]:
        if s.get("breaths_per_min"):
            br[int(s["start_s"]) : math.ceil(s["end_s"]) + 1] = float(s["breaths_per_min"])
    drops = sorted(
        (float(f["start_s"]), float(f["end_s"]), float(f.get("removed_s", 0.0)))
        for f in truth["faults"]
        if f["kind"] == "dropout"
    )
    ends = np.array([b for _, b, _ in drops])
    lost = np.concatenate(([0.0], np.cumsum([r for _, _, r in drops])))

    def shift(t: np.ndarray) -> np.ndarray:
        # The plain RR file lacks the beats lost in a dropout: its axis is the true clock
        # minus the intervals lost before.
        return np.asarray(t - lost[np.searchsorted(ends, t, side="right")], dtype=np.float64)

    return familyb.motion_track(moves, br, [(a, b) for a, b, _ in drops], seed, shift)


def case_a(name: str, body: str, seed: int, with_motion: bool) -> Case:
    sim = simulate(parse_scenario(body + "\n", f"{name}.toml", name), seed)
    group = "long" if name.startswith("long") else "calm" if name.startswith("calm") else "main"
    motion = _a_motion(sim.truth, seed) if with_motion else None
    return Case("A", name, group, sim.truth, prepare(sim.rr_ms), motion, int(sim.rr_ms.size))


def case_b(sc: familyb.Scenario, with_motion: bool) -> Case:
    b = familyb.generate(sc)
    motion = familyb.beats_motion(b, sc.seed) if with_motion else None
    # Read through the beats' timestamps, as a recorded file is: dropouts are gaps.
    series = prepare(b.rr_ms, b.t_ms)
    return Case("B", sc.name, sc.group, b.truth, series, motion, int(b.rr_ms.size))


def n_cases(family: str) -> int:
    return len(suite()) + len(calm_suite_a()) if family == "A" else len(familyb.suite())


def make_case(family: str, index: int, with_motion: bool) -> Case:
    if family == "A":
        name, body, seed = [*suite(), *calm_suite_a()][index]
        return case_a(name, body, seed, with_motion)
    return case_b(familyb.suite()[index], with_motion)


@dataclass
class Outcome:
    """One scenario's scores per mode, and where its time went."""

    group: str
    tallies: dict[str, Tally]
    gen_s: float
    det_s: float


def run_one(
    family: str, index: int, modes: tuple[str, ...], cfg: DetectorConfig, learn_s: float
) -> Outcome:
    """Simulate one scenario once and detect it in every mode."""
    t0 = time.perf_counter()
    case = make_case(family, index, "motion" in modes)
    gen_s = time.perf_counter() - t0
    tallies: dict[str, Tally] = {}
    det_s = 0.0
    for mode in modes:
        t1 = time.perf_counter()
        found = detect(case.series, cfg, motion=case.motion if mode == "motion" else None)
        det_s += time.perf_counter() - t1
        states = [(s.end_s, s.state.value) for s in found.scores]
        tallies[mode] = Tally()
        score(case, list(found.episodes), states, tallies[mode], learn_s)
    return Outcome(case.group, tallies, gen_s, det_s)


# ----------------------------------------------------------------------------------------
# Scoring


@dataclass
class Tally:
    scenarios: int = 0
    hours: float = 0.0
    beats: int = 0
    clear: int = 0
    caught: int = 0
    big_clear: int = 0
    big_caught: int = 0
    latencies: list[float] = field(default_factory=list)
    false_by_kind: Counter[str] = field(default_factory=Counter)
    kind_s: Counter[str] = field(default_factory=Counter)
    non_stress_s: float = 0.0
    bouts: int = 0
    bouts_as_stress: int = 0
    short_walks: int = 0
    short_walks_as_stress: int = 0
    long_walks: int = 0
    long_walks_as_stress: int = 0
    windows: int = 0
    unknown: int = 0
    windows_later: int = 0
    unknown_later: int = 0

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(self, name, mine + theirs)

    @property
    def false(self) -> int:
        return sum(self.false_by_kind.values())

    def per_day(self) -> float:
        return self.false / (self.non_stress_s / 86400.0) if self.non_stress_s else math.nan


def _label_of_segment(truth: dict[str, Any], t: float) -> str:
    """What was going on at file time ``t`` (segments only): walks split by length, and
    the recovery after an exercise bout named as such."""
    for b in truth["exercise_bouts"]:
        if b["file_end_s"] < t <= max(b["file_recovery_end_s"], b["file_end_s"] + 300):
            return "exercise recovery"
    for s in truth["segments"]:
        if s["file_start_s"] <= t <= s["file_end_s"]:
            kind = str(s["kind"])
            if kind == "walk":
                long = s["file_end_s"] - s["file_start_s"] > SHORT_WALK_S
                return LONG_WALK if long else "walk <= 4 min"
            if kind == "exercise" and s.get("variant"):
                return f"exercise ({s['variant']})"
            return kind
    return "other"


def _fault_at(truth: dict[str, Any], t: float) -> str | None:
    for f in truth["faults"]:
        if f["file_start_s"] - 60 <= t <= f["file_end_s"] + 300:
            return str(f["kind"])
    return None


def _label_times(truth: dict[str, Any]) -> Counter[str]:
    """Seconds of non-stress time per label (sampled every 10 s)."""
    out: Counter[str] = Counter()
    stress = [(e["file_start_s"], e["file_end_s"]) for e in truth["stress_episodes"]]
    end = float(truth["segments"][-1]["file_end_s"])
    for t in np.arange(LABEL_STEP_S / 2, end, LABEL_STEP_S).tolist():
        if not any(a <= t <= b for a, b in stress):
            out[_label_of_segment(truth, t)] += LABEL_STEP_S
    return out


def _overlaps(e: Any, a: float, b: float) -> bool:
    return bool(e.start_s <= b and e.end_s >= a)


def score(
    case: Case, episodes: list[Any], states: list[tuple[float, str]], tally: Tally, learn_s: float
) -> None:
    """Add one scenario's detection to ``tally``; ``states`` are the windows' (end_s,
    state), ``learn_s`` the end of the first learning span (the bootstrap)."""
    truth = case.truth
    stress = [e for e in episodes if e.kind == "stress"]
    true_eps = truth["stress_episodes"]
    for te in true_eps:
        clear = (
            te["file_end_s"] - te["file_start_s"] >= CLEAR_MIN_S
            and te["hr_delta_bpm"] >= CLEAR_HR
            and te["rmssd_factor"] <= CLEAR_FACTOR
        )
        if not clear:
            continue
        big = te["hr_delta_bpm"] >= BIG_HR
        hit = [e for e in stress if _overlaps(e, te["file_start_s"], te["file_end_s"])]
        tally.clear += 1
        tally.big_clear += big
        if hit:
            tally.caught += 1
            tally.big_caught += big
            tally.latencies.append(min(e.confirmed_s for e in hit) - te["file_start_s"])
    false = [
        e
        for e in stress
        if not any(_overlaps(e, te["file_start_s"], te["file_end_s"] + 300) for te in true_eps)
    ]
    for e in false:
        label = _fault_at(truth, e.confirmed_s)
        if label is None:
            # The label most present while the episode built up (onset to confirmation).
            span = np.arange(e.start_s, max(e.confirmed_s, e.start_s + 1), LABEL_STEP_S)
            label = Counter(_label_of_segment(truth, t) for t in span.tolist()).most_common(1)[0][0]
        tally.false_by_kind[label] += 1
    stress_time = sum(te["file_end_s"] - te["file_start_s"] for te in true_eps)
    duration = float(truth["segments"][-1]["file_end_s"])
    tally.scenarios += 1
    tally.beats += case.beats
    tally.non_stress_s += duration - stress_time
    tally.hours += duration / 3600.0
    tally.kind_s.update(_label_times(truth))
    for b in truth["exercise_bouts"]:
        tally.bouts += 1
        hi = max(b["file_recovery_end_s"], b["file_end_s"] + 900)
        tally.bouts_as_stress += any(_overlaps(e, b["file_start_s"], hi) for e in false)
    for seg in truth["segments"]:
        if seg["kind"] != "walk":
            continue
        walk_hit = any(_overlaps(e, seg["file_start_s"], seg["file_end_s"] + 300) for e in false)
        if seg["file_end_s"] - seg["file_start_s"] > SHORT_WALK_S:
            tally.long_walks += 1
            tally.long_walks_as_stress += walk_hit
        else:
            tally.short_walks += 1
            tally.short_walks_as_stress += walk_hit
    tally.windows += len(states)
    tally.unknown += sum(state == "unknown" for _, state in states)
    later = [state for end, state in states if end > learn_s]
    tally.windows_later += len(later)
    tally.unknown_later += sum(state == "unknown" for state in later)


# ----------------------------------------------------------------------------------------
# Report


def _ratio(k: int, n: int, pct: bool = False) -> str:
    if not n:
        return "n/a (none)"
    return f"{k / n:.1%} ({k}/{n})" if pct else f"{k / n:.3f} ({k}/{n})"


def _per_day(t: Tally) -> str:
    if not t.non_stress_s:
        return "n/a"
    return f"{t.per_day():.2f} ({t.false} in {t.non_stress_s / 3600:.0f} h)"


def family_table(family: str, mode: str, groups: dict[str, Tally], sustain_s: float) -> list[str]:
    main, long, calm = groups["main"], groups["long"], groups["calm"]
    target = Tally()
    target.add(main)
    apart = Tally()
    if mode == "motion":
        target.add(long)
    else:
        # RR only: long walks are reported apart, both the days built around them and any
        # walk over 4 minutes on the other days.
        apart.add(long)
        moved_s = target.kind_s.pop(LONG_WALK, 0)
        moved_n = target.false_by_kind.pop(LONG_WALK, 0)
        target.non_stress_s -= moved_s
        apart.non_stress_s += moved_s
        apart.kind_s[LONG_WALK] += moved_s
        apart.false_by_kind[LONG_WALK] += moved_n
    everything = Tally()
    for g in groups.values():
        everything.add(g)
    latency = statistics.median(everything.latencies) if everything.latencies else math.nan
    rows: list[tuple[str, str, str]] = [
        (
            "scenarios",
            f"{everything.scenarios} ({everything.hours:.0f} h, {everything.beats:,} beats)",
            ">= 50, >= 100 h",
        ),
        ("recall, clear stress episodes", _ratio(everything.caught, everything.clear), ">= 0.95"),
        (
            f"recall, big-HR stress (HR >= +{BIG_HR:g} bpm)",
            _ratio(everything.big_caught, everything.big_clear),
            ">= 0.95",
        ),
    ]
    if mode == "motion":
        rows.append(
            ("false stress episodes per 24 h, all days, walks included", _per_day(target), "<= 0.5")
        )
    else:
        rows.append(
            (
                "false stress episodes per 24 h, days with short movement (exercise included)",
                _per_day(target),
                "<= 0.5",
            )
        )
        rows.append(
            (
                "false stress episodes per 24 h, long walks (> 4 min) and the days built "
                "around them",
                _per_day(apart),
                "(apart from the target)",
            )
        )
    rows.append(("false stress episodes per 24 h, long calm/desk-only days", _per_day(calm), "0"))
    rows += [
        (
            "exercise bouts reported as stress",
            _ratio(everything.bouts_as_stress, everything.bouts, pct=True),
            "<= 5%",
        ),
        (
            "walks <= 4 min reported as stress",
            _ratio(everything.short_walks_as_stress, everything.short_walks, pct=True),
            "<= 5%",
        ),
        (
            "walks > 4 min reported as stress",
            _ratio(everything.long_walks_as_stress, everything.long_walks, pct=True),
            "<= 5%" if mode == "motion" else "(apart from the target)",
        ),
        (
            "median latency, onset -> confirmed",
            f"{latency:.0f} s" if math.isfinite(latency) else "n/a",
            f"<= {sustain_s + 90:.0f} s (sustain_s + 90)",
        ),
        (
            "windows unknown (all; after the first bootstrap_min of each scenario)",
            f"{everything.unknown / everything.windows:.2%}; "
            f"{everything.unknown_later / everything.windows_later:.2%}"
            if everything.windows_later
            else "n/a",
            "",
        ),
    ]
    title = {"rr": "RR only (motion=None)", "motion": "with motion"}[mode]
    lines = [f"### Family {family}, {title}", "", "| measure | result | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", *confounder_table(mode, target, apart)]
    return lines


def confounder_table(mode: str, target: Tally, long: Tally) -> list[str]:
    kinds = sorted(
        set(target.kind_s) | set(long.kind_s) | set(target.false_by_kind) | set(long.false_by_kind),
        key=lambda k: (k in FAULTS, k),
    )
    if mode == "motion":
        head = "False stress episodes by what was going on (all days but the calm-only ones):"
        lines = [
            head,
            "",
            "| kind | hours | false episodes | per 24 h of it |",
            "|---|---:|---:|---:|",
        ]
    else:
        head = (
            "False stress episodes by what was going on: days with short movement (the target) "
            "and, apart, long walks and the days built around them:"
        )
        lines = [
            head,
            "",
            "| kind | hours | false episodes | per 24 h of it | apart: hours | false episodes |",
            "|---|---:|---:|---:|---:|---:|",
        ]
    for k in kinds:
        h = target.kind_s.get(k, 0.0) / 3600.0
        n = target.false_by_kind.get(k, 0)
        rate = f"{n / (h / 24.0):.2f}" if h > 0 else "—"
        hours = f"{h:.1f}" if k not in FAULTS else "—"
        row = f"| {k} | {hours} | {n} | {rate if k not in FAULTS else '—'} |"
        if mode == "rr":
            lh = long.kind_s.get(k, 0.0) / 3600.0
            row += (
                f" {lh:.1f} | {long.false_by_kind.get(k, 0)} |"
                if k not in FAULTS
                else f" — | {long.false_by_kind.get(k, 0)} |"
            )
        lines.append(row)
    lines += [
        "",
        "A false episode is named after a fault when it was confirmed within 1 min before to "
        "5 min after one, else after what filled most of its build-up (onset to confirmation).",
        "",
    ]
    return lines


# ----------------------------------------------------------------------------------------


def real_and_process(cfg: DetectorConfig) -> list[str]:
    real = {}
    for rec in ("nsrdb_60min", "nsrdb_5min", "hrvanalysis_1000"):
        rr = np.loadtxt(ROOT / "tests" / "data" / f"{rec}.txt")
        real[rec] = sum(e.kind == "stress" for e in detect(prepare(rr), cfg).episodes)
    with tempfile.TemporaryDirectory() as tmp:
        # The whole process on a 3 h recording.
        three = Path(tmp) / "three_hours.txt"
        body = "\n\n".join(
            [
                'name = "three_hours"',
                _segment("calm", 40),
                _segment("stress", 15, hr_delta_bpm=14, rmssd_factor=0.5),
                _segment("desk", 90),
                _segment("walk", 10),
                _segment("calm", 25),
            ]
        )
        (Path(tmp) / "three.toml").write_text(body + "\n")
        sim3 = simulate(load_scenario(str(Path(tmp) / "three.toml")), 7)
        three.write_text("\n".join(repr(float(v)) for v in sim3.rr_ms) + "\n")
        exe = Path(sys.executable).with_name("kindpulse")
        runs = []
        for _ in range(5):
            s = time.perf_counter()
            subprocess.run(
                [str(exe), "analyze", str(three), "--episodes", "--format", "json"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            runs.append(time.perf_counter() - s)
    return [
        "### Real recordings and the whole process",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        "| episodes on the real resting recordings (RR only) | "
        + ", ".join(f"{k}: {v}" for k, v in real.items())
        + " | 0 |",
        "| analyze --episodes, 3 h recording, whole process "
        f"| {min(runs):.2f} s (best of 5) | < 1 s |",
        "",
    ]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", choices=("a", "b", "both"), default="both")
    ap.add_argument("--mode", choices=("rr", "motion", "both"), default="both")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "detection.md")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a [detector] parameter (for tuning)",
    )
    args = ap.parse_args()
    cfg = DetectorConfig.from_mapping(
        {k: float(v) for k, v in (item.split("=", 1) for item in args.set)}
    )
    params = cfg.to_dict()
    sustain_s = float(params.get("sustain_s", 60.0 * float(params.get("sustain_min", 5.0))))
    learn_s = 60.0 * float(params.get("bootstrap_min", 20.0)) + float(params.get("window_s", 60.0))
    modes = ("rr", "motion") if args.mode == "both" else (args.mode,)
    families = ("A", "B") if args.family == "both" else (args.family.upper(),)
    t_start = time.perf_counter()
    timing: list[str] = []
    sections: list[str] = []
    jobs = [(fam, i) for fam in families for i in range(n_cases(fam))]
    # Scenarios are independent: spread them over the cores; results come back in order.
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(
            pool.map(
                run_one,
                [f for f, _ in jobs],
                [i for _, i in jobs],
                [modes] * len(jobs),
                [cfg] * len(jobs),
                [learn_s] * len(jobs),
            )
        )
    for fam in families:
        tallies = {m: {g: Tally() for g in ("main", "long", "calm")} for m in modes}
        mine = [o for (f, _), o in zip(jobs, outcomes, strict=True) if f == fam]
        for o in mine:
            for mode in modes:
                tallies[mode][o.group].add(o.tallies[mode])
        for mode in modes:
            sections += family_table(fam, mode, tallies[mode], sustain_s)
        gen_s = sum(o.gen_s for o in mine)
        det_s = sum(o.det_s for o in mine)
        timing.append(
            f"family {fam}: simulation, accelerometer and preparation {gen_s:.0f} s, "
            f"detection ({len(modes)} mode{'s' if len(modes) > 1 else ''}) {det_s:.0f} s "
            "(CPU seconds summed over the workers)"
        )
    sections += real_and_process(cfg)
    total = time.perf_counter() - t_start
    command = " ".join(
        [".venv/bin/python benchmarks/bench_detection.py", *map(shlex.quote, sys.argv[1:])]
    )
    lines = [
        "# Detection benchmark",
        "",
        f"`{command}`",
        "",
        f"Detector parameters: {params}",
        "",
        *sections,
        "Timing: " + "; ".join(timing) + f"; the whole run {total:.0f} s with "
        f"{args.jobs} worker{'s' if args.jobs != 1 else ''} on {os.cpu_count()} cores "
        f"(load average over the last 5 minutes at the end: {os.getloadavg()[1]:.1f}).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
