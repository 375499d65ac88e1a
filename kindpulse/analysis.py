"""One recording through detection: scoring windows, the detector, and what to report.

Shared by ``kindpulse analyze --episodes`` and (later) ``import``, so a recording gives the
same episodes wherever it goes. Pure: arrays in, dataclasses out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kindpulse.detector import (
    BaselineTracker,
    Detector,
    DetectorConfig,
    Episode,
    WindowInput,
    WindowScore,
)
from kindpulse.hrv import Series, metrics_for_windows, window_ends
from kindpulse.motion import MotionTrack


@dataclass(frozen=True, slots=True)
class Detection:
    """What the detector made of a recording."""

    config: DetectorConfig
    episodes: tuple[Episode, ...]
    scores: tuple[WindowScore, ...]
    baseline: BaselineTracker

    def to_json(self) -> dict[str, Any]:
        """The ``episodes``, ``states``, ``baseline`` and ``detector`` members of
        ``analyze --format json`` (NaN as None)."""
        return {
            "episodes": [_clean(e.to_dict()) for e in self.episodes],
            "states": [{"end_s": s.end_s, "state": s.state.value} for s in self.scores],
            "baseline": _clean(self.baseline.to_dict()),
            "detector": self.config.to_dict(),
        }

    def describe(self) -> str:
        """The episodes in kind words, for the terminal."""
        stress = [e for e in self.episodes if e.kind == "stress"]
        active = [e for e in self.episodes if e.kind == "active"]
        lines = ["Episodes"]
        if not self.baseline.ready:
            lines.append(
                "  The recording was too short to learn this person's usual, so no episode "
                "was looked for."
            )
        elif not stress:
            lines.append("  No sustained stretch of strain was found in this recording.")
        for e in stress:
            lines.append(f"  {_clock(e.start_s)}–{_clock(e.end_s)}  {e.explanation}")
        for e in active:
            lines.append(f"  {_clock(e.start_s)}–{_clock(e.end_s)}  {e.explanation}")
        return "\n".join(lines) + "\n"


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def detect(
    series: Series,
    config: DetectorConfig,
    baseline: BaselineTracker | None = None,
    motion: MotionTrack | None = None,
) -> Detection:
    """Score a prepared series in windows of ``config.window_s`` stepped ``config.step_s``
    and run the detector over them; an episode open at the end ends at the last beat.

    ``motion``: per-second movement on the series' own time axis (seconds, the same origin
    as ``series.t_ms / 1000``), when an accelerometer recording goes with the beats."""
    det = Detector(config, baseline)
    if series.t_ms.size:
        ends = window_ends(float(series.t_ms[-1]), config.window_s, config.step_s)
        table = metrics_for_windows(series, ends, config.window_s, spectrum=False)
        moving = (
            motion.window_movement(ends, config.window_s)
            if motion is not None
            else np.full(ends.size, np.nan)
        )
        for row, mg in zip(table.rows(), moving.tolist(), strict=True):
            det.step(WindowInput.from_row(row, movement_mg=None if math.isnan(mg) else mg))
        det.finish(float(series.t_ms[-1]) / 1000.0)
    return Detection(config, tuple(det.episodes), tuple(det.scores), det.baseline)
