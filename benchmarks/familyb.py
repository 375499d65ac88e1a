"""Family B: a second, independent generator of simulated wearers for the detection
benchmark, built on different assumptions from ``sensors/simulator.py`` (family A).

Family A (the project's own simulator) makes a continuous modulating signal at 8 Hz and
lets an integral pulse frequency modulation model place the beats. Family B works directly
in the beat domain and shares no code with it:

* **Heart.** Beat ``i`` falls at ``t_i`` and its interval is
  ``RR_i = m(t_i) + A(t_i)·sin θ(t_i) + σ(t_i)·ε_i``:

  - ``m`` is the mean RR of a heart rate made of the person's rest rate, the segment's
    effect (with onset ramps and recovery curves, below) and a 1/f drift over hours
    (std 1.5-3 bpm, between 1/(6 h) and 1/(2 min));
  - ``θ`` is the breathing phase, from a breathing rate that wanders as a bounded random
    walk between 10 and 20 breaths a minute (lifted by 8-14/min during exercise), read at
    each beat (respiratory sinus arrhythmia sampled by the beats, not integrated);
  - ``ε_i`` is white beat-to-beat noise with ``σ = 0.3 × the intended RMSSD``;
  - ``A`` is solved per second so that the expected RMSSD is the intended one:
    ``RMSSD² = 2·A²·sin²(δ/2) + 2·σ² + q`` with ``δ = 2π·f_breath·RR`` (the breathing
    phase advanced by one beat) and ``q`` the share of the 1/1024 s quantisation.

  The intended RMSSD is the person's rest RMSSD times the segment's factor (with the same
  ramps) times a slow 1/f wander of ln RMSSD (std 0.05), which moves against the heart
  rate drift.
* **Segments** and their effects relative to rest (draws per segment): calm (+0..2 bpm,
  RMSSD ×0.95-1.05), desk (+1..4, ×0.85-1.0), coffee (+3..6, ×0.85-0.95), posture, i.e.
  standing (+8..14, ×0.6-0.8, 1-10 min), stairs (+25..40, ×0.3-0.5, 1-2 min), walk (+15..30,
  ×0.4-0.7; short 2-4 min or long 8-20 min), exercise (cycling +40..70 or running +60..90,
  ×0.1-0.3, 15-45 min), seated stress (+10..20, ×0.40-0.58, 8-25 min) and big-HR still
  stress, a talk or an exam, seated or standing (+25..45, ×0.3-0.6, 8-20 min). Stress
  comes on over a ramp of 1-3 min and goes off over 1-2 min; walks, stairs and standing
  come on over 20-60 s; exercise over 2-4 min. After exertion (walk, stairs, exercise) the
  heart rate comes back on a two-phase curve (a fast phase of 30-60 s, then a slow one of
  2-8 min after exercise) and RMSSD comes back more slowly than the heart rate.
* **Faults** on the beat times: ectopic pairs (a premature beat at 60-75 % of the
  interval, the pair's sum kept), missed beats (two intervals merged), extra beats (one
  split at 30-70 %), short dropouts (5-60 s with no beats and no accelerometer samples;
  the timestamps jump) and a loose strap burst (20-90 s of spurious detections, missed
  beats and jitter, with intervals below 250 ms and above 2500 ms). Beat times are then
  quantised to 1/1024 s, so every RR is a whole number of ticks.
* **Accelerometer** at 25 Hz (x, y, z in mg, as a chest strap sends it): gravity (1000 mg)
  along a random sensor axis, sometimes upside down, tilted 0-30° and leaning forward
  10-20° when seated; white sensor noise 2-4 mg; the chest's breathing motion, 2-5 mg at
  the breathing rate; still segments with occasional gesture seconds of 10-40 mg (more
  while talking under stress); typing at the desk; walks (step rhythm 1.6-2.2 Hz,
  100-300 mg), stairs (1.3-1.8 Hz, 200-350 mg), cycling (the torso rocking at pedal
  cadence 1-1.5 Hz, 30-120 mg: small but rhythmic), running (2.5-3 Hz, 400-800 mg),
  standing (a burst of 150-400 mg at the transitions, then sway of 5-15 mg), and for
  family A's nights, lying with a turn every 20-40 min. Samples are made in chunks of
  10 minutes and turned into a :class:`kindpulse.motion.MotionTrack` chunk by chunk.

Times in the truth are seconds on the true clock; the benchmark reads family B through the
beats' own timestamps, so the file's axis is the true clock (``file_*_s`` equal ``*_s``).
Deterministic for a scenario (its seed is part of it). All synthetic.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kindpulse.motion import MotionTrack

F64 = NDArray[np.float64]

TICKS_PER_S = 1024
TICK_MS = 1000.0 / TICKS_PER_S
#: Variance of a successive difference added by quantising beat times to one tick (each
#: difference of differences sees three rounding errors twice: 6 · tick² / 12).
QUANT_VAR = 6.0 * TICK_MS**2 / 12.0
NOISE_REL = 0.3
ACC_HZ = 25.0
CHUNK_S = 600

#: (hr delta range bpm, rmssd factor range, onset range s) per segment kind.
EFFECTS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "calm": ((0.0, 2.0), (0.95, 1.05), (60.0, 120.0)),
    "desk": ((1.0, 4.0), (0.85, 1.0), (60.0, 120.0)),
    "coffee": ((3.0, 6.0), (0.85, 0.95), (60.0, 180.0)),
    "posture": ((8.0, 14.0), (0.6, 0.8), (20.0, 40.0)),
    "stairs": ((25.0, 40.0), (0.3, 0.5), (20.0, 40.0)),
    "walk": ((15.0, 30.0), (0.4, 0.7), (30.0, 60.0)),
    "exercise": ((40.0, 90.0), (0.1, 0.3), (120.0, 240.0)),
    "stress": ((10.0, 20.0), (0.40, 0.58), (60.0, 180.0)),
    "bigstress": ((25.0, 45.0), (0.3, 0.6), (60.0, 180.0)),
}
EXERTION = ("walk", "stairs", "exercise")
STILL = ("calm", "desk", "coffee", "stress", "bigstress")


@dataclass(frozen=True, slots=True)
class Person:
    hr_bpm: float
    rmssd_ms: float


@dataclass(frozen=True, slots=True)
class Seg:
    """A planned segment: ``kind`` (a key of :data:`EFFECTS`), minutes, and a variant
    (exercise: ``cycling``/``running``; bigstress: ``seated``/``standing``)."""

    kind: str
    minutes: float
    variant: str = ""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # ectopic missed extra dropout loose_strap
    at_s: float
    count: int = 1
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    seed: int
    person: Person
    segments: tuple[Seg, ...]
    faults: tuple[Fault, ...] = ()
    group: str = "main"

    @property
    def duration_s(self) -> float:
        return 60.0 * sum(s.minutes for s in self.segments)


@dataclass(frozen=True, slots=True)
class Move:
    """One stretch of the accelerometer model on some clock: what the body does."""

    start_s: float
    end_s: float
    activity: str  # still desk talk standing walk stairs cycling running lying
    gesture_rate: float = 0.0  # share of seconds with a gesture
    burst_at_start: bool = False


@dataclass(slots=True)
class Beats:
    """What :func:`generate` made: beats (after faults and quantisation), the truth, the
    intended levels per second (for checks) and the movement plan."""

    rr_ms: F64
    t_ms: F64
    truth: dict[str, Any]
    hr_bpm: F64  # intended heart rate per second (drift included)
    rmssd_ms: F64  # intended RMSSD per second
    breaths_per_min: F64  # breathing rate per second
    moves: list[Move] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)


# ----------------------------------------------------------------------------------------
# Levels


def _pink(rng: np.random.Generator, n: int, lo_hz: float, hi_hz: float) -> F64:
    """1/f noise at 1 Hz, unit standard deviation, between ``lo_hz`` and ``hi_hz``."""
    size = max(n, int(2.0 / lo_hz))
    spec = rng.standard_normal(size // 2 + 1) + 1j * rng.standard_normal(size // 2 + 1)
    f = np.fft.rfftfreq(size, 1.0)
    band = (f >= lo_hz) & (f <= hi_hz)
    gain = np.zeros(f.size)
    gain[band] = 1.0 / np.sqrt(f[band])
    x = np.fft.irfft(spec * gain, size)[:n]
    sd = float(np.std(x))
    return x / sd if sd > 0 else x


def _smooth(u: F64) -> F64:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


@dataclass(slots=True)
class _Drawn:
    seg: Seg
    start_s: float
    end_s: float
    hr: float
    factor: float
    onset_s: float
    fast_s: float = 45.0
    slow_s: float = 0.0


def _draw(sc: Scenario, rng: np.random.Generator) -> list[_Drawn]:
    out: list[_Drawn] = []
    t = 0.0
    for seg in sc.segments:
        (h0, h1), (f0, f1), (o0, o1) = EFFECTS[seg.kind]
        if seg.kind == "exercise":
            h0, h1 = (40.0, 70.0) if seg.variant == "cycling" else (60.0, 90.0)
        d = _Drawn(
            seg,
            t,
            t + 60.0 * seg.minutes,
            float(rng.uniform(h0, h1)),
            float(rng.uniform(f0, f1)),
            float(rng.uniform(o0, o1)),
        )
        d.fast_s = float(rng.uniform(30.0, 60.0))
        d.slow_s = float(rng.uniform(120.0, 480.0)) if seg.kind == "exercise" else 90.0
        out.append(d)
        t = d.end_s
    return out


def _effect_curves(drawn: list[_Drawn], n: int) -> tuple[F64, F64]:
    """HR delta (bpm) and ln RMSSD factor per second, with onsets and recoveries."""
    hr = np.zeros(n)
    lnf = np.zeros(n)
    cur_hr, cur_lnf = 0.0, 0.0
    prev_kind = ""
    prev: _Drawn | None = None
    for d in drawn:
        a, b = int(d.start_s), min(int(d.end_s), n)
        if b <= a:
            continue
        tau = np.arange(b - a, dtype=np.float64)
        tgt_hr, tgt_lnf = d.hr, math.log(d.factor)
        if prev is not None and prev_kind in EXERTION and tgt_hr < cur_hr:
            # Two-phase recovery of the heart rate; RMSSD comes back more slowly.
            w = 0.6
            shape = w * np.exp(-tau / prev.fast_s) + (1 - w) * np.exp(-tau / prev.slow_s)
            shape_ln = 0.3 * np.exp(-tau / prev.fast_s) + 0.7 * np.exp(-tau / (1.5 * prev.slow_s))
            hr[a:b] = tgt_hr + (cur_hr - tgt_hr) * shape
            lnf[a:b] = tgt_lnf + (cur_lnf - tgt_lnf) * shape_ln
        else:
            onset = d.onset_s
            if prev is not None and prev.seg.kind in ("stress", "bigstress") and tgt_hr < cur_hr:
                onset = float(np.clip(prev.onset_s * 0.7, 60.0, 120.0))  # stress goes off
            u = _smooth(tau / max(onset, 1.0))
            hr[a:b] = cur_hr + (tgt_hr - cur_hr) * u
            lnf[a:b] = cur_lnf + (tgt_lnf - cur_lnf) * u
        cur_hr, cur_lnf = float(hr[b - 1]), float(lnf[b - 1])
        prev_kind, prev = d.seg.kind, d
    return hr, lnf


def _breathing(rng: np.random.Generator, n: int, drawn: list[_Drawn]) -> F64:
    """Breaths per minute per second: a bounded random walk in 10-20, lifted in exercise."""
    steps = rng.normal(0.0, 0.08, n)
    br = np.empty(n)
    x = float(rng.uniform(11.0, 17.0))
    for i, s in enumerate(steps.tolist()):
        x += s
        if x < 10.0:
            x = 20.0 - x
        if x > 20.0:
            x = 40.0 - x
        x = min(max(x, 10.0), 20.0)
        br[i] = x
    lift = np.zeros(n)
    for d in drawn:
        if d.seg.kind == "exercise":
            a, b = int(d.start_s), min(int(d.end_s), n)
            up = float(rng.uniform(8.0, 14.0))
            tau = np.arange(n - a, dtype=np.float64)
            ramp = _smooth(tau / 120.0)
            after = np.where(tau >= b - a, np.exp(-(tau - (b - a)) / 120.0), 1.0)
            lift[a:] = np.maximum(lift[a:], up * ramp * after)
    return br + lift


# ----------------------------------------------------------------------------------------
# Beats


def _beats(rng: np.random.Generator, hr_bpm: F64, rmssd_ms: F64, br: F64, duration_s: float) -> F64:
    """Beat times (ms, float) by walking the beat domain second by second."""
    n = hr_bpm.size
    m = 60000.0 / hr_bpm
    omega = 2.0 * np.pi * br / 60.0  # rad/s
    phase = np.concatenate(([float(rng.uniform(0, 2 * np.pi))], np.cumsum(omega)[:-1]))
    sigma = NOISE_REL * rmssd_ms
    delta = omega * m / 1000.0
    need = np.maximum(rmssd_ms**2 - 2.0 * sigma**2 - QUANT_VAR, 0.05 * rmssd_ms**2)
    amp = np.sqrt(need / (2.0 * np.sin(delta / 2.0) ** 2))
    # Expected beats: generous bound on the number of noise draws.
    z = rng.standard_normal(int(duration_s * 4.0) + 100).tolist()
    ml, al, sl, pl, ol = m.tolist(), amp.tolist(), sigma.tolist(), phase.tolist(), omega.tolist()
    out: list[float] = []
    t = 0.0
    i = 0
    sin = math.sin
    end = duration_s
    while True:
        k = int(t)
        if k >= n:
            break
        rr = ml[k] + al[k] * sin(pl[k] + (t - k) * ol[k]) + sl[k] * z[i]
        i += 1
        t += rr / 1000.0
        if t >= end:
            break
        out.append(t * 1000.0)
    return np.asarray(out)


def _apply_faults(
    sc: Scenario, bt: F64, rng: np.random.Generator
) -> tuple[F64, list[dict[str, Any]], list[tuple[float, float]]]:
    """Faults on the beat times (ms). Returns the new times, the fault truth and the
    dropouts (s)."""
    times = bt.tolist()
    truth: list[dict[str, Any]] = []
    drops: list[tuple[float, float]] = []
    for f in sorted(sc.faults, key=lambda f: f.at_s):
        if f.kind in ("ectopic", "missed", "extra"):
            at = f.at_s
            first = at
            for _ in range(f.count):
                j = int(np.searchsorted(np.asarray(times), at * 1000.0))
                if j < 2 or j >= len(times) - 2:
                    break
                if f.kind == "ectopic":
                    rr = times[j] - times[j - 1]
                    times[j] = times[j - 1] + rr * float(rng.uniform(0.6, 0.75))
                elif f.kind == "missed":
                    del times[j]
                else:
                    rr = times[j] - times[j - 1]
                    times.insert(j, times[j - 1] + rr * float(rng.uniform(0.3, 0.7)))
                at += float(rng.uniform(10.0, 40.0))
            truth.append({"kind": f.kind, "start_s": first, "end_s": at, "count": f.count})
        elif f.kind == "dropout":
            a, b = f.at_s, f.at_s + f.duration_s
            times = [x for x in times if not (a * 1000.0 <= x < b * 1000.0)]
            drops.append((a, b))
            truth.append({"kind": "dropout", "start_s": a, "end_s": b})
        elif f.kind == "loose_strap":
            a, b = f.at_s * 1000.0, (f.at_s + f.duration_s) * 1000.0
            inside = [x for x in times if a <= x < b]
            kept: list[float] = []
            skip_run = False
            run_end = 0.0
            for x in inside:
                u = float(rng.uniform())
                if not skip_run and u < 0.03:
                    skip_run = True  # a run of missed detections: an interval over 2500 ms
                    run_end = x + float(rng.uniform(2600.0, 3500.0))
                if skip_run:
                    if x < run_end:
                        continue
                    skip_run = False
                if u < 0.15:
                    continue  # missed
                kept.append(x + float(rng.normal(0.0, 25.0)))
                if u > 0.8:  # spurious detection shortly after
                    kept.append(x + float(rng.uniform(80.0, 240.0)))
            kept.sort()
            # Ensure at least one interval under 250 ms and one over 2500 ms.
            if len(kept) > 4:
                kept.insert(2, kept[1] + 150.0)
                kept.sort()
            before = [x for x in times if x < a]
            after = [x for x in times if x >= b]
            if len(kept) > 6 and not any(k2 - k1 > 2500.0 for k1, k2 in itertools.pairwise(kept)):
                mid = len(kept) // 2
                lo = kept[mid]
                kept = [x for x in kept if not (lo < x < lo + 2700.0)]
            times = before + sorted(kept) + after
            truth.append({"kind": "loose_strap", "start_s": a / 1000.0, "end_s": b / 1000.0})
    arr = np.asarray(times)
    return arr[np.concatenate(([True], np.diff(arr) > 0))], truth, drops


def moves_for(
    segments: Sequence[tuple[str, str, float, float]], rng: np.random.Generator
) -> list[Move]:
    """The accelerometer plan for segments ``(kind, variant, start_s, end_s)`` back to back.

    Kinds of both families: calm, desk, coffee, stress, bigstress (variant seated or
    standing), posture, walk, stairs, exercise (variant cycling or running; none: either,
    drawn), sleep and waking (family A)."""
    moves: list[Move] = []
    upright_prev = False
    for kind, variant, a, b in segments:
        if kind in ("calm", "waking"):
            mv = Move(a, b, "still", 0.005 if kind == "calm" else 0.03, upright_prev)
        elif kind == "desk":
            mv = Move(a, b, "desk", 0.01, upright_prev)
        elif kind == "coffee":
            mv = Move(a, b, "still", 0.02, upright_prev)
        elif kind == "stress":
            mv = Move(a, b, "talk", float(rng.uniform(0.03, 0.08)), upright_prev)
        elif kind == "bigstress":
            rate = float(rng.uniform(0.05, 0.12))
            if variant == "standing":
                mv = Move(a, b, "standing", rate, True)
            else:
                mv = Move(a, b, "talk", rate, upright_prev)
        elif kind == "posture":
            mv = Move(a, b, "standing", 0.01, True)
        elif kind == "exercise":
            mv = Move(a, b, variant or str(rng.choice(["cycling", "running"])))
        elif kind == "sleep":
            mv = Move(a, b, "lying", 0.0, upright_prev)
        else:  # walk, stairs
            mv = Move(a, b, kind)
        moves.append(mv)
        upright_prev = mv.activity in ("standing", "walk", "stairs", "running", "cycling")
    return moves


def generate(sc: Scenario) -> Beats:
    """Beats, truth and levels for a scenario; deterministic (the seed is the scenario's)."""
    s_draw, s_level, s_beat, s_fault, s_move = np.random.SeedSequence(sc.seed).spawn(5)
    drawn = _draw(sc, np.random.default_rng(s_draw))
    n = math.ceil(sc.duration_s) + 2
    r_level = np.random.default_rng(s_level)
    d_hr, lnf = _effect_curves(drawn, n)
    drift_sd = float(r_level.uniform(1.5, 3.0))
    drift = _pink(r_level, n, 1.0 / (6 * 3600.0), 1.0 / 120.0)
    ln_wander = -0.5 * drift + math.sqrt(0.75) * _pink(r_level, n, 1.0 / (6 * 3600.0), 1 / 300)
    hr = sc.person.hr_bpm + d_hr + drift_sd * drift
    rmssd = sc.person.rmssd_ms * np.exp(lnf + 0.05 * ln_wander)
    br = _breathing(r_level, n, drawn)
    bt = _beats(np.random.default_rng(s_beat), hr, rmssd, br, sc.duration_s)
    bt, fault_truth, drops = _apply_faults(sc, bt, np.random.default_rng(s_fault))
    ticks = np.round(bt / TICK_MS).astype(np.int64)
    ticks = ticks[np.concatenate(([True], np.diff(ticks) > 0))]
    t_ms = ticks.astype(np.float64) * TICK_MS
    rr_ms = np.diff(np.concatenate(([0], ticks))).astype(np.float64) * TICK_MS
    # After a dropout the strap reports the beat's own interval (not the time since the
    # last beat it sent): the timestamps show the jump.
    for _a, b in drops:
        j = int(np.searchsorted(t_ms, b * 1000.0))
        if 0 < j < t_ms.size:
            rr_ms[j] = float(np.round(np.median(rr_ms[max(0, j - 5) : j]) / TICK_MS)) * TICK_MS

    def span(a: float, b: float) -> dict[str, float]:
        return {"start_s": a, "end_s": b, "file_start_s": a, "file_end_s": b}

    segments: list[dict[str, Any]] = []
    stress: list[dict[str, Any]] = []
    bouts: list[dict[str, Any]] = []
    for j, d in enumerate(drawn):
        segments.append(
            {
                "kind": d.seg.kind,
                "variant": d.seg.variant,
                **span(d.start_s, d.end_s),
                "hr_delta_bpm": d.hr,
                "rmssd_factor": d.factor,
                "onset_s": d.onset_s,
            }
        )
        if d.seg.kind in ("stress", "bigstress"):
            stress.append(
                {
                    "kind": "seated" if d.seg.kind == "stress" else f"big_{d.seg.variant}",
                    **span(d.start_s, d.end_s),
                    "onset_s": d.onset_s,
                    "hr_delta_bpm": d.hr,
                    "rmssd_factor": d.factor,
                }
            )
        if d.seg.kind == "exercise":
            rec = min(d.end_s + 3.0 * d.slow_s, sc.duration_s)
            if j + 1 < len(drawn):
                rec = min(rec, max(d.end_s, drawn[j + 1].end_s))
            bouts.append(
                {
                    "type": d.seg.variant,
                    **span(d.start_s, d.end_s),
                    "recovery_end_s": rec,
                    "file_recovery_end_s": rec,
                    "hr_delta_bpm": d.hr,
                    "rmssd_factor": d.factor,
                }
            )
    faults = [{**f, **span(f["start_s"], f["end_s"])} for f in fault_truth]
    truth: dict[str, Any] = {
        "family": "B",
        "scenario": sc.name,
        "group": sc.group,
        "seed": sc.seed,
        "duration_s": sc.duration_s,
        "person": {"hr_bpm": sc.person.hr_bpm, "rmssd_ms": sc.person.rmssd_ms},
        "n_beats": int(rr_ms.size),
        "segments": segments,
        "faults": faults,
        "stress_episodes": stress,
        "exercise_bouts": bouts,
    }
    plan = [(d.seg.kind, d.seg.variant, d.start_s, d.end_s) for d in drawn]
    moves = moves_for(plan, np.random.default_rng(s_move))
    return Beats(rr_ms, t_ms, truth, hr, rmssd, br, moves, drops)


# ----------------------------------------------------------------------------------------
# Accelerometer


def _rotation(rng: np.random.Generator) -> F64:
    """Body (vertical, lateral, forward) to sensor axes: the vertical on a random sensor
    axis, either sign (upside down), then tilted 0-30° about a random axis."""
    perm = rng.permutation(3)
    signs = rng.choice([-1.0, 1.0], 3)
    base = np.zeros((3, 3))
    for body_axis, sensor_axis in enumerate(perm.tolist()):
        base[sensor_axis, body_axis] = signs[body_axis]
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    ang = math.radians(float(rng.uniform(0.0, 30.0)))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    tilt = np.eye(3) + math.sin(ang) * k + (1 - math.cos(ang)) * (k @ k)
    return np.asarray(tilt @ base, dtype=np.float64)


@dataclass(slots=True)
class _MoveParams:
    move: Move
    f_hz: float = 0.0
    amp: float = 0.0
    sway_f: F64 = field(default_factory=lambda: np.empty(0))
    sway_a: F64 = field(default_factory=lambda: np.empty(0))
    sway_p: F64 = field(default_factory=lambda: np.empty(0))
    phase: float = 0.0
    lean: float = 0.0


def _params(moves: Sequence[Move], rng: np.random.Generator) -> list[_MoveParams]:
    out: list[_MoveParams] = []
    seated_lean = math.radians(float(rng.uniform(10.0, 20.0)))
    for mv in moves:
        p = _MoveParams(mv, phase=float(rng.uniform(0, 2 * np.pi)))
        a = mv.activity
        if a == "walk":
            p.f_hz, p.amp = float(rng.uniform(1.6, 2.2)), float(rng.uniform(100.0, 300.0))
        elif a == "stairs":
            p.f_hz, p.amp = float(rng.uniform(1.3, 1.8)), float(rng.uniform(200.0, 350.0))
        elif a == "running":
            p.f_hz, p.amp = float(rng.uniform(2.5, 3.0)), float(rng.uniform(400.0, 800.0))
        elif a == "cycling":
            p.f_hz, p.amp = float(rng.uniform(1.0, 1.5)), float(rng.uniform(30.0, 120.0))
        elif a == "standing":
            p.amp = float(rng.uniform(5.0, 15.0))
        p.sway_f = rng.uniform(0.7, 3.0, 4)
        p.sway_a = rng.uniform(0.5, 1.0, 4)
        p.sway_p = rng.uniform(0, 2 * np.pi, 4)
        if a in ("still", "desk", "talk"):
            p.lean = seated_lean
        elif a == "lying":
            p.lean = math.radians(float(rng.uniform(75.0, 95.0)))
        out.append(p)
    return out


def accelerometer_chunks(
    moves: Sequence[Move],
    breath_phase_at: Any,
    gaps: Sequence[tuple[float, float]],
    seed: int,
    chunk_s: int = CHUNK_S,
) -> Iterator[tuple[F64, F64, F64, F64]]:
    """Raw 25 Hz samples ``(t_s, x_mg, y_mg, z_mg)`` for ``moves`` (on one clock, back to
    back), ``chunk_s`` seconds at a time; samples inside ``gaps`` are absent.

    ``breath_phase_at(t_s) -> radians``: the breathing phase, so the chest moves with the
    same breaths as the heart."""
    if not moves:
        return
    rng = np.random.default_rng(np.random.SeedSequence([seed, 77]))
    rot = _rotation(rng)
    noise_mg = float(rng.uniform(2.0, 4.0))
    breath_mg = float(rng.uniform(2.0, 5.0))
    params = _params(moves, rng)
    starts = np.array([m.start_s for m in moves])
    total = float(moves[-1].end_s)
    # Gesture seconds and transition bursts, decided up front per second.
    n_sec = math.ceil(total)
    sec_act = np.clip(np.searchsorted(starts, np.arange(n_sec) + 0.5, side="right") - 1, 0, None)
    rates = np.array([m.gesture_rate for m in moves])[sec_act]
    gesture = rng.uniform(size=n_sec) < rates
    gesture_mg = rng.uniform(10.0, 40.0, n_sec)
    bursts: list[tuple[float, float, float]] = []
    for i, m in enumerate(moves):
        if m.burst_at_start and i > 0:
            bursts.append((m.start_s, float(rng.uniform(2.0, 4.0)), float(rng.uniform(150, 400))))
        if m.activity == "lying":
            turn = m.start_s + float(rng.uniform(600.0, 2400.0))
            while turn < m.end_s - 10:
                bursts.append((turn, float(rng.uniform(1.0, 3.0)), float(rng.uniform(50, 200))))
                turn += float(rng.uniform(1200.0, 2400.0))
    burst_arr = np.array(bursts) if bursts else np.empty((0, 3))
    lean_s = np.array([p.lean for p in params])
    sqrt3 = math.sqrt(3.0)
    for c0 in range(0, n_sec, chunk_s):
        c1 = min(n_sec, c0 + chunk_s)
        t = np.arange(int(c0 * ACC_HZ), int(c1 * ACC_HZ)) / ACC_HZ
        t = t[t < total]
        if t.size == 0:
            continue
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(moves) - 1)
        body = np.zeros((3, t.size))  # vertical, lateral, forward
        # Lean of the trunk (gravity's direction in the body), smoothed over 2 s.
        lean = lean_s[idx]
        for i in np.unique(idx).tolist():
            if i == 0:
                continue
            st = moves[i].start_s
            near = np.abs(t - st) < 1.0
            if near.any():
                u = _smooth((t[near] - st + 1.0) / 2.0)
                lean[near] = lean_s[i - 1] + (lean_s[i] - lean_s[i - 1]) * u
        for i in np.unique(idx).tolist():
            p = params[i]
            sel = idx == i
            ts = t[sel]
            a = p.move.activity
            if a in ("walk", "stairs", "running"):
                mod = 1.0 + 0.15 * np.sin(2 * np.pi * 0.05 * ts + p.phase)
                wob = 0.3 * np.sin(2 * np.pi * 0.13 * ts + 2 * p.phase)
                ph = 2 * np.pi * p.f_hz * ts + p.phase + wob
                amp = p.amp / 0.866 * mod
                body[0, sel] += amp * (np.sin(ph) + 0.3 * np.sin(2 * ph + 0.7))
                body[1, sel] += amp * 0.4 * np.sin(0.5 * ph)
                body[2, sel] += amp * 0.5 * np.sin(ph + 1.1)
            elif a == "cycling":
                ph = 2 * np.pi * p.f_hz * ts + p.phase + 0.2 * np.sin(2 * np.pi * 0.07 * ts)
                amp = p.amp / 0.78
                body[1, sel] += amp * np.sin(ph)
                body[0, sel] += amp * 0.4 * np.sin(2 * ph + 0.3)
                body[2, sel] += amp * 0.3 * np.sin(ph + 0.9)
            elif a == "standing":
                sway = np.zeros(ts.size)
                for f, w, ph0 in zip(p.sway_f, p.sway_a, p.sway_p, strict=True):
                    sway += w * np.sin(2 * np.pi * f * ts + ph0)
                norm = math.sqrt(0.5 * float(np.sum(p.sway_a**2)))
                body[2, sel] += p.amp * sway / norm * 0.8
                body[1, sel] += p.amp * np.roll(sway, 7) / norm * 0.6
            elif a == "desk":
                body[:, sel] += rng.normal(0.0, 1.2, (3, ts.size))  # typing
        # Breathing moves the chest forward and back.
        body[2] += breath_mg * np.sin(breath_phase_at(t))
        # Gestures: a second of band-limited movement, 10-40 mg.
        sec = np.floor(t).astype(np.int64)
        g = gesture[np.clip(sec, 0, n_sec - 1)]
        if g.any():
            gs = sec[g]
            frac = t[g] - gs
            env = np.sin(np.pi * frac) ** 2 / math.sqrt(3.0 / 8.0)
            gm = gesture_mg[gs] * env / math.sqrt(1.5)
            body[0, g] += gm * np.sin(2 * np.pi * 2.3 * t[g] + gs)
            body[1, g] += gm * np.sin(2 * np.pi * 1.7 * t[g] + 2 * gs)
            body[2, g] += gm * 0.5 * np.sin(2 * np.pi * 3.1 * t[g] + 3 * gs)
        # Transition bursts (standing up, sitting down, turning over in bed).
        near = burst_arr[(burst_arr[:, 0] > c0 - 5) & (burst_arr[:, 0] < c1 + 5)]
        for b0, dur, mg in near.tolist():
            w = (t >= b0) & (t < b0 + dur)
            if w.any():
                env = np.sin(np.pi * (t[w] - b0) / dur) ** 2 / math.sqrt(3.0 / 8.0)
                body[:, w] += (mg / sqrt3) * env * rng.normal(0.0, 1.0, (3, int(w.sum())))
        # Gravity along the leaning trunk.
        body[0] += 1000.0 * np.cos(lean)
        body[2] += 1000.0 * np.sin(lean)
        xyz = rot @ body + rng.normal(0.0, noise_mg / sqrt3, (3, t.size))
        keep = np.ones(t.size, dtype=np.bool_)
        for a0, b0 in gaps:
            keep &= ~((t >= a0) & (t < b0))
        yield t[keep], xyz[0, keep], xyz[1, keep], xyz[2, keep]


