"""One pipeline: the live daemon's Pipeline (beats and movement one at a time) and
``analyze``/``import`` (kindpulse.analysis.detect over a whole recording) give the same
windows' states and the same episodes for the same beats and the same movement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kindpulse.analysis import detect
from kindpulse.daemon.run import Pipeline
from kindpulse.detector import DetectorConfig
from kindpulse.hrv import prepare
from kindpulse.motion import MotionTrack
from kindpulse.sensors.simulator import load_scenario, simulate
from kindpulse.types import Beat, Movement

SCENARIO = """
name = "one_pipeline"
[person]
hr_bpm = 64
rmssd_ms = 45
[[segment]]
kind = "calm"
minutes = 30
[[segment]]
kind = "walk"
minutes = 12
[[segment]]
kind = "desk"
minutes = 12
[[segment]]
kind = "stress"
minutes = 14
hr_delta_bpm = 30
rmssd_factor = 0.45
[[segment]]
kind = "calm"
minutes = 15
"""


def movement_of(truth: dict, seconds: int, rng: np.random.Generator) -> np.ndarray:  # type: ignore[type-arg]
    """Per-second movement from the scenario's segments: walking 120-200 mg, else 2-8 mg."""
    ends = np.arange(1, seconds + 1, dtype=np.float64)
    mg = rng.uniform(2.0, 8.0, seconds)
    for s in truth["segments"]:
        if s["kind"] == "walk":
            sel = (ends > s["file_start_s"]) & (ends <= s["file_end_s"])
            mg[sel] = rng.uniform(120.0, 200.0, int(sel.sum()))
    return mg


@pytest.mark.parametrize("with_motion", [False, True])
def test_the_daemon_and_analyze_find_the_same_episodes(tmp_path: Path, with_motion: bool) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    sim = simulate(load_scenario(str(path)), 3)
    rr = sim.rr_ms
    t = np.cumsum(rr) / 1000.0
    seconds = int(t[-1])
    mg = movement_of(sim.truth, seconds, np.random.default_rng(9))
    cfg = DetectorConfig()

    batch = detect(
        prepare(rr),
        cfg,
        motion=MotionTrack(np.arange(1, seconds + 1, dtype=np.float64), mg)
        if with_motion
        else None,
    )

    origin = 1_800_000_000.0
    pipe = Pipeline(cfg, None)
    next_s = 1
    for ti, r in zip(t.tolist(), rr.tolist(), strict=True):
        while with_motion and next_s <= ti and next_s <= seconds:
            pipe.feed(Movement(origin + next_s, float(mg[next_s - 1])))
            next_s += 1
        pipe.feed(Beat(origin + ti, r))
    pipe.finish()

    live = pipe.detector
    assert [s.state for s in live.scores] == [s.state for s in batch.scores]
    if with_motion:
        assert [s.movement_mg for s in live.scores] == [s.movement_mg for s in batch.scores]
    key = [(e.kind, e.start_s, e.confirmed_s, e.end_s) for e in batch.episodes]
    assert [(e.kind, e.start_s, e.confirmed_s, e.end_s) for e in live.episodes] == key
    stress = [e for e in batch.episodes if e.kind == "stress"]
    walk = next(s for s in sim.truth["segments"] if s["kind"] == "walk")
    if with_motion:
        # The walk is movement, the big-rise stress while still is stress.
        assert len(stress) == 1 and stress[0].start_s > walk["file_end_s"]
        assert any(e.kind == "active" and e.context == "moving" for e in batch.episodes)
    else:
        # Without movement data a 12-minute walk looks like strain (docs/detection.md).
        assert any(e.start_s < walk["file_end_s"] for e in stress)
