"""Time a peer library computing windowed HRV features (time + frequency domain).

Run inside the peer's venv, from the repository root::

    benchmarks/.venvs/hrvanalysis/bin/python benchmarks/peers/peer_timing.py \\
        --peer hrvanalysis --rr /tmp/nsrdb_24h.txt --window 300 --step 60 [--repeat 3]

Reads RR intervals (ms, one per line), cuts them into windows by the rule in ``rr_windows.py``
and, for every window, computes the peer's time-domain and frequency-domain features, with no
artifact correction:

* hrvanalysis: ``get_time_domain_features`` + ``get_frequency_domain_features`` (defaults)
* neurokit2:   ``hrv_time`` + ``hrv_frequency`` (defaults; input ``{"RRI": window}``)
* pyhrv:       ``nni_parameters``, ``nni_differences_parameters``, ``hr_parameters``, ``sdnn``,
               ``sdsd``, ``rmssd``, ``nn50``, ``nn20`` + ``welch_psd(show=False, mode="dev")``
               (``mode="dev"`` returns the same parameters without building a figure)

Imports and window slicing happen before the clock starts. Prints one JSON line:
``{"peer", "version", "n_beats", "n_windows", "seconds", "peak_rss_mb"}`` where ``seconds`` is
the best of ``--repeat`` runs (``time.perf_counter``) and ``peak_rss_mb`` the process's peak
resident set size (``resource.getrusage``, ru_maxrss in KiB on Linux).

A 24 h input can be made by tiling the 60-minute recording::

    for i in $(seq 24); do cat tests/data/nsrdb_60min.txt; done > /tmp/nsrdb_24h.txt
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rr_windows import FloatArray, read_rr, windows

os.environ.setdefault("MPLBACKEND", "Agg")

DISTRIBUTIONS = {"hrvanalysis": "hrv-analysis", "neurokit2": "neurokit2", "pyhrv": "pyhrv"}


def hrvanalysis_fn() -> Callable[[FloatArray], Any]:
    from hrvanalysis import get_frequency_domain_features, get_time_domain_features

    def compute(w: FloatArray) -> Any:
        return get_time_domain_features(w), get_frequency_domain_features(w)

    return compute


def neurokit2_fn() -> Callable[[FloatArray], Any]:
    import neurokit2 as nk

    def compute(w: FloatArray) -> Any:
        data = {"RRI": w}
        return nk.hrv_time(data), nk.hrv_frequency(data)

    return compute


def pyhrv_fn() -> Callable[[FloatArray], Any]:
    import matplotlib

    matplotlib.use("Agg")
    import pyhrv.frequency_domain as fd
    import pyhrv.time_domain as td

    time_fns = (
        td.nni_parameters,
        td.nni_differences_parameters,
        td.hr_parameters,
        td.sdnn,
        td.sdsd,
        td.rmssd,
        td.nn50,
        td.nn20,
    )

    def compute(w: FloatArray) -> Any:
        out = [fn(nni=w) for fn in time_fns]
        out.append(fd.welch_psd(nni=w, show=False, mode="dev")[0])
        return out

    return compute


FACTORIES: dict[str, Callable[[], Callable[[FloatArray], Any]]] = {
    "hrvanalysis": hrvanalysis_fn,
    "neurokit2": neurokit2_fn,
    "pyhrv": pyhrv_fn,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", required=True, choices=sorted(FACTORIES))
    ap.add_argument("--rr", required=True, type=Path, help="RR file, ms, one per line")
    ap.add_argument("--window", type=float, default=300.0, help="window length, s")
    ap.add_argument("--step", type=float, default=60.0, help="step between window ends, s")
    ap.add_argument("--repeat", type=int, default=1, help="runs; the best is reported")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    rr = read_rr(args.rr)
    chunks = [rr[w.first_index : w.stop_index].copy() for w in windows(rr, args.window, args.step)]
    compute = FACTORIES[args.peer]()

    best = float("inf")
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        for chunk in chunks:
            compute(chunk)
        best = min(best, time.perf_counter() - t0)

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "peer": args.peer,
                "version": importlib.metadata.version(DISTRIBUTIONS[args.peer]),
                "n_beats": int(rr.size),
                "n_windows": len(chunks),
                "seconds": best,
                "peak_rss_mb": peak_kib / 1024.0,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
