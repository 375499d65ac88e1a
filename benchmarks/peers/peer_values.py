"""Compute reference HRV values with one peer library and store them as JSON test fixtures.

Run inside the peer's venv (see ``setup.sh``), from the repository root::

    benchmarks/.venvs/hrvanalysis/bin/python benchmarks/peers/peer_values.py --peer hrvanalysis
    benchmarks/.venvs/neurokit2/bin/python   benchmarks/peers/peer_values.py --peer neurokit2
    benchmarks/.venvs/pyhrv/bin/python       benchmarks/peers/peer_values.py --peer pyhrv

or all of them with ``bash benchmarks/peers/regenerate.sh``. For each recording in
``tests/data/`` (default: nsrdb_60min, hrvanalysis_1000, nsrdb_5min) it writes
``tests/data/peers/<stem>.<peer>.json``::

    {"recording": "nsrdb_60min.txt", "peer": "hrvanalysis", "version": "1.0.6",
     "window_s": 300, "step_s": 60, "units": {...},
     "whole": {metric: value, ...},
     "windows": [{"end_s": 300.0, "n_beats": 351, "first_index": 0, "values": {...}}, ...]}

Windows follow ``rr_windows.windows`` (300 s / 60 s steps; 60 s / 30 s for nsrdb_5min); "whole"
uses every interval. Metric names are the peer's own output names; values are in the peer's
units (listed under "units"); NaN/inf are stored as null. Where a peer returns a tuple, each
element becomes ``<name>.<label>`` (pyhrv's ``fft_abs.lf``). Extra neurokit2 keys
``HRV_*[normalize=False]`` hold ``hrv_frequency(..., normalize=False)`` (absolute ms^2 powers),
next to the default call, whose PSD is scaled to a peak of 1. See DEFINITIONS.md there.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rr_windows import DATA, WINDOWING, FloatArray, read_rr, windows

os.environ.setdefault("MPLBACKEND", "Agg")

Values = dict[str, Any]
PEERS = ("hrvanalysis", "neurokit2", "pyhrv")
DISTRIBUTIONS = {"hrvanalysis": "hrv-analysis", "neurokit2": "neurokit2", "pyhrv": "pyhrv"}


def clean(value: Any) -> Any:
    """Convert numpy scalars to JSON-safe Python values; NaN/inf become None."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None:
        return None
    raise TypeError(f"unexpected value {value!r} of type {type(value).__name__}")


def merge(out: Values, items: Mapping[str, Any], suffix: str = "") -> None:
    for key, value in items.items():
        out[f"{key}{suffix}"] = clean(value)


# --- hrv-analysis ------------------------------------------------------------------------------
def hrvanalysis_values(rr: FloatArray) -> Values:
    from hrvanalysis import (
        get_frequency_domain_features,
        get_poincare_plot_features,
        get_time_domain_features,
    )

    out: Values = {}
    nn = rr.tolist()
    merge(out, get_time_domain_features(nn))
    merge(out, get_frequency_domain_features(nn))  # welch, 4 Hz, linear interpolation
    merge(out, get_poincare_plot_features(nn))
    return out


HRVANALYSIS_UNITS = {
    "mean_nni, sdnn, sdsd, rmssd, median_nni, range_nni": "ms",
    "nni_50, nni_20": "count",
    "pnni_50, pnni_20, lfnu, hfnu": "%",
    "cvsd, cvnni, lf_hf_ratio, ratio_sd2_sd1": "ratio",
    "mean_hr, max_hr, min_hr, std_hr": "beats/min",
    "lf, hf, vlf, total_power": "ms^2",
    "sd1, sd2": "ms",
}


# --- neurokit2 ---------------------------------------------------------------------------------
def neurokit2_values(rr: FloatArray) -> Values:
    import neurokit2 as nk

    out: Values = {}
    # neurokit2 0.2.13 accepts intervals directly: a dict with "RRI" (ms); times are then
    # cumsum(RRI)/1000, exactly as when R-peaks are given. No peak rounding is involved.
    data = {"RRI": rr}
    merge(out, nk.hrv_time(data).iloc[0].to_dict())
    merge(out, nk.hrv_frequency(data).iloc[0].to_dict())
    merge(out, nk.hrv_frequency(data, normalize=False).iloc[0].to_dict(), "[normalize=False]")
    merge(out, nk.hrv_nonlinear(data).iloc[0].to_dict())
    return out


