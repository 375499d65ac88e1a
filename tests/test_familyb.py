"""Family B, the detection benchmark's second simulated wearer (benchmarks/familyb.py):
determinism, physiology measured with the real HRV engine, movement measured with the real
movement measure, faults."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from kindpulse.hrv import windowed_metrics
from kindpulse.motion import MotionTrack

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _load() -> ModuleType:
    # benchmarks/ is not a package: load the script by its path.
    if "familyb" in sys.modules:
        return sys.modules["familyb"]
    spec = importlib.util.spec_from_file_location("familyb", BENCH / "familyb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["familyb"] = module
    spec.loader.exec_module(module)
    return module


fb = _load()


def _scenario(seed: int = 3, faults: tuple[Any, ...] = ()) -> Any:
    segs = (
        fb.Seg("calm", 20),
        fb.Seg("stress", 12),
        fb.Seg("desk", 10),
        fb.Seg("walk", 10, "long"),
        fb.Seg("calm", 10),
        fb.Seg("exercise", 15, "cycling"),
        fb.Seg("calm", 15),
        fb.Seg("bigstress", 10, "standing"),
        fb.Seg("calm", 10),
    )
    return fb.Scenario("t", seed, fb.Person(64.0, 45.0), segs, faults)


@pytest.fixture(scope="module")
def made() -> tuple[Any, MotionTrack]:
    sc = _scenario()
    b = fb.generate(sc)
    return b, fb.beats_motion(b, sc.seed)


def _segments(b: Any) -> list[dict[str, Any]]:
    return list(b.truth["segments"])


def test_seeded_determinism() -> None:
    a, b = fb.generate(_scenario(5)), fb.generate(_scenario(5))
    assert np.array_equal(a.rr_ms, b.rr_ms) and np.array_equal(a.t_ms, b.t_ms)
    assert a.truth == b.truth
    ma, mb = fb.beats_motion(a, 5), fb.beats_motion(b, 5)
    assert np.array_equal(ma.end_s, mb.end_s) and np.array_equal(ma.mg, mb.mg)
    c = fb.generate(_scenario(6))
    assert c.rr_ms.size != a.rr_ms.size or not np.array_equal(c.rr_ms, a.rr_ms)


def test_rr_whole_ticks_and_times(made: tuple[Any, MotionTrack]) -> None:
    b, _ = made
    ticks = b.rr_ms / fb.TICK_MS
    assert np.allclose(ticks, np.round(ticks), atol=1e-6)
    assert np.allclose(np.cumsum(b.rr_ms), b.t_ms)


def test_segment_hr_and_rmssd_as_intended(made: tuple[Any, MotionTrack]) -> None:
    b, _ = made
    w = windowed_metrics(b.rr_ms, 60.0, 60.0, t_ms=b.t_ms)
    for seg in _segments(b):
        a, e = float(seg["start_s"]), float(seg["end_s"])
        settled = a + 240.0  # past the onset ramps and recoveries
        sel = (w.end_s > settled) & (w.end_s <= e)
        if sel.sum() < 4:
            continue
        sec = np.arange(int(settled), int(e))
        hr_want = float(np.median(b.hr_bpm[sec]))
        rm_want = float(np.median(b.rmssd_ms[sec]))
        hr_got = float(np.median(w.mean_hr[sel]))
        rm_got = float(np.median(w.rmssd[sel]))
        assert abs(hr_got - hr_want) < 1.5, (seg["kind"], hr_got, hr_want)
        assert abs(rm_got / rm_want - 1.0) < 0.10, (seg["kind"], rm_got, rm_want)


def test_effects_relative_to_rest(made: tuple[Any, MotionTrack]) -> None:
    b, _ = made
    stress = b.truth["stress_episodes"]
    assert [s["kind"] for s in stress] == ["seated", "big_standing"]
    assert 10 <= stress[0]["hr_delta_bpm"] <= 20 and 0.40 <= stress[0]["rmssd_factor"] <= 0.58
    assert 25 <= stress[1]["hr_delta_bpm"] <= 45 and 0.3 <= stress[1]["rmssd_factor"] <= 0.6
    (bout,) = b.truth["exercise_bouts"]
    assert bout["type"] == "cycling" and bout["recovery_end_s"] > bout["end_s"]


def test_movement_of_walks_far_above_still(made: tuple[Any, MotionTrack]) -> None:
    b, track = made

    def median_mg(kind: str) -> float:
        vals = []
        for seg in _segments(b):
            if seg["kind"] == kind:
                a, e = float(seg["start_s"]) + 30, float(seg["end_s"])
                vals.append(track.mg[(track.end_s > a) & (track.end_s <= e)])
        return float(np.median(np.concatenate(vals)))

    still = median_mg("calm")
    assert 1.0 < still < 10.0
    assert 1.0 < median_mg("stress") < 15.0
    assert median_mg("walk") > 10 * still
    assert 20.0 < median_mg("exercise") < 160.0  # cycling: small but rhythmic
    assert 4.0 < median_mg("bigstress") < 25.0  # standing: sway


def test_gravity_on_some_axis() -> None:
    sc = _scenario(9)
    b = fb.generate(sc)
    phase = fb.breath_phase_fn(b.breaths_per_min)
    t, x, y, z = next(iter(fb.accelerometer_chunks(b.moves, phase, b.gaps, sc.seed)))
    assert t.size == fb.CHUNK_S * 25
    g = np.sqrt(np.mean(x) ** 2 + np.mean(y) ** 2 + np.mean(z) ** 2)
    assert 950 < g < 1050


def test_faults() -> None:
    faults = (
        fb.Fault("ectopic", 1500.0, count=3),
        fb.Fault("dropout", 2000.0, duration_s=40.0),
        fb.Fault("loose_strap", 2500.0, duration_s=60.0),
        fb.Fault("missed", 3000.0, count=2),
        fb.Fault("extra", 3300.0, count=2),
    )
    sc = _scenario(4, faults)
    b = fb.generate(sc)
    kinds = [f["kind"] for f in b.truth["faults"]]
    assert kinds == ["ectopic", "dropout", "loose_strap", "missed", "extra"]
    # The dropout: no beats and no accelerometer samples, the timestamps jump.
    t_s = b.t_ms / 1000.0
    assert not np.any((t_s > 2001.0) & (t_s < 2039.0))
    track = fb.beats_motion(b, sc.seed)
    assert not np.any((track.end_s > 2002.0) & (track.end_s < 2039.0))
    # The loose strap: intervals outside 250-2500 ms.
    loose = b.rr_ms[(t_s > 2500.0) & (t_s < 2565.0)]
    assert loose.min() < 250.0 and loose.max() > 2500.0


def test_suite_size() -> None:
    suite = fb.suite()
    assert len(suite) >= 50
    assert sum(sc.duration_s for sc in suite) / 3600.0 >= 100.0
    assert {sc.group for sc in suite} == {"main", "long", "calm"}
