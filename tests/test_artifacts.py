"""Artifact correction on real recordings: against neurokit2's Kubios method, and against the
same recording without the injected artifacts.

Data (tests/data/README.md): the NSRDB 60-minute series snapped to 1/128 s, the same with
45 artifacts injected at known places (15 each of ectopic short-long pairs, missed beats
and extra beats) (benchmarks/peers/make_artifacts.py), and neurokit2
0.2.13 ``signal_fixpeaks(method="kubios", iterative=True)`` on each
(benchmarks/peers/nk_fixpeaks.py). The peers are not installed by the tests.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kindpulse import artifacts
from kindpulse.hrv import prepare, windowed_metrics

from .conftest import DATA

ART = DATA / "artifacts"


def rmssd_windows(rr: np.ndarray, correct: bool) -> tuple[np.ndarray, np.ndarray]:
    t = windowed_metrics(rr, 300.0, 60.0, correct=correct)
    return t.end_s, t.rmssd


def windows_within_limits(rr: np.ndarray, ends: np.ndarray) -> np.ndarray:
    c = np.cumsum(rr)
    bad_t = c[(rr < artifacts.MIN_RR_MS) | (rr > artifacts.MAX_RR_MS)]
    return np.array([not np.any((bad_t > 1000 * (e - 300)) & (bad_t <= 1000 * e)) for e in ends])


@pytest.mark.parametrize("stem", ["nsrdb_60min_injected", "nsrdb_60min_grid"])
def test_corrected_rmssd_within_2_percent_of_neurokit2_kubios(stem: str) -> None:
    raw = np.loadtxt(ART / f"{stem}.txt")
    nk = np.loadtxt(ART / f"{stem}.nk_kubios.txt")
    ends, ours = rmssd_windows(raw, correct=True)
    nk_ends, theirs = rmssd_windows(nk, correct=False)  # neurokit2's output as it is
    n = min(ends.size, nk_ends.size)
    assert n >= 50
    np.testing.assert_array_equal(ends[:n], nk_ends[:n])
    keep = windows_within_limits(raw, ends[:n])
    assert keep.sum() >= 0.8 * n
    rel = np.abs(ours[:n] - theirs[:n]) / theirs[:n]
    assert np.max(rel[keep]) <= 0.02, np.sort(rel[keep])[-5:]


def test_injected_artifacts_corrected_close_to_the_clean_recording() -> None:
    clean = np.loadtxt(ART / "nsrdb_60min_grid.txt")
    injected = np.loadtxt(ART / "nsrdb_60min_injected.txt")
    e1, r_clean = rmssd_windows(clean, correct=True)
    e2, r_fixed = rmssd_windows(injected, correct=True)
    _, r_raw = rmssd_windows(injected, correct=False)
    n = min(e1.size, e2.size)
    rel_fixed = np.abs(r_fixed[:n] - r_clean[:n]) / r_clean[:n]
    rel_raw = np.abs(r_raw[:n] - r_clean[:n]) / r_clean[:n]
    assert np.median(rel_fixed) <= 0.03, np.median(rel_fixed)
    # Correction is what brings it there: uncorrected, the artifacts show.
    assert np.median(rel_raw) > 3 * np.median(rel_fixed)


def test_every_injected_artifact_is_found_where_it_was_put() -> None:
    meta = json.loads((ART / "nsrdb_60min_injected.json").read_text())
    injected = np.loadtxt(ART / "nsrdb_60min_injected.txt")
    s = prepare(injected)
    c = np.cumsum(injected)
    changed_t = s.t_ms[s.changed]
    found = 0
    items = meta["injections"]
    for item in items:
        idx = item["injected_indices"]
        t_lo, t_hi = c[min(idx)] - injected[min(idx)], c[max(idx)]
        # A changed interval ending within a beat or two of the injected place.
        if np.any((changed_t >= t_lo - 1) & (changed_t <= t_hi + 2500)):
            found += 1
    assert found == len(items) == 45


def test_hard_limits() -> None:
    rr = np.full(400, 800.0)
    rr[100] = 150.0  # too short: merged with its shorter neighbour
    rr[200] = 4000.0  # too long: never a beat, becomes a gap
    times, gap = artifacts.canonical_times(rr, None)
    out = artifacts.correct(rr, times, gap)
    assert out.counts["too_short"] == 1 and out.counts["too_long"] == 1
    assert np.all((out.rr_ms >= artifacts.MIN_RR_MS) & (out.rr_ms <= artifacts.MAX_RR_MS))
    assert out.rr_ms.size == 398
    assert out.gap_before.sum() == 1
    # The time axis is kept: the beat after the gap is where it was.
    after = np.flatnonzero(out.gap_before)[0]
    assert out.t_ms[after] == times[201]
    assert out.t_ms[-1] == times[-1]


def test_clean_series_is_mostly_left_alone_and_keeps_its_time_axis() -> None:
    rng = np.random.default_rng(5)
    rr = 850 + 25 * np.sin(np.arange(3000) * 2 * np.pi / 4.5) + rng.normal(0, 5, 3000)
    times, gap = artifacts.canonical_times(rr, None)
    out = artifacts.correct(rr, times, gap)
    assert out.changed.mean() < 0.01
    assert out.rr_ms.size == rr.size
    np.testing.assert_array_equal(out.t_ms[~out.changed], times[~out.changed])
    assert out.t_ms[-1] == times[-1]


def plain_find_artifacts(peaks: np.ndarray) -> dict[str, list[int]]:
    """L&T 2019 classification written the plain way (full rolling windows everywhere),
    after neurokit2's ``_find_artifacts``; the engine computes only what it reads."""
    n = peaks.size
    rr = np.empty(n)
    rr[1:] = np.diff(peaks) / 1000
    rr[0] = np.mean(rr[1:91])
    drrs = np.empty(n)
    drrs[1:] = np.diff(rr)
    drrs[0] = np.mean(drrs[1:91])

    def rolling(x: np.ndarray, w: int, q: float) -> np.ndarray:
        h = w // 2
        return np.array([np.quantile(x[max(0, i - h) : i + h + 1], q) for i in range(x.size)])

    def threshold(x: np.ndarray) -> np.ndarray:
        ax = np.abs(x)
        return 5.2 * (rolling(ax, 91, 0.75) - rolling(ax, 91, 0.25)) / 2

    th1 = threshold(drrs)
    drrs = np.where(th1 != 0, drrs / th1, np.nan)
    pad = np.pad(drrs, 2, mode="reflect")
    s12, s22 = np.zeros(n), np.zeros(n)
    for d in range(2, 2 + n):
        if pad[d] > 0:
            s12[d - 2] = max(pad[d - 1], pad[d + 1])
        elif pad[d] < 0:
            s12[d - 2] = min(pad[d - 1], pad[d + 1])
        if pad[d] >= 0:
            s22[d - 2] = min(pad[d + 1], pad[d + 2])
        elif pad[d] < 0:
            s22[d - 2] = max(pad[d + 1], pad[d + 2])
    medrr = rolling(rr, 11, 0.5)
    mrrs = rr - medrr
    mrrs[mrrs < 0] *= 2
    th2 = threshold(mrrs)
    mrrs = np.where(th2 != 0, mrrs / th2, np.nan)
    out: dict[str, list[int]] = {"ectopic": [], "missed": [], "extra": [], "longshort": []}
    i = 0
    while i < n - 2:
        if abs(drrs[i]) <= 1:
            i += 1
            continue
        d = drrs[i]
        if (d > 1 and s12[i] < -0.13 * d - 0.17) or (d < -1 and s12[i] > -0.13 * d + 0.17):
            out["ectopic"].append(i)
            i += 1
            continue
        if not (abs(d) > 1 or abs(mrrs[i]) > 3):
            i += 1
            continue
        cands = [i] + ([i + 1] if abs(drrs[i + 1]) < abs(drrs[i + 2]) else [])
        for j in cands:
            eq3 = drrs[j] > 1 and s22[j] < -1
            eq4 = abs(mrrs[j]) > 3
            eq5 = drrs[j] < -1 and s22[j] > 1
            i += 1
            if not (eq3 or eq4 or eq5):
                continue
            if eq5 and abs(rr[j] + rr[j + 1] - medrr[j]) < th2[j]:
                out["extra"].append(j)
            elif eq3 and abs(rr[j] / 2 - medrr[j]) < th2[j]:
                out["missed"].append(j)
            else:
                out["longshort"].append(j)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_equals_the_plain_algorithm(seed: int) -> None:
    rr = np.loadtxt(ART / "nsrdb_60min_injected.txt")[: 1500 + 500 * seed].copy()
    rng = np.random.default_rng(seed)
    for i in rng.choice(np.arange(5, rr.size - 5), 30, replace=False):
        rr[i] *= rng.choice([0.5, 0.7, 1.4, 2.0])
    peaks = np.concatenate(([0.0], np.cumsum(rr)))
    assert artifacts.find_artifacts(peaks) == plain_find_artifacts(peaks)