NEUROKIT2_UNITS = {
    "HRV_MeanNN, HRV_SDNN, HRV_RMSSD, HRV_SDSD, HRV_MedianNN, HRV_MadNN, HRV_IQRNN, "
    "HRV_Prc20NN, HRV_Prc80NN, HRV_MinNN, HRV_MaxNN, HRV_SDANN*, HRV_SDNNI*, HRV_TINN": "ms",
    "HRV_pNN50, HRV_pNN20": "%",
    "HRV_ULF, HRV_VLF, HRV_LF, HRV_HF, HRV_VHF, HRV_TP (default normalize=True)": (
        "integral of a PSD divided by its maximum: Hz, not ms^2 (ratios are unaffected)"
    ),
    "HRV_*[normalize=False]": "ms^2 (HRV_LFHF, HRV_LFn, HRV_HFn: ratio; HRV_LnHF: ln ms^2)",
    "HRV_LFn, HRV_HFn, HRV_LFHF": "ratio (LFn/HFn are fractions of TP, not %)",
    "HRV_SD1, HRV_SD2, HRV_S(ms^2)": "ms",
    "other nonlinear indices": "dimensionless",
}


# --- pyhrv -------------------------------------------------------------------------------------
def pyhrv_values(rr: FloatArray) -> Values:
    import matplotlib

    matplotlib.use("Agg")
    import pyhrv.frequency_domain as fd
    import pyhrv.nonlinear as nl
    import pyhrv.time_domain as td

    out: Values = {}
    nn = np.asarray(rr, dtype=np.float64)
    for fn in (
        td.nni_parameters,
        td.nni_differences_parameters,
        td.hr_parameters,
        td.sdnn,
        td.sdsd,
        td.rmssd,
        td.nn50,
        td.nn20,
    ):
        res = fn(nni=nn)
        merge(out, dict(zip(res.keys(), res, strict=True)))
    # mode="dev": same numbers as show=False, without building a matplotlib figure.
    poin = nl.poincare(nni=nn, show=False, mode="dev")
    merge(out, dict(zip(poin.keys(), poin, strict=True)))
    params, _freq, _power = fd.welch_psd(nni=nn, show=False, mode="dev")
    bands = ("vlf", "lf", "hf")  # default bands: ulf is None, so tuples are (vlf, lf, hf)
    for key, value in zip(params.keys(), params, strict=True):
        if key in ("fft_bands", "fft_window", "fft_interpolation"):
            continue
        if key == "fft_norm":
            merge(out, {f"{key}.{b}": v for b, v in zip(("lf", "hf"), value, strict=True)})
        elif isinstance(value, tuple):
            merge(out, {f"{key}.{b}": v for b, v in zip(bands, value, strict=True)})
        else:
            merge(out, {key: value})
    return out


PYHRV_UNITS = {
    "nni_mean, nni_min, nni_max, nni_diff_*, sdnn, sdsd, rmssd": "ms",
    "nni_counter, nn50, nn20, fft_nfft": "count",
    "hr_mean, hr_min, hr_max, hr_std": "beats/min",
    "pnn50, pnn20, fft_rel.*, fft_norm.*": "%",
    "sd1, sd2": "ms",
    "ellipse_area": "ms^2",
    "sd_ratio, fft_ratio": "ratio",
    "fft_abs.*, fft_total": "ms^2",
    "fft_log.*": "ln(ms^2)",
    "fft_peak.*": "Hz",
    "fft_resampling_frequency": "Hz",
}


COMPUTE: dict[str, Callable[[FloatArray], Values]] = {
    "hrvanalysis": hrvanalysis_values,
    "neurokit2": neurokit2_values,
    "pyhrv": pyhrv_values,
}
UNITS = {"hrvanalysis": HRVANALYSIS_UNITS, "neurokit2": NEUROKIT2_UNITS, "pyhrv": PYHRV_UNITS}


def run(peer: str, recording: Path, out_dir: Path) -> Path:
    stem = recording.stem
    window_s, step_s = WINDOWING[stem]
    rr = read_rr(recording)
    compute = COMPUTE[peer]
    result: dict[str, Any] = {
        "recording": recording.name,
        "peer": peer,
        "version": importlib.metadata.version(DISTRIBUTIONS[peer]),
        "window_s": int(window_s) if window_s.is_integer() else window_s,
        "step_s": int(step_s) if step_s.is_integer() else step_s,
        "units": UNITS[peer],
        "whole": compute(rr),
        "windows": [],
    }
    for w in windows(rr, window_s, step_s):
        result["windows"].append(
            {
                "end_s": w.end_s,
                "n_beats": w.n_beats,
                "first_index": w.first_index,
                "values": compute(rr[w.first_index : w.stop_index]),
            }
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.{peer}.json"
    path.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", required=True, choices=PEERS)
    ap.add_argument(
        "--recordings",
        nargs="*",
        type=Path,
        default=[DATA / f"{stem}.txt" for stem in WINDOWING],
        help="RR files (ms, one per line); the stem selects the window/step",
    )
    ap.add_argument("--out-dir", type=Path, default=DATA / "peers")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # peers warn about short windows etc.; values are kept
    for recording in args.recordings:
        path = run(args.peer, recording, args.out_dir)
        print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
