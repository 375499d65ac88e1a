"""Sustained-stress detection from scoring windows: a personal baseline, the evidence of a
whole span, context from movement, and episodes with a plain-words explanation.

Pure: windows in, dataclasses out; time is the windows' own ``end_s``. Deterministic given
the windows, the configuration and the starting baseline. The rule and the figures behind
it are in ``docs/detection.md``.

The physiology it leans on:

* Stress is sympathetic up and vagal down: ln RMSSD below this person's usual AND heart
  rate above it, held for a while, judged against a personal baseline (median of calm,
  good windows), never against population norms.
* A 60-s window means little on its own (60 s ln RMSSD agrees with 5 min only within
  ±0.22, Esco & Flatt 2014; a calm spread of 0.2-0.3 is usual), so the decision is taken
  on the evidence of the whole sustain span: the medians of ln RMSSD and heart rate over
  the span's scorable windows, as distances from the usual in units of the spread that
  *span medians* show on calm data (learnt from this person's calm spans, slow drift
  included, not the spread of single windows), and beyond a minimum size of change.
* Movement looks like stress in heart data (a brisk walk: HR +15-30, RMSSD ×0.4-0.7).
  When the strap's accelerometer is known, a moving window is never stress and a still one
  with strain is stress however large the heart-rate rise (a talk, an exam); the minutes
  after movement are its recovery. Recent keyboard or mouse input means seated; idle input
  alone says nothing. Without context, a heart-rate rise of ``active_hr_delta_bpm`` or more
  is taken for exercise: that number is the RR-only trade-off between long walks and
  large-rise stress (docs/detection.md gives the measured figures).
* Poor signal (many corrected beats, gaps, no skin contact) is ``unknown``: never calm,
  never stress. Before the baseline is ready nothing is called except what motion shows.
* The baseline is learnt from good, calm-enough, still windows only, a span after the fact
  (so the run-up to a stretch of strain never enters it): never from stress, movement or
  its recovery, unknown windows, or sleep-like stretches (heart rate far below the usual).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from statistics import median
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

#: Starting prior (Nunan et al. 2010, short-term HRV norms in healthy adults): RMSSD
#: 42 ± 19 ms, mean RR 926 ± 90 ms. Used only to keep exercise out of the first baseline.
PRIOR_LN_RMSSD = math.log(42.0)
PRIOR_HR_BPM = 60000.0 / 926.0
#: Robust spreads of single windows never fall below these.
MIN_SPREAD_LN_RMSSD = 0.12
MIN_SPREAD_HR_BPM = 2.0
#: The spread of span medians on calm data: a prior worth PRIOR_SPANS spans, shrunk towards
#: what this person's calm spans show, and floors.
PRIOR_SPAN_SPREAD_LN = 0.15
PRIOR_SPAN_SPREAD_HR = 3.0
PRIOR_SPANS = 8.0
MIN_SPAN_SPREAD_LN = 0.08
MIN_SPAN_SPREAD_HR = 1.5
#: Heart rate this far below the usual looks like sleep: such windows are calm but do not
#: move the waking baseline.
SLEEP_HR_BELOW_BPM = 8.0
#: At most one baseline sample per this many seconds (bounded memory over days).
SAMPLE_EVERY_S = 60.0
MAD_TO_SD = 1.4826
#: Recovery after a bout of movement seen by the accelerometer: this long at least, plus
#: half the bout, at most ``recovery_min``.
MIN_RECOVERY_S = 120.0
#: While bootstrapping, windows this far above the population prior's heart rate are not
#: learnt (exercise is never a first usual; the prior decides nothing else).
BOOTSTRAP_MAX_RISE_BPM = 48.0
#: RR-only: no stretch is confirmed while heart rate climbs this fast (bpm per minute).
RISING_BPM_PER_MIN = 4.0


class State(str, Enum):
    """What one scoring window looked like."""

    CALM = "calm"
    ELEVATED = "elevated"
    STRESS = "stress"
    ACTIVE = "active"
    UNKNOWN = "unknown"


class Context(str, Enum):
    """What the edges said of the body during a window."""

    MOVING = "moving"  # the accelerometer showed movement
    STILL = "still"  # the accelerometer showed none
    SEATED = "seated"  # no accelerometer, but recent keyboard or mouse input
    UNKNOWN = "unknown"  # neither known (RR-only)


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Every threshold and span of the detector (``[detector]`` in the config file)."""

    window_s: float = 60.0
    step_s: float = 15.0
    bootstrap_min: float = 20.0
    baseline_days: float = 14.0
    #: Span medians: ln RMSSD at or below this many span spreads from the usual ...
    stress_z_ln_rmssd: float = -3.0
    #: ... and heart rate at or above this many span spreads above it ...
    stress_z_hr: float = 1.0
    #: ... and changes at least this large (ln units: 0.45 is RMSSD ×0.64; bpm).
    min_ln_rmssd_drop: float = 0.45
    min_hr_rise_bpm: float = 4.0
    elevated_z: float = 0.75
    #: RR-only: a heart-rate rise this large is exercise, not stress.
    active_hr_delta_bpm: float = 45.0
    recovery_min: float = 15.0
    #: A window whose movement (median of its seconds) reaches this is moving.
    moving_mg: float = 20.0
    #: Keyboard or mouse input at most this long before a window's end means seated.
    seated_input_s: float = 60.0
    max_artifact_pct: float = 15.0
    min_coverage: float = 0.4
    sustain_min: float = 8.0
    #: The share of the span that must be scorable (known, still, not recovering).
    sustain_fraction: float = 0.6
    end_min: float = 2.0
    max_unknown_gap_min: float = 3.0
    #: Feedback adaptation, in z units: positive makes stress harder to call (prompts).
    threshold_shift: float = 0.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DetectorConfig:
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
    """This person's usual: the centre of ln RMSSD and heart rate over calm windows, the
    spread of single windows, and the spread of span medians (``span_*``) on calm data."""

    ln_rmssd: float
    ln_rmssd_spread: float
    hr_bpm: float
    hr_spread: float
    samples: int
    ready: bool
    span_ln_spread: float = PRIOR_SPAN_SPREAD_LN
    span_hr_spread: float = PRIOR_SPAN_SPREAD_HR
    spans: int = 0


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

    def shift(self, dt: float) -> None:
        """Move every sample's time by ``dt`` seconds."""
        self._t[self._lo : self._hi] += dt

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


