"""Reference artifact correction: neurokit2's Kubios method (Lipponen & Tarvainen 2019).

Run in the neurokit2 venv, from the repository root::

    benchmarks/.venvs/neurokit2/bin/python benchmarks/peers/nk_fixpeaks.py [FILES...]

Default inputs: ``tests/data/nsrdb_60min.txt`` (clean real series, integer ms),
``tests/data/artifacts/nsrdb_60min_grid.txt`` (same, snapped to the 128 Hz grid) and
``tests/data/artifacts/nsrdb_60min_injected.txt`` (make_artifacts.py). For each input it builds
R-peaks ``[0] + round(cumsum(rr)/1000*fs)`` and calls, exactly::

    info, peaks_clean = nk.signal_fixpeaks(peaks, sampling_rate=fs, iterative=True,
                                           method="kubios")

then writes to ``tests/data/artifacts/``:

* ``<stem>.nk_kubios.txt``       corrected RR, ``diff(peaks_clean) * 1000 / fs`` (ms)
* ``<stem>.nk_kubios_info.json`` the artifact indices neurokit2 reports, plus every pass of its
                                 iterative loop replayed with its own private helpers.

``fs`` is 1024 Hz when every interval is a multiple of 1000/128 ms (peaks are then exact integer
samples), else 1000 Hz when every interval is a whole number of ms (also exact), else 1024 Hz
(rounded; reported as ``peaks_exact: false``). ``--sampling-rate`` forces a value.

Index convention (neurokit2): artifact index ``k`` refers to peak ``k`` of the peak array that
pass examined, i.e. to the RR interval ending at that peak, which is RR index ``k - 1`` of
that pass's series. The reported ``info`` holds the LAST pass that was applied, whose indices
refer to the already-corrected peaks of the previous pass; only pass 1 indexes the input.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rr_windows import DATA, FloatArray, peaks_from_rr, read_rr, write_rr

KINDS = ("ectopic", "missed", "extra", "longshort")
GRID_MS = 1000.0 / 128.0


def choose_rate(rr: FloatArray) -> tuple[float, bool]:
    if np.allclose(rr / GRID_MS, np.round(rr / GRID_MS), rtol=0, atol=1e-9):
        return 1024.0, True
    if np.allclose(rr, np.round(rr), rtol=0, atol=1e-9):
        return 1000.0, True
    return 1024.0, False


def indices(artifacts: dict[str, Any]) -> dict[str, list[int]]:
    return {k: [int(i) for i in artifacts[k]] for k in KINDS}


def replay(peaks: np.ndarray, fs: float) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Replay the loop of neurokit2's ``_signal_fixpeaks_kubios`` pass by pass."""
    from neurokit2.signal.signal_fixpeaks import _correct_artifacts, _find_artifacts

    passes: list[dict[str, Any]] = []
    artifacts, _ = _find_artifacts(peaks, sampling_rate=fs)
    current = _correct_artifacts(artifacts, peaks)
    passes.append({"found": indices(artifacts), "applied": True, "n_peaks_in": int(peaks.size)})
    n_now = sum(len(artifacts[k]) for k in KINDS)
    while True:
        new, _ = _find_artifacts(current, sampling_rate=fs)
        n_prev, n_now = n_now, sum(len(new[k]) for k in KINDS)
        applied = n_now < n_prev
        passes.append({"found": indices(new), "applied": applied, "n_peaks_in": int(current.size)})
        if not applied:
            break
        current = _correct_artifacts(new, current)
    return passes, current


def run(path: Path, out_dir: Path, rate: float | None) -> None:
    import neurokit2 as nk

    rr = read_rr(path)
    fs, exact = choose_rate(rr)
    if rate is not None:
        fs = rate
        exact = bool(np.allclose(rr * fs / 1000.0, np.round(rr * fs / 1000.0), atol=1e-9))
    peaks = peaks_from_rr(rr, fs)
    info, clean = nk.signal_fixpeaks(peaks, sampling_rate=fs, iterative=True, method="kubios")
    clean = np.asarray(clean)
    corrected = np.diff(clean) * 1000.0 / fs

    passes, replayed = replay(peaks, fs)
    if not np.array_equal(replayed, clean):
        raise AssertionError("replayed passes do not reproduce signal_fixpeaks' output")
    applied = [p for p in passes if p["applied"]]
    if applied[-1]["found"] != indices(info):
        raise AssertionError("last applied pass differs from the returned info")
    first = passes[0]["found"]

    stem = path.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rr(out_dir / f"{stem}.nk_kubios.txt", corrected)
    meta = {
        "recording": path.name,
        "neurokit2_version": importlib.metadata.version("neurokit2"),
        "call": (
            f"nk.signal_fixpeaks(peaks, sampling_rate={fs:g}, iterative=True, method='kubios')"
        ),
        "sampling_rate": fs,
        "peaks_exact": exact,
        "n_rr_in": int(rr.size),
        "n_rr_out": int(corrected.size),
        "n_rr_changed_len": int(corrected.size) - int(rr.size),
        "info": indices(info),
        "info_note": (
            "neurokit2's returned info: artifacts of the last applied pass, as peak indices "
            "into the peaks that pass examined (see passes)."
        ),
        "first_pass_rr_indices": {k: [i - 1 for i in first[k]] for k in KINDS},
        "first_pass_note": "pass 1 (on the input), as 0-based RR indices of the input (= k - 1)",
        "passes": passes,
        "parameters": {
            "c1": 0.13,
            "c2": 0.17,
            "alpha": 5.2,
            "window_width": 91,
            "medfilt_order": 11,
        },
    }
    (out_dir / f"{stem}.nk_kubios_info.json").write_text(json.dumps(meta, indent=1) + "\n")
    counts = {k: len(v) for k, v in first.items()}
    print(
        f"{path.name}: fs={fs:g} exact={exact} {rr.size}->{corrected.size} RR, "
        f"{len(applied)} pass(es) applied, first pass {counts}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "files",
        nargs="*",
        type=Path,
        default=[
            DATA / "nsrdb_60min.txt",
            DATA / "artifacts" / "nsrdb_60min_grid.txt",
            DATA / "artifacts" / "nsrdb_60min_injected.txt",
        ],
    )
    ap.add_argument("--out-dir", type=Path, default=DATA / "artifacts")
    ap.add_argument("--sampling-rate", type=float, default=None)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    for path in args.files:
        run(path, args.out_dir, args.sampling_rate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
