"""ECG R-peaks in numpy, and the PhysioNet (WFDB) files they are read from.

The R-peak detector (:func:`r_peaks`) is Pan-Tompkins-like:

1. band-pass 5-18 Hz by FFT (the QRS band; baseline wander, T waves and mains hum go);
2. the squared slope, integrated over 120 ms (one hump per QRS);
3. humps at least 250 ms apart, kept when above an adaptive threshold: 35 % of the median of
   the last eight kept humps (a search-back at half of it fills an interval longer than 1.7
   times the recent median interval);
4. each kept hump refined to the largest deflection of the band-passed ECG within 100 ms
   before it to 40 ms after it, in the recording's dominant QRS polarity, then to the
   largest deflection of the ECG itself (0.5-40 Hz) within 20 ms of that.

Nothing is tuned on the stress recordings: it is checked against the QT database's reference
beat annotations (``check_ecg_detector.py``).

WFDB: a header ``<record>.hea`` names the signals; format 16 is little-endian int16
interleaved per frame (a signal with ``16xN`` has N samples a frame), format 212 packs two
12-bit samples in three bytes. Annotations (``.atr``) are MIT-format: 16-bit words, the top 6
bits the code, the low 10 the time since the previous annotation (codes 59-63 carry extras).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: MIT annotation codes that are beats (wfdb's ``isqrs``).
BEAT_CODES = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 34, 35, 38, 41})


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    fmt: str
    per_frame: int
    gain: float
    baseline: int


@dataclass(frozen=True, slots=True)
class Header:
    record: str
    frame_hz: float
    n_frames: int
    signals: tuple[Signal, ...]


def read_header(text: str) -> Header:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    first = lines[0].split()
    frame_hz = float(first[2].split("/")[0]) if len(first) > 2 else 250.0
    n_frames = int(first[3]) if len(first) > 3 else 0
    sigs: list[Signal] = []
    for ln in lines[1 : 1 + int(first[1])]:
        p = ln.split()
        fmt, _, per = p[1].partition("x")
        gain_txt = p[2].split("/")[0].split("(")[0]
        base = p[2].split("(")[1].rstrip(")") if "(" in p[2] else None
        zero = int(p[4]) if len(p) > 4 else 0
        sigs.append(
            Signal(
                name=" ".join(p[8:]) if len(p) > 8 else f"sig{len(sigs)}",
                fmt=fmt.split(":")[0],
                per_frame=int(per.split(":")[0]) if per else 1,
                gain=float(gain_txt) if gain_txt and float(gain_txt) != 0 else 200.0,
                baseline=int(base) if base is not None else zero,
            )
        )
    return Header(first[0], frame_hz, n_frames, tuple(sigs))


def read_signal(header: Header, data: bytes, name: str) -> tuple[F64, float]:
    """One signal in physical units, and its sample rate (Hz)."""
    idx = next(i for i, s in enumerate(header.signals) if s.name == name)
    sig = header.signals[idx]
    fmts = {s.fmt for s in header.signals}
    if fmts == {"16"}:
        per = [s.per_frame for s in header.signals]
        raw = np.frombuffer(data, dtype="<i2")
        width = sum(per)
        frames = raw[: raw.size // width * width].reshape(-1, width)
        start = sum(per[:idx])
        adu = frames[:, start : start + sig.per_frame].ravel().astype(np.float64)
    elif fmts == {"212"} and all(s.per_frame == 1 for s in header.signals):
        b = np.frombuffer(data[: len(data) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(int)
        s0 = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
        s1 = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
        both = np.stack([s0, s1], axis=1).ravel()
        both = np.where(both >= 2048, both - 4096, both)
        n = len(header.signals)
        adu = both[: both.size // n * n].reshape(-1, n)[:, idx].astype(np.float64)
    else:
        raise ValueError(f"unsupported WFDB formats {sorted(fmts)}")
    return (adu - sig.baseline) / sig.gain, header.frame_hz * sig.per_frame


def read_beat_annotations(data: bytes) -> I64:
    """Sample numbers of the beats in an MIT-format annotation file."""
    words = np.frombuffer(data[: len(data) // 2 * 2], dtype="<u2")
    out: list[int] = []
    t = 0
    i = 0
    while i < words.size:
        w = int(words[i])
        code, delta = w >> 10, w & 0x3FF
        i += 1
        if code == 0 and delta == 0:
            break
        if code == 59:  # SKIP: a 32-bit interval follows, high word first
            t += (int(words[i]) << 16) + int(words[i + 1])
            i += 2
            continue
        if code == 63:  # AUX: delta bytes of text, padded to a word
            i += (delta + 1) // 2
            continue
        if code in (60, 61, 62):  # NUM, SUB, CHN
            continue
        t += delta
        if code in BEAT_CODES:
            out.append(t)
    return np.array(out, dtype=np.int64)


def _bandpass(x: F64, fs: float, lo: float, hi: float) -> F64:
    n = int(2 ** np.ceil(np.log2(x.size + 1)))
    spec = np.fft.rfft(x - np.mean(x), n)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    # Smooth edges (raised cosine over 1 Hz) so that the filter rings little.
    gain = np.clip((f - (lo - 0.5)) / 1.0, 0.0, 1.0) * np.clip(((hi + 0.5) - f) / 1.0, 0.0, 1.0)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    return np.fft.irfft(spec * gain, n)[: x.size]


def _moving_sum(x: F64, width: int) -> F64:
    c = np.concatenate(([0.0], np.cumsum(x)))
    out = np.empty_like(x)
    out[width - 1 :] = c[width:] - c[:-width]
    out[: width - 1] = c[1:width]
    return out


def _local_maxima(x: F64, min_gap: int) -> I64:
    """Indices of local maxima, greedily keeping the larger one of any two closer than
    ``min_gap``."""
    cand = np.nonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:]))[0] + 1
    order = cand[np.argsort(-x[cand], kind="stable")]
    taken = np.zeros(x.size, dtype=bool)
    keep = []
    for i in order.tolist():
        lo, hi = max(0, i - min_gap + 1), min(x.size, i + min_gap)
        if not taken[lo:hi].any():
            keep.append(i)
            taken[i] = True
    return np.sort(np.array(keep, dtype=np.int64))


def r_peaks(ecg: F64, fs: float) -> I64:
    """Sample indices of the R peaks (see the module docstring)."""
    if ecg.size < int(2 * fs):
        return np.empty(0, dtype=np.int64)
    qrs = _bandpass(ecg, fs, 5.0, 18.0)
    wide = _bandpass(ecg, fs, 0.5, 40.0)
    slope = np.gradient(qrs) * fs
    energy = _moving_sum(slope * slope, max(1, round(0.12 * fs)))
    humps = _local_maxima(energy, round(0.25 * fs))
    if humps.size == 0:
        return humps
    height = energy[humps]
    kept: list[int] = []
    recent: list[float] = [float(np.percentile(height, 90))] * 4
    rr_recent: list[float] = []
    for k, i in enumerate(humps.tolist()):
        level = float(np.median(recent[-8:]))
        if height[k] >= 0.35 * level:
            if kept and rr_recent and i - kept[-1] > 1.7 * float(np.median(rr_recent[-8:])):
                # Search back between the last beat and this one at half the threshold.
                lo, hi = kept[-1], i
                between = [
                    j
                    for j, h in zip(humps.tolist(), height.tolist(), strict=True)
                    if lo + 0.25 * fs < j < hi - 0.25 * fs and h >= 0.175 * level
                ]
                if between:
                    j = max(between, key=lambda j: energy[j])
                    rr_recent.append(j - kept[-1])
                    kept.append(j)
            if kept:
                rr_recent.append(i - kept[-1])
            kept.append(i)
            recent.append(float(height[k]))
    # Refine to the QRS deflection, in the recording's dominant polarity.
    before, after = round(0.10 * fs), round(0.04 * fs)
    pos = [float(np.max(qrs[max(0, i - before) : i + after + 1])) for i in kept]
    neg = [float(-np.min(qrs[max(0, i - before) : i + after + 1])) for i in kept]
    sign = 1.0 if np.median(pos) >= np.median(neg) else -1.0
    near = max(1, round(0.02 * fs))
    peaks = []
    for i in kept:
        lo = max(0, i - before)
        j = lo + int(np.argmax(sign * qrs[lo : i + after + 1]))
        lo2 = max(0, j - near)
        peaks.append(lo2 + int(np.argmax(sign * wide[lo2 : j + near + 1])))
    return np.unique(np.array(peaks, dtype=np.int64))


@dataclass(frozen=True, slots=True)
class Agreement:
    reference: int
    detected: int
    matched: int
    rr_pairs: int
    rr_abs_err_ms: F64  # |RR detected - RR reference| over consecutive matched beats

    @property
    def sensitivity(self) -> float:
        return self.matched / self.reference if self.reference else 0.0

    @property
    def ppv(self) -> float:
        return self.matched / self.detected if self.detected else 0.0


def agreement(detected: I64, reference: I64, fs: float, tol_s: float = 0.15) -> Agreement:
    """Beat-by-beat agreement: a reference beat is matched by the nearest unused detection
    within ``tol_s``; RR errors over runs of consecutive matched beats."""
    tol = tol_s * fs
    j = 0
    pairs: list[tuple[int, int]] = []
    for r in reference.tolist():
        while j < detected.size and detected[j] < r - tol:
            j += 1
        if j < detected.size and abs(int(detected[j]) - r) <= tol:
            pairs.append((r, int(detected[j])))
            j += 1
    errs = []
    det_index = {int(d): k for k, d in enumerate(detected.tolist())}
    ref_index = {int(r): k for k, r in enumerate(reference.tolist())}
    for (r0, d0), (r1, d1) in itertools.pairwise(pairs):
        if ref_index[r1] - ref_index[r0] == 1 and det_index[d1] - det_index[d0] == 1:
            errs.append(abs((d1 - d0) - (r1 - r0)) / fs * 1000.0)
    return Agreement(
        reference=int(reference.size),
        detected=int(detected.size),
        matched=len(pairs),
        rr_pairs=len(errs),
        rr_abs_err_ms=np.array(errs, dtype=np.float64),
    )
