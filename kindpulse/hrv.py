"""Windowed heart rate variability: a batch form over a whole recording and an incremental
form fed beat by beat, giving the same numbers on the same beats.

Windows (DESIGN.md, Data contracts): with beat times ``C_i`` in ms (the cumulative RR, or a
file's own clock), the window of length W ending at E holds the intervals with
``1000·(E − W) < C_i <= 1000·E``; windows end at ``E = W, W+S, W+2S, …`` while
``1000·E <= C_last``. Successive differences are taken only between intervals that are
both in the window and not separated by a gap.

Metrics (units; source). All are null (NaN here) in a window of fewer than 3 intervals.

* ``mean_rr`` — mean RR, ms.
* ``mean_hr`` — mean of 60000/RR, bpm (as hrv-analysis and pyHRV).
* ``rmssd`` — sqrt(mean(ΔRR²)), ms (Task Force of the ESC and NASPE 1996).
* ``ln_rmssd`` — natural log of RMSSD in ms (Esco & Flatt 2014).
* ``sdnn`` — std(RR, ddof=1), ms (Task Force 1996).
* ``pnn50`` — % of |ΔRR| > 50 ms over the number of differences (as pyHRV).
* ``sd1``, ``sd2`` — Poincaré: std(ΔRR/√2, ddof=1) and std((RR_i + RR_{i+1})/√2, ddof=1),
  ms (Brennan et al. 2001; as neurokit2).
* ``baevsky_si`` — Baevsky's stress index AMo / (2·Mo·MxDMn), 50 ms bins
  ``floor(RR/50)``, AMo in % of beats in the modal bin (lowest bin on ties), Mo its centre
  in s, MxDMn the range in s (Baevsky & Chernikova 2017).
* ``lf``, ``hf``, ``lf_hf`` — band powers in ms² as hrv-analysis 1.0.6
  ``get_frequency_domain_features`` with its defaults: RR at the beat times relative to the
  window's first beat, linear interpolation at 4 Hz on ``arange(0, t_last, 0.25)``,
  Welch's method (periodic Hann, 256-sample segments or the whole series if shorter, 50 %
  overlap, constant detrend, nfft 4096, density scaling), band power by the trapezoid rule
  over the bins with lo <= f < hi; LF 0.04–0.15 Hz, HF 0.15–0.40 Hz. Null where the window
  holds a gap longer than 5 s.
* ``artifact_pct`` — % of the window's intervals that correction changed, inserted or
  merged.

Speed: time-domain metrics come from prefix sums (a day in a few ms). The band power of a
fixed-length Welch segment is a quadratic form ``yᵀ·Q·y`` of the segment (Q from the
window, the band's bins and the trapezoid weights, with the detrend folded in); Q has low
numerical rank, so its leading eigenvectors reproduce it to machine precision and a day's
~11,500 segments cost one small matrix product. numpy only, no scipy.

Pure: no clock, no IO.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kindpulse import artifacts

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
BOOL = NDArray[np.bool_]

COLUMNS: tuple[str, ...] = (
    "end_s",
    "n_beats",
    "mean_rr",
    "mean_hr",
    "rmssd",
    "ln_rmssd",
    "sdnn",
    "pnn50",
    "sd1",
    "sd2",
    "baevsky_si",
    "lf",
    "hf",
    "lf_hf",
    "artifact_pct",
)

FS_HZ = 4.0
NFFT = 4096
SEGMENT = 256
LF_BAND = (0.04, 0.15)
HF_BAND = (0.15, 0.40)
MAX_GAP_FOR_SPECTRUM_MS = 5000.0
MIN_INTERVALS = 3
#: Intervals outside (0, MAX_VALID_RR_MS] or not finite are not intervals at all: they are
#: dropped and leave a gap (a file reader refuses them before they get here).
MAX_VALID_RR_MS = 1.0e7


@dataclass(frozen=True, slots=True)
class WindowTable:
    """Named columns of windowed metrics; one element per window, NaN where undefined."""

    end_s: F64
    n_beats: I64
    mean_rr: F64
    mean_hr: F64
    rmssd: F64
    ln_rmssd: F64
    sdnn: F64
    pnn50: F64
    sd1: F64
    sd2: F64
    baevsky_si: F64
    lf: F64
    hf: F64
    lf_hf: F64
    artifact_pct: F64

    def __len__(self) -> int:
        return int(self.end_s.size)

    def column(self, name: str) -> NDArray[np.float64] | NDArray[np.int64]:
        """The column called ``name`` (one of :data:`COLUMNS`)."""
        if name not in COLUMNS:
            raise KeyError(name)
        value: NDArray[np.float64] | NDArray[np.int64] = getattr(self, name)
        return value

    def rows(self) -> Iterator[dict[str, float | int | None]]:
        """Each window as ``{column: value}``, None for undefined."""
        cols = [(name, self.column(name).tolist()) for name in COLUMNS]
        for i in range(len(self)):
            row: dict[str, float | int | None] = {}
            for name, values in cols:
                v = values[i]
                row[name] = None if isinstance(v, float) and math.isnan(v) else v
            yield row

    @staticmethod
    def concat(tables: list[WindowTable]) -> WindowTable:
        """One table from several, in order."""
        if not tables:
            return _empty_table()
        return WindowTable(
            **{
                f.name: np.concatenate([getattr(t, f.name) for t in tables])
                for f in fields(WindowTable)
            }
        )


def _empty_table() -> WindowTable:
    return _EMPTY


def _nan_table_empty() -> WindowTable:
    return _nan_table(np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64))


def _nan_table(end_s: F64, n: I64) -> WindowTable:
    def nan() -> F64:
        return np.full(end_s.size, np.nan)

    return WindowTable(end_s, n, *(nan() for _ in COLUMNS[2:]))


#: The table of no windows (shared: a table with no rows has nothing to change).
_EMPTY = _nan_table_empty()


@dataclass(frozen=True, slots=True)
class Series:
    """A beat series ready for windowing: times (ms), intervals (ms), gap and changed flags."""

    t_ms: F64
    rr_ms: F64
    gap_before: BOOL
    changed: BOOL


def _sanitize(rr: F64, t: F64 | None) -> tuple[F64, F64 | None, BOOL]:
    """Drop values that are not intervals; returns the kept values and 'gap after a drop'."""
    ok = np.isfinite(rr) & (rr > 0) & (rr <= MAX_VALID_RR_MS)
    if t is not None:
        ok &= np.isfinite(t) & (np.abs(t) < 1e15)
    dropped_before = np.zeros(rr.size, dtype=np.bool_)
    if ok.all():
        return rr, t, dropped_before[ok]
    # A kept value right after a dropped one starts a new run.
    prev_dropped = np.concatenate(([False], ~ok[:-1]))
    return rr[ok], (t[ok] if t is not None else None), prev_dropped[ok]


def prepare(
    rr_ms: ArrayLike,
    t_ms: ArrayLike | None = None,
    *,
    correct: bool = True,
    prev_t: float | None = None,
    prev_given: float | None = None,
) -> Series:
    """Times, gaps and (optionally) artifact correction for a series of RR intervals (ms).

    ``t_ms`` optionally gives each beat's own time in ms (a file's timestamps, a live
    source's clock); see :func:`kindpulse.artifacts.canonical_times`.
    """
    rr = np.asarray(rr_ms, dtype=np.float64).ravel()
    t = None if t_ms is None else np.asarray(t_ms, dtype=np.float64).ravel()
    if t is not None and t.size != rr.size:
        raise ValueError("t_ms and rr_ms differ in length")
    rr, t, dropped = _sanitize(rr, t)
    times, gap = artifacts.canonical_times(rr, t, prev_t=prev_t, prev_given=prev_given)
    gap |= dropped
    if not correct:
        return Series(times, rr, gap, np.zeros(rr.size, dtype=np.bool_))
    c = artifacts.correct(rr, times, gap)
    return Series(c.t_ms, c.rr_ms, c.gap_before, c.changed)


def window_ends(
    t_last_ms: float, window_s: float, step_s: float, first_end_s: float | None = None
) -> F64:
    """Window ends ``E = W, W+S, …`` (or from ``first_end_s``) while ``1000·E <= t_last``."""
    start = window_s if first_end_s is None else first_end_s
    if not math.isfinite(t_last_ms) or t_last_ms < 1000.0 * start:
        return np.empty(0, dtype=np.float64)
    k = math.floor((t_last_ms / 1000.0 - start) / step_s) + 2
    ends = start + step_s * np.arange(max(k, 0), dtype=np.float64)
    return ends[1000.0 * ends <= t_last_ms]


def windowed_metrics(
    rr_ms: ArrayLike,
    window_s: float = 300.0,
    step_s: float = 60.0,
    correct: bool = True,
    t_ms: ArrayLike | None = None,
) -> WindowTable:
    """All metrics of :data:`COLUMNS` for every window of a whole recording.

    ``rr_ms``: RR intervals in ms. ``t_ms``: optional beat times in ms (a file's own
    clock, so gaps are real). ``correct``: apply artifact correction
    (:mod:`kindpulse.artifacts`); False analyses the series as given.
    """
    _check_window(window_s, step_s)
    s = prepare(rr_ms, t_ms, correct=correct)
    if s.t_ms.size == 0:
        return _empty_table()
    ends = window_ends(float(s.t_ms[-1]), window_s, step_s)
    return metrics_for_windows(s, ends, window_s)


def _check_window(window_s: float, step_s: float) -> None:
    if not (math.isfinite(window_s) and window_s > 0 and math.isfinite(step_s) and step_s > 0):
        raise ValueError("window and step must be positive seconds")


#: Windows computed together; their beats alone are in memory at once.
WINDOW_CHUNK = 2048


def metrics_for_windows(
    s: Series,
    ends_s: F64,
    window_s: float,
    *,
    spectrum: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> WindowTable:
    """Metrics of the windows of length ``window_s`` ending at ``ends_s`` over series ``s``
    (``spectrum=False`` leaves lf, hf and lf_hf null, for callers that need time domain
    only). Windows are computed in chunks of :data:`WINDOW_CHUNK` over only the beats they
    hold, so memory stays bounded on long recordings; ``progress(done, total)`` is called
    after each chunk."""
    ends = np.asarray(ends_s, dtype=np.float64)
    parts: list[WindowTable] = []
    for c0 in range(0, max(ends.size, 1), WINDOW_CHUNK):
        e = ends[c0 : c0 + WINDOW_CHUNK]
        if e.size:
            a = int(np.searchsorted(s.t_ms, 1000.0 * (e[0] - window_s), side="right"))
            b = int(np.searchsorted(s.t_ms, 1000.0 * e[-1], side="right"))
            a = max(0, a - 1)  # the beat before: the length of a gap before the first
            sub = Series(s.t_ms[a:b], s.rr_ms[a:b], s.gap_before[a:b], s.changed[a:b])
        else:
            sub = s
        parts.append(_metrics_chunk(sub, e, window_s, spectrum))
        if progress is not None:
            progress(min(c0 + WINDOW_CHUNK, ends.size), ends.size)
    return WindowTable.concat(parts)


def _metrics_chunk(s: Series, ends: F64, window_s: float, spectrum: bool) -> WindowTable:
    t, rr = s.t_ms, s.rr_ms
    ends = np.asarray(ends, dtype=np.float64)
    lo = np.searchsorted(t, 1000.0 * (ends - window_s), side="right").astype(np.int64)
    hi = np.searchsorted(t, 1000.0 * ends, side="right").astype(np.int64)
    n = hi - lo
    table = _nan_table(ends, n)
    if ends.size == 0 or rr.size == 0:
        return table
    ok = n >= MIN_INTERVALS
    # One prefix-sum table, a column per running sum; a window's sums are two row lookups.
    # Values are centred on the series mean so the sums stay small and exact enough.
    ref = float(np.mean(rr))
    x = rr - ref
    d = np.zeros(rr.size, dtype=np.float64)
    d[1:] = np.diff(rr)  # d_i = rr_i - rr_{i-1}: valid when no gap lies between
    valid = ~s.gap_before
    valid[0] = False
    dv = np.where(valid, d, 0.0)
    pv = np.zeros(rr.size, dtype=np.float64)
    pv[1:] = rr[1:] + rr[:-1] - 2.0 * ref
    pv[~valid] = 0.0
    cols = np.empty((rr.size + 1, 10), dtype=np.float64)
    cols[0] = 0.0
    body = cols[1:]
    body[:, 0] = x
    body[:, 1] = x * x
    with np.errstate(divide="ignore", over="ignore"):
        body[:, 2] = 60000.0 / rr
    body[:, 3] = s.changed
    body[:, 4] = valid
    body[:, 5] = dv
    body[:, 6] = dv * dv
    body[:, 7] = valid & (np.abs(d) > 50.0)
    body[:, 8] = pv
    body[:, 9] = pv * pv
    np.cumsum(cols, axis=0, out=cols)
    lo1 = np.minimum(lo + 1, hi)  # differences start at the window's second interval
    nf = n.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        beat = cols[hi, :4] - cols[lo, :4]
        diff = cols[hi, 4:] - cols[lo1, 4:]
        m = diff[:, 0]
        sum_x = beat[:, 0]
        table.mean_rr[ok] = (ref + sum_x / nf)[ok]
        var = (beat[:, 1] - sum_x * sum_x / nf) / (nf - 1.0)
        table.sdnn[ok] = np.sqrt(np.maximum(var, 0.0))[ok]
        table.mean_hr[ok] = (beat[:, 2] / nf)[ok]
        some = n > 0
        table.artifact_pct[some] = (100.0 * beat[:, 3] / nf)[some]
        sd_, sdd = diff[:, 1], diff[:, 2]
        has_d = ok & (m >= 1)
        rmssd = np.sqrt(sdd / m)
        table.rmssd[has_d] = rmssd[has_d]
        pos = has_d & (rmssd > 0)
        table.ln_rmssd[pos] = np.log(rmssd[pos])
        table.pnn50[has_d] = (100.0 * diff[:, 3] / m)[has_d]
        two = ok & (m >= 2)
        var_d = (sdd - sd_ * sd_ / m) / (m - 1.0)
        table.sd1[two] = np.sqrt(np.maximum(var_d, 0.0) / 2.0)[two]
        sp, spp = diff[:, 4], diff[:, 5]
        var_p = (spp - sp * sp / m) / (m - 1.0)
        table.sd2[two] = np.sqrt(np.maximum(var_p, 0.0) / 2.0)[two]

    _baevsky(rr, lo, hi, ok, table.baevsky_si)
    if spectrum:
        _frequency(s, lo, hi, ok, table)
    return table


def _baevsky(rr: F64, lo: I64, hi: I64, ok: BOOL, out: F64) -> None:
    """Baevsky's stress index per window (see module docstring), vectorised by bin."""
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return
    bins = np.floor(rr / 50.0).astype(np.int64)
    bmin = int(bins.min())
    span = int(bins.max()) - bmin + 1
    wlo, whi = lo[idx], hi[idx]
    n = rr.size
    if span <= 256 and span * idx.size <= 4_000_000:
        # Positions sorted by (bin, position): a stable sort of small codes is a radix sort.
        # The count of bin b in [lo, hi) is then two binary searches.
        code = (bins - bmin).astype(np.uint8)
        order = np.argsort(code, kind="stable")
        keys = code[order].astype(np.int64) * (n + 1) + order
        base = (np.arange(span, dtype=np.int64) * (n + 1))[:, None]
        counts = np.searchsorted(keys, base + whi[None, :]) - np.searchsorted(
            keys, base + wlo[None, :]
        )
        mode = np.argmax(counts, axis=0)  # first maximum: the lowest bin on ties
        amo_count = counts[mode, np.arange(idx.size)]
        mode_bin = mode + bmin
    else:
        ubins, inv = np.unique(bins, return_inverse=True)
        mode_bin = np.empty(idx.size, dtype=np.int64)
        amo_count = np.empty(idx.size, dtype=np.int64)
        for k, (a, b) in enumerate(zip(wlo.tolist(), whi.tolist(), strict=True)):
            bc = np.bincount(inv[a:b], minlength=ubins.size)
            j = int(np.argmax(bc))
            mode_bin[k] = ubins[j]
            amo_count[k] = bc[j]
    # Range per window with reduceat over (lo, hi) pairs.
    bounds = np.empty(2 * idx.size, dtype=np.int64)
    bounds[0::2], bounds[1::2] = wlo, np.minimum(whi, rr.size - 1)
    mx = np.maximum.reduceat(rr, bounds)[0::2]
    mn = np.minimum.reduceat(rr, bounds)[0::2]
    last = whi == rr.size  # reduceat stops one short when the window runs to the end
    if last.any():
        mx[last] = np.maximum(mx[last], rr[-1])
        mn[last] = np.minimum(mn[last], rr[-1])
    amo = 100.0 * amo_count / (whi - wlo)
    mo_s = (mode_bin * 50.0 + 25.0) / 1000.0
    mxdmn_s = (mx - mn) / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        si = amo / (2.0 * mo_s * mxdmn_s)
    si[~np.isfinite(si)] = np.nan
    out[idx] = si


