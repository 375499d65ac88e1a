"""A simulated wearer: RR intervals with ground truth, from a scenario of segments and faults.

The generator is an integral pulse frequency modulation (IPFM) model (Bayly 1968; Mateo &
Laguna 2000): a modulating signal ``m(t)``, the instantaneous heart rate in beats per
second sampled at :data:`FS_HZ`, is integrated and a beat falls wherever the integral
reaches the next whole number. ``m(t) = 1000 / rr_inst(t)`` with ``rr_inst`` (ms) the sum of

* a baseline ``60000 / HR(t)``: the person's rest heart rate plus the segment's delta,
  moved between segments by smooth ramps (onset) or recovery curves, a slow circadian
  term when the scenario has a ``start_hour`` (±2.5 bpm, highest at 15:00), and a slow
  1/f wander of 0.8 bpm;
* respiratory sinus arrhythmia (RSA) at the breathing rate (about 14/min awake, slower and
  more regular asleep, faster in stress and exercise), with breath-to-breath variation of
  rate and depth;
* a Mayer wave near 0.1 Hz (LF);
* 1/f (pink) noise between 1/600 Hz and 0.5 Hz.

The RSA amplitude is what sets RMSSD. For a sinusoid of amplitude A at frequency f, beats
RR apart, the IPFM interval is the mean of ``rr_inst`` over the interval (a factor
``sinc(f·RR)``) and successive differences have RMS ``√2·A·sin(π·f·RR)·sinc(f·RR)``. The
amplitude is solved from that so the expected RMSSD is the target
``rmssd_ms × rmssd_factor(t)`` after the LF, pink noise and 1/1024 s quantisation shares
are taken off. LF and pink noise scale with ``√rmssd_factor`` (LF/HF rises when vagal tone
falls, as in stress and exercise). The baseline is lengthened by ``2·var/rr0`` so the
mean of 60000/RR over the beats, which over-weights the short intervals, is the intended
heart rate. Calibrated against :func:`kindpulse.hrv.windowed_metrics` (60 s windows): the
median heart rate of a segment is within 0.2 bpm of the intended one and the median RMSSD
within 2 % (``tests/test_simulator.py`` holds the checks).

Segment kinds and their draws (relative to the person at rest; :data:`KIND_SPECS`): calm
(+0..3 bpm, RMSSD ×0.9–1.1), desk (+2..5, ×0.8–0.95), stress (+8..20, ×0.4–0.7, over the
level of the segment before it, onset 1–3 min), exercise (+40..90, ×0.1–0.3, ramp up
2–5 min, then a recovery of 5–15 min with a fast first phase), walk (+15..30, ×0.5–0.7),
stairs (+25..40, ×0.3–0.5), coffee (+3..6, ×0.85–0.95), posture i.e. standing up (+8..14,
×0.6–0.8), sleep (−15..−8, ×1.2–1.6, breathing slower and regular, a REM period every
85–100 min) and waking (back to calm levels over the whole segment).

Movement, as a strap's accelerometer gives it (:mod:`kindpulse.motion`: one value a
second, the RMS of the dynamic acceleration in mg): walk, stairs and exercise move (a level
drawn per segment from 120–250, 200–350 and 150–400 mg, like a cadence, each second within
about ±12 % of it); posture is a short burst as one stands up (3–6 s of 150–350 mg), then a
standing sway of 5–15 mg; every other kind is still (2–8 mg), with now and then a second or
two of fidgeting (20–60 mg; rarer asleep). Seconds inside a dropout have no movement (the
link carries both). Its draws come from a generator of their own, so the RR intervals of a
scenario and seed are the same with or without it.

Beat times are quantised to 1/1024 s as a Bluetooth strap reports them (Heart Rate
Measurement characteristic), so every RR interval is a multiple of 0.9765625 ms and the
sum of the intervals equals the beat times exactly.

Faults are applied to the beat times after generation: ``ectopic`` (a premature beat: a
short interval then a compensatory long one, the pair's sum kept), ``missed`` (two
intervals merged), ``extra`` (one interval split), ``loose_strap`` (a burst of spurious
detections, missed beats and jitter, with at least one interval under 250 ms and one over
2500 ms) and ``dropout`` (beats absent for a while: the plain RR output simply lacks them,
timestamps show the jump).

:func:`simulate` is pure (no clock, no IO) and deterministic for a scenario and a seed;
:func:`load_scenario` reads a scenario from TOML (built-in ones live in
``scenarios/*.toml`` next to this module)::

    name = "afternoon_stress"      # optional: the file name
    description = "..."            # optional
    start_hour = 13.5              # optional: clock time of the start, adds circadian drift
    [person]                       # optional, defaults shown
    hr_bpm = 66                    # heart rate at rest
    rmssd_ms = 42                  # RMSSD at rest
    breaths_per_min = 14
    [[segment]]                    # one or more, in order
    kind = "stress"                # calm desk stress exercise walk stairs coffee posture
                                   # sleep waking
    minutes = 12
    hr_delta_bpm = 14              # optional overrides of the kind's draws
    rmssd_factor = 0.5
    onset_min = 2                  # ramp into the segment
    recovery_min = 4               # return from it (replaces the next segment's onset)
    breaths_per_min = 18
    [[fault]]                      # zero or more
    kind = "ectopic"               # ectopic missed extra loose_strap dropout
    at_min = 5
    count = 3                      # ectopic, missed, extra: events 10-40 s apart
    # duration_s = 30              # loose_strap (default 20-120 s), dropout (5-60 s)

Faults must lie inside the scenario and at least 5 s apart.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from kindpulse.errors import InputDataError, NoInputError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "DEFAULT_START",
    "FS_HZ",
    "TICK_MS",
    "Fault",
    "FaultKind",
    "Person",
    "Scenario",
    "Segment",
    "SegmentKind",
    "SimResult",
    "add_simulate_command",
    "builtin_scenarios",
    "cmd_simulate",
    "endless_day",
    "endless_motion_day",
    "iter_chunks",
    "iter_motion_chunks",
    "load_scenario",
    "parse_scenario",
    "scenario_from_dict",
    "simulate",
    "write_movement",
    "write_rr",
]

F64 = NDArray[np.float64]

#: Sampling rate of the modulating signal, Hz.
FS_HZ = 8.0
#: Straps report RR in 1/1024 s; beat times are quantised to this tick.
TICKS_PER_S = 1024
TICK_MS = 1000.0 / TICKS_PER_S
#: Default wall-clock start of a timestamped file (no UTC offset: read as local time).
DEFAULT_START = datetime(2026, 1, 5, 9, 0, 0)

#: Mayer wave (LF) amplitude and pink-noise standard deviation, as a fraction of the
#: person's rest RMSSD, scaled by sqrt(rmssd_factor).
LF_REL = 1.0
PINK_REL = 0.7
LF_HZ = 0.1
PINK_BAND_HZ = (1.0 / 600.0, 0.5)
#: Measured RMSSD falls about 2 % short of the analytic target (IPFM sampling of the
#: breath-to-breath variation); the target is raised by this much to compensate.
RMSSD_GAIN = 1.02
#: Slow heart-rate wander (bpm, standard deviation) between 1/3600 and 1/120 Hz.
WANDER_BPM = 0.8
#: Variance of successive differences added by quantising beat times to one tick:
#: each beat time is off by a uniform ±tick/2, a difference of differences sees 6 of them.
_QUANT_VAR = 6.0 * TICK_MS**2 / 12.0
#: Circadian heart-rate amplitude (bpm) and ln RMSSD amplitude, peaking at 15:00.
CIRCADIAN_HR_BPM = 2.5
CIRCADIAN_LN_RMSSD = 0.08
CIRCADIAN_PEAK_HOUR = 15.0


class SegmentKind(str, Enum):
    """What the wearer is doing during a segment."""

    CALM = "calm"
    DESK = "desk"
    STRESS = "stress"
    EXERCISE = "exercise"
    WALK = "walk"
    STAIRS = "stairs"
    COFFEE = "coffee"
    POSTURE = "posture"
    SLEEP = "sleep"
    WAKING = "waking"


class FaultKind(str, Enum):
    """A recording fault injected after generation."""

    ECTOPIC = "ectopic"
    MISSED = "missed"
    EXTRA = "extra"
    LOOSE_STRAP = "loose_strap"
    DROPOUT = "dropout"


_POINT_FAULTS = frozenset({FaultKind.ECTOPIC, FaultKind.MISSED, FaultKind.EXTRA})
#: Point faults of one entry are spaced by a random 10–40 s.
_POINT_SPACING_S = (10.0, 40.0)
_DEFAULT_DURATION_S = {FaultKind.LOOSE_STRAP: (20.0, 120.0), FaultKind.DROPOUT: (5.0, 60.0)}


@dataclass(frozen=True, slots=True)
class KindSpec:
    """The physiology of a segment kind, relative to the person at rest.

    Ranges are (low, high) for seeded uniform draws. ``hr_delta_bpm`` is added to the rest
    heart rate; ``rmssd_factor`` multiplies the rest RMSSD (for stress both apply to the
    level of the segment before it instead: stress comes on top of what one was doing,
    and that is the change a personal baseline sees); ``breathing`` multiplies the
    person's breathing rate; ``irregularity`` is the breath-to-breath variation of rate
    and depth (log-scale standard deviation); ``onset_min`` is the ramp into the segment;
    ``recovery_min`` (if any) is how long the return from this segment takes, which then
    replaces the next segment's onset; ``fast_recovery`` gives that return a fast
    first phase for heart rate (vagal reactivation after exercise, Imai et al. 1994) while
    RMSSD returns slowly.
    """

    hr_delta_bpm: tuple[float, float]
    rmssd_factor: tuple[float, float]
    onset_min: tuple[float, float]
    breathing: tuple[float, float]
    irregularity: float
    recovery_min: tuple[float, float] | None = None
    fast_recovery: bool = False


KIND_SPECS: Mapping[SegmentKind, KindSpec] = {
    SegmentKind.CALM: KindSpec((0.0, 3.0), (0.9, 1.1), (1.0, 3.0), (0.95, 1.05), 0.2),
    SegmentKind.DESK: KindSpec((2.0, 5.0), (0.8, 0.95), (1.0, 2.0), (1.0, 1.1), 0.25),
    SegmentKind.STRESS: KindSpec(
        (8.0, 20.0), (0.4, 0.7), (1.0, 3.0), (1.15, 1.35), 0.3, recovery_min=(2.0, 6.0)
    ),
    SegmentKind.EXERCISE: KindSpec(
        (40.0, 90.0), (0.1, 0.3), (2.0, 5.0), (1.8, 2.5), 0.15, (5.0, 15.0), True
    ),
    SegmentKind.WALK: KindSpec(
        (15.0, 30.0), (0.5, 0.7), (0.5, 1.5), (1.2, 1.5), 0.15, (1.0, 3.0), True
    ),
    SegmentKind.STAIRS: KindSpec(
        (25.0, 40.0), (0.3, 0.5), (0.3, 0.6), (1.4, 1.8), 0.2, (1.0, 3.0), True
    ),
    SegmentKind.COFFEE: KindSpec(
        (3.0, 6.0), (0.85, 0.95), (8.0, 15.0), (1.0, 1.05), 0.2, (10.0, 20.0)
    ),
    SegmentKind.POSTURE: KindSpec((8.0, 14.0), (0.6, 0.8), (0.2, 0.5), (1.0, 1.1), 0.2, (0.3, 1.0)),
    SegmentKind.SLEEP: KindSpec((-15.0, -8.0), (1.2, 1.6), (10.0, 20.0), (0.8, 0.9), 0.06),
    # Waking: back to calm levels, ramped over the whole segment unless onset_min is given.
    SegmentKind.WAKING: KindSpec((0.0, 3.0), (0.9, 1.1), (10.0, 10.0), (0.95, 1.05), 0.2),
}


@dataclass(frozen=True, slots=True)
class Person:
    """The wearer at rest: heart rate (bpm), RMSSD (ms), breathing rate (breaths/min)."""

    hr_bpm: float = 66.0
    rmssd_ms: float = 42.0
    breaths_per_min: float = 14.0


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of ``minutes`` doing ``kind``; None overrides are drawn from the kind."""

    kind: SegmentKind
    minutes: float
    hr_delta_bpm: float | None = None
    rmssd_factor: float | None = None
    onset_min: float | None = None
    recovery_min: float | None = None
    breaths_per_min: float | None = None


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault at ``at_min`` minutes: ``count`` point events (ectopic, missed, extra; spaced
    10–40 s apart) or a stretch of ``duration_s`` (loose_strap, dropout; None draws
    20–120 s and 5–60 s)."""

    kind: FaultKind
    at_min: float
    count: int = 1
    duration_s: float | None = None

    def max_span_s(self) -> float:
        """The longest time this fault can take, seconds."""
        if self.kind in _POINT_FAULTS:
            return (self.count - 1) * _POINT_SPACING_S[1] + 5.0
        if self.duration_s is not None:
            return self.duration_s
        return _DEFAULT_DURATION_S[self.kind][1]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A simulated stretch of life: who, what they do (segments, in order), what goes wrong.

    ``start_hour`` (0–24, optional) is the clock time of the start; with it the simulation
    adds a circadian drift.
    """

    name: str
    person: Person
    segments: tuple[Segment, ...]
    faults: tuple[Fault, ...] = ()
    description: str = ""
    start_hour: float | None = None

    @property
    def duration_s(self) -> float:
        return 60.0 * sum(s.minutes for s in self.segments)