def block_means(t: FloatArray, values: FloatArray, span_s: float) -> FloatArray:
    """The means of the samples in consecutive blocks of ``span_s`` that are finished (a
    later block has begun) and at least half full, in time order."""
    if t.size == 0:
        return np.empty(0)
    block = np.floor(t / span_s).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    counts = np.diff(np.r_[starts, t.size])
    full = counts >= max(2.0, 0.5 * span_s / SAMPLE_EVERY_S)
    full[-1] = False  # the block still filling counts once the next one has begun
    sums: FloatArray = np.add.reduceat(values, starts)
    out: FloatArray = sums[full] / counts[full]
    return out


def span_spread(means: FloatArray, centre: float, prior: float, floor: float) -> float:
    """The spread of span means on calm data, around the baseline's centre: each block
    mean's distance from ``centre`` (so slow drift over the baseline's days counts), their
    robust standard deviation (1.4826 × MAD about zero), shrunk towards ``prior`` with the
    weight of :data:`PRIOR_SPANS` blocks, never below ``floor``."""
    n = means.size
    if n == 0:
        return max(prior, floor)
    est = MAD_TO_SD * float(np.median(np.abs(means - centre)))
    shrunk = math.sqrt((PRIOR_SPANS * prior**2 + n * est**2) / (PRIOR_SPANS + n))
    return max(shrunk, floor)