def _hann(n: int) -> F64:
    """Periodic Hann window (as ``scipy.signal.get_window('hann', n)``)."""
    if n == 1:
        return np.ones(1)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _band_weights(band: tuple[float, float]) -> tuple[I64, F64]:
    """Bins with lo <= f < hi of a 4096-point spectrum at 4 Hz, and trapezoid weights."""
    freq = np.fft.rfftfreq(NFFT, 1.0 / FS_HZ)
    k = np.flatnonzero((freq >= band[0]) & (freq < band[1])).astype(np.int64)
    w = np.zeros(k.size, dtype=np.float64)
    if k.size >= 2:
        df = np.diff(freq[k])
        w[:-1] += df / 2.0
        w[1:] += df / 2.0
    return k, w


def _band_matrix(n: int, band: tuple[float, float]) -> F64:
    """Q with band power = mean over segments of ``xᵀ·Q·x`` for n-sample segments ``x``.

    Welch density scaling, one-sided (factor 2; the band holds neither DC nor Nyquist),
    constant detrend folded in as ``D·Q·D``.
    """
    k, wt = _band_weights(band)
    win = _hann(n)
    scale = 2.0 / (FS_HZ * float(np.sum(win * win)))
    ang = 2.0 * np.pi * np.outer(k, np.arange(n)) / NFFT
    c = np.cos(ang) * win
    s = np.sin(ang) * win
    q = (c.T * wt) @ c + (s.T * wt) @ s
    q *= scale
    dmat = np.eye(n) - 1.0 / n
    result: F64 = dmat @ q @ dmat
    return result


