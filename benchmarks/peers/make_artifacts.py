"""Inject known beat artifacts into the real 60-minute NSRDB series (numpy only).

Reads ``tests/data/nsrdb_60min.txt`` (integer ms) and writes, under ``tests/data/artifacts/``:

* ``nsrdb_60min_grid.txt``     the clean series snapped to the 128 Hz grid of the NSRDB
                               annotations (each interval rounded to a multiple of 1000/128 ms);
                               this is the baseline the artifacts are injected into.
* ``nsrdb_60min_injected.txt`` the baseline with artifacts (RR ms, one per line).
* ``nsrdb_60min_injected.json`` one record per injection: kind, index in the original series,
                               indices in the injected series, values before and after.

Kinds (equal numbers, shuffled, one per slot of ~94 beats, never closer than MIN_GAP beats):

* ``ectopic``  short-long pair: rr[i] -= d, rr[i+1] += d, d = 25-35 % of rr[i] (sum kept)
* ``missed``   rr[i] and rr[i+1] merged into one interval
* ``extra``    rr[i] split in two, about 40 % / 60 %
* ``long``     rr[i] * ~1.4 (1.35-1.45)
* ``short``    rr[i] * ~0.65 (0.60-0.70)

Every output value is a multiple of 1000/128 ms, so R-peaks at 1024 Hz are integer samples.
Deterministic (fixed seed). Run with any Python that has numpy::

    python benchmarks/peers/make_artifacts.py [--seed 20240917] [--per-kind 10]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rr_windows import DATA, FloatArray, read_rr, write_rr

GRID_MS = 1000.0 / 128.0
# The kinds TESTING.md names (ectopic short-long pairs, missed, extra); "long" and "short"
# (uncompensated, so the time axis moves) stay available with --kinds.
KINDS = ("ectopic", "missed", "extra")
ALL_KINDS = ("ectopic", "missed", "extra", "long", "short")
MIN_GAP = 15  # minimum distance, in original beats, between two injections
EDGE = 20  # no injection within this many beats of either end


def snap(x: float | FloatArray) -> Any:
    """Round ms values to the nearest multiple of 1000/128 ms."""
    return np.round(np.asarray(x, dtype=np.float64) / GRID_MS) * GRID_MS


def pick_positions(n: int, count: int, rng: np.random.Generator) -> list[int]:
    """One position per equal slot, away from slot borders, so gaps are >= MIN_GAP."""
    usable = n - 2 * EDGE
    slot = usable // count
    if slot < 2 * MIN_GAP:
        raise ValueError(f"{count} injections do not fit in {n} beats")
    out = []
    for k in range(count):
        start = EDGE + k * slot
        out.append(int(rng.integers(start + MIN_GAP // 2, start + slot - MIN_GAP // 2 - 1)))
    gaps = np.diff(out)
    assert gaps.min() >= MIN_GAP, gaps.min()
    return out


def inject(
    base: FloatArray, positions: list[int], kinds: list[str], rng: np.random.Generator
) -> tuple[FloatArray, list[dict[str, Any]]]:
    by_pos = dict(zip(positions, kinds, strict=True))
    out: list[float] = []
    records: list[dict[str, Any]] = []
    i = 0
    n = base.size
    while i < n:
        kind = by_pos.get(i)
        j = len(out)
        if kind is None:
            out.append(float(base[i]))
            i += 1
            continue
        rec: dict[str, Any] = {"kind": kind, "original_index": i}
        if kind == "ectopic":
            frac = float(rng.uniform(0.25, 0.35))
            d = float(snap(frac * base[i]))
            new = [float(base[i]) - d, float(base[i + 1]) + d]
            rec |= {"original_indices": [i, i + 1], "injected_indices": [j, j + 1]}
            rec |= {"shift_ms": d, "fraction": d / float(base[i])}
            old = [float(base[i]), float(base[i + 1])]
            i += 2
        elif kind == "missed":
            new = [float(base[i]) + float(base[i + 1])]
            rec |= {"original_indices": [i, i + 1], "injected_indices": [j]}
            old = [float(base[i]), float(base[i + 1])]
            i += 2
        elif kind == "extra":
            frac = float(rng.uniform(0.37, 0.43))
            a = float(snap(frac * base[i]))
            new = [a, float(base[i]) - a]
            rec |= {"original_indices": [i], "injected_indices": [j, j + 1]}
            rec |= {"fraction": a / float(base[i])}
            old = [float(base[i])]
            i += 1
        elif kind in ("long", "short"):
            lo, hi = (1.35, 1.45) if kind == "long" else (0.60, 0.70)
            factor = float(rng.uniform(lo, hi))
            new = [float(snap(factor * base[i]))]
            rec |= {"original_indices": [i], "injected_indices": [j]}
            rec |= {"factor": new[0] / float(base[i])}
            old = [float(base[i])]
            i += 1
        else:  # pragma: no cover
            raise ValueError(kind)
        rec |= {"original_ms": old, "injected_ms": new}
        out.extend(new)
        records.append(rec)
    return np.asarray(out, dtype=np.float64), records


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=DATA / "nsrdb_60min.txt")
    ap.add_argument("--out-dir", type=Path, default=DATA / "artifacts")
    ap.add_argument("--seed", type=int, default=20240917)
    ap.add_argument("--per-kind", type=int, default=15)
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {ALL_KINDS}")
    args = ap.parse_args()
    kinds_used = tuple(k for k in args.kinds.split(",") if k)
    if not kinds_used or any(k not in ALL_KINDS for k in kinds_used):
        ap.error(f"--kinds must name some of {ALL_KINDS}")

    rng = np.random.default_rng(args.seed)
    raw = read_rr(args.source)
    base = snap(raw)
    count = args.per_kind * len(kinds_used)
    positions = pick_positions(base.size, count, rng)
    kinds = list(np.repeat(kinds_used, args.per_kind))
    rng.shuffle(kinds)
    injected, records = inject(base, positions, [str(k) for k in kinds], rng)

    # Everything on the 1000/128 ms grid, sums preserved where promised.
    for arr in (base, injected):
        assert np.allclose(arr / GRID_MS, np.round(arr / GRID_MS), rtol=0, atol=1e-9)
    assert injected.min() > 0

    stem = args.source.stem
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rr(out_dir / f"{stem}_grid.txt", base)
    write_rr(out_dir / f"{stem}_injected.txt", injected)
    meta = {
        "source": args.source.name,
        "baseline": f"{stem}_grid.txt",
        "injected": f"{stem}_injected.txt",
        "seed": args.seed,
        "grid_ms": GRID_MS,
        "n_original": int(base.size),
        "n_injected": int(injected.size),
        "max_abs_snap_ms": float(np.max(np.abs(base - raw))),
        "counts": {k: sum(r["kind"] == k for r in records) for k in kinds_used},
        "min_gap_beats": int(np.min(np.diff(positions))),
        "notes": (
            "Indices are 0-based RR indices. original_* refer to the source and to the baseline "
            "(same length); injected_* to the injected series. original_ms are baseline values "
            "(source snapped to the grid). missed removes one interval and extra adds one, so "
            "later injected indices shift by -1 / +1."
        ),
        "injections": records,
    }
    (out_dir / f"{stem}_injected.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(
        f"{stem}: {base.size} -> {injected.size} intervals, {len(records)} injections "
        f"{meta['counts']}, min gap {meta['min_gap_beats']} beats, "
        f"max snap {meta['max_abs_snap_ms']:.4f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
