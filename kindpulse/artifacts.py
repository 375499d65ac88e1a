"""Artifact correction of RR series: hard physiological limits plus Lipponen & Tarvainen 2019.

Source: Lipponen, J. A., & Tarvainen, M. P. (2019). A robust algorithm for heart rate
variability time series artefact correction using novel beat classification. Journal of
Medical Engineering & Technology, 43(3), 173-181. doi:10.1080/03091902.2019.1640306.
The constants (c1 = 0.13, c2 = 0.17, alpha = 5.2, a 91-beat threshold window and an
11-beat median filter) are the paper's; the classification follows its Figure 1 step by
step, as neurokit2's ``signal_fixpeaks(method="kubios")`` does.

The series is handled as *beat times* (the "peaks"): correction only moves, inserts or
deletes beat times, so the time axis is kept (DESIGN.md, Data contracts):

* a missed beat: a beat is inserted half-way, splitting the long interval in two;
* an extra beat: the beat is deleted, merging its interval with the next;
* an ectopic, long or short beat: the beat is moved half-way between its neighbours
  (the two intervals around it are replaced by their mean; their sum is kept).

Hard limits: an interval shorter than ``min_rr_ms`` (250 ms) is merged with its shorter
neighbour (an extra beat); an interval longer than ``max_rr_ms`` (2500 ms) is never taken
as a beat: it becomes a gap, so no successive difference spans it.

Correction passes are repeated (at most ``passes`` times, stopping early when a pass finds
nothing). Each pass only looks about 50 beats either side, so the result for a beat
depends only on its neighbourhood: this is what lets the incremental form in
:mod:`kindpulse.hrv` equal the batch form once it holds back :data:`CONTEXT_BEATS` beats.
Where neurokit2 stops iterating once a pass finds no fewer artifacts than the one before
(a global rule), a fixed number of local passes is used here; on real recordings the
results agree to well under 1 % of RMSSD (tests/test_artifacts.py).

Pure: numpy in, arrays out; no clock, no IO.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
BOOL = NDArray[np.bool_]

C1 = 0.13
C2 = 0.17
ALPHA = 5.2
THRESHOLD_WINDOW = 91
MEDFILT_ORDER = 11
MIN_RR_MS = 250.0
MAX_RR_MS = 2500.0
PASSES = 4
#: Beat times that jump beyond the RR by more than this (ms) mark a gap.
GAP_TOLERANCE_MS = 500.0
#: Beats either side that one pass looks at (threshold window half-width plus the
#: subspace look-ahead), with a small margin.
PASS_RADIUS_BEATS = THRESHOLD_WINDOW // 2 + 3 + 4
#: How many of the most recent beats an incremental corrector must hold back (and keep
#: before the beats it settles) so that every settled beat equals the batch result.
CONTEXT_BEATS = PASSES * PASS_RADIUS_BEATS + 16

KINDS = ("ectopic", "missed", "extra", "longshort", "too_short", "too_long")


@dataclass(frozen=True, slots=True)
class Correction:
    """The corrected series, interval by interval, and what correction did.

    ``t_ms``: end time of each interval (ms, on the input's time axis);
    ``rr_ms``: the interval (ms); ``gap_before``: True where the interval does not follow
    the previous one directly (a gap in the input or a dropped interval, so no successive
    difference is taken there); ``changed``: True where correction changed, inserted or
    merged the interval. ``counts`` counts what was found, by kind (:data:`KINDS`).
    """

    t_ms: F64
    rr_ms: F64
    gap_before: BOOL
    changed: BOOL
    counts: dict[str, int]


def canonical_times(
    rr_ms: F64,
    t_ms: F64 | None,
    *,
    gap_tolerance_ms: float = GAP_TOLERANCE_MS,
    prev_t: float | None = None,
    prev_given: float | None = None,
) -> tuple[F64, BOOL]:
    """Beat times (ms) and gap flags for an RR series, continuing after ``prev_t``.

    Without ``t_ms`` the times are the cumulative sum ``C_i = rr_0 + ... + rr_i``
    (DESIGN.md, Data contracts), continuing from ``prev_t`` when given. With ``t_ms`` (each
    beat's given time, ms), a gap is before beat ``i`` where ``t_i - t_{i-1}`` exceeds
    ``rr_i`` by more than ``gap_tolerance_ms``; each run without gaps starts at its first
    given time and goes on by cumulative RR, so a gap-free timestamped series has exactly
    the times of the plain RR and timestamp jitter never moves a beat.

    Sums are sequential from the anchor, so feeding a series in pieces (passing the last
    time and last given time as ``prev_t`` / ``prev_given``) gives bit-identical times.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    n = rr.size
    gap = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return np.empty(0, dtype=np.float64), gap
    if t_ms is None:
        start = 0.0 if prev_t is None else prev_t
        return np.cumsum(np.concatenate(([start], rr)))[1:], gap
    t = np.asarray(t_ms, dtype=np.float64)
    gap[1:] = (t[1:] - t[:-1]) > rr[1:] + gap_tolerance_ms
    if prev_t is None or prev_given is None:
        gap[0] = True
    else:
        gap[0] = bool(t[0] - prev_given > rr[0] + gap_tolerance_ms)
    starts = np.flatnonzero(gap).tolist()
    out = np.empty(n, dtype=np.float64)
    if not starts or starts[0] != 0:
        # The first run continues the previous piece.
        first_end = starts[0] if starts else n
        base = 0.0 if prev_t is None else prev_t
        out[:first_end] = np.cumsum(np.concatenate(([base], rr[:first_end])))[1:]
    bounds = [*starts, n]
    for s, e in itertools.pairwise(bounds):
        out[s:e] = np.cumsum(np.concatenate(([t[s]], rr[s + 1 : e])))
    if prev_t is None:
        gap[0] = False
    return out, gap


def _rolling_quantiles(x: F64, width: int, qs: tuple[float, ...]) -> list[F64]:
    """Centred rolling quantiles with windows truncated at the ends (as pandas'
    ``rolling(width, center=True, min_periods=1).quantile(q)``, linear interpolation)."""
    n = x.size
    half = width // 2
    if n == 0:
        return [np.empty(0, dtype=np.float64) for _ in qs]
    out = np.empty((len(qs), n), dtype=np.float64)
    interior = n - 2 * half
    if interior > 0:
        view = np.lib.stride_tricks.sliding_window_view(x, width)
        chunk = 32768
        for lo in range(0, interior, chunk):
            out[:, half + lo : half + min(lo + chunk, interior)] = np.quantile(
                view[lo : lo + chunk], qs, axis=1
            )
    # The ends, where the window is truncated: NaN-padded rows, one nanquantile call.
    edge = np.unique(np.r_[0 : min(half, n), max(n - half, 0) : n, (interior <= 0) * np.arange(n)])
    if edge.size:
        padded = np.concatenate((np.full(half, np.nan), x, np.full(half, np.nan)))
        rows = padded[edge[:, None] + np.arange(width)]
        out[:, edge] = np.nanquantile(rows, qs, axis=1)
    return [out[k] for k in range(len(qs))]


def _threshold(x: F64) -> F64:
    """Time-varying threshold: alpha * (Q3 - Q1) / 2 of |x| over 91 beats (L&T 2019, eq. 2)."""
    q1, q3 = _rolling_quantiles(np.abs(x), THRESHOLD_WINDOW, (0.25, 0.75))
    return ALPHA * ((q3 - q1) / 2.0)


def _local_mean(x: F64) -> float:
    """Stand-in for the undefined first element: the mean of the next up to 90 values
    (a local rule, so that the result never depends on beats far away)."""
    tail = x[1:THRESHOLD_WINDOW]
    return float(np.mean(tail)) if tail.size else 1.0


def find_artifacts(peaks_ms: F64) -> dict[str, list[int]]:
    """Classify beats of one gap-free run (L&T 2019, Figure 1).

    ``peaks_ms`` are beat times in ms; the returned indices are indices into ``peaks_ms``
    (beat ``j`` ends the interval ``peaks[j] - peaks[j-1]``).
    """
    n = peaks_ms.size
    found: dict[str, list[int]] = {"ectopic": [], "missed": [], "extra": [], "longshort": []}
    if n < 4:
        return found
    rr = np.empty(n, dtype=np.float64)
    rr[1:] = np.diff(peaks_ms) / 1000.0
    rr[0] = _local_mean(rr)
    drrs = np.empty(n, dtype=np.float64)
    drrs[1:] = np.diff(rr)
    drrs[0] = _local_mean(drrs)
    th1 = _threshold(drrs)
    with np.errstate(divide="ignore", invalid="ignore"):
        drrs = np.where(th1 != 0, drrs / th1, np.nan)
    pad = np.pad(drrs, 2, mode="reflect")
    prev1, next1, next2 = pad[1 : n + 1], pad[3 : n + 3], pad[4 : n + 4]
    s12 = np.where(
        drrs > 0, np.maximum(prev1, next1), np.where(drrs < 0, np.minimum(prev1, next1), 0.0)
    )
    s22 = np.where(
        drrs >= 0, np.minimum(next1, next2), np.where(drrs < 0, np.maximum(next1, next2), 0.0)
    )
    (medrr,) = _rolling_quantiles(rr, MEDFILT_ORDER, (0.5,))
    mrrs = rr - medrr
    mrrs = np.where(mrrs < 0, mrrs * 2.0, mrrs)
    th2 = _threshold(mrrs)
    with np.errstate(divide="ignore", invalid="ignore"):
        mrrs = np.where(th2 != 0, mrrs / th2, np.nan)

    # Only beats with |dRR| > 1 can be artifacts; walk them in order. A beat followed by a
    # second candidate consumes both, exactly as the step-by-step flow of Figure 1.
    candidates = np.flatnonzero(~(np.abs(drrs[: n - 2]) <= 1.0))
    next_i = 0
    for i in candidates.tolist():
        if i < next_i:
            continue
        d = drrs[i]
        if (d > 1 and s12[i] < -C1 * d - C2) or (d < -1 and s12[i] > -C1 * d + C2):
            found["ectopic"].append(i)
            next_i = i + 1
            continue
        if not (abs(d) > 1 or abs(mrrs[i]) > 3):
            next_i = i + 1
            continue
        cands = [i]
        if abs(drrs[i + 1]) < abs(drrs[i + 2]):
            cands.append(i + 1)
        for j in cands:
            dj = drrs[j]
            eq3 = dj > 1 and s22[j] < -1
            eq4 = abs(mrrs[j]) > 3
            eq5 = dj < -1 and s22[j] > 1
            if not (eq3 or eq4 or eq5):
                continue
            eq6 = abs(rr[j] / 2 - medrr[j]) < th2[j]
            eq7 = abs(rr[j] + rr[j + 1] - medrr[j]) < th2[j]
            if eq5 and eq7:
                found["extra"].append(j)
            elif eq3 and eq6:
                found["missed"].append(j)
            else:
                found["longshort"].append(j)
        next_i = i + len(cands)
    return found


def _shift(indices: list[int], at: list[int], by: int) -> list[int]:
    """Index bookkeeping after inserting (``by=1``) or deleting (``by=-1``) beats at ``at``:
    every index moves by ``by`` once for each of ``at`` below it. (Counting against the
    original positions keeps this local; shifting one position at a time against already
    shifted indices, as neurokit2 does, can depend on beats far away.)"""
    if not indices or not at:
        return indices
    idx = np.asarray(indices)
    below = np.searchsorted(np.sort(np.asarray(at)), idx, side="left")
    return sorted(set((idx + by * below).tolist()))


def _apply(
    found: dict[str, list[int]], peaks: F64, moved: BOOL, merged: BOOL
) -> tuple[F64, BOOL, BOOL]:
    """Correct one run's beat times; ``moved`` flags beats moved or inserted (both intervals
    around them changed), ``merged`` flags beats whose interval absorbed a deleted beat."""
    extra, missed = found["extra"], found["missed"]
    ectopic, longshort = found["ectopic"], found["longshort"]
    if extra:
        keep = np.ones(peaks.size, dtype=np.bool_)
        keep[extra] = False
        # The interval that absorbs the deleted beat ends at the next kept beat.
        absorb = np.asarray(extra) + 1
        absorb = absorb[absorb < peaks.size]
        merged = merged.copy()
        merged[absorb] = True
        peaks, moved, merged = peaks[keep], moved[keep], merged[keep]
        missed = _shift(missed, extra, -1)
        ectopic = _shift(ectopic, extra, -1)
        longshort = _shift(longshort, extra, -1)
    if missed:
        m = np.asarray(missed)
        m = m[(m > 1) & (m < peaks.size)]
        if m.size:
            added = peaks[m - 1] + (peaks[m] - peaks[m - 1]) / 2.0
            peaks = np.insert(peaks, m, added)
            moved = np.insert(moved, m, True)
            merged = np.insert(merged, m, False)
            ectopic = _shift(ectopic, m.tolist(), 1)
            longshort = _shift(longshort, m.tolist(), 1)
    for group in (ectopic, longshort):
        if not group:
            continue
        g = np.asarray(group)
        g = g[(g > 1) & (g < peaks.size - 1)]
        if g.size:
            new = peaks[g - 1] + (peaks[g + 1] - peaks[g - 1]) / 2.0
            peaks = peaks.copy()
            peaks[g] = new
            moved = moved.copy()
            moved[g] = True
            order = np.argsort(peaks, kind="mergesort")
            peaks, moved, merged = peaks[order], moved[order], merged[order]
    return peaks, moved, merged


def _enforce_min(peaks: F64, moved: BOOL, merged: BOOL, min_rr: float) -> tuple[F64, BOOL, BOOL]:
    """Merge intervals shorter than ``min_rr`` with their shorter neighbour (extra beats)."""
    while peaks.size >= 3:
        rr = np.diff(peaks)
        short = np.flatnonzero(rr < min_rr)
        if short.size == 0:
            break
        k = int(short[0])  # interval k runs from peaks[k] to peaks[k+1]
        left = rr[k - 1] if k > 0 else np.inf
        right = rr[k + 1] if k + 1 < rr.size else np.inf
        # Delete the beat shared with the shorter neighbour.
        drop = k if left <= right else k + 1
        absorb = drop + 1
        merged = merged.copy()
        if absorb < peaks.size:
            merged[absorb] = True
        peaks = np.delete(peaks, drop)
        moved = np.delete(moved, drop)
        merged = np.delete(merged, drop)
    return peaks, moved, merged


def _correct_run(peaks: F64, counts: dict[str, int]) -> tuple[F64, BOOL]:
    """Correct one gap-free run of beat times; returns times and per-interval changed flags."""
    moved = np.zeros(peaks.size, dtype=np.bool_)
    merged = np.zeros(peaks.size, dtype=np.bool_)
    before = peaks.size
    peaks, moved, merged = _enforce_min(peaks, moved, merged, MIN_RR_MS)
    counts["too_short"] += before - peaks.size
    for _ in range(PASSES):
        found = find_artifacts(peaks)
        if not any(found.values()):
            break
        for kind, idx in found.items():
            counts[kind] += len(idx)
        peaks, moved, merged = _apply(found, peaks, moved, merged)
    changed = moved[1:] | moved[:-1] | merged[1:]
    return peaks, changed


def correct(rr_ms: F64, t_ms: F64, gap_before: BOOL) -> Correction:
    """Correct an RR series with hard limits and L&T 2019; see the module docstring.

    ``t_ms`` and ``gap_before`` are the beat times and gap flags from
    :func:`canonical_times`. Values must be finite and positive.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    times = np.asarray(t_ms, dtype=np.float64)
    counts = dict.fromkeys(KINDS, 0)
    if rr.size == 0:
        e = np.empty(0, dtype=np.float64)
        return Correction(e, e, np.empty(0, dtype=np.bool_), np.empty(0, dtype=np.bool_), counts)
    too_long = rr > MAX_RR_MS
    counts["too_long"] = int(too_long.sum())
    # A run is a stretch of usable intervals with no gap; its beats are the run's start
    # time followed by each interval's end time.
    breaks = np.asarray(gap_before, dtype=np.bool_) | too_long
    breaks[0] = True
    run_starts = np.flatnonzero(breaks)
    run_ends = np.append(run_starts[1:], rr.size)
    out_t: list[F64] = []
    out_rr: list[F64] = []
    out_gap: list[BOOL] = []
    out_changed: list[BOOL] = []
    for s, e in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
        if too_long[s]:
            s += 1  # the over-long interval itself is dropped; the run starts after it
        if s >= e:
            continue
        peaks = np.empty(e - s + 1, dtype=np.float64)
        peaks[0] = times[s] - rr[s]
        peaks[1:] = times[s:e]
        if e - s >= 2:
            peaks, changed = _correct_run(peaks, counts)
        else:
            changed = np.zeros(1, dtype=np.bool_)
        seg_rr = np.diff(peaks)
        g = np.zeros(seg_rr.size, dtype=np.bool_)
        g[0] = True
        out_t.append(peaks[1:])
        out_rr.append(seg_rr)
        out_gap.append(g)
        out_changed.append(changed)
    if not out_t:
        e0 = np.empty(0, dtype=np.float64)
        return Correction(e0, e0, np.empty(0, dtype=np.bool_), np.empty(0, dtype=np.bool_), counts)
    gap_before = np.concatenate(out_gap)
    gap_before[0] = False
    return Correction(
        t_ms=np.concatenate(out_t),
        rr_ms=np.concatenate(out_rr),
        gap_before=gap_before,
        changed=np.concatenate(out_changed),
        counts=counts,
    )
