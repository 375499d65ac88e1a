"""Windowed HRV metrics: definitions, window membership, gaps, and batch = incremental.

The reference below computes every metric the plain way, one window at a time, straight
from DESIGN.md's table (with scipy for Welch); the fast vectorised engine must agree.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import interpolate, signal

from kindpulse.hrv import (
    COLUMNS,
    IncrementalWindows,
    WindowTable,
    windowed_metrics,
)

from .conftest import DATA


def reference_window(rr: np.ndarray) -> dict[str, float]:
    """DESIGN.md's definitions for one gap-free window, written the plain way."""
    d = np.diff(rr)
    out = {
        "mean_rr": float(np.mean(rr)),
        "mean_hr": float(np.mean(60000.0 / rr)),
        "rmssd": float(np.sqrt(np.mean(d**2))),
        "sdnn": float(np.std(rr, ddof=1)),
        "pnn50": float(100.0 * np.sum(np.abs(d) > 50) / d.size),
        "sd1": float(np.std(d / np.sqrt(2), ddof=1)),
        "sd2": float(np.std((rr[:-1] + rr[1:]) / np.sqrt(2), ddof=1)),
    }
    out["ln_rmssd"] = math.log(out["rmssd"])
    bins = np.floor(rr / 50).astype(int)
    counts = np.bincount(bins - bins.min())
    mode = int(np.argmax(counts)) + bins.min()
    amo = 100.0 * counts.max() / rr.size
    mo = (mode * 50 + 25) / 1000.0
    mxdmn = (rr.max() - rr.min()) / 1000.0
    out["baevsky_si"] = amo / (2 * mo * mxdmn)
    # hrv-analysis 1.0.6 get_frequency_domain_features, defaults.
    ts = np.cumsum(rr) / 1000.0
    ts = ts - ts[0]
    grid = np.arange(0, ts[-1], 1 / 4.0)
    y = interpolate.interp1d(ts, rr, kind="linear")(grid)
    y = y - np.mean(y)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f, p = signal.welch(y, fs=4.0, window="hann", nfft=4096)
    lf_i = (f >= 0.04) & (f < 0.15)
    hf_i = (f >= 0.15) & (f < 0.40)
    out["lf"] = float(np.trapezoid(p[lf_i], f[lf_i]))
    out["hf"] = float(np.trapezoid(p[hf_i], f[hf_i]))
    out["lf_hf"] = out["lf"] / out["hf"]
    return out


def load(name: str) -> np.ndarray:
    return np.loadtxt(DATA / name)


def windows_by_rule(rr: np.ndarray, w: float, s: float) -> list[tuple[float, np.ndarray]]:
    c = np.cumsum(rr)
    out = []
    e = w
    while 1000 * e <= c[-1]:
        sel = (c > 1000 * (e - w)) & (c <= 1000 * e)
        out.append((e, rr[sel]))
        e += s
    return out


@pytest.mark.parametrize(
    ("name", "w", "s"),
    [
        ("nsrdb_60min.txt", 300.0, 60.0),
        ("nsrdb_5min.txt", 60.0, 30.0),
        ("hrvanalysis_1000.txt", 120.0, 45.0),
    ],
)
def test_every_metric_matches_the_plain_definition(name: str, w: float, s: float) -> None:
    rr = load(name)
    table = windowed_metrics(rr, window_s=w, step_s=s, correct=False)
    expected = windows_by_rule(rr, w, s)
    assert len(table) == len(expected) > 0
    for row, (end, win) in zip(table.rows(), expected, strict=True):
        assert row["end_s"] == end
        assert row["n_beats"] == win.size
        assert row["artifact_pct"] == 0.0
        ref = reference_window(win)
        for key, value in ref.items():
            got = row[key]
            assert got is not None, key
            # Time domain exactly; the spectrum to the rounding of interpolation grids.
            rel = 1e-9 if key not in ("lf", "hf", "lf_hf") else 1e-6
            assert got == pytest.approx(value, rel=rel), (key, end)