@dataclass(frozen=True, slots=True, eq=False)
class SimResult:
    """What :func:`simulate` made.

    ``rr_ms``: the RR intervals a plain RR file holds (ms, multiples of 1/1024 s, faults
    applied, beats lost in a dropout absent). ``t_ms``: each of those beats' true time in
    ms from the start (a timestamped file shows a dropout as a jump). ``truth``: a JSON-able
    dict of what happened (see :func:`simulate`). ``movement_mg``: the movement of every
    whole second of the scenario, ``movement_mg[k]`` for the second ending at ``k + 1`` s
    on the true clock (mg, NaN inside a dropout).
    """

    rr_ms: F64
    t_ms: F64
    truth: dict[str, Any]
    movement_mg: F64 = field(default_factory=lambda: np.empty(0))

    def movement_track(self) -> tuple[F64, F64]:
        """The seconds with movement: (their ends in ms on the true clock, mg)."""
        ok = np.isfinite(self.movement_mg)
        ends: F64 = 1000.0 * (np.flatnonzero(ok).astype(np.float64) + 1.0)
        return ends, self.movement_mg[ok]


# ----------------------------------------------------------------------------------------
# Scenario files


_TOP_KEYS = ("name", "description", "start_hour", "person", "segment", "fault")
_PERSON_KEYS: dict[str, tuple[float, float]] = {
    "hr_bpm": (30.0, 120.0),
    "rmssd_ms": (5.0, 200.0),
    "breaths_per_min": (6.0, 30.0),
}
_SEGMENT_NUMBERS: dict[str, tuple[float, float]] = {
    "minutes": (0.0, 24.0 * 60.0),
    "hr_delta_bpm": (-40.0, 130.0),
    "rmssd_factor": (0.02, 3.0),
    "onset_min": (0.0, 180.0),
    "recovery_min": (0.0, 180.0),
    "breaths_per_min": (4.0, 60.0),
}
_SEGMENT_KEYS = ("kind", *_SEGMENT_NUMBERS)
_FAULT_KEYS = ("kind", "at_min", "count", "duration_s")


def _scenario_dir() -> Any:
    return resources.files("kindpulse.sensors").joinpath("scenarios")