@dataclass(slots=True)
class BaselineTracker:
    """Learns the baseline: bootstrap from the first minutes of good data, then rolling
    over the last ``baseline_days``. Serialisable (:meth:`to_dict`, :meth:`from_dict`)."""

    bootstrap_s: float = 1200.0
    horizon_s: float = 14 * 86400.0
    span_s: float = 300.0
    samples: _Samples = field(default_factory=_Samples)
    good_s: float = 0.0  # seconds of good data seen while bootstrapping
    ready: bool = False
    _cache: Baseline | None = None
    _blocks: tuple[tuple[float, int], FloatArray, FloatArray] | None = None

    def current(self) -> Baseline:
        if self._cache is None:
            self._cache = self._compute()
        return self._cache

    def _compute(self) -> Baseline:
        if not len(self.samples):
            return Baseline(PRIOR_LN_RMSSD, 0.45, PRIOR_HR_BPM, 6.3, samples=0, ready=self.ready)
        t, ln, hr = self.samples.t, self.samples.ln, self.samples.hr
        ln_c, hr_c = float(np.median(ln)), float(np.median(hr))
        ln_s = max(MAD_TO_SD * float(np.median(np.abs(ln - ln_c))), MIN_SPREAD_LN_RMSSD)
        hr_s = max(MAD_TO_SD * float(np.median(np.abs(hr - hr_c))), MIN_SPREAD_HR_BPM)
        # Block means change only when a block finishes or the oldest sample goes.
        key = (float(t[0]), math.floor(float(t[-1]) / self.span_s))
        if self._blocks is None or self._blocks[0] != key:
            self._blocks = (
                key,
                block_means(t, ln, self.span_s),
                block_means(t, hr, self.span_s),
            )
        _, means_ln, means_hr = self._blocks
        span_ln = span_spread(means_ln, ln_c, PRIOR_SPAN_SPREAD_LN, MIN_SPAN_SPREAD_LN)
        span_hr = span_spread(means_hr, hr_c, PRIOR_SPAN_SPREAD_HR, MIN_SPAN_SPREAD_HR)
        spans = int(means_ln.size)
        return Baseline(ln_c, ln_s, hr_c, hr_s, ln.size, self.ready, span_ln, span_hr, spans=spans)

    def use_span(self, span_s: float) -> None:
        """Judge span medians over ``span_s`` (the detector's sustain span) from now on."""
        if span_s != self.span_s:
            self.span_s = span_s
            self._blocks = None
            self._cache = None

    def offer(self, t_s: float, ln_rmssd: float, hr_bpm: float, step_s: float) -> None:
        """A good, calm-enough window ending at ``t_s``; kept at most once a minute.

        A time before the newest sample is a new session on another time axis (the
        daemon's seconds start at zero on every start; ``analyze --baseline`` reads a
        usual learnt on another file): the samples kept move so that the newest one is a
        minute before ``t_s``, and the usual goes on learning. The horizon then counts
        time worn."""
        if len(self.samples) and t_s < self.samples.last_t:
            self.samples.shift(t_s - SAMPLE_EVERY_S - self.samples.last_t)
            self._blocks = None
            self._cache = None
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
            "span_s": self.span_s,
            "ln_rmssd": b.ln_rmssd,
            "ln_rmssd_spread": b.ln_rmssd_spread,
            "hr_bpm": b.hr_bpm,
            "hr_spread": b.hr_spread,
            "span_ln_rmssd_spread": b.span_ln_spread,
            "span_hr_spread": b.span_hr_spread,
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
        tr = cls(
            bootstrap_s=float(doc["bootstrap_s"]),
            horizon_s=float(doc["horizon_s"]),
            span_s=float(doc.get("span_s", 300.0)),
        )
        if not (math.isfinite(tr.span_s) and tr.span_s > 0):
            raise ValueError("baseline: span_s must be a positive number of seconds")
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
    """One scoring window: its state, how far it sat from the baseline, and its context."""

    end_s: float
    state: State
    z_ln_rmssd: float | None
    z_hr: float | None
    mean_hr: float | None
    ln_rmssd: float | None
    movement_mg: float | None = None
    context: Context = Context.UNKNOWN


