"""Sustained-stress detection from scoring windows: a personal baseline, one state per window,
and episodes with a plain-words explanation.

Pure: windows in, dataclasses out; time is the windows' own ``end_s``. Deterministic given
the windows, the configuration and the starting baseline.

The physiology it leans on (DESIGN.md, "Stress detection"):

* Stress is sympathetic up and vagal down: ln RMSSD clearly below this person's usual AND
  heart rate above it, judged as robust z-scores against a personal baseline (median and
  MAD), never against population norms (Nunan et al. 2010 norms are only the prior that
  decides what counts as exercise while the baseline warms up).
* Scoring windows are short (60 s, Esco & Flatt 2014: 60 s ln RMSSD agrees with 5 min
  within ±0.22), so a single window means little; an episode needs stress for most of a
  sustained span (default 5 minutes) and ends with hysteresis.
* A large heart-rate rise is movement, not stress (``active``), and so is the recovery
  after it. Poor signal (many corrected beats, gaps, no skin contact) is ``unknown``:
  never calm, never stress.
* The baseline is learnt from calm-enough, good windows only: never from stress, active or
  unknown windows, and not from sleep-like stretches (heart rate far below the usual).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Starting prior (Nunan et al. 2010, short-term HRV norms in healthy adults): RMSSD
#: 42 ± 19 ms, mean RR 926 ± 90 ms.
PRIOR_LN_RMSSD = math.log(42.0)
PRIOR_HR_BPM = 60000.0 / 926.0
#: Robust spreads never fall below these (a very steady person still has some variation).
MIN_SPREAD_LN_RMSSD = 0.12
MIN_SPREAD_HR_BPM = 2.0
#: Heart rate this far below the usual looks like sleep: such windows are calm but do not
#: move the waking baseline.
SLEEP_HR_BELOW_BPM = 8.0
#: At most one baseline sample per this many seconds (bounded memory over days).
SAMPLE_EVERY_S = 60.0
MAD_TO_SD = 1.4826


class State(str, Enum):
    """What one scoring window looked like."""

    CALM = "calm"
    ELEVATED = "elevated"
    STRESS = "stress"
    ACTIVE = "active"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Every threshold and span of the detector (``[detector]`` in the config file)."""

    window_s: float = 60.0
    step_s: float = 15.0
    bootstrap_min: float = 20.0
    baseline_days: float = 14.0
    stress_z_ln_rmssd: float = -3.0
    stress_z_hr: float = 2.0
    elevated_z: float = 0.75
    active_hr_delta_bpm: float = 24.0
    recovery_min: float = 15.0
    max_artifact_pct: float = 15.0
    min_coverage: float = 0.8
    sustain_min: float = 5.0
    sustain_fraction: float = 0.7
    end_min: float = 2.0
    max_unknown_gap_min: float = 3.0
    movement_hr_delta_bpm: float = 12.0
    movement_ratio: float = 2.0
    #: Feedback adaptation, in z units: positive makes stress harder to call (prompts).
    threshold_shift: float = 0.0

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> DetectorConfig:
        """From a mapping of known keys (unknown keys are ignored here; the config loader
        refuses them)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in values.items() if k in names})

    def to_dict(self) -> dict[str, float]:
        out = asdict(self)
        out["sustain_s"] = self.sustain_min * 60.0
        return out


@dataclass(frozen=True, slots=True)
class Baseline:
    """This person's usual: robust centre and spread of ln RMSSD and heart rate."""

    ln_rmssd: float
    ln_rmssd_spread: float
    hr_bpm: float
    hr_spread: float
    samples: int
    ready: bool


FloatArray = NDArray[np.float64]