def builtin_scenarios() -> tuple[str, ...]:
    """Names of the built-in scenarios, sorted."""
    names = [p.name[: -len(".toml")] for p in _scenario_dir().iterdir() if p.name.endswith(".toml")]
    return tuple(sorted(names))


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name (``scenarios/NAME.toml``), else a TOML file by path.

    Raises :class:`~kindpulse.errors.InputDataError` (one line naming file and key) for a
    malformed scenario, :class:`~kindpulse.errors.NoInputError` for a missing file and
    :class:`~kindpulse.errors.UsageError` for a name that is neither built in nor a file.
    """
    builtin = builtin_scenarios()
    if name_or_path in builtin:
        res = _scenario_dir().joinpath(f"{name_or_path}.toml")
        return parse_scenario(res.read_text(encoding="utf-8"), f"{name_or_path}.toml")
    path = Path(name_or_path)
    if not path.exists():
        if path.suffix != ".toml" and len(path.parts) == 1:
            raise UsageError(
                f"unknown scenario {name_or_path!r} (built-in: {', '.join(builtin)}; "
                "or give the path of a .toml file)"
            )
        raise NoInputError(f"{name_or_path}: no such file")
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise NoInputError(f"{name_or_path}: is a directory, expected a scenario file") from None
    except OSError as e:
        raise NoInputError(f"{name_or_path}: cannot be read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputDataError(f"{name_or_path}: not UTF-8 text, expected TOML") from None
    return parse_scenario(text, str(path), default_name=path.stem)


def parse_scenario(text: str, source: str, default_name: str | None = None) -> Scenario:
    """A scenario from TOML text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputDataError(f"{source}: not valid TOML: {' '.join(str(e).split())}") from None
    if default_name is None:
        default_name = source[: -len(".toml")] if source.endswith(".toml") else source
    return scenario_from_dict(data, source, default_name=default_name)


def _fail(source: str, where: str, message: str) -> InputDataError:
    return InputDataError(f"{source}: {where}{message}")


