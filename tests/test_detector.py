"""The detector as tables over time: scoring windows in, states and episodes out.

No clock and no sleeping: each window carries its own end time.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kindpulse.detector import (
    BaselineTracker,
    Detector,
    DetectorConfig,
    State,
    WindowInput,
)

STEP = 15.0
REST_HR, REST_LN = 65.0, math.log(45.0)
JUDGING = ("bad", "poor", "fail", "wrong", "should", "too ")


def windows(
    spec: list[tuple[float, float, float]], start_s: float = 60.0, seed: int = 0, **kw: object
) -> list[WindowInput]:
    """``spec``: (minutes, hr_delta_bpm, rmssd_factor) stretches, a window every 15 s."""
    rng = np.random.default_rng(seed)
    out: list[WindowInput] = []
    t = start_s
    for minutes, dhr, factor in spec:
        for _ in range(int(minutes * 60 / STEP)):
            hr = REST_HR + dhr + rng.normal(0, 1.5)
            ln = REST_LN + math.log(factor) + rng.normal(0, 0.08)
            out.append(
                WindowInput(
                    end_s=t,
                    n_beats=int(hr),
                    mean_rr=60000.0 / hr,
                    mean_hr=hr,
                    ln_rmssd=ln,
                    artifact_pct=float(kw.get("artifact_pct", 0.0)),  # type: ignore[arg-type]
                )
            )
            t += STEP
    return out


def run(ws: list[WindowInput], cfg: DetectorConfig | None = None) -> Detector:
    det = Detector(cfg or DetectorConfig())
    for w in ws:
        det.step(w)
    det.finish(ws[-1].end_s)
    return det


def stress_episodes(det: Detector) -> list:  # type: ignore[type-arg]
    return [e for e in det.episodes if e.kind == "stress"]


def test_a_sustained_stress_stretch_is_one_episode_with_onset_and_explanation() -> None:
    ws = windows([(25, 0, 1.0), (10, 14, 0.5), (15, 0, 1.0)])
    det = run(ws)
    (ep,) = stress_episodes(det)
    onset = 60.0 + 25 * 60
    assert onset - 30 <= ep.start_s <= onset + 60  # back-dated into the first stress window
    assert ep.start_s < ep.confirmed_s <= onset + 5 * 60 + 90
    assert onset + 10 * 60 - 60 <= ep.end_s <= onset + 10 * 60 + 30
    assert ep.peak_z_ln_rmssd < -1.5 and ep.peak_z_hr > 1.5
    assert ep.mean_hr == pytest.approx(REST_HR + 14, abs=1.5)
    text = ep.explanation.lower()
    assert "heart rate" in text and "heart rate variability" in text
    assert "about 10 minutes" in text or "about 9 minutes" in text
    assert not any(word in text for word in JUDGING)
    assert "50% below" in text or "49% below" in text or "51% below" in text


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ([(25, 0, 1.0), (3, 14, 0.5), (15, 0, 1.0)], "too short to be sustained"),
        ([(25, 0, 1.0), (10, 5, 0.85), (15, 0, 1.0)], "a mild rise (coffee, desk work)"),
        ([(25, 0, 1.0), (10, 14, 1.0), (15, 0, 1.0)], "heart rate alone"),
        ([(25, 0, 1.0), (10, 0, 0.5), (15, 0, 1.0)], "variability alone"),
        ([(25, 0, 1.0), (20, 60, 0.2), (10, 12, 0.5), (15, 0, 1.0)], "exercise and recovery"),
        ([(10, 14, 0.5)], "stress during warm-up: no baseline yet"),
    ],
)
def test_not_stress(spec: list[tuple[float, float, float]], why: str) -> None:
    assert stress_episodes(run(windows(spec))) == [], why


def test_exercise_is_active_and_its_recovery_belongs_to_it() -> None:
    det = run(windows([(25, 0, 1.0), (20, 60, 0.2), (10, 12, 0.5), (15, 0, 1.0)]))
    active = [e for e in det.episodes if e.kind == "active"]
    assert len(active) == 1
    ex_start = 60.0 + 25 * 60
    assert active[0].start_s <= ex_start + 60
    assert active[0].end_s >= ex_start + 20 * 60 + 9 * 60  # through the recovery
    assert "movement or exercise" in active[0].explanation
    rec = [s for s in det.scores if ex_start + 20 * 60 <= s.end_s < ex_start + 30 * 60]
    assert all(s.state is State.ACTIVE for s in rec)


def test_short_unknown_gaps_do_not_split_an_episode_but_long_ones_end_it() -> None:
    calm = windows([(25, 0, 1.0)])
    t0 = calm[-1].end_s + STEP
    a = windows([(6, 14, 0.5)], start_s=t0, seed=1)
    gap = windows([(2, 14, 0.5)], start_s=a[-1].end_s + STEP, seed=2, artifact_pct=60.0)
    b = windows([(6, 14, 0.5), (10, 0, 1.0)], start_s=gap[-1].end_s + STEP, seed=3)
    det = run(calm + a + gap + b)
    assert len(stress_episodes(det)) == 1
    assert all(s.state is State.UNKNOWN for s in det.scores[len(calm) + len(a) :][: len(gap)])
    long_gap = windows([(6, 14, 0.5)], start_s=a[-1].end_s + STEP, seed=2, artifact_pct=60.0)
    c = windows([(6, 14, 0.5), (10, 0, 1.0)], start_s=long_gap[-1].end_s + STEP, seed=3)
    assert len(stress_episodes(run(calm + a + long_gap + c))) == 2


def test_an_episode_open_at_the_end_ends_at_the_last_beat() -> None:
    ws = windows([(25, 0, 1.0), (10, 14, 0.5)])
    det = Detector(DetectorConfig())
    for w in ws:
        det.step(w)
    det.finish(ws[-1].end_s + 7.5)
    (ep,) = stress_episodes(det)
    assert ep.end_s == ws[-1].end_s + 7.5


def test_baseline_learns_only_from_calm_enough_windows() -> None:
    calm = windows([(30, 0, 1.0)])
    det = run(calm)
    before = det.baseline.current()
    assert before.ready
    assert before.hr_bpm == pytest.approx(REST_HR, abs=1.0)
    assert before.ln_rmssd == pytest.approx(REST_LN, abs=0.05)
    t0 = calm[-1].end_s + STEP
    more = windows([(15, 14, 0.5), (30, 60, 0.2), (20, -12, 1.5)], start_s=t0)
    for w in more:
        det.step(w)
    after = det.baseline.current()
    # Stress, exercise and sleep-like stretches left the usual where it was.
    assert after.hr_bpm == pytest.approx(before.hr_bpm, abs=0.3)
    assert after.ln_rmssd == pytest.approx(before.ln_rmssd, abs=0.03)


def test_baseline_round_trips_and_a_saved_one_skips_the_warm_up() -> None:
    det = run(windows([(30, 0, 1.0)]))
    doc = json.loads(json.dumps(det.baseline.to_dict()))
    again = BaselineTracker.from_dict(doc)
    assert again.current() == det.baseline.current()
    # Started from the saved baseline, stress right away is recognised.
    det2 = Detector(DetectorConfig(), again)
    ws = windows([(10, 14, 0.5), (5, 0, 1.0)], start_s=10_000.0)
    for w in ws:
        det2.step(w)
    det2.finish(ws[-1].end_s)
    assert len(stress_episodes(det2)) == 1
    with pytest.raises(ValueError):
        BaselineTracker.from_dict({"version": 99})


def test_threshold_shift_makes_stress_harder_to_call() -> None:
    spec = [(25, 0, 1.0), (10, 9, 0.64), (15, 0, 1.0)]
    assert len(stress_episodes(run(windows(spec)))) == 1
    assert stress_episodes(run(windows(spec), DetectorConfig(threshold_shift=1.0))) == []


def test_poor_signal_is_unknown_never_calm_or_stress() -> None:
    ws = windows([(25, 0, 1.0)]) + windows([(10, 14, 0.5)], start_s=1600.0, artifact_pct=40.0)
    det = run(ws)
    tail = det.scores[-40:]
    assert all(s.state is State.UNKNOWN for s in tail)
    assert stress_episodes(det) == []


def test_deterministic() -> None:
    spec = [(25, 0, 1.0), (10, 14, 0.5), (15, 0, 1.0)]
    a, b = run(windows(spec)), run(windows(spec))
    assert a.episodes == b.episodes
    assert a.scores == b.scores


def test_windows_without_skin_contact_are_unknown() -> None:
    calm = windows([(25, 0, 1.0)])
    loose = [
        WindowInput(w.end_s, w.n_beats, w.mean_rr, w.mean_hr, w.ln_rmssd, w.artifact_pct,
                    contact=False)
        for w in windows([(10, 14, 0.5)], start_s=calm[-1].end_s + STEP)
    ]
    det = run(calm + loose)
    assert all(s.state is State.UNKNOWN for s in det.scores[len(calm):])
    assert stress_episodes(det) == []


def test_baseline_samples_roll_over_the_horizon_exactly() -> None:
    """The rolling baseline equals medians taken afresh over the samples of the last
    ``horizon_s``, through many growths and drops of its buffer, and survives a round trip."""
    import random

    from kindpulse.detector import MAD_TO_SD, MIN_SPREAD_LN_RMSSD, BaselineTracker

    rng = random.Random(4)
    tr = BaselineTracker(bootstrap_s=0.0, horizon_s=3600.0)
    kept: list[tuple[float, float, float]] = []
    t = 0.0
    for _ in range(3000):
        t += rng.choice([60.0, 60.0, 61.0, 30.0, 900.0])
        ln, hr = rng.gauss(3.5, 0.3), rng.gauss(65, 5)
        tr.offer(t, ln, hr, 15.0)
        if not kept or t - kept[-1][0] >= 60.0:  # at most a sample a minute; old ones go
            kept.append((t, ln, hr))
            kept = [k for k in kept if k[0] >= t - 3600.0]
        b = tr.current()
        lns = np.array([k[1] for k in kept])
        assert b.samples == len(kept)
        assert b.ln_rmssd == float(np.median(lns))
        mad = MAD_TO_SD * float(np.median(np.abs(lns - np.median(lns))))
        assert b.ln_rmssd_spread == max(mad, MIN_SPREAD_LN_RMSSD)
        assert b.hr_bpm == float(np.median([k[2] for k in kept]))
    again = BaselineTracker.from_dict(tr.to_dict())
    assert again.current() == tr.current()
    doc = tr.to_dict()
    doc["samples"] = doc["samples"][::-1]
    with pytest.raises(ValueError, match="time order"):
        BaselineTracker.from_dict(doc)