class _Samples:
    """The baseline's samples (time, ln RMSSD, heart rate) in time order, as numpy arrays
    that grow at the end and drop at the start, so the medians read them without copying
    them out of a Python container first."""

    __slots__ = ("_hi", "_hr", "_ln", "_lo", "_t")

    def __init__(self) -> None:
        self._t = np.empty(64)
        self._ln = np.empty(64)
        self._hr = np.empty(64)
        self._lo = 0
        self._hi = 0

    def __len__(self) -> int:
        return self._hi - self._lo

    def append(self, t: float, ln: float, hr: float) -> None:
        if self._hi == self._t.size:  # full: move to the front, growing when over half full
            n = len(self)
            size = self._t.size * 2 if 2 * n > self._t.size else self._t.size
            for name in ("_t", "_ln", "_hr"):
                old = getattr(self, name)
                new = np.empty(size)
                new[:n] = old[self._lo : self._hi]
                setattr(self, name, new)
            self._lo, self._hi = 0, n
        self._t[self._hi] = t
        self._ln[self._hi] = ln
        self._hr[self._hi] = hr
        self._hi += 1

    def drop_before(self, t_cut: float) -> None:
        self._lo += int(np.searchsorted(self._t[self._lo : self._hi], t_cut, side="left"))

    @property
    def last_t(self) -> float:
        return float(self._t[self._hi - 1])

    @property
    def t(self) -> FloatArray:
        return self._t[self._lo : self._hi]

    @property
    def ln(self) -> FloatArray:
        return self._ln[self._lo : self._hi]

    @property
    def hr(self) -> FloatArray:
        return self._hr[self._lo : self._hi]