@lru_cache(maxsize=4)
def _band_basis(n: int) -> tuple[F64, F64, F64]:
    """Leading eigenvectors of the LF and HF matrices side by side, and their eigenvalues:
    band power of a segment ``x`` = Σ λ·(x·u)² over the band's columns."""
    vecs: list[F64] = []
    lams: list[F64] = []
    for band in (LF_BAND, HF_BAND):
        q = _band_matrix(n, band)
        lam, vec = np.linalg.eigh((q + q.T) / 2.0)
        keep = np.abs(lam) > 1e-14 * np.max(np.abs(lam))
        vecs.append(vec[:, keep])
        lams.append(lam[keep])
    return np.ascontiguousarray(np.hstack(vecs)), lams[0], lams[1]


def _frequency(s: Series, lo: I64, hi: I64, ok: BOOL, table: WindowTable) -> None:
    """LF, HF and LF/HF per window (see module docstring)."""
    t, rr = s.t_ms, s.rr_ms
    gap_ms = np.zeros(rr.size, dtype=np.float64)
    gap_ms[1:] = np.where(s.gap_before[1:], (t[1:] - rr[1:]) - t[:-1], 0.0)
    big = np.concatenate(([0], np.cumsum(gap_ms > MAX_GAP_FOR_SPECTRUM_MS)))
    lo1 = np.minimum(lo + 1, hi)
    usable = ok & ((big[hi] - big[lo1]) == 0)
    idx = np.flatnonzero(usable)
    if idx.size == 0:
        return
    t0 = t[lo[idx]]
    span_s = (t[hi[idx] - 1] - t0) / 1000.0
    m = np.ceil(span_s / (1.0 / FS_HZ)).astype(np.int64)  # len(arange(0, t_last, 0.25))
    m = np.maximum(m, 1)
    lf = np.full(idx.size, np.nan)
    hf = np.full(idx.size, np.nan)
    # Windows are handled in chunks so memory stays bounded on long recordings. Each
    # window's 4 Hz grid is one row of a 2-D array (padded to the longest window).
    basis, lam_lf, lam_hf = _band_basis(SEGMENT)
    half = SEGMENT // 2
    chunk = 2048
    for c0 in range(0, idx.size, chunk):
        sl = slice(c0, c0 + chunk)
        mc, tc = m[sl], t0[sl]
        width = int(mc.max())
        q = tc[:, None] + np.arange(width) * (1000.0 / FS_HZ)
        grid = np.interp(q.ravel(), t, rr)
        long_ = mc >= SEGMENT
        if long_.any():
            w_ids = np.flatnonzero(long_)
            nseg = (mc[w_ids] - SEGMENT) // half + 1
            first = np.cumsum(nseg) - nseg
            seg_k = np.arange(int(nseg.sum())) - np.repeat(first, nseg)
            starts = np.repeat(w_ids * width, nseg) + seg_k * half
            segs = np.lib.stride_tricks.sliding_window_view(grid, SEGMENT)[starts]
            sq = np.square(segs @ basis)
            r = lam_lf.size
            lf[sl][w_ids] = np.add.reduceat(sq[:, :r] @ lam_lf, first) / nseg
            hf[sl][w_ids] = np.add.reduceat(sq[:, r:] @ lam_hf, first) / nseg
        for length in np.unique(mc[~long_]).tolist():
            w_ids = np.flatnonzero((mc == length) & ~long_)
            rows = grid.reshape(-1, width)[w_ids, :length]
            rows = rows - rows.mean(axis=1, keepdims=True)
            win = _hann(length)
            spec = np.fft.rfft(rows * win, n=NFFT, axis=1)
            psd = (np.abs(spec) ** 2) * (2.0 / (FS_HZ * float(np.sum(win * win))))
            for band, target in ((LF_BAND, lf), (HF_BAND, hf)):
                k, wt = _band_weights(band)
                target[sl][w_ids] = psd[:, k] @ wt
    table.lf[idx] = lf
    table.hf[idx] = hf
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = lf / hf
    ratio[~np.isfinite(ratio)] = np.nan
    table.lf_hf[idx] = ratio