def _number(
    source: str, where: str, key: str, value: Any, lo: float, hi: float, *, lo_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(source, where, f"{key!r}: {value!r} is not a number")
    v = float(value)
    ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        bound = f"more than {lo:g} and at most" if lo_open else f"from {lo:g} to"
        raise _fail(source, where, f"{key!r}: {value!r} is out of range (expected {bound} {hi:g})")
    return v


def _check_keys(source: str, where: str, table: Mapping[str, Any], allowed: Sequence[str]) -> None:
    for key in table:
        if key not in allowed:
            raise _fail(source, where, f"unknown key {key!r} (allowed: {', '.join(allowed)})")


def _tables(source: str, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _fail(source, "", f"{key!r} must be an array of tables ([[{key}]])")
    return value


def _kind(source: str, where: str, value: Any, enum: type[Enum]) -> Any:
    names = ", ".join(str(k.value) for k in enum)
    if not isinstance(value, str):
        raise _fail(source, where, f"'kind': {value!r} is not a string (expected one of {names})")
    try:
        return enum(value)
    except ValueError:
        raise _fail(
            source, where, f"'kind': {value!r} is not a known kind (expected one of {names})"
        ) from None


def scenario_from_dict(
    data: Mapping[str, Any], source: str = "<scenario>", default_name: str = "scenario"
) -> Scenario:
    """A validated :class:`Scenario` from the parsed TOML document ``data``."""
    _check_keys(source, "", data, _TOP_KEYS)
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, "", f"'name': {name!r} is not a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _fail(source, "", f"'description': {description!r} is not a string")
    start_hour: float | None = None
    if "start_hour" in data:
        start_hour = _number(source, "", "start_hour", data["start_hour"], 0.0, 24.0)
    person_data = data.get("person", {})
    if not isinstance(person_data, dict):
        raise _fail(source, "", "'person' must be a table ([person])")
    _check_keys(source, "person: ", person_data, tuple(_PERSON_KEYS))
    person = Person(
        **{k: _number(source, "person: ", k, v, *_PERSON_KEYS[k]) for k, v in person_data.items()}
    )

    seg_tables = _tables(source, data, "segment")
    if not seg_tables:
        raise _fail(source, "", "no [[segment]] (a scenario needs at least one)")
    segments: list[Segment] = []
    for i, tab in enumerate(seg_tables, start=1):
        where = f"segment {i}: "
        _check_keys(source, where, tab, _SEGMENT_KEYS)
        if "kind" not in tab:
            raise _fail(source, where, "missing key 'kind'")
        if "minutes" not in tab:
            raise _fail(source, where, "missing key 'minutes'")
        kind = _kind(source, where, tab["kind"], SegmentKind)
        values: dict[str, float] = {}
        for key, (lo, hi) in _SEGMENT_NUMBERS.items():
            if key in tab:
                values[key] = _number(
                    source,
                    where,
                    key,
                    tab[key],
                    lo,
                    hi,
                    lo_open=key in ("minutes", "rmssd_factor"),
                )
        hr_delta = values.get("hr_delta_bpm")
        if hr_delta is not None and not 30.0 <= person.hr_bpm + hr_delta <= 220.0:
            raise _fail(
                source,
                where,
                f"'hr_delta_bpm': {tab['hr_delta_bpm']!r} puts the heart rate at "
                f"{person.hr_bpm + hr_delta:g} bpm (expected 30 to 220)",
            )
        segments.append(Segment(kind, **values))
    duration_s = 60.0 * sum(s.minutes for s in segments)

    faults: list[Fault] = []
    for i, tab in enumerate(_tables(source, data, "fault"), start=1):
        where = f"fault {i}: "
        _check_keys(source, where, tab, _FAULT_KEYS)
        for key in ("kind", "at_min"):
            if key not in tab:
                raise _fail(source, where, f"missing key {key!r}")
        fkind = _kind(source, where, tab["kind"], FaultKind)
        at_min = _number(source, where, "at_min", tab["at_min"], 0.0, duration_s / 60.0)
        count = 1
        duration: float | None = None
        if fkind in _POINT_FAULTS:
            if "duration_s" in tab:
                raise _fail(
                    source, where, f"'duration_s' does not apply to {fkind.value!r} (use 'count')"
                )
            if "count" in tab:
                c = tab["count"]
                if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= 1000:
                    raise _fail(
                        source, where, f"'count': {c!r} is not a whole number from 1 to 1000"
                    )
                count = c
        else:
            if "count" in tab:
                raise _fail(
                    source, where, f"'count' does not apply to {fkind.value!r} (use 'duration_s')"
                )
            if "duration_s" in tab:
                duration = _number(
                    source, where, "duration_s", tab["duration_s"], 0.0, 3600.0, lo_open=True
                )
        faults.append(Fault(fkind, at_min, count, duration))
        problem = _fault_problem(faults, duration_s)
        if problem is not None:
            raise _fail(source, where, f"'at_min': {tab['at_min']!r} {problem}")
    return Scenario(name, person, tuple(segments), tuple(faults), description, start_hour)


_FAULT_MARGIN_S = 5.0


def _fault_problem(faults: Sequence[Fault], duration_s: float) -> str | None:
    """What is wrong with the last of ``faults`` (placement), or None."""
    *before, fault = faults
    start = 60.0 * fault.at_min
    end = start + fault.max_span_s()
    if start < _FAULT_MARGIN_S or end > duration_s - _FAULT_MARGIN_S:
        return (
            f"puts the fault (up to {fault.max_span_s():g} s long) outside the scenario "
            f"(expected from {_FAULT_MARGIN_S:g} s after the start to {_FAULT_MARGIN_S:g} s "
            f"before the end at {duration_s / 60.0:g} min)"
        )
    for j, other in enumerate(before, start=1):
        s0 = 60.0 * other.at_min
        e0 = s0 + other.max_span_s()
        if start < e0 + _FAULT_MARGIN_S and s0 < end + _FAULT_MARGIN_S:
            return f"overlaps fault {j} (faults need {_FAULT_MARGIN_S:g} s between them)"
    return None


def _check_scenario(sc: Scenario) -> None:
    """ValueError for a scenario built in code that a scenario file could not express."""
    if not sc.segments:
        raise ValueError("a scenario needs at least one segment")
    for i, seg in enumerate(sc.segments, start=1):
        if not (math.isfinite(seg.minutes) and seg.minutes > 0):
            raise ValueError(f"segment {i}: minutes must be positive")
        if seg.rmssd_factor is not None and not seg.rmssd_factor > 0:
            raise ValueError(f"segment {i}: rmssd_factor must be positive")
    for i in range(1, len(sc.faults) + 1):
        problem = _fault_problem(sc.faults[:i], sc.duration_s)
        if problem is not None:
            raise ValueError(f"fault {i}: at_min {sc.faults[i - 1].at_min:g} {problem}")


# ----------------------------------------------------------------------------------------
# Simulation


@dataclass(frozen=True, slots=True)
class _Drawn:
    kind: SegmentKind
    start_s: float
    end_s: float
    hr_delta_bpm: float  # over the person's rest
    rmssd_factor: float  # of the person's rest RMSSD
    onset_s: float  # the move into this segment (the previous one's recovery if it has one)
    recovery_s: float | None
    breaths_per_min: float
    irregularity: float
    fast_recovery: bool
    rise_bpm: float  # stress: over the level before it; others: hr_delta_bpm
    rise_factor: float  # stress: of the level before it; others: rmssd_factor


def _draw_segments(sc: Scenario, rng: np.random.Generator) -> list[_Drawn]:
    out: list[_Drawn] = []
    t = 0.0
    for seg in sc.segments:
        spec = KIND_SPECS[seg.kind]
        # Draw every value, used or not, so an override never shifts later draws.
        hr = float(rng.uniform(*spec.hr_delta_bpm))
        rf = float(rng.uniform(*spec.rmssd_factor))
        onset = float(rng.uniform(*spec.onset_min))
        rec = float(rng.uniform(*spec.recovery_min)) if spec.recovery_min else None
        br = float(rng.uniform(*spec.breathing)) * sc.person.breaths_per_min
        if seg.kind is SegmentKind.WAKING:
            onset = seg.minutes
        rise = seg.hr_delta_bpm if seg.hr_delta_bpm is not None else hr
        factor = seg.rmssd_factor if seg.rmssd_factor is not None else rf
        prev = out[-1] if out else None
        base_hr, base_f = (prev.hr_delta_bpm, prev.rmssd_factor) if prev else (0.0, 1.0)
        if seg.kind is not SegmentKind.STRESS:
            base_hr, base_f = 0.0, 1.0
        onset_s = 60.0 * (seg.onset_min if seg.onset_min is not None else onset)
        if prev is not None and prev.recovery_s is not None:
            onset_s = prev.recovery_s
        end = t + 60.0 * seg.minutes
        out.append(
            _Drawn(
                kind=seg.kind,
                start_s=t,
                end_s=end,
                hr_delta_bpm=base_hr + rise,
                rmssd_factor=base_f * factor,
                onset_s=onset_s,
                recovery_s=(
                    60.0 * seg.recovery_min
                    if seg.recovery_min is not None
                    else (60.0 * rec if rec is not None else None)
                ),
                breaths_per_min=(seg.breaths_per_min if seg.breaths_per_min is not None else br),
                irregularity=spec.irregularity,
                fast_recovery=spec.fast_recovery,
                rise_bpm=rise,
                rise_factor=factor,
            )
        )
        t = end
    return out


def _smoothstep(u: F64) -> F64:
    u = np.clip(u, 0.0, 1.0)
    out: F64 = u * u * (3.0 - 2.0 * u)
    return out


def _ramp(tau: F64, length_s: float) -> F64:
    if length_s <= 0.0:
        return np.ones_like(tau)
    return _smoothstep(tau / length_s)


def _recovery(tau: F64, length_s: float, fast: bool) -> F64:
    """Progress 0→1 of a return over ``length_s``: exponential, reaching 1 at the end;
    ``fast`` adds a first phase (time constant min(60 s, length/3)) carrying half of it."""
    if length_s <= 0.0:
        return np.ones_like(tau)
    tau = np.clip(tau, 0.0, length_s)
    slow_tc = length_s / 3.0

    def p(x: F64) -> F64:
        slow = np.exp(-x / slow_tc)
        if fast:
            out: F64 = 1.0 - 0.5 * np.exp(-x / min(60.0, slow_tc)) - 0.5 * slow
            return out
        return 1.0 - slow

    end = float(p(np.array([length_s]))[0])
    return np.minimum(p(tau) / end, 1.0)


_CHANNELS = ("hr", "lnf", "br", "irr")


def _levels(drawn: list[_Drawn], t: F64) -> dict[str, F64]:
    """Per-sample heart-rate delta (bpm), ln RMSSD factor, breathing rate (per minute) and
    breathing irregularity, moved between segments by onset ramps or recoveries."""
    out = {c: np.empty(t.size) for c in _CHANNELS}
    bounds = np.array([d.start_s for d in drawn] + [drawn[-1].end_s])
    first = np.searchsorted(t, bounds[:-1], side="left")
    last = np.searchsorted(t, bounds[1:], side="left")
    last[-1] = t.size
    state: dict[str, float] = {}
    for i, d in enumerate(drawn):
        target = {
            "hr": d.hr_delta_bpm,
            "lnf": math.log(d.rmssd_factor),
            "br": d.breaths_per_min,
            "irr": d.irregularity,
        }
        if i == 0:
            state = dict(target)
        tau = t[first[i] : last[i]] - d.start_s
        tau_end = np.array([d.end_s - d.start_s])
        prev = drawn[i - 1] if i else None
        progress: dict[str, tuple[F64, float]] = {}
        if prev is not None and prev.recovery_s is not None:
            for c in _CHANNELS:
                fast = prev.fast_recovery and c != "lnf"
                progress[c] = (
                    _recovery(tau, prev.recovery_s, fast),
                    float(_recovery(tau_end, prev.recovery_s, fast)[0]),
                )
        else:
            p = _ramp(tau, d.onset_s)
            pe = float(_ramp(tau_end, d.onset_s)[0])
            progress = {c: (p, pe) for c in _CHANNELS}
        for c in _CHANNELS:
            p_c, p_end = progress[c]
            out[c][first[i] : last[i]] = state[c] + (target[c] - state[c]) * p_c
            state[c] = state[c] + (target[c] - state[c]) * p_end
    return out


def _colored(rng: np.random.Generator, n: int, lo_hz: float, hi_hz: float, exponent: float) -> F64:
    """Gaussian noise of unit variance with power ∝ 1/f^exponent between lo and hi Hz."""
    white = rng.standard_normal(n)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1.0 / FS_HZ)
    band = (f >= lo_hz) & (f <= hi_hz) & (f > 0)
    gain = np.zeros(f.size)
    gain[band] = f[band] ** (-exponent / 2.0)
    x = np.fft.irfft(spec * gain, n)
    sd = float(np.std(x))
    return x / sd if sd > 0 else np.zeros(n)


@lru_cache(maxsize=1)
def _pink_diff_table() -> tuple[F64, F64]:
    """Variance of successive RR differences per unit pink-noise variance, by RR (s).

    For a component with spectrum S(f), IPFM intervals RR apart have successive differences
    of variance ∫ S(f)·4·sin²(π f RR)·sinc²(f RR) df.
    """
    f = np.geomspace(*PINK_BAND_HZ, 4000)
    df = np.gradient(f)
    s = df / f
    s /= s.sum()
    rr = np.linspace(0.2, 3.0, 561)
    # The kernel (561 x 4000) is filled a few rows at a time: the same values, without the
    # five full-size temporaries of one expression (about 90 MB at once).
    kernel = np.empty((rr.size, f.size))
    for a in range(0, rr.size, 32):
        x = np.outer(rr[a : a + 32], f)
        kernel[a : a + 32] = 4.0 * np.sin(np.pi * x) ** 2 * np.sinc(x) ** 2
    g = kernel @ s
    return rr, g


def _sine_diff_var(amp: F64, f_hz: F64, rr_s: F64) -> F64:
    """Variance of successive IPFM differences from a sinusoid of amplitude ``amp`` (ms)."""
    x = f_hz * rr_s
    out: F64 = 2.0 * amp**2 * np.sin(np.pi * x) ** 2 * np.sinc(x) ** 2
    return out


def _sleep_cycles(drawn: list[_Drawn], rng: np.random.Generator) -> list[tuple[float, float]]:
    """REM periods inside sleep segments: the first 60–75 min after falling asleep, lasting
    8–15 min, then every 85–100 min lasting 15–30 min (Carskadon & Dement 2011)."""
    periods: list[tuple[float, float]] = []
    for d in drawn:
        if d.kind is not SegmentKind.SLEEP:
            continue
        first = d.start_s + d.onset_s + 60.0 * float(rng.uniform(60.0, 75.0))
        length = 60.0 * float(rng.uniform(8.0, 15.0))
        start = first
        while start + 120.0 < d.end_s:
            periods.append((start, min(start + length, d.end_s)))
            start = start + 60.0 * float(rng.uniform(85.0, 100.0))
            length = 60.0 * float(rng.uniform(15.0, 30.0))
    return periods


def _trapezoid(t: F64, periods: list[tuple[float, float]], edge_s: float) -> F64:
    out = np.zeros(t.size)
    for a, b in periods:
        up = np.clip((t - a) / edge_s, 0.0, 1.0)
        down = np.clip((b - t) / edge_s, 0.0, 1.0)
        out = np.maximum(out, np.minimum(up, down))
    return out


def _beat_times(
    sc: Scenario, drawn: list[_Drawn], seed_seq: np.random.SeedSequence
) -> tuple[F64, list[tuple[float, float]]]:
    """True beat times in seconds (IPFM), and the REM periods."""
    g_noise, g_sleep = (np.random.default_rng(s) for s in seed_seq.spawn(2))
    duration = sc.duration_s
    n = math.ceil(duration * FS_HZ) + 2
    t = np.arange(n) / FS_HZ
    lv = _levels(drawn, t)
    rem_periods = _sleep_cycles(drawn, g_sleep)
    if rem_periods:
        rem = _trapezoid(t, rem_periods, 120.0)
        lv["hr"] = lv["hr"] + 5.0 * rem
        lv["lnf"] = lv["lnf"] + math.log(0.8) * rem
        lv["irr"] = lv["irr"] + 0.2 * rem
        del rem
    hr = sc.person.hr_bpm + lv["hr"]
    lnf = lv["lnf"]
    if sc.start_hour is not None:
        phase = 2.0 * np.pi * (sc.start_hour + t / 3600.0 - CIRCADIAN_PEAK_HOUR) / 24.0
        hr = hr + CIRCADIAN_HR_BPM * np.cos(phase)
        lnf = lnf - CIRCADIAN_LN_RMSSD * np.cos(phase)
        del phase
    hr = hr + WANDER_BPM * _colored(g_noise, n, 1.0 / 3600.0, 1.0 / 120.0, 1.0)
    rr0 = 60000.0 / np.maximum(hr, 25.0)  # ms
    rr0_s = rr0 / 1000.0
    factor = np.exp(lnf)
    target = sc.person.rmssd_ms * factor
    vagal = np.sqrt(factor)
    # A day is a few hundred thousand samples a series: series are dropped once used, so
    # a simulated day does not hold thirty of them at once.
    del hr, lnf, factor, lv["hr"], lv["lnf"]

    # Breathing: rate and depth vary breath to breath (more awake, little asleep).
    irr = lv["irr"]
    f_resp = lv["br"] / 60.0
    f_inst = f_resp * np.exp(irr * _colored(g_noise, n, 0.01, 0.08, 0.0) - 0.5 * irr * irr)
    ph_resp = float(g_noise.uniform(0, 2 * np.pi)) + 2.0 * np.pi * np.cumsum(f_inst) / FS_HZ
    del f_inst
    depth = np.exp(irr * _colored(g_noise, n, 0.01, 0.1, 0.0) - irr * irr)
    del irr, lv
    # Mayer wave.
    f_lf = LF_HZ * np.exp(0.08 * _colored(g_noise, n, 0.002, 0.02, 0.0))
    ph_lf = float(g_noise.uniform(0, 2 * np.pi)) + 2.0 * np.pi * np.cumsum(f_lf) / FS_HZ
    del f_lf
    lf_depth = np.exp(0.3 * _colored(g_noise, n, 0.002, 0.03, 0.0) - 0.09)
    a_lf = LF_REL * sc.person.rmssd_ms * vagal
    # Pink noise.
    sd_pink = PINK_REL * sc.person.rmssd_ms * vagal
    pink = _colored(g_noise, n, *PINK_BAND_HZ, 1.0)
    del vagal

    tab_rr, tab_g = _pink_diff_table()
    other = (
        _sine_diff_var(a_lf, np.full(n, LF_HZ), rr0_s)
        + sd_pink**2 * np.interp(rr0_s, tab_rr, tab_g)
        + _QUANT_VAR
    )
    target = RMSSD_GAIN * target
    rsa_var = np.maximum(target**2 - other, (0.3 * target) ** 2)
    del target, other
    unit = np.sqrt(_sine_diff_var(np.ones(n), f_resp, rr0_s))
    del f_resp, rr0_s
    a_rsa = np.sqrt(rsa_var) / unit
    del rsa_var, unit
    # Mean heart rate per beat is the beat-weighted mean of the rate, about
    # (1 + 2·var/rr0²)/rr0 for RR varying by var around rr0: lengthen rr0 to match.
    var_total = 0.5 * a_rsa**2 + 0.5 * a_lf**2 + sd_pink**2
    rr0 = rr0 + 2.0 * var_total / rr0

    rr_inst = (
        rr0 + a_rsa * depth * np.sin(ph_resp) + a_lf * lf_depth * np.sin(ph_lf) + sd_pink * pink
    )
    del rr0, a_rsa, depth, ph_resp, a_lf, lf_depth, ph_lf, sd_pink, pink, var_total
    rate = 1000.0 / np.maximum(rr_inst, 200.0)  # beats per second
    del rr_inst
    integral = np.concatenate(([0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1])) / FS_HZ))
    del rate
    beats = np.arange(1.0, math.floor(integral[-1]) + 1.0)
    times = np.interp(beats, integral, t)
    return times[times <= duration], rem_periods


