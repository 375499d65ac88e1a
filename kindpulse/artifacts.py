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
    merged the interval. ``events`` lists what was found, as ``(time_ms, kind)`` with the
    time of the beat concerned and a kind of :data:`KINDS`, in time order.
    """

    t_ms: F64
    rr_ms: F64
    gap_before: BOOL
    changed: BOOL
    events: tuple[tuple[float, str], ...]

    @property
    def counts(self) -> dict[str, int]:
        """How many of each kind were found."""
        out = dict.fromkeys(KINDS, 0)
        for _, kind in self.events:
            out[kind] += 1
        return out


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


def _quantiles_at(x: F64, width: int, qs: tuple[float, ...], pos: NDArray[np.int64]) -> F64:
    """Centred rolling quantiles of ``x`` over ``width`` values, at positions ``pos`` only,
    shape ``(len(qs), len(pos))``. Windows are truncated at the ends, as pandas'
    ``rolling(width, center=True, min_periods=1).quantile(q)`` (linear interpolation)."""
    n = x.size
    half = width // 2
    out = np.empty((len(qs), pos.size), dtype=np.float64)
    if pos.size == 0:
        return out
    padded = np.concatenate((np.full(half, np.nan), x, np.full(half, np.nan)))
    offsets = np.arange(width)
    for c0 in range(0, pos.size, 32768):  # bounded memory on long recordings
        p = pos[c0 : c0 + 32768]
        rows = padded[p[:, None] + offsets]
        full = (p >= half) & (p < n - half) if n - 2 * half > 0 else np.zeros(p.size, bool)
        sl = out[:, c0 : c0 + 32768]
        if full.any():
            sl[:, full] = np.quantile(rows[full], qs, axis=1)
        if (~full).any():
            sl[:, ~full] = _truncated_quantiles(rows[~full], qs)
    return out


def _truncated_quantiles(rows: F64, qs: tuple[float, ...]) -> F64:
    """Quantiles of each row's non-NaN values (a truncated window at the ends of a run),
    with numpy's linear method, vectorised (``np.nanquantile`` loops row by row)."""
    srt = np.sort(rows, axis=1)  # NaN sorts last
    k = np.sum(~np.isnan(rows), axis=1)
    out = np.empty((len(qs), rows.shape[0]), dtype=np.float64)
    r = np.arange(rows.shape[0])
    for j, q in enumerate(qs):
        virtual = q * (k - 1)
        lo = np.floor(virtual).astype(np.int64)
        hi = np.minimum(lo + 1, k - 1)
        t = virtual - lo
        a, b = srt[r, lo], srt[r, hi]
        diff = b - a
        # numpy's _lerp: a + d*t below one half, b - d*(1-t) from one half on.
        out[j] = np.where(t >= 0.5, b - diff * (1.0 - t), a + diff * t)
    return out


_BLOCK = 8