@dataclass(slots=True)
class BaselineTracker:
    """Learns the baseline: bootstrap from the first minutes of good data, then rolling
    over the last ``baseline_days``. Serialisable (:meth:`to_dict`, :meth:`from_dict`)."""

    bootstrap_s: float = 1200.0
    horizon_s: float = 14 * 86400.0
    samples: _Samples = field(default_factory=_Samples)
    good_s: float = 0.0  # seconds of good data seen while bootstrapping
    ready: bool = False
    _cache: Baseline | None = None

    def current(self) -> Baseline:
        if self._cache is None:
            self._cache = self._compute()
        return self._cache

    def _compute(self) -> Baseline:
        if not len(self.samples):
            return Baseline(PRIOR_LN_RMSSD, 0.45, PRIOR_HR_BPM, 6.3, samples=0, ready=self.ready)
        ln, hr = self.samples.ln, self.samples.hr
        ln_c, hr_c = float(np.median(ln)), float(np.median(hr))
        ln_s = max(MAD_TO_SD * float(np.median(np.abs(ln - ln_c))), MIN_SPREAD_LN_RMSSD)
        hr_s = max(MAD_TO_SD * float(np.median(np.abs(hr - hr_c))), MIN_SPREAD_HR_BPM)
        return Baseline(ln_c, ln_s, hr_c, hr_s, samples=ln.size, ready=self.ready)

    def offer(self, t_s: float, ln_rmssd: float, hr_bpm: float, step_s: float) -> None:
        """A good, calm-enough window ending at ``t_s``; kept at most once a minute."""
        if not self.ready:
            self.good_s += step_s
            if self.good_s >= self.bootstrap_s:
                self.ready = True
                self._cache = None
        if len(self.samples) and t_s - self.samples.last_t < SAMPLE_EVERY_S:
            return
        self.samples.append(t_s, ln_rmssd, hr_bpm)
        self.samples.drop_before(t_s - self.horizon_s)
        self._cache = None

    def to_dict(self) -> dict[str, Any]:
        b = self.current()
        return {
            "version": 1,
            "ready": self.ready,
            "good_s": self.good_s,
            "bootstrap_s": self.bootstrap_s,
            "horizon_s": self.horizon_s,
            "ln_rmssd": b.ln_rmssd,
            "ln_rmssd_spread": b.ln_rmssd_spread,
            "hr_bpm": b.hr_bpm,
            "hr_spread": b.hr_spread,
            "samples": [
                list(x)
                for x in zip(
                    self.samples.t.tolist(),
                    self.samples.ln.tolist(),
                    self.samples.hr.tolist(),
                    strict=True,
                )
            ],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> BaselineTracker:
        """The inverse of :meth:`to_dict`; raises ValueError on a malformed document."""
        if doc.get("version") != 1:
            raise ValueError("baseline: unknown version (expected 1)")
        samples = doc.get("samples", [])
        tr = cls(bootstrap_s=float(doc["bootstrap_s"]), horizon_s=float(doc["horizon_s"]))
        for row in samples:
            t, ln, hr = (float(v) for v in row)
            if not all(map(math.isfinite, (t, ln, hr))):
                raise ValueError("baseline: a sample is not finite")
            if len(tr.samples) and t < tr.samples.last_t:
                raise ValueError("baseline: samples are not in time order")
            tr.samples.append(t, ln, hr)
        tr.good_s = float(doc.get("good_s", 0.0))
        tr.ready = bool(doc["ready"])
        return tr


@dataclass(frozen=True, slots=True)
class WindowScore:
    """One scoring window: its state and how far it sat from the baseline."""

    end_s: float
    state: State
    z_ln_rmssd: float | None
    z_hr: float | None
    mean_hr: float | None
    ln_rmssd: float | None


@dataclass(frozen=True, slots=True)
class Episode:
    """A sustained stretch of stress (or of activity).

    ``start_s`` is the back-dated onset of the sustained stretch, ``confirmed_s`` the moment
    the rule fired (when a prompt could go out), ``end_s`` the end of its last window (or
    the last beat when the data ended during it). z values are signed: ln RMSSD below the
    baseline is negative, heart rate above it positive.
    """

    kind: str
    start_s: float
    confirmed_s: float
    end_s: float
    peak_z_ln_rmssd: float
    peak_z_hr: float
    mean_hr: float
    mean_ln_rmssd: float
    baseline_hr: float
    baseline_ln_rmssd: float
    explanation: str

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["duration_s"] = self.duration_s
        return d


def _minutes(seconds: float) -> str:
    m = max(1, round(seconds / 60.0))
    return "about a minute" if m == 1 else f"about {m} minutes"


def explain(kind: str, duration_s: float, hr_delta: float, rmssd_change_pct: float) -> str:
    """One describing sentence in plain words (never a judgement)."""
    if kind == "active":
        return (
            f"For {_minutes(duration_s)} your heart rate was about {round(hr_delta)} beats "
            "per minute above your usual, which looks like movement or exercise rather than "
            "stress."
        )
    lower = max(0, round(-rmssd_change_pct))
    return (
        f"For {_minutes(duration_s)} your heart rate was about {round(hr_delta)} beats per "
        f"minute above your usual and your heart rate variability about {lower}% below "
        "your usual."
    )


@dataclass(slots=True)
class _Open:
    kind: str
    start_s: float
    confirmed_s: float
    last_hit_s: float
    base: Baseline
    z_ln: list[float] = field(default_factory=list)
    z_hr: list[float] = field(default_factory=list)
    hr: list[float] = field(default_factory=list)
    ln: list[float] = field(default_factory=list)

    def add(self, s: WindowScore) -> None:
        if s.z_ln_rmssd is not None and s.z_hr is not None:
            self.z_ln.append(s.z_ln_rmssd)
            self.z_hr.append(s.z_hr)
        if s.mean_hr is not None and s.ln_rmssd is not None:
            self.hr.append(s.mean_hr)
            self.ln.append(s.ln_rmssd)

    def close(self, end_s: float) -> Episode:
        hr = float(np.mean(self.hr)) if self.hr else math.nan
        ln = float(np.mean(self.ln)) if self.ln else math.nan
        dur = end_s - self.start_s
        change = 100.0 * (math.exp(ln - self.base.ln_rmssd) - 1.0) if self.ln else 0.0
        return Episode(
            kind=self.kind,
            start_s=self.start_s,
            confirmed_s=self.confirmed_s,
            end_s=end_s,
            peak_z_ln_rmssd=min(self.z_ln) if self.z_ln else math.nan,
            peak_z_hr=max(self.z_hr) if self.z_hr else math.nan,
            mean_hr=hr,
            mean_ln_rmssd=ln,
            baseline_hr=self.base.hr_bpm,
            baseline_ln_rmssd=self.base.ln_rmssd,
            explanation=explain(self.kind, dur, hr - self.base.hr_bpm, change),
        )


@dataclass(frozen=True, slots=True)
class WindowInput:
    """What the detector needs of one scoring window (from :mod:`kindpulse.hrv`)."""

    end_s: float
    n_beats: int
    mean_rr: float | None
    mean_hr: float | None
    ln_rmssd: float | None
    artifact_pct: float | None
    contact: bool = True
    #: Context (DESIGN: context contract), ``None`` when unknown: the window's movement in
    #: mg from the strap's accelerometer (:mod:`kindpulse.motion`), and the seconds since the
    #: last keyboard or mouse input at the window's end.
    movement_mg: float | None = None
    input_idle_s: float | None = None

    @classmethod
    def from_row(
        cls,
        row: Mapping[str, float | int | None],
        contact: bool = True,
        movement_mg: float | None = None,
        input_idle_s: float | None = None,
    ) -> WindowInput:
        """From a row of :meth:`kindpulse.hrv.WindowTable.rows`."""

        def num(key: str) -> float | None:
            v = row[key]
            return None if v is None else float(v)

        return cls(
            end_s=float(row["end_s"] or 0.0),
            n_beats=int(row["n_beats"] or 0),
            mean_rr=num("mean_rr"),
            mean_hr=num("mean_hr"),
            ln_rmssd=num("ln_rmssd"),
            artifact_pct=num("artifact_pct"),
            contact=contact,
            movement_mg=movement_mg,
            input_idle_s=input_idle_s,
        )


class Detector:
    """Feeds on scoring windows in time order; keeps states and episodes.

    :meth:`step` returns the episodes confirmed and ended by that window, so a live caller
    can act the moment one is confirmed; :meth:`finish` closes an open episode at the last
    beat.
    """

    def __init__(self, config: DetectorConfig, baseline: BaselineTracker | None = None) -> None:
        self.cfg = config
        self.baseline = baseline or BaselineTracker(
            bootstrap_s=config.bootstrap_min * 60.0, horizon_s=config.baseline_days * 86400.0
        )
        self.scores: list[WindowScore] = []
        self.episodes: list[Episode] = []
        self._recent: deque[WindowScore] = deque()
        self._stress: _Open | None = None
        self._active: _Open | None = None
        self._last_active_s = -math.inf
        self._last_known_s = -math.inf

    @property
    def open_episode(self) -> _Open | None:
        return self._stress

    def _classify(self, w: WindowInput, base: Baseline) -> tuple[State, float | None, float | None]:
        c = self.cfg
        if w.ln_rmssd is None or w.mean_hr is None or w.mean_rr is None:
            return State.UNKNOWN, None, None
        z_ln = (w.ln_rmssd - base.ln_rmssd) / base.ln_rmssd_spread
        z_hr = (w.mean_hr - base.hr_bpm) / base.hr_spread
        coverage = w.n_beats * w.mean_rr / (1000.0 * c.window_s)
        if (
            not w.contact
            or coverage < c.min_coverage
            or (w.artifact_pct is not None and w.artifact_pct > c.max_artifact_pct)
        ):
            return State.UNKNOWN, z_ln, z_hr
        if w.mean_hr - base.hr_bpm >= c.active_hr_delta_bpm:
            self._last_active_s = w.end_s
            return State.ACTIVE, z_ln, z_hr
        if not base.ready:
            return State.UNKNOWN, z_ln, z_hr
        if (
            c.movement_ratio > 0
            and w.mean_hr - base.hr_bpm >= c.movement_hr_delta_bpm
            and z_hr >= c.movement_ratio * max(-z_ln, 0.0)
        ):
            # Heart rate rose far more than its variability fell: a body moving (a walk,
            # standing up), not the vagal withdrawal of mental strain.
            return State.ACTIVE, z_ln, z_hr
        stress = z_ln <= c.stress_z_ln_rmssd - c.threshold_shift and (
            z_hr >= c.stress_z_hr + c.threshold_shift
        )
        moved = z_ln <= -c.elevated_z or z_hr >= c.elevated_z
        recovering = w.end_s - self._last_active_s <= c.recovery_min * 60.0
        if recovering and (stress or moved):
            return State.ACTIVE, z_ln, z_hr  # recovery belongs to the bout
        if stress:
            return State.STRESS, z_ln, z_hr
        if moved:
            return State.ELEVATED, z_ln, z_hr
        return State.CALM, z_ln, z_hr

    def step(self, w: WindowInput) -> list[Episode]:
        """Score one window; returns episodes that were confirmed or ended by it (an
        episode appears once when confirmed, with ``end_s`` = its confirmation, and again,
        complete, when it ends)."""
        c = self.cfg
        base = self.baseline.current()
        state, z_ln, z_hr = self._classify(w, base)
        score = WindowScore(w.end_s, state, z_ln, z_hr, w.mean_hr, w.ln_rmssd)
        self.scores.append(score)
        out: list[Episode] = []

        # Learn from good windows that are neither stress nor activity, and not sleep-like.
        if (
            (
                state in (State.CALM, State.ELEVATED)
                or (
                    state is State.UNKNOWN and not base.ready and z_ln is not None and self._good(w)
                )
            )
            and w.mean_hr is not None
            and w.ln_rmssd is not None
        ):
            sleepy = base.ready and w.mean_hr < base.hr_bpm - SLEEP_HR_BELOW_BPM
            if not sleepy and (base.ready or self._plausible_rest(w)):
                self.baseline.offer(w.end_s, w.ln_rmssd, w.mean_hr, c.step_s)

        span = c.sustain_min * 60.0
        self._recent.append(score)
        while self._recent and self._recent[0].end_s <= w.end_s - span:
            self._recent.popleft()
        if state is not State.UNKNOWN:
            self._last_known_s = w.end_s

        out.extend(self._track_active(score))
        out.extend(self._track_stress(score, base, span))
        return out

    def _good(self, w: WindowInput) -> bool:
        c = self.cfg
        if w.mean_rr is None or not w.contact:
            return False
        coverage = w.n_beats * w.mean_rr / (1000.0 * c.window_s)
        return coverage >= c.min_coverage and (
            w.artifact_pct is None or w.artifact_pct <= c.max_artifact_pct
        )

    def _plausible_rest(self, w: WindowInput) -> bool:
        """While bootstrapping, keep out windows the prior already calls exercise."""
        return w.mean_hr is not None and w.mean_hr < PRIOR_HR_BPM + 2 * self.cfg.active_hr_delta_bpm

    def _track_active(self, s: WindowScore) -> list[Episode]:
        c = self.cfg
        if s.state is State.ACTIVE:
            if self._active is None:
                self._active = _Open(
                    "active", s.end_s - c.window_s, s.end_s, s.end_s, self.baseline.current()
                )
            self._active.last_hit_s = s.end_s
            self._active.add(s)
            return []
        if self._active is not None and s.end_s - self._active.last_hit_s >= c.end_min * 60.0:
            ep = self._active.close(self._active.last_hit_s)
            self._active = None
            if ep.duration_s >= 120.0:
                self.episodes.append(ep)
                return [ep]
        return []

    def _track_stress(self, s: WindowScore, base: Baseline, span: float) -> list[Episode]:
        c = self.cfg
        op = self._stress
        if op is None:
            if s.state is not State.STRESS or not base.ready:
                return []
            known = [r for r in self._recent if r.state is not State.UNKNOWN]
            expected = span / c.step_s
            hits = [r for r in known if r.state is State.STRESS]
            if len(known) < 0.5 * expected or len(hits) < c.sustain_fraction * len(known):
                return []
            if len(hits) < c.sustain_fraction * 0.5 * expected:
                return []
            start = hits[0].end_s - c.window_s / 2.0  # the first stress window's midpoint
            op = _Open("stress", start, s.end_s, s.end_s, base)
            for r in hits:
                op.add(r)
            self._stress = op
            return [op.close(s.end_s)]
        # An open episode: extend, or end with hysteresis.
        if s.state is State.STRESS:
            op.last_hit_s = s.end_s
            op.add(s)
            return []
        quiet_for = s.end_s - op.last_hit_s
        unknown_for = s.end_s - max(self._last_known_s, op.last_hit_s)
        exercise = s.mean_hr is not None and s.mean_hr - base.hr_bpm >= c.active_hr_delta_bpm
        ends = (
            (s.state is State.ACTIVE and exercise)
            or (s.state is not State.UNKNOWN and quiet_for >= c.end_min * 60.0)
            or (s.state is State.UNKNOWN and unknown_for > c.max_unknown_gap_min * 60.0)
        )
        if not ends:
            return []
        ep = op.close(op.last_hit_s)
        self._stress = None
        self.episodes.append(ep)
        return [ep]

    def finish(self, last_beat_s: float) -> list[Episode]:
        """The data has ended: close what is open at the last beat."""
        out: list[Episode] = []
        for attr in ("_stress", "_active"):
            op: _Open | None = getattr(self, attr)
            if op is None:
                continue
            ep = op.close(max(last_beat_s, op.last_hit_s))
            setattr(self, attr, None)
            if ep.kind == "stress" or ep.duration_s >= 120.0:
                self.episodes.append(ep)
                out.append(ep)
        self.episodes.sort(key=lambda e: e.start_s)
        return out