@dataclass(slots=True)
class _Event:
    kind: FaultKind
    lo_s: float  # the interval(s) affected end in (lo, hi]
    hi_s: float
    start_s: float
    end_s: float
    extra: dict[str, Any] = field(default_factory=dict)


_MIN_SEP_S = 0.04


def _apply_point(
    kind: FaultKind, bt: F64, tau: float, rng: np.random.Generator
) -> tuple[F64, _Event] | None:
    i = int(np.searchsorted(bt, tau))
    if i < 1 or i + 1 >= bt.size:
        return None
    prev, cur, nxt = float(bt[i - 1]), float(bt[i]), float(bt[i + 1])
    rr = cur - prev
    if kind is FaultKind.ECTOPIC:
        c = float(rng.uniform(0.2, 0.35))
        bt = bt.copy()
        bt[i] = cur - c * rr
        return bt, _Event(kind, prev, nxt, prev, nxt, {"prematurity": c})
    if kind is FaultKind.MISSED:
        return np.delete(bt, i), _Event(kind, prev, nxt, prev, nxt)
    u = float(rng.uniform(0.3, 0.7))
    return np.insert(bt, i, prev + u * rr), _Event(kind, prev, cur, prev, cur)


def _apply_loose(
    bt: F64, a: float, b: float, rng: np.random.Generator
) -> tuple[F64, _Event] | None:
    """A loose strap over [a, b) s: detections jitter (±30 ms), 15 % of beats are missed,
    a spurious detection splits a quarter of the intervals, one run of missed beats gives an
    interval over 2.5 s and one spurious detection 60–200 ms after a beat one under 250 ms.
    The beats just outside the burst stay where they are, so the time axis is kept."""
    i0 = int(np.searchsorted(bt, a))
    i1 = int(np.searchsorted(bt, b))
    if i0 < 1 or i1 >= bt.size or i1 - i0 < 4:
        return None
    lo, hi = float(bt[i0 - 1]), float(bt[i1])
    w = bt[i0:i1]
    n = w.size
    keep = rng.random(n) > 0.15
    jit = np.clip(rng.normal(0.0, 0.03, n), -0.08, 0.08)
    # The run of missed beats: from beat j-1 to the first beat over 2.75 s later.
    j = int(rng.integers(0, max(1, n // 2)))
    before = lo if j == 0 else float(w[j - 1])
    k = j
    while k < n and float(w[k]) - before < 2.75:
        k += 1
    keep[j:k] = False
    if j > 0:
        jit[j - 1] = 0.0
    if k < n:
        jit[k] = 0.0
    run_lo, run_hi = before, (hi if k == n else float(w[k]))
    det = (w + jit)[keep].tolist()
    prevs = np.concatenate(([lo], w[:-1]))
    split = rng.random(n) < 0.25
    where = rng.uniform(0.15, 0.85, n)
    for m in np.flatnonzero(split).tolist():
        x = float(prevs[m] + where[m] * (w[m] - prevs[m]))
        if not run_lo - 0.05 < x < run_hi + 0.05:
            det.append(x)
    det.sort()
    clean: list[float] = []
    last = lo
    for x in det:
        if x - last >= _MIN_SEP_S and hi - x >= _MIN_SEP_S:
            clean.append(x)
            last = x
    # The spurious detection just after a beat with room behind it, outside the run.
    nxt = [*clean[1:], hi]
    room = [
        m
        for m, x in enumerate(clean)
        if nxt[m] - x > 0.3 and not run_lo - 0.01 <= x <= run_hi + 0.01
    ]
    if room:
        m = room[int(rng.integers(0, len(room)))]
        clean.insert(m + 1, clean[m] + float(rng.uniform(0.06, 0.2)))
    new = np.concatenate((bt[:i0], np.array(clean), bt[i1:]))
    return new, _Event(FaultKind.LOOSE_STRAP, lo, hi, a, b)


def _ticks(x: F64 | float) -> Any:
    return np.rint(np.asarray(x) * TICKS_PER_S).astype(np.int64)


def _apply_faults(
    sc: Scenario, bt: F64, rng: np.random.Generator
) -> tuple[F64, list[_Event], list[tuple[float, float]]]:
    """Faults that keep the time axis (all but dropout) applied to beat times; the events,
    and the dropout stretches (start, end) in s."""
    events: list[_Event] = []
    dropouts: list[tuple[float, float]] = []
    for fault in sorted(sc.faults, key=lambda f: f.at_min):
        at = 60.0 * fault.at_min
        if fault.kind in _POINT_FAULTS:
            tau = at
            for m in range(fault.count):
                if m:
                    tau += float(rng.uniform(*_POINT_SPACING_S))
                done = _apply_point(fault.kind, bt, tau, rng)
                if done is not None:
                    bt, ev = done
                    events.append(ev)
            continue
        length = (
            fault.duration_s
            if fault.duration_s is not None
            else float(rng.uniform(*_DEFAULT_DURATION_S[fault.kind]))
        )
        if fault.kind is FaultKind.DROPOUT:
            dropouts.append((at, at + length))
            continue
        loose = _apply_loose(bt, at, at + length, rng)
        if loose is not None:
            bt, ev = loose
            events.append(ev)
    return bt, events, dropouts


#: Per-second movement (mg) of the kinds that move: the range a segment's level is drawn
#: from (a cadence: a slow walk or a brisk one).
MOVING_MG: Mapping[SegmentKind, tuple[float, float]] = {
    SegmentKind.WALK: (120.0, 250.0),
    SegmentKind.STAIRS: (200.0, 350.0),
    SegmentKind.EXERCISE: (150.0, 400.0),
}
#: Still: sitting, lying, at a desk (breathing moves the chest a few mg).
STILL_MG = (2.0, 8.0)
#: Standing after getting up: the body's sway.
SWAY_MG = (5.0, 15.0)
#: Getting up: a burst of this many seconds at this movement.
STAND_UP_S = (3, 6)
STAND_UP_MG = (150.0, 350.0)
#: Fidgeting while still: a second or two at this movement, starting in a given second with
#: this chance (awake; asleep a quarter of it).
FIDGET_MG = (20.0, 60.0)
FIDGET_CHANCE = 1.0 / 90.0


def _movement(
    sc: Scenario, drawn: list[_Drawn], rng: np.random.Generator, dropouts: list[tuple[float, float]]
) -> F64:
    """Per-second movement (mg) for the whole scenario (module doc); NaN in dropouts."""
    n = math.ceil(sc.duration_s)
    out = np.empty(n)
    for d in drawn:
        a, b = min(n, math.ceil(d.start_s)), min(n, math.ceil(d.end_s))
        k = b - a
        if k <= 0:
            continue
        if d.kind in MOVING_MG:
            level = float(rng.uniform(*MOVING_MG[d.kind]))
            lo, hi = MOVING_MG[d.kind]
            out[a:b] = np.clip(level * (1.0 + 0.12 * rng.standard_normal(k)), lo, hi)
            continue
        sway = d.kind is SegmentKind.POSTURE
        out[a:b] = rng.uniform(*(SWAY_MG if sway else STILL_MG), k)
        chance = FIDGET_CHANCE * (0.25 if d.kind is SegmentKind.SLEEP else 1.0)
        starts = np.flatnonzero(rng.random(k) < chance)
        lengths = rng.integers(1, 3, starts.size)
        levels = rng.uniform(*FIDGET_MG, starts.size)
        for s0, ln, lv in zip(starts.tolist(), lengths.tolist(), levels.tolist(), strict=True):
            out[a + s0 : min(b, a + s0 + ln)] = lv
        if sway:
            burst = min(k, int(rng.integers(STAND_UP_S[0], STAND_UP_S[1] + 1)))
            out[a : a + burst] = rng.uniform(*STAND_UP_MG, burst)
    for lo_s, hi_s in dropouts:
        # A second is lost when any of it falls in the dropout.
        out[max(0, math.floor(lo_s)) : min(n, math.ceil(hi_s))] = np.nan
    return out


def simulate(scenario: Scenario, seed: int) -> SimResult:
    """RR intervals and ground truth for ``scenario``; deterministic for a ``seed`` >= 0.

    Pure: no clock, no IO. Random draws come from numpy generators spawned from
    ``SeedSequence(seed)``: one for the segments' values, one for the signal, one for the
    faults, so adding a fault leaves the physiology as it was, and a fourth for the
    movement (``movement_mg``), so the intervals are what they were before it.

    ``truth`` (JSON-able): ``scenario``, ``seed``, ``duration_s``, ``person``,
    ``start_hour``, ``n_beats``, ``segments`` (kind, start_s, end_s, hr_delta_bpm,
    rmssd_factor, onset_s, recovery_s, breaths_per_min), ``faults`` (kind, start_s, end_s,
    rr_start and rr_stop: the slice of ``rr_ms`` the fault changed, empty at a dropout's
    place; a dropout also has beats_removed and removed_s; a loose strap out_of_range, the
    number of its intervals outside 250–2500 ms), ``stress_episodes`` (start_s — the start
    of the onset ramp —, end_s, onset_s, recovery_s, hr_delta_bpm, rmssd_factor),
    ``exercise_bouts`` (start_s, end_s, recovery_end_s, hr_delta_bpm, rmssd_factor) and
    ``rem_periods`` (start_s, end_s: REM sleep inside sleep segments). Every time is in
    seconds on the true clock (``*_s``) and also on the plain file's cumulative-RR axis
    (``file_*_s``): the true time minus the RR intervals lost in dropouts before it, so
    the two are equal before the first dropout.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, not {seed!r}")
    _check_scenario(scenario)
    ss = np.random.SeedSequence(int(seed))
    # The first three children are what they were before the fourth (movement) was added.
    s_seg, s_signal, s_fault, s_motion = ss.spawn(4)
    drawn = _draw_segments(scenario, np.random.default_rng(s_seg))
    bt, rem_periods = _beat_times(scenario, drawn, s_signal)
    bt, events, dropouts = _apply_faults(scenario, bt, np.random.default_rng(s_fault))
    movement = _movement(scenario, drawn, np.random.default_rng(s_motion), dropouts)

    ticks = _ticks(bt)
    if ticks.size and (ticks[0] < 1 or np.any(np.diff(ticks) < 1)):  # pragma: no cover
        raise AssertionError("beat times are not increasing")
    rr_all = np.diff(np.concatenate(([0], ticks))).astype(np.float64) * TICK_MS
    t_all = ticks.astype(np.float64) * TICK_MS
    lost = np.zeros(ticks.size, dtype=np.bool_)
    drop_info: list[tuple[float, float, int, float]] = []
    for a, b in dropouts:
        inside = (t_all >= 1000.0 * a) & (t_all < 1000.0 * b)
        lost |= inside
        drop_info.append((a, b, int(inside.sum()), float(rr_all[inside].sum()) / 1000.0))
    rr_ms = rr_all[~lost]
    t_ms = t_all[~lost]
    lost_t_s = t_all[lost] / 1000.0
    lost_cum_s = np.concatenate(([0.0], np.cumsum(rr_all[lost]) / 1000.0))

    def file_s(x: float) -> float:
        k = int(np.searchsorted(lost_t_s, x, side="right"))
        return float(x - lost_cum_s[k])

    def span(a: float, b: float) -> dict[str, float]:
        return {"start_s": a, "end_s": b, "file_start_s": file_s(a), "file_end_s": file_s(b)}

    def q(x: float) -> float:
        return float(_ticks(x)) / TICKS_PER_S

    def rr_slice(lo_s: float, hi_s: float) -> tuple[int, int]:
        lo_ms, hi_ms = q(lo_s) * 1000.0, q(hi_s) * 1000.0
        return (
            int(np.searchsorted(t_ms, lo_ms, side="right")),
            int(np.searchsorted(t_ms, hi_ms, side="right")),
        )

    faults: list[dict[str, Any]] = []
    for ev in events:
        r0, r1 = rr_slice(ev.lo_s, ev.hi_s)
        entry: dict[str, Any] = {"kind": ev.kind.value, **span(q(ev.start_s), q(ev.end_s))}
        entry.update(rr_start=r0, rr_stop=r1, **ev.extra)
        if ev.kind is FaultKind.LOOSE_STRAP:
            part = rr_ms[r0:r1]
            entry["out_of_range"] = int(np.sum((part < 250.0) | (part > 2500.0)))
        faults.append(entry)
    for a, b, nlost, lost_s in drop_info:
        r = int(np.searchsorted(t_ms, 1000.0 * a, side="left"))
        faults.append(
            {
                "kind": "dropout",
                **span(a, b),
                "rr_start": r,
                "rr_stop": r,
                "beats_removed": nlost,
                "removed_s": lost_s,
            }
        )
    faults.sort(key=lambda e: (e["start_s"], e["kind"]))

    segments: list[dict[str, Any]] = []
    stress: list[dict[str, Any]] = []
    exercise: list[dict[str, Any]] = []
    for d in drawn:
        segments.append(
            {
                "kind": d.kind.value,
                **span(d.start_s, d.end_s),
                "hr_delta_bpm": d.hr_delta_bpm,
                "rmssd_factor": d.rmssd_factor,
                "onset_s": d.onset_s,
                "recovery_s": d.recovery_s,
                "breaths_per_min": d.breaths_per_min,
            }
        )
        if d.kind is SegmentKind.STRESS:
            stress.append(
                {
                    **span(d.start_s, d.end_s),
                    "onset_s": d.onset_s,
                    "recovery_s": d.recovery_s,
                    "hr_delta_bpm": d.rise_bpm,
                    "rmssd_factor": d.rise_factor,
                    "rest_hr_delta_bpm": d.hr_delta_bpm,
                    "rest_rmssd_factor": d.rmssd_factor,
                }
            )
        elif d.kind is SegmentKind.EXERCISE:
            rec_end = min(d.end_s + (d.recovery_s or 0.0), scenario.duration_s)
            exercise.append(
                {
                    **span(d.start_s, d.end_s),
                    "recovery_end_s": rec_end,
                    "file_recovery_end_s": file_s(rec_end),
                    "hr_delta_bpm": d.hr_delta_bpm,
                    "rmssd_factor": d.rmssd_factor,
                }
            )
    p = scenario.person
    truth: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": int(seed),
        "duration_s": scenario.duration_s,
        "person": {
            "hr_bpm": p.hr_bpm,
            "rmssd_ms": p.rmssd_ms,
            "breaths_per_min": p.breaths_per_min,
        },
        "start_hour": scenario.start_hour,
        "n_beats": int(rr_ms.size),
        "segments": segments,
        "faults": faults,
        "stress_episodes": stress,
        "exercise_bouts": exercise,
        "rem_periods": [span(a, b) for a, b in rem_periods],
    }
    return SimResult(rr_ms, t_ms, truth, movement)


def iter_chunks(scenario: Scenario, seed: int, chunk_s: float = 60.0) -> Iterator[tuple[F64, F64]]:
    """``simulate(scenario, seed)``'s (rr_ms, t_ms) in pieces of ``chunk_s`` seconds of true
    time, in order; a piece is empty where no beat fell (a dropout). Concatenated, the
    pieces equal the whole arrays."""
    if not (math.isfinite(chunk_s) and chunk_s > 0):
        raise ValueError("chunk_s must be a positive number of seconds")
    res = simulate(scenario, seed)
    yield from _chunks(res.rr_ms, res.t_ms, scenario.duration_s, chunk_s, 0.0)


def iter_motion_chunks(
    scenario: Scenario, seed: int, chunk_s: float = 60.0
) -> Iterator[tuple[F64, F64, F64, F64]]:
    """As :func:`iter_chunks`, each piece with its seconds of movement: ``(rr_ms, t_ms,
    movement_end_ms, movement_mg)``, a second in the piece its end falls in (the same rule
    as a beat's time)."""
    if not (math.isfinite(chunk_s) and chunk_s > 0):
        raise ValueError("chunk_s must be a positive number of seconds")
    res = simulate(scenario, seed)
    yield from _motion_chunks(res, scenario.duration_s, chunk_s, 0.0, None)


def _chunks(
    rr: F64, t: F64, duration_s: float, chunk_s: float, offset_ms: float
) -> Iterator[tuple[F64, F64]]:
    n = max(1, math.ceil(duration_s / chunk_s))
    edges = np.searchsorted(t, 1000.0 * chunk_s * np.arange(1, n), side="right")
    bounds = [0, *edges.tolist(), rr.size]
    for a, b in itertools.pairwise(bounds):
        yield rr[a:b].copy(), t[a:b] + offset_ms


def _motion_chunks(
    res: SimResult, duration_s: float, chunk_s: float, offset_ms: float, until_ms: float | None
) -> Iterator[tuple[F64, F64, F64, F64]]:
    """``_chunks`` of ``res`` with its movement; seconds ending after ``until_ms`` (own
    clock) are left out."""
    m_end, m_mg = res.movement_track()
    if until_ms is not None:
        keep = m_end <= until_ms
        m_end, m_mg = m_end[keep], m_mg[keep]
    n = max(1, math.ceil(duration_s / chunk_s))
    edges = np.searchsorted(m_end, 1000.0 * chunk_s * np.arange(1, n), side="right")
    bounds = [0, *edges.tolist(), m_end.size]
    pieces = _chunks(res.rr_ms, res.t_ms, duration_s, chunk_s, offset_ms)
    for (rr, t), (a, b) in zip(pieces, itertools.pairwise(bounds), strict=True):
        yield rr, t, m_end[a:b] + offset_ms, m_mg[a:b].copy()


def _give_back_memory() -> None:
    """Hand the heap a simulated day used and freed back to the system (glibc's
    ``malloc_trim``): making a day takes tens of MB for a moment, and a long-running daemon
    on the simulator should not keep them. Without glibc, nothing."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def endless_day(
    seed: int, scenario: Scenario | None = None, chunk_s: float = 60.0
) -> Iterator[tuple[F64, F64]]:
    """Day after day of ``scenario`` (default: the built-in ``ordinary_day``) as (rr_ms,
    t_ms) pieces of ``chunk_s`` seconds; never ends.

    Day 0 is ``simulate(scenario, seed)``; day d > 0 uses the seed
    ``SeedSequence([seed, d]).generate_state(1)[0]``. Each day starts where the previous
    one's last beat was, so ``t_ms`` keeps increasing and, without dropouts, still equals
    the running sum of the intervals.
    """
    for rr, t, _me, _mg in _endless(seed, scenario, chunk_s):
        yield rr, t


def endless_motion_day(
    seed: int, scenario: Scenario | None = None, chunk_s: float = 60.0
) -> Iterator[tuple[F64, F64, F64, F64]]:
    """:func:`endless_day` with each piece's seconds of movement (as
    :func:`iter_motion_chunks`); a day's movement ends with its last beat, where the next
    day begins."""
    yield from _endless(seed, scenario, chunk_s)


def _endless(
    seed: int, scenario: Scenario | None, chunk_s: float
) -> Iterator[tuple[F64, F64, F64, F64]]:
    sc = scenario if scenario is not None else load_scenario("ordinary_day")
    offset_ms = 0.0
    day = 0
    while True:
        day_seed = (
            seed if day == 0 else int(np.random.SeedSequence([seed, day]).generate_state(1)[0])
        )
        res = simulate(sc, day_seed)
        _give_back_memory()
        last = float(res.t_ms[-1]) if res.t_ms.size else 0.0
        yield from _motion_chunks(res, sc.duration_s, chunk_s, offset_ms, last)
        offset_ms += last
        day += 1


# ----------------------------------------------------------------------------------------
# Command line


def _seed_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def _start_arg(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date-time (e.g. 2026-01-05T09:00:00)"
        ) from None


def write_rr(
    out: TextIO,
    result: SimResult,
    *,
    timestamps: bool = False,
    start: datetime = DEFAULT_START,
    comment: str | None = None,
) -> None:
    """Write ``result`` as an RR file ``kindpulse analyze`` reads.

    Plain: one interval per line in ms, ``repr`` of the float (exact: every interval is a
    multiple of 1/1024 s, at most 7 decimals). With ``timestamps``: a CSV
    ``timestamp,rr_ms`` whose timestamp is the beat's true time, ``start + t_ms``, in ISO
    8601 truncated to the millisecond, with ``start``'s UTC offset if it has one (none: the
    reader takes it as local time). ``comment`` becomes a first ``# `` line.
    """
    if comment is not None:
        out.write(f"# {comment}\n")
    if not timestamps:
        out.write("\n".join(map(repr, result.rr_ms.tolist())))
        if result.rr_ms.size:
            out.write("\n")
        return
    out.write("timestamp,rr_ms\n")
    micros = np.rint(result.t_ms * 1000.0).astype(np.int64).tolist()
    rows = [
        f"{(start + timedelta(microseconds=us)).isoformat(timespec='milliseconds')},{rr!r}"
        for us, rr in zip(micros, result.rr_ms.tolist(), strict=True)
    ]
    out.write("\n".join(rows))
    if rows:
        out.write("\n")


def write_movement(
    out: TextIO, result: SimResult, *, timestamps: bool = False, start: datetime = DEFAULT_START
) -> None:
    """Write ``result``'s movement, one row a second: ``t_s,movement_mg`` (the second's end
    in seconds on the true clock) or, with ``timestamps``, ``timestamp,movement_mg`` (ISO
    8601 as :func:`write_rr` writes it). Seconds inside a dropout have no row."""
    ends, mg = result.movement_track()
    if timestamps:
        out.write("timestamp,movement_mg\n")
        for e, v in zip(ends.tolist(), mg.tolist(), strict=True):
            when = (start + timedelta(milliseconds=e)).isoformat(timespec="milliseconds")
            out.write(f"{when},{v:.2f}\n")
    else:
        out.write("t_s,movement_mg\n")
        for e, v in zip(ends.tolist(), mg.tolist(), strict=True):
            out.write(f"{e / 1000.0:g},{v:.2f}\n")


def _open_out(path: str) -> TextIO:
    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as e:
        raise UsageError(f"cannot create {path}: {e.strerror or e}") from None


def cmd_simulate(args: argparse.Namespace) -> int:
    """``kindpulse simulate``: write a simulated RR file (and its truth)."""
    if args.out == "-" and args.truth == "-":
        raise UsageError("--out and --truth cannot both be '-' (stdout)")
    sc = load_scenario(args.scenario)
    start: datetime | None = args.start
    if start is None:
        start = DEFAULT_START
        if sc.start_hour is not None:
            start = DEFAULT_START.replace(hour=0) + timedelta(hours=sc.start_hour)
    result = simulate(sc, args.seed)
    comment = f"kindpulse simulate scenario={sc.name} seed={args.seed}"
    if args.timestamps:
        comment += f" start={start.isoformat()}"
    truth = dict(result.truth)
    if args.timestamps:
        truth["start"] = start.isoformat()
    if args.out == "-":
        write_rr(sys.stdout, result, timestamps=args.timestamps, start=start, comment=comment)
        sys.stdout.flush()
    else:
        with _open_out(args.out) as f:
            write_rr(f, result, timestamps=args.timestamps, start=start, comment=comment)
    movement = getattr(args, "movement", None)
    if movement is not None:
        with _open_out(movement) as f:
            write_movement(f, result, timestamps=args.timestamps, start=start)
    if args.truth is not None:
        text = json.dumps(truth, indent=1, allow_nan=False) + "\n"
        if args.truth == "-":
            sys.stdout.write(text)
        else:
            with _open_out(args.truth) as f:
                f.write(text)
    return 0


def add_simulate_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register ``simulate`` on the ``kindpulse`` command line (sets ``handler``)."""
    names = ", ".join(builtin_scenarios())
    p = subparsers.add_parser(
        "simulate",
        help="write a simulated RR recording with its ground truth",
        description="Simulate a wearer (heart rate, HRV, breathing, stress, exercise, sleep) "
        "and recording faults, and write the RR intervals as a file 'kindpulse analyze' "
        "reads: one interval per line in ms, written exactly (Python repr; intervals are "
        "multiples of 1/1024 s), after a '# kindpulse simulate scenario=... seed=...' "
        "line. The same scenario and seed always give the same file.",
    )
    p.add_argument(
        "--scenario",
        required=True,
        metavar="NAME|FILE",
        help=f"a built-in scenario ({names}) or a scenario TOML file",
    )
    p.add_argument(
        "--seed",
        type=_seed_arg,
        default=0,
        metavar="N",
        help="random seed, a whole number >= 0 (default 0)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the RR file to write ('-' for stdout; an existing file is replaced)",
    )
    p.add_argument(
        "--truth",
        default=None,
        metavar="FILE",
        help="also write the ground truth as JSON (segments, faults, stress "
        "episodes, exercise bouts; '-' for stdout)",
    )
    p.add_argument(
        "--movement",
        default=None,
        metavar="FILE",
        help="also write the simulated movement, one row a second: 't_s,movement_mg' "
        "(with --timestamps 'timestamp,movement_mg'; mg as a strap's accelerometer gives "
        "it, no row inside a dropout)",
    )
    p.add_argument(
        "--timestamps",
        action="store_true",
        help="write CSV 'timestamp,rr_ms' with each beat's ISO 8601 time, so "
        "dropouts show as jumps",
    )
    p.add_argument(
        "--start",
        type=_start_arg,
        default=None,
        metavar="ISO8601",
        help="wall-clock time of the start for --timestamps (default "
        "2026-01-05 at the scenario's start_hour, else 2026-01-05T09:00:00; "
        "without a UTC offset the times are written without one, i.e. local time)",
    )
    p.set_defaults(handler=cmd_simulate)
