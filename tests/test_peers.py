"""Agreement with the peer HRV libraries on real recordings.

The peer values in tests/data/peers/ were computed by hrv-analysis 1.0.6, pyHRV 0.5.0 and
neurokit2 0.2.13 with benchmarks/peers/regenerate.sh (each in its own venv) on the same
windows; the tests do not install the peers. Each of our metrics is compared with the
peers whose definition it shares (tests/data/peers/DEFINITIONS.md):

* mean_rr, rmssd, sdnn: all three; mean_hr: hrv-analysis and pyHRV (mean of 60000/RR);
* pnn50 over the number of differences: hrv-analysis and pyHRV (neurokit2 divides by the
  number of intervals);
* sd1, sd2 from the Poincaré standard deviations: neurokit2 (hrv-analysis derives SD2
  from SDNN and SDSD; pyHRV uses ddof=0);
* lf, hf, lf_hf: hrv-analysis 1.0.6 defaults, within 0.5 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kindpulse.hrv import windowed_metrics

from .conftest import DATA

PEERS = DATA / "peers"
RECORDINGS = ["nsrdb_60min", "nsrdb_5min", "hrvanalysis_1000"]

# (our column, peer, peer key, relative tolerance)
PAIRS = [
    ("mean_rr", "hrvanalysis", "mean_nni", 1e-6),
    ("mean_rr", "pyhrv", "nni_mean", 1e-6),
    ("mean_rr", "neurokit2", "HRV_MeanNN", 1e-6),
    ("mean_hr", "hrvanalysis", "mean_hr", 1e-6),
    ("mean_hr", "pyhrv", "hr_mean", 1e-6),
    ("rmssd", "hrvanalysis", "rmssd", 1e-6),
    ("rmssd", "pyhrv", "rmssd", 1e-6),
    ("rmssd", "neurokit2", "HRV_RMSSD", 1e-6),
    ("sdnn", "hrvanalysis", "sdnn", 1e-6),
    ("sdnn", "pyhrv", "sdnn", 1e-6),
    ("sdnn", "neurokit2", "HRV_SDNN", 1e-6),
    ("pnn50", "hrvanalysis", "pnni_50", 1e-6),
    ("pnn50", "pyhrv", "pnn50", 1e-6),
    ("sd1", "neurokit2", "HRV_SD1", 1e-6),
    ("sd2", "neurokit2", "HRV_SD2", 1e-6),
    ("lf", "hrvanalysis", "lf", 5e-3),
    ("hf", "hrvanalysis", "hf", 5e-3),
    ("lf_hf", "hrvanalysis", "lf_hf_ratio", 5e-3),
]


def peer_file(recording: str, peer: str) -> Path:
    return PEERS / f"{recording}.{peer}.json"


CASES = [
    (rec, *pair)
    for rec in RECORDINGS
    for pair in PAIRS
    if peer_file(rec, pair[1]).exists() or pair[1] != "neurokit2"
]


@pytest.mark.parametrize(("recording", "column", "peer", "key", "rel"), CASES)
def test_matches_peer(recording: str, column: str, peer: str, key: str, rel: float) -> None:
    doc = json.loads(peer_file(recording, peer).read_text())
    rr = np.loadtxt(DATA / f"{recording}.txt")
    ours = windowed_metrics(rr, doc["window_s"], doc["step_s"], correct=False)
    windows = doc["windows"]
    assert len(windows) == len(ours) > 0
    checked = 0
    for k, w in enumerate(windows):
        assert ours.end_s[k] == w["end_s"]
        assert ours.n_beats[k] == w["n_beats"]
        theirs = w["values"].get(key)
        if theirs is None:
            continue
        assert ours.column(column)[k] == pytest.approx(theirs, rel=rel), (column, w["end_s"])
        checked += 1
    assert checked == len(windows)