def _threshold_lower_bound(absx: F64) -> F64:
    """A lower bound of :func:`_threshold` of ``|x|`` at every position (0 where none).

    The windows of ``_BLOCK`` neighbouring positions share ``91 − (_BLOCK − 1)`` values S.
    Removing r values from a set raises no order statistic and lowers none by more than r
    ranks, so Q1(W) <= S₍₂₃₎ and Q3(W) >= S₍₆₇₋ᵣ₎ (0-based ranks; Q1 and Q3 of 91 values lie
    between ranks 22-23 and 67-68). One small partition per block instead of one per beat.
    """
    n = absx.size
    half = THRESHOLD_WINDOW // 2
    r = _BLOCK - 1
    width = THRESHOLD_WINDOW - r
    out = np.zeros(n, dtype=np.float64)
    first, last = half, n - half - _BLOCK  # blocks whose windows lie inside the array
    if last < first:
        return out
    starts = np.arange(first, last + 1, _BLOCK)
    view = np.lib.stride_tricks.sliding_window_view(absx, width)
    bound = np.empty(starts.size, dtype=np.float64)
    for c0 in range(0, starts.size, 32768):  # bounded memory on long recordings
        rows = view[starts[c0 : c0 + 32768] + r - half]
        part = np.partition(rows, (23, 67 - r), axis=1)
        bound[c0 : c0 + 32768] = np.maximum(part[:, 67 - r] - part[:, 23], 0.0)
    bound *= ALPHA / 2.0 * (1.0 - 1e-9)
    out[starts[0] : starts[-1] + _BLOCK] = np.repeat(bound, _BLOCK)
    return out


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
    # dRRs / Th1 (eq. 1-2) is needed exactly only at beats that may exceed 1 and their
    # neighbours; elsewhere a cheap lower bound of Th1 already shows |dRRs| <= Th1.
    absd = np.abs(drrs)
    lower = _threshold_lower_bound(absd)
    maybe = np.flatnonzero(~((absd <= lower) & (lower > 0)))
    th1 = np.full(n, np.nan)
    nd = np.zeros(n, dtype=np.float64)  # |nd| <= 1 wherever it is not computed exactly
    done = np.zeros(n, dtype=np.bool_)

    def exact_at(at: NDArray[np.int64]) -> None:
        at = at[~done[at]]
        if at.size == 0:
            return
        q1q3 = _quantiles_at(absd, THRESHOLD_WINDOW, (0.25, 0.75), at)
        th1[at] = ALPHA * ((q1q3[1] - q1q3[0]) / 2.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            nd[at] = np.where(th1[at] != 0, drrs[at] / th1[at], np.nan)
        done[at] = True

    exact_at(maybe)
    # The subspaces read the neighbours of every beat that does exceed 1.
    over = maybe[~(np.abs(nd[maybe]) <= 1.0)]
    exact_at(np.unique(np.clip(over[:, None] + np.arange(-1, 4), 0, n - 1).ravel()))
    drrs = nd
    pad = np.pad(drrs, 2, mode="reflect")
    prev1, next1, next2 = pad[1 : n + 1], pad[3 : n + 3], pad[4 : n + 4]
    s12 = np.where(
        drrs > 0, np.maximum(prev1, next1), np.where(drrs < 0, np.minimum(prev1, next1), 0.0)
    )
    s22 = np.where(
        drrs >= 0, np.minimum(next1, next2), np.where(drrs < 0, np.maximum(next1, next2), 0.0)
    )
    # Only beats with |dRR| > 1 can be artifacts, and the median-deviation subspace (mRRs,
    # its threshold and the median filter) is only read at those beats and the next: it is
    # computed there alone, from the same windows as a full computation would use.
    candidates = np.flatnonzero(~(np.abs(drrs[: n - 2]) <= 1.0))
    if candidates.size == 0:
        return found
    need = np.unique(np.concatenate((candidates, candidates + 1)))
    half = THRESHOLD_WINDOW // 2
    near = np.zeros(n + 2 * half + 1, dtype=np.int64)
    np.add.at(near, need, 1)
    np.add.at(near, need + 2 * half + 1, -1)
    around = np.flatnonzero(np.cumsum(near)[half : half + n] > 0)
    medrr = np.full(n, np.nan)
    medrr[around] = _quantiles_at(rr, MEDFILT_ORDER, (0.5,), around)[0]
    mrrs = rr - medrr
    mrrs = np.where(mrrs < 0, mrrs * 2.0, mrrs)
    th2 = np.full(n, np.nan)
    q = _quantiles_at(np.abs(mrrs), THRESHOLD_WINDOW, (0.25, 0.75), need)
    th2[need] = ALPHA * ((q[1] - q[0]) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mrrs = np.where(th2 != 0, mrrs / th2, np.nan)

    # Walk the candidates in order. A beat followed by a second candidate consumes both,
    # exactly as the step-by-step flow of Figure 1.
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


MOVED, MERGED, TOUCHED = 0, 1, 2


def _apply(found: dict[str, list[int]], peaks: F64, flags: BOOL) -> tuple[F64, BOOL]:
    """Correct one run's beat times. ``flags`` rows: MOVED (beat moved or inserted: both
    intervals around it changed), MERGED (its interval absorbed a deleted beat), TOUCHED
    (changed in this call)."""
    extra, missed = found["extra"], found["missed"]
    ectopic, longshort = found["ectopic"], found["longshort"]
    flags = flags.copy()
    if extra:
        keep = np.ones(peaks.size, dtype=np.bool_)
        keep[extra] = False
        # The interval that absorbs the deleted beat ends at the next kept beat.
        absorb = np.asarray(extra) + 1
        absorb = absorb[absorb < peaks.size]
        flags[MERGED, absorb] = True
        flags[TOUCHED, absorb] = True
        peaks, flags = peaks[keep], flags[:, keep]
        missed = _shift(missed, extra, -1)
        ectopic = _shift(ectopic, extra, -1)
        longshort = _shift(longshort, extra, -1)
    if missed:
        m = np.asarray(missed)
        m = m[(m > 1) & (m < peaks.size)]
        if m.size:
            added = peaks[m - 1] + (peaks[m] - peaks[m - 1]) / 2.0
            peaks = np.insert(peaks, m, added)
            col = np.array([[True], [False], [True]])
            flags = np.insert(flags, m, np.repeat(col, m.size, axis=1), axis=1)
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
            flags[MOVED, g] = True
            flags[TOUCHED, g] = True
            order = np.argsort(peaks, kind="mergesort")
            peaks, flags = peaks[order], flags[:, order]
    return peaks, flags


#: Beats either side of a change whose classification can change with it, and the context
#: a re-examined stretch needs on each side to be classified as in the whole run.
_REACH = 56
_CONTEXT = 64


def _find_near(peaks: F64, touched: BOOL) -> dict[str, list[int]]:
    """:func:`find_artifacts` for a later pass, re-examining only beats near the last
    pass's changes. Elsewhere the input is unchanged, so the classification is too (a beat
    classified there last pass was changed, unless it sits at the run's edges, which are
    always re-examined). Each stretch is classified with ``_CONTEXT`` beats either side, so
    the result equals :func:`find_artifacts` on the whole run."""
    n = peaks.size
    seeds = touched.copy()
    seeds[: THRESHOLD_WINDOW + 2] = True  # the run's first values stand in for rr[0]
    seeds[max(0, n - 4) :] = True
    edge = np.zeros(n + 2 * _REACH + 1, dtype=np.int64)
    idx = np.flatnonzero(seeds)
    np.add.at(edge, idx, 1)
    np.add.at(edge, idx + 2 * _REACH + 1, -1)
    zone = np.cumsum(edge)[_REACH : _REACH + n] > 0
    change = np.diff(np.concatenate(([False], zone, [False])).astype(np.int8))
    starts, ends = np.flatnonzero(change == 1), np.flatnonzero(change == -1)
    # Stretches close together are examined as one; when they cover most of the run, the
    # whole run is examined at once (fewer, larger calls).
    close = (starts[1:] - ends[:-1]) < 4 * _CONTEXT
    starts = np.concatenate((starts[:1], starts[1:][~close]))
    ends = np.concatenate((ends[:-1][~close], ends[-1:]))
    if int(np.sum(ends - starts)) + 2 * _CONTEXT * starts.size > n // 2:
        return find_artifacts(peaks)
    found: dict[str, list[int]] = {"ectopic": [], "missed": [], "extra": [], "longshort": []}
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        lo, hi = max(0, a - _CONTEXT), min(n, b + _CONTEXT)
        sub = find_artifacts(peaks[lo:hi])
        for kind, js in sub.items():
            found[kind].extend(j + lo for j in js if a <= j + lo < b)
    return found


def _enforce_min(
    peaks: F64, flags: BOOL, min_rr: float, events: list[tuple[float, str]]
) -> tuple[F64, BOOL]:
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
        flags = flags.copy()
        if drop + 1 < peaks.size:
            flags[MERGED, drop + 1] = True
        events.append((float(peaks[drop]), "too_short"))
        peaks = np.delete(peaks, drop)
        flags = np.delete(flags, drop, axis=1)
    return peaks, flags


def _correct_run(
    peaks: F64, events: list[tuple[float, str]], exhaustive: bool = False
) -> tuple[F64, BOOL]:
    """Correct one gap-free run of beat times; returns times and per-interval changed flags,
    and adds what it found to ``events``."""
    flags = np.zeros((3, peaks.size), dtype=np.bool_)
    peaks, flags = _enforce_min(peaks, flags, MIN_RR_MS, events)
    for k in range(PASSES):
        found = find_artifacts(peaks) if k == 0 or exhaustive else _find_near(peaks, flags[TOUCHED])
        if not any(found.values()):
            break
        for kind, idx in found.items():
            events.extend((float(peaks[j]), kind) for j in idx)
        flags[TOUCHED] = False
        peaks, flags = _apply(found, peaks, flags)
    moved, merged = flags[MOVED], flags[MERGED]
    changed = moved[1:] | moved[:-1] | merged[1:]
    return peaks, changed


#: Runs longer than this many beats are corrected block by block (bounded memory); each
#: block is examined with ``_BLOCK_CONTEXT`` beats either side, so the result is the same.
_BLOCK_BEATS = 131072
_BLOCK_CONTEXT = CONTEXT_BEATS + 64


def correct(rr_ms: F64, t_ms: F64, gap_before: BOOL, *, exhaustive: bool = False) -> Correction:
    """Correct an RR series with hard limits and L&T 2019; see the module docstring.

    ``t_ms`` and ``gap_before`` are the beat times and gap flags from
    :func:`canonical_times`. Values must be finite and positive. Later passes re-examine
    only the beats near the previous pass's changes; ``exhaustive=True`` re-examines every
    beat in every pass (slower; the same result, which the tests check).
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    times = np.asarray(t_ms, dtype=np.float64)
    gap = np.asarray(gap_before, dtype=np.bool_)
    n = rr.size
    if n <= _BLOCK_BEATS + 2 * _BLOCK_CONTEXT:
        return _correct_block(rr, times, gap, exhaustive)
    parts: list[Correction] = []
    for a in range(0, n, _BLOCK_BEATS):
        b = min(n, a + _BLOCK_BEATS)
        lo, hi = max(0, a - _BLOCK_CONTEXT), min(n, b + _BLOCK_CONTEXT)
        c = _correct_block(rr[lo:hi], times[lo:hi], gap[lo:hi], exhaustive)
        after = times[a - 1] if a > 0 else -np.inf
        upto = times[b - 1] if b < n else np.inf
        keep = (c.t_ms > after) & (c.t_ms <= upto)
        events = tuple(e for e in c.events if after < e[0] <= upto)
        parts.append(
            Correction(c.t_ms[keep], c.rr_ms[keep], c.gap_before[keep], c.changed[keep], events)
        )
    return Correction(
        t_ms=np.concatenate([p.t_ms for p in parts]),
        rr_ms=np.concatenate([p.rr_ms for p in parts]),
        gap_before=np.concatenate([p.gap_before for p in parts]),
        changed=np.concatenate([p.changed for p in parts]),
        events=tuple(e for p in parts for e in p.events),
    )


def _correct_block(rr: F64, times: F64, gap_before: BOOL, exhaustive: bool) -> Correction:
    events: list[tuple[float, str]] = []
    empty_b = np.empty(0, dtype=np.bool_)
    if rr.size == 0:
        e = np.empty(0, dtype=np.float64)
        return Correction(e, e, empty_b, empty_b, ())
    too_long = rr > MAX_RR_MS
    events.extend((float(t), "too_long") for t in times[too_long])
    # A run is a stretch of usable intervals with no gap; its beats are the run's start
    # time followed by each interval's end time.
    breaks = gap_before | too_long
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
            peaks, changed = _correct_run(peaks, events, exhaustive)
        else:
            changed = np.zeros(1, dtype=np.bool_)
        seg_rr = np.diff(peaks)
        g = np.zeros(seg_rr.size, dtype=np.bool_)
        g[0] = True
        out_t.append(peaks[1:])
        out_rr.append(seg_rr)
        out_gap.append(g)
        out_changed.append(changed)
    events.sort(key=lambda e: e[0])
    if not out_t:
        e0 = np.empty(0, dtype=np.float64)
        return Correction(e0, e0, empty_b, empty_b, tuple(events))
    gap_out = np.concatenate(out_gap)
    gap_out[0] = False
    return Correction(
        t_ms=np.concatenate(out_t),
        rr_ms=np.concatenate(out_rr),
        gap_before=gap_out,
        changed=np.concatenate(out_changed),
        events=tuple(events),
    )