def breath_phase_fn(breaths_per_min: F64, start_phase: float = 0.0) -> Any:
    """The breathing phase at any time, from a per-second breathing rate."""
    omega = 2.0 * np.pi * breaths_per_min / 60.0
    cum = np.concatenate(([start_phase], start_phase + np.cumsum(omega)))

    def at(t: F64) -> F64:
        k = np.clip(np.floor(t).astype(np.int64), 0, omega.size - 1)
        return np.asarray(cum[k] + (t - k) * omega[k], dtype=np.float64)

    return at


def motion_track(
    moves: Sequence[Move],
    breaths_per_min: F64,
    gaps: Sequence[tuple[float, float]],
    seed: int,
    shift: Any = None,
) -> MotionTrack:
    """The accelerometer samples of ``moves`` turned into a MotionTrack chunk by chunk.
    ``shift(t_s) -> t_s`` maps sample times onto the beats' axis (family A's plain file)."""
    ends: list[F64] = []
    mgs: list[F64] = []
    for t, x, y, z in accelerometer_chunks(moves, breath_phase_fn(breaths_per_min), gaps, seed):
        tt = t if shift is None else shift(t)
        tr = MotionTrack.from_samples(tt, x, y, z)
        ends.append(tr.end_s)
        mgs.append(tr.mg)
    if not ends:
        return MotionTrack(np.empty(0), np.empty(0))
    return MotionTrack(np.concatenate(ends), np.concatenate(mgs))


