"""Extract the real RR recordings shipped inside two peer packages into tests/data/.

Writes plain text, one RR interval in milliseconds per line (``repr`` of a float, no header):

* ``nsrdb_5min.txt``       <- pyhrv 0.5.0 wheel, ``pyhrv/files/SampleNNISeriesShort.npy``
* ``nsrdb_60min.txt``      <- pyhrv 0.5.0 wheel, ``pyhrv/files/SampleNNISeriesLong.npy``
* ``hrvanalysis_1000.txt`` <- hrv-analysis 1.0.6 sdist, ``tests/test_nn_intervals.txt``

The archives are fetched with ``pip download`` into a temporary folder (nothing is installed).
Both sources are already in milliseconds (integers); the script checks the range and fails if
a series looks like seconds.

Run (any Python with numpy and pip)::

    python benchmarks/peers/extract_recordings.py [--dest tests/data]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

PYHRV = "pyhrv==0.5.0"
HRVANALYSIS = "hrv-analysis==1.0.6"


def pip_download(spec: str, dest: Path, sdist: bool) -> Path:
    """Download one distribution (no dependencies) and return the archive path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest)]
    cmd += ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
    cmd.append(spec)
    env = dict(os.environ, PIP_CONSTRAINT="", PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run(cmd, check=True, env=env)
    files = sorted(dest.iterdir())
    if len(files) != 1:
        raise RuntimeError(f"expected one archive for {spec}, got {files}")
    return files[0]


def as_ms(rr: np.ndarray, name: str) -> np.ndarray:
    """Return ``rr`` as float64 milliseconds, refusing anything that does not look like ms."""
    rr = np.asarray(rr, dtype=np.float64)
    if rr.ndim != 1 or rr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D series")
    lo, hi = float(rr.min()), float(rr.max())
    if hi < 10.0:  # seconds
        raise ValueError(f"{name}: values {lo}..{hi} look like seconds; convert explicitly")
    if not (lo >= 200.0 and hi <= 3000.0):
        raise ValueError(f"{name}: values {lo}..{hi} are not plausible RR intervals in ms")
    return rr


def write_rr(path: Path, rr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{float(v)!r}\n" for v in rr), encoding="ascii")
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {rr.size} intervals")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=ROOT / "tests" / "data")
    args = ap.parse_args()
    dest: Path = args.dest

    with tempfile.TemporaryDirectory() as tmp:
        wheel = pip_download(PYHRV, Path(tmp) / "pyhrv", sdist=False)
        with zipfile.ZipFile(wheel) as zf:
            for member, out, n in (
                ("pyhrv/files/SampleNNISeriesShort.npy", "nsrdb_5min.txt", 337),
                ("pyhrv/files/SampleNNISeriesLong.npy", "nsrdb_60min.txt", 4684),
            ):
                rr = as_ms(np.load(io.BytesIO(zf.read(member)), allow_pickle=False), member)
                if rr.size != n:
                    raise ValueError(f"{member}: {rr.size} intervals, expected {n}")
                write_rr(dest / out, rr)

        sdist = pip_download(HRVANALYSIS, Path(tmp) / "hrvanalysis", sdist=True)
        with tarfile.open(sdist) as tf:
            top = tf.getnames()[0].split("/")[0]
            member = f"{top}/tests/test_nn_intervals.txt"
            fh = tf.extractfile(member)
            if fh is None:
                raise FileNotFoundError(member)
            text = fh.read().decode("ascii")
        rr = as_ms(np.array([float(x) for x in text.split()]), member)
        if rr.size != 1000:
            raise ValueError(f"{member}: {rr.size} intervals, expected 1000")
        write_rr(dest / "hrvanalysis_1000.txt", rr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