@dataclass(frozen=True, slots=True)
class Episode:
    """A sustained stretch of stress (or of activity).

    ``start_s`` is the back-dated onset of the sustained stretch, ``confirmed_s`` the moment
    the rule fired (when a prompt could go out), ``end_s`` the end of its last window (or
    the last beat when the data ended during it). z values are signed: ln RMSSD below the
    baseline is negative, heart rate above it positive (in spreads of single windows).
    ``context``: what was known of the body during it (a :class:`Context` value).
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
    context: str = Context.UNKNOWN.value

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


_CONTEXT_WORDS = {
    Context.STILL.value: " The strap showed you sitting or standing still.",
    Context.SEATED.value: " You were using the keyboard or mouse.",
    Context.MOVING.value: "",
    Context.UNKNOWN.value: "",
}


def explain(
    kind: str,
    duration_s: float,
    hr_delta: float,
    rmssd_change_pct: float,
    context: str = Context.UNKNOWN.value,
) -> str:
    """Plain describing sentences (never a judgement): what crossed the usual, by how much,
    for how long, and what was known of the body."""
    if kind == "active":
        if context == Context.MOVING.value:
            return (
                f"For {_minutes(duration_s)} the strap showed you moving; your heart rate was "
                f"about {round(hr_delta)} beats per minute above your usual."
            )
        return (
            f"For {_minutes(duration_s)} your heart rate was about {round(hr_delta)} beats "
            "per minute above your usual, which looks like movement or exercise rather than "
            "stress."
        )
    lower = max(0, round(-rmssd_change_pct))
    return (
        f"For {_minutes(duration_s)} your heart rate was about {round(hr_delta)} beats per "
        f"minute above your usual and your heart rate variability about {lower}% below "
        "your usual." + _CONTEXT_WORDS.get(context, "")
    )


@dataclass(slots=True)
class _Open:
    kind: str
    start_s: float
    confirmed_s: float
    last_hit_s: float
    base: Baseline
    last_hold_s: float = -math.inf  # the last window at which the stretch held on
    z_ln: list[float] = field(default_factory=list)
    z_hr: list[float] = field(default_factory=list)
    hr: list[float] = field(default_factory=list)
    ln: list[float] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)

    def add(self, s: WindowScore) -> None:
        if s.z_ln_rmssd is not None and s.z_hr is not None:
            self.z_ln.append(s.z_ln_rmssd)
            self.z_hr.append(s.z_hr)
        if s.mean_hr is not None and s.ln_rmssd is not None:
            self.hr.append(s.mean_hr)
            self.ln.append(s.ln_rmssd)
        self.contexts.append(s.context)

    def context(self) -> Context:
        """The context most of its windows had (still over seated over unknown on ties);
        movement for an activity the accelerometer saw."""
        if not self.contexts:
            return Context.UNKNOWN
        if self.kind == "active" and Context.MOVING in self.contexts:
            return Context.MOVING  # a bout the accelerometer saw, its recovery included
        order = (Context.MOVING, Context.STILL, Context.SEATED, Context.UNKNOWN)
        return max(order, key=lambda c: (self.contexts.count(c), -order.index(c)))

    def close(self, end_s: float) -> Episode:
        hr = float(np.mean(self.hr)) if self.hr else math.nan
        ln = float(np.mean(self.ln)) if self.ln else math.nan
        dur = end_s - self.start_s
        change = 100.0 * (math.exp(ln - self.base.ln_rmssd) - 1.0) if self.ln else 0.0
        ctx = self.context().value
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
            explanation=explain(self.kind, dur, hr - self.base.hr_bpm, change, ctx),
            context=ctx,
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
    #: Context (docs/detection.md, "Context"), ``None`` when unknown: the window's movement
    #: in mg from the strap's accelerometer (:mod:`kindpulse.motion`), and the seconds since
    #: the last keyboard or mouse input at the window's end.
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


class Evidence(NamedTuple):
    """The span's evidence at one window: medians of the scorable windows as distances
    from the usual (ln units, bpm), in span spreads, and how much of the span they cover."""

    d_ln: float
    d_hr: float
    z_ln: float
    z_hr: float
    coverage: float


class _Kept(NamedTuple):
    end_s: float
    ln: float
    hr: float
    scorable: bool  # known, still or unknown context, not moving, not recovering
    ctx: Context


class Detector:
    """Feeds on scoring windows in time order; keeps states and episodes.

    :meth:`step` returns the episodes confirmed and ended by that window, so a live caller
    can act the moment one is confirmed; :meth:`finish` closes an open episode at the last
    beat.
    """

    def __init__(self, config: DetectorConfig, baseline: BaselineTracker | None = None) -> None:
        self.cfg = config
        span = config.sustain_min * 60.0
        self.baseline = baseline or BaselineTracker(
            bootstrap_s=config.bootstrap_min * 60.0,
            horizon_s=config.baseline_days * 86400.0,
            span_s=span,
        )
        self.baseline.use_span(span)  # a saved usual is judged with this detector's span
        self.scores: list[WindowScore] = []
        self.episodes: list[Episode] = []
        self._span: deque[_Kept] = deque()
        self._pending: deque[tuple[float, float, float]] = deque()
        self._stress: _Open | None = None
        self._active: _Open | None = None
        self._moving_since: float | None = None
        self._last_moving_s = -math.inf
        self._recover_until = -math.inf
        self._last_known_s = -math.inf
        self._last_end_s = -math.inf
        self._recovering = False  # the window just classified is a bout's recovery

    @property
    def open_episode(self) -> _Open | None:
        return self._stress

    # ------------------------------------------------------------------ one window

    def _context(self, w: WindowInput) -> Context:
        c = self.cfg
        if w.movement_mg is not None:
            return Context.MOVING if w.movement_mg >= c.moving_mg else Context.STILL
        if w.input_idle_s is not None and w.input_idle_s <= c.seated_input_s:
            return Context.SEATED
        return Context.UNKNOWN

    def _good(self, w: WindowInput) -> bool:
        c = self.cfg
        if w.mean_rr is None or not w.contact:
            return False
        coverage = w.n_beats * w.mean_rr / (1000.0 * c.window_s)
        return coverage >= c.min_coverage and (
            w.artifact_pct is None or w.artifact_pct <= c.max_artifact_pct
        )

    def _classify(
        self, w: WindowInput, base: Baseline, ctx: Context
    ) -> tuple[State, float | None, float | None]:
        """The window's own state before the span's evidence: unknown, active (moving,
        exercise, recovery) or a scorable calm/elevated window."""
        c = self.cfg
        if ctx is Context.MOVING:  # the bout and its recovery, whatever the heart signal
            if self._moving_since is None or w.end_s - self._last_moving_s > c.window_s:
                self._moving_since = w.end_s - c.window_s
            self._last_moving_s = w.end_s
            bout = w.end_s - self._moving_since
            recovery = min(c.recovery_min * 60.0, MIN_RECOVERY_S + 0.5 * bout)
            self._recover_until = max(self._recover_until, w.end_s + recovery)
        if w.ln_rmssd is None or w.mean_hr is None or w.mean_rr is None:
            return State.UNKNOWN, None, None
        z_ln = (w.ln_rmssd - base.ln_rmssd) / base.ln_rmssd_spread
        z_hr = (w.mean_hr - base.hr_bpm) / base.hr_spread
        if not self._good(w):
            return State.UNKNOWN, z_ln, z_hr
        if ctx is Context.MOVING:
            return State.ACTIVE, z_ln, z_hr
        if not base.ready:
            return State.UNKNOWN, z_ln, z_hr
        rise = w.mean_hr - base.hr_bpm
        if ctx is Context.UNKNOWN and rise >= c.active_hr_delta_bpm:
            # RR-only: a rise this large is taken for exercise (the trade-off in the docs).
            self._recover_until = max(self._recover_until, w.end_s + c.recovery_min * 60.0)
            return State.ACTIVE, z_ln, z_hr
        raised = z_ln <= -c.elevated_z or z_hr >= c.elevated_z
        if raised and w.end_s <= self._recover_until:
            self._recovering = True
            return State.ACTIVE, z_ln, z_hr  # recovery belongs to the bout
        return (State.ELEVATED if raised else State.CALM), z_ln, z_hr

    def evidence(self, base: Baseline, since_s: float) -> Evidence | None:
        """The evidence of the scorable windows kept that end after ``since_s``; ``None``
        when there are none."""
        kept = [k for k in self._span if k.scorable and k.end_s > since_s]
        if not kept:
            return None
        end = self._span[-1].end_s
        expected = max(1.0, (end - since_s) / self.cfg.step_s)
        d_ln = median([k.ln for k in kept]) - base.ln_rmssd
        d_hr = median([k.hr for k in kept]) - base.hr_bpm
        return Evidence(
            d_ln,
            d_hr,
            d_ln / base.span_ln_spread,
            d_hr / base.span_hr_spread,
            min(1.0, len(kept) / expected),
        )

    def _rising(self, ctx: Context) -> bool:
        """RR-only: heart rate still climbing fast (the median of the last minute's windows
        at least :data:`RISING_BPM_PER_MIN` per minute above the minute two minutes before),
        as at the start of exercise; mental strain has reached its level by the time a
        span's evidence holds. With context the accelerometer or input decides instead."""
        if ctx is not Context.UNKNOWN or not self._span:
            return False
        end = self._span[-1].end_s
        now = [k.hr for k in self._span if k.end_s > end - 60.0]
        before = [k.hr for k in self._span if end - 180.0 < k.end_s <= end - 120.0]
        if not now or not before:
            return False
        return median(now) - median(before) >= 2.0 * RISING_BPM_PER_MIN

    def _strained(self, ev: Evidence | None, scale: float) -> bool:
        """The evidence crosses the thresholds (``scale`` 1 to confirm, 0.5 to hold on)."""
        c = self.cfg
        if ev is None:
            return False
        z_ln = (c.stress_z_ln_rmssd - c.threshold_shift) * scale
        z_hr = (c.stress_z_hr + c.threshold_shift) * scale
        # The feedback shift moves the minimum changes in proportion too.
        grow = scale * max(0.0, 1.0 + c.threshold_shift / max(abs(c.stress_z_ln_rmssd), 1.0))
        return (
            ev.z_ln <= z_ln
            and ev.d_ln <= -c.min_ln_rmssd_drop * grow
            and ev.z_hr >= z_hr
            and ev.d_hr >= c.min_hr_rise_bpm * grow
        )

    def step(self, w: WindowInput) -> list[Episode]:
        """Score one window; returns episodes that were confirmed or ended by it (an
        episode appears once when confirmed, with ``end_s`` = its confirmation, and again,
        complete, when it ends)."""
        c = self.cfg
        base = self.baseline.current()
        ctx = self._context(w)
        self._recovering = False
        state, z_ln, z_hr = self._classify(w, base, ctx)
        span = c.sustain_min * 60.0
        scorable = state in (State.CALM, State.ELEVATED)
        if w.ln_rmssd is not None and w.mean_hr is not None:
            self._span.append(_Kept(w.end_s, w.ln_rmssd, w.mean_hr, scorable, ctx))
        while self._span and self._span[0].end_s <= w.end_s - span:
            self._span.popleft()
        if state is not State.UNKNOWN:
            self._last_known_s = w.end_s

        out: list[Episode] = []
        # Stress: confirmed on the span's evidence, held on half of it over end_min.
        if self._stress is None:
            # A new stretch needs a span of its own after the last one ended.
            since = max(w.end_s - span, self._last_end_s)
            ev = self.evidence(base, since) if scorable and not self._rising(ctx) else None
            if (
                ev is not None
                and ev.coverage * (w.end_s - since) >= c.sustain_fraction * span
                and self._strained(ev, 1.0)
            ):
                state = State.STRESS
                self._stress = self._open_stress(w.end_s, base)
                self._stress.last_hold_s = w.end_s
                self._drop_pending(self._stress.start_s - c.window_s)
        else:
            op = self._stress
            ends = False
            if state is State.ACTIVE:
                ends = True  # movement, exercise or its recovery: the strain is over
            elif scorable and self._strained(self.evidence(base, w.end_s - c.end_min * 60), 0.5):
                op.last_hold_s = w.end_s
                state = State.STRESS
            else:
                quiet_for = w.end_s - op.last_hold_s
                unknown_for = w.end_s - max(self._last_known_s, op.last_hit_s)
                ends = (state is not State.UNKNOWN and quiet_for >= c.end_min * 60.0) or (
                    state is State.UNKNOWN and unknown_for > c.max_unknown_gap_min * 60.0
                )
            if ends:
                ep = op.close(op.last_hit_s)
                self._stress = None
                self._last_end_s = w.end_s  # a new stretch needs windows after this one
                self.episodes.append(ep)
                out.append(ep)

        score = WindowScore(w.end_s, state, z_ln, z_hr, w.mean_hr, w.ln_rmssd, w.movement_mg, ctx)
        self.scores.append(score)
        cur = self._stress
        if state is State.STRESS and cur is not None:
            op = cur
            # The stretch's figures come from its windows that show the drop themselves (not
            # the partly calm ones at its edges).
            drop = cur.base.ln_rmssd - 0.5 * c.min_ln_rmssd_drop

            def shows(ln: float) -> bool:
                return ln <= drop

            if op.confirmed_s == w.end_s:
                for k in self._span:
                    if (
                        k.scorable
                        and max(op.start_s, self._last_end_s) < k.end_s < w.end_s
                        and shows(k.ln)
                    ):
                        z_k = (k.ln - base.ln_rmssd) / base.ln_rmssd_spread
                        zh_k = (k.hr - base.hr_bpm) / base.hr_spread
                        op.add(
                            WindowScore(k.end_s, State.STRESS, z_k, zh_k, k.hr, k.ln, None, k.ctx)
                        )
            if w.ln_rmssd is not None and shows(w.ln_rmssd):
                op.add(score)
                op.last_hit_s = w.end_s  # the stretch ends with the last window showing it
            if op.confirmed_s == w.end_s:
                out.append(op.close(w.end_s))

        self._learn(w, state, ctx, base)
        out.extend(self._track_active(score))
        return out

    def _open_stress(self, end_s: float, base: Baseline) -> _Open:
        """The onset: the first scorable window of the span from which on most windows show
        a drop of at least half the minimum (its midpoint), else the span's start."""
        c = self.cfg
        span_start = end_s - c.sustain_min * 60.0
        start = span_start + c.window_s / 2.0
        # Only windows after the last stretch ended: stretches never overlap.
        kept = [k for k in self._span if k.scorable and k.end_s > self._last_end_s]
        flags = [k.ln - base.ln_rmssd <= -0.5 * c.min_ln_rmssd_drop for k in kept]
        for i, k in enumerate(kept):
            rest = flags[i:]
            if flags[i] and sum(rest) >= 0.75 * len(rest):
                start = k.end_s - c.window_s / 2.0
                break
        return _Open("stress", max(start, self._last_end_s), end_s, end_s, base)

    def _drop_pending(self, from_s: float) -> None:
        while self._pending and self._pending[-1][0] >= from_s:
            self._pending.pop()

    def _learn(self, w: WindowInput, state: State, ctx: Context, base: Baseline) -> None:
        """Good, calm-enough, non-moving windows that are not sleep-like go to the baseline a
        span later (when no stretch of strain has claimed them); while bootstrapping, good
        windows that the prior does not call exercise go at once."""
        c = self.cfg
        if w.mean_hr is None or w.ln_rmssd is None:
            return
        if not base.ready:
            if (
                state is State.UNKNOWN
                and ctx is not Context.MOVING
                and w.end_s > self._recover_until
                and self._good(w)
                and w.mean_hr < PRIOR_HR_BPM + BOOTSTRAP_MAX_RISE_BPM
            ):
                self.baseline.offer(w.end_s, w.ln_rmssd, w.mean_hr, c.step_s)
            return
        if (
            state in (State.CALM, State.ELEVATED)
            and self._stress is None
            and w.mean_hr >= base.hr_bpm - SLEEP_HR_BELOW_BPM
        ):
            self._pending.append((w.end_s, w.ln_rmssd, w.mean_hr))
        cut = w.end_s - c.sustain_min * 60.0
        while self._pending and self._pending[0][0] <= cut:
            t, ln, hr = self._pending.popleft()
            self.baseline.offer(t, ln, hr, c.step_s)

    def _track_active(self, s: WindowScore) -> list[Episode]:
        c = self.cfg
        if s.state is State.ACTIVE and not (self._active is None and self._recovering):
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