def beats_motion(b: Beats, seed: int) -> MotionTrack:
    """Family B's accelerometer track, on the true clock (the beats' timestamps)."""
    return motion_track(b.moves, b.breaths_per_min, b.gaps, seed)


# ----------------------------------------------------------------------------------------
# The benchmark's suite


def _person(rng: np.random.Generator) -> Person:
    return Person(round(float(rng.uniform(55, 80)), 1), round(float(rng.uniform(20, 70)), 1))


def _filler(rng: np.random.Generator, minutes: float, long_walks: bool = False) -> list[Seg]:
    """Ordinary stretches adding up to about ``minutes``: short movement only, unless
    ``long_walks``."""
    out: list[Seg] = []
    left = minutes
    kinds = ["calm", "desk", "desk", "desk", "coffee", "posture", "stairs", "walk"]
    while left > 0:
        k = str(rng.choice(kinds))
        if k == "calm":
            m = float(rng.uniform(10, 35))
        elif k == "desk":
            m = float(rng.uniform(15, 50))
        elif k == "coffee":
            m = float(rng.uniform(15, 40))
        elif k == "posture":
            m = float(rng.uniform(1, 10))
        elif k == "stairs":
            m = float(rng.uniform(1, 2))
        elif long_walks and rng.uniform() < 0.7:
            m = float(rng.uniform(8, 20))
        else:
            m = float(rng.uniform(2, 4))
        m = round(min(max(m, 1.0), max(left, 1.0)), 1)
        out.append(Seg(k, m, "long" if k == "walk" and m > 4 else ("short" if k == "walk" else "")))
        left -= m
    return out