def test_window_membership_uses_half_open_intervals_in_ms() -> None:
    # 1000 ms beats: beat i ends at exactly (i+1) s, so the boundaries fall on beats.
    rr = np.full(1000, 1000.0)
    t = windowed_metrics(rr, window_s=300, step_s=60, correct=False)
    assert t.end_s.tolist()[:3] == [300.0, 360.0, 420.0]
    assert t.end_s[-1] == 960.0  # 1000 * 1020 > C_last = 1,000,000 ms
    assert set(t.n_beats.tolist()) == {300}
    # A beat ending exactly at E - W belongs to the earlier window only: move beat 59's end
    # from 60.0 s to 60.2 s and it joins the window (60, 360].
    rr2 = rr.copy()
    rr2[59] = 1200.0
    rr2[60] = 800.0  # beat 60 still ends at 61.0 s
    t2 = windowed_metrics(rr2, window_s=300, step_s=60, correct=False)
    assert t.n_beats[1] == 300
    assert t2.n_beats[1] == 301
    assert t2.mean_rr[1] == pytest.approx(np.mean(rr2[59:360]))


def test_fewer_than_three_intervals_are_null_not_zero() -> None:
    rr = np.array([1000.0, 1000.0, 30000.0, 1000.0, 1000.0, 1000.0])
    t = windowed_metrics(rr, window_s=5, step_s=5, correct=False)
    rows = list(t.rows())
    assert rows[0]["n_beats"] == 2
    for col in COLUMNS:
        if col not in ("end_s", "n_beats", "artifact_pct"):
            assert rows[0][col] is None, col


def test_short_recording_gives_no_windows() -> None:
    assert len(windowed_metrics(np.full(100, 800.0))) == 0
    assert len(windowed_metrics(np.array([]))) == 0


def test_baevsky_lowest_bin_wins_a_tie() -> None:
    rr = np.array([810.0, 820.0, 860.0, 870.0, 900.0])  # bins 16,16,17,17,18
    t = windowed_metrics(rr, window_s=4.26, step_s=1, correct=False)
    amo, mo, mxdmn = 40.0, 0.825, 0.09
    assert t.baevsky_si[0] == pytest.approx(amo / (2 * mo * mxdmn))


def test_differences_never_span_a_gap() -> None:
    rr = np.array([800.0, 820.0, 800.0, 820.0, 1200.0, 1220.0, 1200.0, 1220.0])
    t_ms = np.cumsum(rr)
    t_ms[4:] += 11_920.0  # a hole of almost 12 s before beat 4; the last beat ends at 20 s
    t = windowed_metrics(rr, window_s=20, step_s=20, correct=False, t_ms=t_ms)
    assert t.n_beats[0] == 8
    # Differences: 20, -20, 20 | 20, -20, 20 (the 380 ms jump across the gap is not one).
    assert t.rmssd[0] == pytest.approx(20.0)
    assert math.isnan(t.lf[0])  # a gap over 5 s: no spectrum
    no_gap = windowed_metrics(rr, window_s=6, step_s=6, correct=False)
    assert no_gap.rmssd[0] > 100  # the jump counts where there is no gap


def test_timestamped_gap_free_series_has_the_plain_times() -> None:
    rr = load("nsrdb_5min.txt")
    jitter = np.random.default_rng(3).normal(0, 30, rr.size)
    t_ms = np.cumsum(rr) + jitter  # a phone's arrival jitter, no gaps
    a = windowed_metrics(rr, 60, 30, correct=False)
    b = windowed_metrics(rr, 60, 30, correct=False, t_ms=t_ms - t_ms[0] + rr[0])
    for col in COLUMNS:
        np.testing.assert_array_equal(a.column(col), b.column(col))