class IncrementalWindows:
    """The daemon's form: feed beats as they come; completed windows come out.

    For every window whose beats are older than the correction context
    (:data:`kindpulse.artifacts.CONTEXT_BEATS` beats), the numbers equal
    :func:`windowed_metrics` on the whole series; :meth:`flush` at the end of the data
    settles the rest, after which everything equals the batch form. Memory is bounded by
    one window plus the correction context.
    """

    def __init__(
        self,
        window_s: float = 300.0,
        step_s: float = 60.0,
        correct: bool = True,
        *,
        settle_every: int = 32,
    ) -> None:
        _check_window(window_s, step_s)
        self.window_s = window_s
        self.step_s = step_s
        self.correct = correct
        self._settle_every = max(1, settle_every)
        self._raw_rr = np.empty(0, dtype=np.float64)
        self._raw_t = np.empty(0, dtype=np.float64)
        self._raw_gap = np.empty(0, dtype=np.bool_)
        self._raw_fresh = 0  # raw beats received since the last settling
        self._prev_t: float | None = None
        self._prev_given: float | None = None
        self._settled_t = -math.inf  # beats with t <= this are final
        self._out = Series(
            np.empty(0), np.empty(0), np.empty(0, dtype=np.bool_), np.empty(0, dtype=np.bool_)
        )
        self._next_end = window_s

    def push(self, rr_ms: ArrayLike, t_ms: ArrayLike | None = None) -> WindowTable:
        """Add beats (RR in ms, optional own times in ms); returns windows completed now."""
        rr = np.atleast_1d(np.asarray(rr_ms, dtype=np.float64))
        t = None if t_ms is None else np.atleast_1d(np.asarray(t_ms, dtype=np.float64))
        if t is not None and t.size != rr.size:
            raise ValueError("t_ms and rr_ms differ in length")
        rr, t, dropped = _sanitize(rr, t)
        if rr.size == 0:
            return _empty_table()
        times, gap = artifacts.canonical_times(
            rr, t, prev_t=self._prev_t, prev_given=self._prev_given
        )
        gap |= dropped
        if t is not None:
            self._prev_given = float(t[-1])
        self._prev_t = float(times[-1])
        self._raw_rr = np.concatenate((self._raw_rr, rr))
        self._raw_t = np.concatenate((self._raw_t, times))
        self._raw_gap = np.concatenate((self._raw_gap, gap))
        self._raw_fresh += rr.size
        if self._raw_fresh < self._settle_every:
            return _empty_table()
        return self._settle(final=False)

    def mark_gap(self) -> None:
        """A break in the stream (link loss): the next beat starts a new run."""
        self._prev_given = None if self._prev_given is None else -math.inf

    def flush(self) -> WindowTable:
        """The data has ended: settle everything and return the remaining windows."""
        return self._settle(final=True)

    def _settle(self, final: bool) -> WindowTable:
        self._raw_fresh = 0
        n = self._raw_rr.size
        context = artifacts.CONTEXT_BEATS if self.correct else 0
        if n == 0:
            return _empty_table()
        if final:
            boundary = math.inf
        else:
            b = n - 1 - context
            if b < 0:
                return _empty_table()
            boundary = float(self._raw_t[b])
        s = self._correct_buffer()
        new = (s.t_ms > self._settled_t) & (s.t_ms <= boundary)
        self._append(Series(s.t_ms[new], s.rr_ms[new], s.gap_before[new], s.changed[new]))
        if not final:
            self._settled_t = boundary
            # Keep `context` raw beats before the boundary as the next round's context.
            keep_from = max(0, b - context) if self.correct else b + 1
            self._raw_rr = self._raw_rr[keep_from:]
            self._raw_t = self._raw_t[keep_from:]
            self._raw_gap = self._raw_gap[keep_from:]
        else:
            if s.t_ms.size:
                self._settled_t = float(s.t_ms[-1])
            self._raw_rr = self._raw_rr[:0]
            self._raw_t = self._raw_t[:0]
            self._raw_gap = self._raw_gap[:0]
        return self._emit(final)

    def _correct_buffer(self) -> Series:
        rr, t, gap = self._raw_rr, self._raw_t, self._raw_gap
        if not self.correct:
            return Series(t, rr, gap, np.zeros(rr.size, dtype=np.bool_))
        c = artifacts.correct(rr, t, gap)
        # The buffer's first beat is never settled; keep the real gap flags elsewhere.
        return Series(c.t_ms, c.rr_ms, c.gap_before, c.changed)

    def _append(self, s: Series) -> None:
        o = self._out
        self._out = Series(
            np.concatenate((o.t_ms, s.t_ms)),
            np.concatenate((o.rr_ms, s.rr_ms)),
            np.concatenate((o.gap_before, s.gap_before)),
            np.concatenate((o.changed, s.changed)),
        )

    def _emit(self, final: bool) -> WindowTable:
        o = self._out
        if o.t_ms.size == 0:
            return _empty_table()
        limit = float(o.t_ms[-1]) if final else min(self._settled_t, float(o.t_ms[-1]))
        ends = window_ends(limit, self.window_s, self.step_s, first_end_s=self._next_end)
        if ends.size == 0:
            return _empty_table()
        table = metrics_for_windows(o, ends, self.window_s)
        self._next_end = float(ends[-1]) + self.step_s
        # Forget beats no later window can hold.
        keep = o.t_ms > 1000.0 * (self._next_end - self.window_s)
        first = int(np.argmax(keep)) if keep.any() else o.t_ms.size
        first = max(0, first - 1)  # the previous beat, for the gap length before the first
        self._out = Series(o.t_ms[first:], o.rr_ms[first:], o.gap_before[first:], o.changed[first:])
        return table