def _faults(rng: np.random.Generator, total_s: float, n: int) -> list[Fault]:
    kinds = ["ectopic", "missed", "extra", "dropout", "loose_strap"]
    at = np.sort(rng.uniform(30 * 60.0, total_s - 600.0, n))
    out: list[Fault] = []
    for i, a in enumerate(at.tolist()):
        k = kinds[i % len(kinds)] if n >= len(kinds) else str(rng.choice(kinds))
        if k == "dropout":
            out.append(Fault(k, a, duration_s=round(float(rng.uniform(5, 60)))))
        elif k == "loose_strap":
            out.append(Fault(k, a, duration_s=round(float(rng.uniform(20, 90)))))
        else:
            out.append(Fault(k, a, count=int(rng.integers(1, 6))))
    return out


def suite(seed: int = 20261202) -> list[Scenario]:
    """The fixed family-B suite of the detection benchmark (56 scenarios, about 200 h).

    Groups: ``main`` (stress days, ordinary days with short movement, exercise), ``long``
    (days with long walks: apart from the RR-only target) and ``calm`` (long calm/desk-only
    days: the calm-only false alarm rate)."""
    rng = np.random.default_rng(seed)
    out: list[Scenario] = []
    # Stress among ordinary activity, about 3 h: 16 seated, 8 big-HR (talk or exam).
    for i in range(24):
        segs = [Seg("calm", 30.0), *_filler(rng, float(rng.uniform(20, 50)))]
        for j in range(int(rng.integers(1, 3))):
            if i >= 16 and j == 0:
                var = "standing" if rng.uniform() < 0.5 else "seated"
                segs.append(Seg("bigstress", round(float(rng.uniform(8, 20)), 1), var))
            else:
                segs.append(Seg("stress", round(float(rng.uniform(8, 25)), 1)))
            segs += _filler(rng, float(rng.uniform(30, 60)))
        total = 60.0 * sum(s.minutes for s in segs)
        sc = Scenario(
            f"b_stress_{i:02d}",
            10_000 + i,
            _person(rng),
            tuple(segs),
            tuple(_faults(rng, total, 2)),
        )
        out.append(sc)
    # Ordinary days with short movement and faults, about 5 h.
    for i in range(12):
        segs = [Seg("calm", 30.0), *_filler(rng, 270)]
        total = 60.0 * sum(s.minutes for s in segs)
        out.append(
            Scenario(
                f"b_day_{i:02d}",
                11_000 + i,
                _person(rng),
                tuple(segs),
                tuple(_faults(rng, total, 5)),
            )
        )
    # Exercise with recovery, about 2.5 h: cycling and running.
    for i in range(8):
        segs = [Seg("calm", 30.0), *_filler(rng, 15)]
        segs.append(
            Seg(
                "exercise",
                round(float(rng.uniform(15, 45))),
                "cycling" if i % 2 == 0 else "running",
            )
        )
        segs += [Seg("calm", 30.0), *_filler(rng, 40)]
        out.append(Scenario(f"b_exercise_{i}", 12_000 + i, _person(rng), tuple(segs)))
    # Days with long walks (8-20 min), about 3.5 h.
    for i in range(8):
        segs = [Seg("calm", 30.0)]
        for _ in range(5):
            segs.append(Seg("walk", round(float(rng.uniform(8, 20)), 1), "long"))
            segs += _filler(rng, float(rng.uniform(20, 30)))
        out.append(Scenario(f"b_long_{i}", 13_000 + i, _person(rng), tuple(segs), group="long"))
    # Long calm/desk-only days, about 8 h.
    for i in range(4):
        segs = [Seg("calm", 30.0)]
        while sum(s.minutes for s in segs) < 480:
            segs.append(Seg(str(rng.choice(["calm", "desk"])), round(float(rng.uniform(20, 60)))))
        out.append(Scenario(f"b_calm_{i}", 14_000 + i, _person(rng), tuple(segs), group="calm"))
    return out
