"""Shared helpers for the peer scripts: read an RR file and cut it into time windows.

Imported by ``peer_values.py``, ``peer_timing.py`` and ``nk_fixpeaks.py`` (they run from this
folder, so a plain ``import rr_windows`` works). Needs numpy only.

Window rule: with ``C = np.cumsum(rr)`` (ms), a window of ``W`` seconds ending at ``E`` holds the
intervals ``i`` with ``1000*(E-W) < C[i] <= 1000*E``. Window ends are ``E = W, W+S, W+2S, ...``
while ``1000*E <= C[-1]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"

FloatArray = npt.NDArray[np.float64]

# (window_s, step_s) per recording stem.
WINDOWING: dict[str, tuple[float, float]] = {
    "nsrdb_60min": (300.0, 60.0),
    "hrvanalysis_1000": (300.0, 60.0),
    "nsrdb_5min": (60.0, 30.0),
}


@dataclass(frozen=True)
class Window:
    end_s: float
    first_index: int
    stop_index: int  # exclusive

    @property
    def n_beats(self) -> int:
        return self.stop_index - self.first_index


def read_rr(path: Path | str) -> FloatArray:
    """Read RR intervals in ms, one per line (blank lines ignored)."""
    text = Path(path).read_text(encoding="ascii")
    return np.array([float(x) for x in text.split()], dtype=np.float64)


def write_rr(path: Path | str, rr: npt.ArrayLike) -> None:
    """Write RR intervals in ms, one per line, at full precision (``repr`` of a float)."""
    values = np.asarray(rr, dtype=np.float64)
    Path(path).write_text("".join(f"{float(v)!r}\n" for v in values), encoding="ascii")


def windows(rr: FloatArray, window_s: float, step_s: float) -> Iterator[Window]:
    """Yield the windows of ``rr`` by the rule in the module docstring."""
    c = np.cumsum(rr)
    k = 0
    while True:
        end_s = float(window_s + k * step_s)
        if 1000.0 * end_s > c[-1]:
            return
        lo = int(np.searchsorted(c, 1000.0 * (end_s - window_s), side="right"))
        hi = int(np.searchsorted(c, 1000.0 * end_s, side="right"))
        yield Window(end_s=end_s, first_index=lo, stop_index=hi)
        k += 1


def peaks_from_rr(rr: FloatArray, sampling_rate: float) -> npt.NDArray[np.int64]:
    """Peak sample indices ``[0] + round(cumsum(rr)/1000*fs)``; exact only on the fs grid."""
    cum = np.round(np.cumsum(rr) / 1000.0 * sampling_rate).astype(np.int64)
    return np.concatenate([np.zeros(1, dtype=np.int64), cum])