@pytest.mark.parametrize("sparse", [True, False])
def test_later_passes_near_changes_equal_exhaustive_passes(sparse: bool) -> None:
    # Sparse: a few artifacts in a long clean stretch, so later passes look only near them;
    # dense: artifacts everywhere, so they look at the whole run.
    rng = np.random.default_rng(11)
    if sparse:
        k = np.arange(8000)
        rr = 900 + 40 * np.sin(k / 2.5) + 20 * np.sin(k / 40) + rng.normal(0, 6, k.size)
        hits = rng.choice(np.arange(200, k.size - 200, 400), 12, replace=False)
    else:
        rr = np.tile(np.loadtxt(ART / "nsrdb_60min_injected.txt"), 2)
        hits = rng.choice(np.arange(5, rr.size - 5), 60, replace=False)
    for i in hits:
        rr[i] *= rng.choice([0.5, 0.7, 1.4, 2.0])
    times, gap = artifacts.canonical_times(rr, None)
    fast = artifacts.correct(rr, times, gap)
    slow = artifacts.correct(rr, times, gap, exhaustive=True)
    assert sum(slow.counts.values()) >= len(hits)
    np.testing.assert_array_equal(fast.t_ms, slow.t_ms)
    np.testing.assert_array_equal(fast.changed, slow.changed)
    assert fast.counts == slow.counts


def test_long_runs_are_corrected_in_blocks_with_the_same_result() -> None:
    # Longer than one block: the block-by-block result equals correcting it in one go.
    base = np.loadtxt(ART / "nsrdb_60min_injected.txt")
    rr = np.tile(base, 1 + (artifacts._BLOCK_BEATS + 3 * artifacts._BLOCK_CONTEXT) // base.size)
    times, gap = artifacts.canonical_times(rr, None)
    blocked = artifacts.correct(rr, times, gap)
    whole = artifacts._correct_block(rr, times, gap, exhaustive=False)
    np.testing.assert_array_equal(blocked.t_ms, whole.t_ms)
    np.testing.assert_array_equal(blocked.rr_ms, whole.rr_ms)
    np.testing.assert_array_equal(blocked.changed, whole.changed)
    np.testing.assert_array_equal(blocked.gap_before, whole.gap_before)
    assert blocked.events == whole.events