def test_artifact_pct_counts_the_intervals_correction_changed() -> None:
    rr = load("nsrdb_60min.txt")[:800].copy()
    clean = windowed_metrics(rr, 300, 60)
    # A missed beat where the clean series needs no correction: two intervals become one,
    # and correction splits it back into two changed halves.
    i = 200 + int(np.argmin(np.abs(np.diff(rr[200:300]))))
    rr[i] += rr[i + 1]
    rr = np.delete(rr, i + 1)
    hit = windowed_metrics(rr, 300, 60)
    holds = (hit.end_s * 1000 - 300_000 < np.cumsum(rr)[i]) & (np.cumsum(rr)[i] <= hit.end_s * 1000)
    assert holds.any()
    changed_clean = clean.artifact_pct * clean.n_beats / 100
    changed_hit = hit.artifact_pct * hit.n_beats / 100
    np.testing.assert_allclose(changed_hit[holds] - changed_clean[holds], 2.0, atol=1e-9)
    np.testing.assert_allclose(changed_hit[~holds], changed_clean[~holds], atol=1e-9)


def _feed(
    rr: np.ndarray, cuts: list[int], correct: bool, t_ms: np.ndarray | None = None
) -> WindowTable:
    inc = IncrementalWindows(300, 60, correct=correct)
    parts = []
    edges = [0, *sorted(set(cuts)), rr.size]
    for a, b in itertools.pairwise(edges):
        if b > a:
            parts.append(inc.push(rr[a:b], None if t_ms is None else t_ms[a:b]))
    parts.append(inc.flush())
    return WindowTable.concat(parts)


def _assert_tables_equal(a: WindowTable, b: WindowTable) -> None:
    assert len(a) == len(b)
    for col in COLUMNS:
        np.testing.assert_allclose(a.column(col), b.column(col), rtol=1e-9, atol=1e-9, err_msg=col)


def _with_artifacts(seed: int) -> np.ndarray:
    rr = load("nsrdb_60min.txt")[:2500].copy()
    rng = np.random.default_rng(seed)
    for i in rng.choice(np.arange(5, rr.size - 5), 25, replace=False):
        rr[i] *= rng.choice([0.6, 1.5, 2.0])
    return rr


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 1000),
    cuts=st.lists(st.integers(1, 2499), max_size=12),
    correct=st.booleans(),
)
def test_incremental_equals_batch_wherever_the_series_is_cut(
    seed: int, cuts: list[int], correct: bool
) -> None:
    rr = _with_artifacts(seed)
    batch = windowed_metrics(rr, 300, 60, correct=correct)
    _assert_tables_equal(_feed(rr, cuts, correct), batch)


def test_incremental_windows_come_out_while_streaming() -> None:
    rr = load("nsrdb_60min.txt")
    batch = windowed_metrics(rr, 300, 60)
    inc = IncrementalWindows(300, 60)
    got: list[WindowTable] = []
    for i in range(rr.size):
        got.append(inc.push(rr[i : i + 1]))
    streamed = WindowTable.concat(got)
    # All but the last few windows are out before the data ends, and equal the batch's.
    assert len(streamed) >= len(batch) - 3
    for col in COLUMNS:
        np.testing.assert_allclose(
            streamed.column(col), batch.column(col)[: len(streamed)], rtol=1e-9, atol=1e-9
        )


def test_incremental_with_own_times_and_a_gap_equals_batch() -> None:
    rr = _with_artifacts(7)
    t_ms = np.cumsum(rr) + np.random.default_rng(1).normal(0, 20, rr.size)
    t_ms[1200:] += 45_000.0
    batch = windowed_metrics(rr, 300, 60, t_ms=t_ms)
    _assert_tables_equal(_feed(rr, [100, 1199, 1200, 1730], True, t_ms), batch)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=400),
    st.booleans(),
)
def test_no_exception_escapes_on_arbitrary_floats(values: list[float], correct: bool) -> None:
    table = windowed_metrics(np.array(values, dtype=np.float64), 5.0, 2.0, correct=correct)
    for row in table.rows():
        assert row["n_beats"] is not None and row["n_beats"] >= 0
