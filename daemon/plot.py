"""``kindpulse review --plot FILE``: the log as a picture (PNG or SVG, from the suffix).

* One day: a timeline. Top, heart rate (beats per minute) with the wearer's usual range
  as a band; below, heart-rate variability (ln RMSSD, one value per minute) against its
  usual band. Stretches of sustained strain and times of movement are shaded across both,
  and so are the minutes the strap's motion sensor felt as moving (movement at or above
  the moving threshold: the detector's, else 20 mg), where it has one; breaks are vertical
  lines, time without data is hatched. The x axis is local clock time.
* More than one day: a heatmap, one row per day and one column per hour, telling how many
  minutes of each hour were sustained strain; hours the strap was worn without strain are
  grey, hours it was not worn are blank, and a dot marks a break. Each row ends with the
  day's time worn, strain and breaks.

It describes and never grades: no colours for good or bad, no scores, the same words as
the text review. The band is the usual the detector compares with — the last baseline
snapshot in the log where there is one, else the median ± spread (MAD × 1.4826, with the
detector's minimum spreads) of the calm minutes of the 14 days up to the period's end.

matplotlib is an optional extra (``pip install 'kindpulse[plot]'``) imported only here,
with the Agg backend; the file is written readable by its owner alone (0600), as the rest
of the log is.
"""

from __future__ import annotations

import argparse
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kindpulse.daemon.files import write_private_file
from kindpulse.errors import UnavailableError, UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from kindpulse.daemon.review import Period
    from kindpulse.daemon.store import Store, WindowRow

#: File suffix -> matplotlib format.
FORMATS = {".png": "png", ".svg": "svg"}
#: Pixels per inch of the PNG; the figures are sized so a PNG is at least 1200 x 600 px.
DPI = 110
DAY_SIZE_IN = (13.0, 7.8)
WEEK_WIDTH_IN = 13.0
MISSING_MATPLOTLIB = "plots need matplotlib: pip install 'kindpulse[plot]'"
#: Time without a minute of data, at least this long (s), is drawn as "no data".
GAP_MIN_S = 180.0
#: The bold line is the mean of this many seconds of minutes around each minute.
SMOOTH_S = 300.0
#: Calm minutes of this many days before the period's end make the usual band when the
#: log holds no baseline snapshot (the detector's default horizon).
USUAL_DAYS = 14.0

# Colours: calm, not alarming; strain is a warm tint, never red.
C_HR = "#3d5a80"
C_LN = "#2a6f97"
C_USUAL = "#98c1d9"
C_STRAIN = "#f4a261"
C_ACTIVE = "#8fbc8f"
C_MOVING = "#b5d99c"
C_BREAK = "#6a4c93"
C_GAP = "#9e9e9e"
C_WORN = "#e6e8eb"
C_TEXT = "#4a4a4a"

STRAIN_LABEL = "sustained strain"
ACTIVE_LABEL = "moving or exercising"
MOVING_LABEL = "on the move (motion sensor)"
BREAK_LABEL = "break taken"
GAP_LABEL = "no data (strap off or signal lost)"
USUAL_LABEL = "your usual range"
KIND_NOTE = "Strain is part of being human; this picture is here to notice, not to judge."


def plot_format(path: str | Path) -> str:
    """The format a plot file's suffix asks for (``png`` or ``svg``); a usage error else."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(f"--plot {str(path)!r}: the file name must end in .png or .svg")
    return fmt


def _matplotlib() -> Any:
    """matplotlib with the Agg backend, or one clear line (exit 69) when it is missing."""
    try:
        import matplotlib
    except ImportError:
        raise UnavailableError(MISSING_MATPLOTLIB) from None
    matplotlib.use("Agg")
    return matplotlib


# -- what the picture shows ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usual:
    """The wearer's usual: centre and spread of heart rate (bpm) and ln RMSSD."""

    hr: float
    hr_spread: float
    ln: float
    ln_spread: float


def _local(t: float) -> datetime:
    """Epoch seconds as naive local clock time (what the x axis shows)."""
    return datetime.fromtimestamp(t, tz=timezone.utc).astimezone().replace(tzinfo=None)


def _x(t: float) -> float:
    """Epoch seconds as a matplotlib date number of local clock time."""
    from matplotlib.dates import date2num

    return float(date2num(_local(t)))  # type: ignore[no-untyped-call]


def _at(d: date, hour: int = 0) -> float:
    """Epoch seconds of ``hour``:00 local time on day ``d`` (DST-aware)."""
    if hour >= 24:
        d, hour = d + timedelta(days=1), hour - 24
    return datetime.combine(d, dtime(hour)).astimezone().timestamp()


def _hm(seconds: float) -> str:
    m = round(seconds / 60.0)
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min"


def _hour_floor(t: float) -> float:
    """The local full hour at or before ``t`` (epoch s)."""
    return _local(t).replace(minute=0, second=0, microsecond=0).astimezone().timestamp()


def _breaks_taken(n: int) -> str:
    return "no break taken" if n == 0 else f"{n} break{'s' if n != 1 else ''} taken"


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def usual_for(store: Store, period: Period) -> Usual | None:
    """The usual band for ``period``: the newest ready baseline snapshot kept up to the
    period's end (else the first one after it), else from calm minutes (module doc)."""
    from kindpulse.detector import MAD_TO_SD, MIN_SPREAD_HR_BPM, MIN_SPREAD_LN_RMSSD

    rows = list(
        store.query(
            "SELECT t_ms, ln_rmssd, ln_rmssd_spread, hr_bpm, hr_spread FROM baselines"
            " WHERE ready = 1 AND samples > 0 ORDER BY t_ms"
        )
    )
    if rows:
        end_ms = period.end * 1000.0
        before = [r for r in rows if r[0] <= end_ms]
        r = before[-1] if before else rows[0]
        return Usual(hr=r[3], hr_spread=r[4], ln=r[1], ln_spread=r[2])
    calm = [
        (w.mean_hr, w.ln_rmssd)
        for w in store.windows_between(period.end - USUAL_DAYS * 86400.0, period.end + 60.0)
        if w.state == "calm" and w.mean_hr is not None and w.ln_rmssd is not None
    ]
    if len(calm) < 5:
        return None
    hr = np.array([c[0] for c in calm])
    ln = np.array([c[1] for c in calm])
    hr_c, ln_c = float(np.median(hr)), float(np.median(ln))
    return Usual(
        hr=hr_c,
        hr_spread=max(MAD_TO_SD * float(np.median(np.abs(hr - hr_c))), MIN_SPREAD_HR_BPM),
        ln=ln_c,
        ln_spread=max(MAD_TO_SD * float(np.median(np.abs(ln - ln_c))), MIN_SPREAD_LN_RMSSD),
    )


def _wear_s(store: Store, a: float, b: float) -> float:
    """Time worn in ``[a, b)``: the beats' RR, or where no beats are kept, the minute
    windows' beats (as ``review`` counts it)."""
    _t, rr = store.beats_between(a, b)
    if rr.size:
        return float(np.sum(rr)) / 1000.0
    return sum(
        min(60.0, w.n_beats * 60.0 / w.mean_hr)
        for w in store.windows_between(a + 1e-3, b + 1e-3)
        if w.mean_hr and w.n_beats
    )


def _worn_minutes(store: Store, a: float, b: float) -> set[int]:
    """Minutes (epoch ms // 60000) in ``[a, b)`` with beats or a minute window."""
    minutes = {m for m, n in store.wear_by_minute(a, b).items() if n > 0}
    for w in store.windows_between(a + 1e-3, b + 60.0):
        if w.n_beats > 0:
            m = int((w.end_epoch_s - 30.0) // 60.0)  # the minute holding its middle
            if a <= m * 60.0 < b:
                minutes.add(m)
    return minutes


def _gaps(
    store: Store, a: float, b: float, window_ends: Sequence[float]
) -> list[tuple[float, float]]:
    """Spans of at least :data:`GAP_MIN_S` without data inside the worn part of
    ``[a, b)``: the log's gaps, and stretches between minute windows, merged."""
    spans = [
        (r[0] / 1000.0, r[1] / 1000.0)
        for r in store.query(
            "SELECT start_ms, end_ms FROM gaps WHERE start_ms < ? AND end_ms > ?",
            (round(b * 1000), round(a * 1000)),
        )
    ]
    ends = sorted(window_ends)
    for e0, e1 in itertools.pairwise(ends):
        if e1 - e0 > 60.0 + 1.0:
            spans.append((e0, e1 - 60.0))
    spans = sorted((max(s, a), min(e, b)) for s, e in spans if min(e, b) > max(s, a))
    merged: list[tuple[float, float]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return [(s, e) for s, e in merged if e - s >= GAP_MIN_S]


def moving_spans(windows: Sequence[WindowRow], moving_mg: float) -> list[tuple[float, float]]:
    """The stretches of minutes the motion sensor felt as moving, as (start, end) in epoch
    seconds: each minute window with movement at or above ``moving_mg`` covers its minute,
    and minutes that touch are one stretch."""
    spans: list[tuple[float, float]] = []
    for w in windows:
        if w.movement_mg is None or w.movement_mg < moving_mg:
            continue
        a, b = w.end_epoch_s - 60.0, w.end_epoch_s
        if spans and a <= spans[-1][1] + 1e-3:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return spans


# -- one day: a timeline -------------------------------------------------------------------


def series_smooth(
    t: np.ndarray, v: np.ndarray, half_s: float = SMOOTH_S / 2
) -> tuple[list[float], list[float]]:
    """The mean of the minutes within ``half_s`` of each minute (at least three of them),
    at each minute's middle; NaN where data stops, so the line breaks at gaps."""
    if t.size == 0:
        return [], []
    ok = np.isfinite(v)
    csum = np.concatenate(([0.0], np.cumsum(np.where(ok, v, 0.0))))
    ccount = np.concatenate(([0], np.cumsum(ok)))
    lo = np.searchsorted(t, t - half_s - 0.5, side="left")
    hi = np.searchsorted(t, t + half_s + 0.5, side="right")
    count = ccount[hi] - ccount[lo]
    mean = np.where(count >= 3, (csum[hi] - csum[lo]) / np.maximum(count, 1), np.nan)
    xs: list[float] = []
    ys: list[float] = []
    for i in range(t.size):
        if i and t[i] - t[i - 1] > 90.0:
            xs.append(float(t[i - 1]) - 30.0 + 1.0)
            ys.append(math.nan)
        xs.append(float(t[i]) - 30.0)
        ys.append(float(mean[i]))
    return xs, ys


def _day_figure(mpl: Any, store: Store, period: Period, moving_mg: float) -> Figure:
    from matplotlib.dates import DateFormatter, HourLocator, MinuteLocator
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    p0, p1 = period.start, period.end
    windows = store.windows_between(p0 + 1e-3, p1 + 1e-3)
    episodes = store.episodes_between(p0, p1)
    breaks = store.breaks_between(p0, p1)
    usual = usual_for(store, period)
    good = [w for w in windows if w.state != "unknown" and w.mean_hr is not None]

    with_beats = [w for w in windows if w.n_beats > 0]
    if with_beats:
        lo = max(p0, _hour_floor(with_beats[0].end_epoch_s - 60.0))
        hi = min(p1, _hour_floor(with_beats[-1].end_epoch_s - 1e-3) + 3600.0)
        if hi - lo < 3 * 3600.0:
            mid = (lo + hi) / 2.0
            lo, hi = max(p0, mid - 1.5 * 3600.0), min(p1, mid + 1.5 * 3600.0)
    else:
        lo, hi = p0, p1
    x0, x1 = _x(lo), _x(hi)

    fig = Figure(figsize=DAY_SIZE_IN, dpi=DPI)
    grid = fig.add_gridspec(2, 1, height_ratios=(1.0, 1.15), hspace=0.12)
    ax_hr = fig.add_subplot(grid[0])
    ax_ln = fig.add_subplot(grid[1], sharex=ax_hr)

    # One point per minute, at the middle of its minute; lines break where data stops.
    def series(attr: str) -> tuple[list[float], list[float]]:
        xs: list[float] = []
        ys: list[float] = []
        prev: float | None = None
        for w in good:
            v = getattr(w, attr)
            if prev is not None and w.end_epoch_s - prev > 90.0:
                xs.append(_x(prev + 30.0))
                ys.append(math.nan)
            xs.append(_x(w.end_epoch_s - 30.0))
            ys.append(math.nan if v is None else float(v))
            prev = w.end_epoch_s
        return xs, ys

    hx, hy = series("mean_hr")
    lx, ly = series("ln_rmssd")
    te = np.array([w.end_epoch_s for w in good])
    if usual is not None:
        for ax, centre, spread in (
            (ax_hr, usual.hr, usual.hr_spread),
            (ax_ln, usual.ln, usual.ln_spread),
        ):
            ax.axhspan(centre - spread, centre + spread, color=C_USUAL, alpha=0.45, lw=0, zorder=1)
            ax.axhline(centre, color=C_USUAL, lw=1.2, zorder=1)
    for ax, xs, ys, attr, colour, gid in (
        (ax_hr, hx, hy, "mean_hr", C_HR, "heart-rate-average"),
        (ax_ln, lx, ly, "ln_rmssd", C_LN, "ln-rmssd-average"),
    ):
        ax.plot(xs, ys, color=colour, lw=0.8, alpha=0.35, zorder=3)
        v = np.array([math.nan if getattr(w, attr) is None else getattr(w, attr) for w in good])
        sx, sy = series_smooth(te, v)
        ax.plot(
            [_x(t) for t in sx],
            sy,
            color=colour,
            lw=2.0,
            zorder=3,
            gid=gid,
        )

    n_strain = n_active = 0
    for e in episodes:
        a, b = _x(max(e.start, lo)), _x(min(e.end, hi))
        if e.kind == "stress":
            n_strain += 1
            for ax in (ax_hr, ax_ln):
                ax.axvspan(
                    a,
                    b,
                    color=C_STRAIN,
                    alpha=0.45,
                    lw=0,
                    zorder=2,
                    gid=f"sustained-strain-{n_strain}",
                )
        elif e.kind == "active":
            n_active += 1
            for ax in (ax_hr, ax_ln):
                ax.axvspan(
                    a, b, color=C_ACTIVE, alpha=0.35, lw=0, zorder=2, gid=f"moving-{n_active}"
                )
    sensed = [w for w in windows if w.movement_mg is not None]
    moving = moving_spans(windows, moving_mg)
    for k, (a_s, b_s) in enumerate(moving, 1):
        for ax in (ax_hr, ax_ln):
            ax.axvspan(
                _x(max(a_s, lo)),
                _x(min(b_s, hi)),
                color=C_MOVING,
                alpha=0.5,
                lw=0,
                zorder=1.5,
                gid=f"on-the-move-{k}",
            )
    gaps = _gaps(store, lo, hi, [w.end_epoch_s for w in with_beats])
    for k, (a_s, b_s) in enumerate(gaps, 1):
        for ax in (ax_hr, ax_ln):
            ax.axvspan(
                _x(a_s),
                _x(b_s),
                facecolor="none",
                edgecolor=C_GAP,
                hatch="///",
                lw=0,
                zorder=2,
                gid=f"no-data-{k}",
            )
    for k, (b0, _b1) in enumerate(breaks, 1):
        for ax in (ax_hr, ax_ln):
            ax.axvline(_x(b0), color=C_BREAK, lw=1.6, ls="--", zorder=4, gid=f"break-{k}")
        ax_hr.plot(
            [_x(b0)],
            [1.0],
            marker="v",
            ms=9,
            color=C_BREAK,
            zorder=5,
            transform=ax_hr.get_xaxis_transform(),
            clip_on=False,
        )

    # Plain words on the axes; what higher and lower mean, without a verdict.
    ax_hr.set_ylabel("heart rate\n(beats per minute)", color=C_TEXT)
    ax_ln.set_ylabel("heart-rate variability\n(ln RMSSD)", color=C_TEXT)
    ax_ln.text(
        1.005,
        0.98,
        "higher:\nmore variation\nbetween beats,\nas when resting",
        transform=ax_ln.transAxes,
        va="top",
        ha="left",
        fontsize=8.5,
        color=C_TEXT,
    )
    ax_ln.text(
        1.005,
        0.02,
        "lower:\nsteadier beats,\nas under strain\nor while moving",
        transform=ax_ln.transAxes,
        va="bottom",
        ha="left",
        fontsize=8.5,
        color=C_TEXT,
    )
    for ax in (ax_hr, ax_ln):
        ax.grid(True, axis="x", color="#dddddd", lw=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(colors=C_TEXT, labelsize=9)
    if not good:
        ax_hr.text(
            0.5,
            0.5,
            "No heartbeats in the log for this time: the strap was not worn.",
            transform=ax_hr.transAxes,
            ha="center",
            va="center",
            color=C_TEXT,
        )
        ax_hr.set_ylim(50, 100)
        ax_ln.set_ylim(2.0, 4.5)
    ax_ln.set_xlim(x0, x1)
    span_h = (hi - lo) / 3600.0
    ax_ln.xaxis.set_major_locator(
        HourLocator(interval=1 if span_h <= 14 else 2)  # type: ignore[no-untyped-call]
        if span_h > 3
        else MinuteLocator(byminute=(0, 15, 30, 45))  # type: ignore[no-untyped-call]
    )
    ax_ln.xaxis.set_major_formatter(DateFormatter("%H:%M"))  # type: ignore[no-untyped-call]
    ax_hr.tick_params(labelbottom=False)
    ax_ln.set_xlabel("local time", color=C_TEXT)

    d = period.days[0]
    strain_s = sum(_overlap(e.start, e.end, p0, p1) for e in episodes if e.kind == "stress")
    worn = _wear_s(store, p0, p1)
    title = f"Your day, {d:%A} {d.day} {d:%B %Y}"
    if (p0, p1) != (_at(d), _at(d, 24)):  # a part of the day (--since/--until)
        title += f", {_local(p0):%H:%M}–{_local(p1):%H:%M}"
    fig.suptitle(
        title,
        x=0.06,
        ha="left",
        y=0.985,
        fontsize=15,
        color="#222222",
    )
    if worn > 0:
        what = (
            "no stretch of sustained strain noticed"
            if n_strain == 0
            else f"{n_strain} stretch{'es' if n_strain != 1 else ''} of sustained strain, "
            f"{_hm(strain_s)} in all"
        )
        summary = f"Worn {_hm(worn)}  ·  {what}  ·  {_breaks_taken(len(breaks))}"
        if sensed:
            on_the_move = sum(b - a for a, b in moving)
            summary += (
                f"  ·  on the move {_hm(on_the_move)}" if on_the_move else "  ·  still all along"
            )
    else:
        summary = "The strap was not worn on this day."
    fig.text(0.06, 0.94, summary, ha="left", fontsize=10.5, color=C_TEXT)

    handles = [
        Line2D([], [], color=C_HR, lw=0.8, alpha=0.45, label="each minute"),
        Line2D([], [], color=C_HR, lw=2.0, label="5-minute average"),
        Patch(facecolor=C_USUAL, alpha=0.6, label=USUAL_LABEL),
        Patch(facecolor=C_STRAIN, alpha=0.55, label=STRAIN_LABEL),
        Patch(facecolor=C_ACTIVE, alpha=0.45, label=ACTIVE_LABEL),
        Line2D([], [], color=C_BREAK, lw=1.6, ls="--", marker="v", label=BREAK_LABEL),
        Patch(facecolor="white", edgecolor=C_GAP, hatch="///", label=GAP_LABEL),
    ]
    if sensed:  # only where the strap had a motion sensor
        handles.insert(5, Patch(facecolor=C_MOVING, alpha=0.6, label=MOVING_LABEL))
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.055, 0.93),
        ncol=4,
        frameon=False,
        fontsize=9.5,
        handlelength=2.2,
        columnspacing=2.0,
    )
    band = (
        "The blue band is your usual range, learnt from your calm minutes."
        if usual is not None
        else "Your usual range is not known yet (it is learnt from calm minutes)."
    )
    fig.text(
        0.06,
        0.015,
        "Heart-rate variability is how much the time from one beat to the next changes "
        "(ln RMSSD: the natural log of its typical change, in milliseconds).\n"
        "The thin line is each minute; the bold line, the average of the 5 minutes around "
        f"it. {band}\n{KIND_NOTE}",
        ha="left",
        fontsize=9,
        color=C_TEXT,
    )
    fig.subplots_adjust(left=0.09, right=0.9, top=0.83, bottom=0.145)
    return fig


# -- more than one day: a heatmap ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HourGrid:
    """Per local day (rows, ``period.days``) and hour of the day (24 columns): minutes of
    sustained strain and minutes with data."""

    strain_min: np.ndarray
    worn_min: np.ndarray


def hour_grid(store: Store, period: Period) -> HourGrid:
    """What the heatmap shows, hour by hour (DST-aware local hours, clipped to the period)."""
    p0, p1 = period.start, period.end
    strain_eps = store.episodes_between(p0, p1, kind="stress")
    worn_minutes = _worn_minutes(store, p0, p1)
    n = len(period.days)
    strain = np.zeros((n, 24))
    worn = np.zeros((n, 24))
    for i, d in enumerate(period.days):
        for h in range(24):
            a, b = max(_at(d, h), p0), min(_at(d, h + 1), p1)
            if b <= a:
                continue
            strain[i, h] = sum(_overlap(e.start, e.end, a, b) for e in strain_eps) / 60.0
            worn[i, h] = sum(m in worn_minutes for m in range(int(a // 60), math.ceil(b / 60)))
    return HourGrid(strain, worn)


def _hour_span(cells: np.ndarray) -> tuple[int, int]:
    """The hours to show: those with data, on even hours, at least 12 of them."""
    used = np.flatnonzero(cells.sum(axis=0) > 0)
    if used.size == 0:
        return 0, 24
    h0, h1 = int(used[0]) // 2 * 2, min(24, (int(used[-1]) + 2) // 2 * 2)
    while h1 - h0 < 12:
        h0, h1 = max(0, h0 - 1), min(24, h1 + 1)
    return h0, h1


def _week_figure(mpl: Any, store: Store, period: Period) -> Figure:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    p0, p1 = period.start, period.end
    days = list(period.days)
    n = len(days)
    strain_eps = store.episodes_between(p0, p1, kind="stress")
    breaks = store.breaks_between(p0, p1)
    grid = hour_grid(store, period)
    strain, worn = grid.strain_min, grid.worn_min
    h0, h1 = _hour_span(worn + strain)

    height = min(60.0, max(6.2, 2.3 + 0.48 * n))
    fig = Figure(figsize=(WEEK_WIDTH_IN, height), dpi=DPI)
    ax: Axes = fig.add_subplot(1, 1, 1)
    cmap = LinearSegmentedColormap.from_list("strain", ["#fde9d4", C_STRAIN, "#c8602a"])
    norm = Normalize(vmin=0.0, vmax=60.0)
    # One square per hour (vector shapes, so an SVG keeps them); blank where not worn.
    for i, d in enumerate(days):
        for h in range(24):
            if strain[i, h] >= 0.5:
                ax.add_patch(
                    Rectangle(
                        (h, i),
                        1.0,
                        1.0,
                        facecolor=cmap(norm(strain[i, h])),
                        lw=0,
                        gid=f"sustained-strain-{d.isoformat()}-{h:02d}",
                    )
                )
                ax.text(
                    h + 0.5,
                    i + 0.5,
                    f"{round(strain[i, h])}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="#3b2a1a",
                )
            elif worn[i, h] > 0:
                ax.add_patch(Rectangle((h, i), 1.0, 1.0, facecolor=C_WORN, lw=0))
    # Cell borders, so the hours read as squares.
    for y in range(n + 1):
        ax.axhline(y, color="white", lw=1.5)
    for x in range(h0, h1 + 1):
        ax.axvline(x, color="white", lw=1.5)
    for b0, _b1 in breaks:
        t = _local(b0)
        row = next((i for i, d in enumerate(days) if d == t.date()), None)
        if row is not None:
            ax.plot(
                t.hour + t.minute / 60.0,
                row + 0.82,
                marker="o",
                ms=5.5,
                color=C_BREAK,
                zorder=5,
                gid="break",
            )

    ax.set_xlim(h0, h1)
    ax.set_ylim(n, 0)
    step = 1 if h1 - h0 <= 12 else 2
    ax.set_xticks(range(h0, h1 + 1, step), [f"{h:02d}:00" for h in range(h0, h1 + 1, step)])
    ax.set_yticks([i + 0.5 for i in range(n)], [f"{d:%a} {d.day} {d:%b}" for d in days])
    ax.tick_params(length=0, colors=C_TEXT, labelsize=9)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("hour of the day (local time)", color=C_TEXT)

    # Each row's day in words, at its right.
    for i, d in enumerate(days):
        a, b = max(_at(d), p0), min(_at(d, 24), p1)
        w = _wear_s(store, a, b)
        if w <= 0:
            text = "not worn"
        else:
            s = sum(_overlap(e.start, e.end, a, b) for e in strain_eps)
            nb = sum(a <= b0 < b for b0, _ in breaks)
            text = f"worn {_hm(w)}"
            text += f" · strain {_hm(s)}" if s > 0 else " · no strain noticed"
            if nb:
                text += f" · {nb} break{'s' if nb != 1 else ''}"
        ax.text(
            1.015,
            i + 0.5,
            text,
            ha="left",
            va="center",
            fontsize=8.5,
            color=C_TEXT,
            clip_on=False,
            transform=ax.get_yaxis_transform(),
        )

    first, last = days[0], days[-1]
    fig.suptitle(
        f"Your days, {first:%a} {first.day} {first:%b} to {last:%a} {last.day} {last:%b %Y}: "
        "when sustained strain came",
        x=0.04,
        ha="left",
        fontsize=14,
        color="#222222",
        y=1.0 - 0.25 / height,
    )
    total_w = _wear_s(store, p0, p1)
    total_s = sum(_overlap(e.start, e.end, p0, p1) for e in strain_eps)
    fig.text(
        0.04,
        1.0 - 0.62 / height,
        f"Worn {_hm(total_w)}  ·  {len(strain_eps)} stretch{'es' if len(strain_eps) != 1 else ''}"
        f" of sustained strain, {_hm(total_s)} in all  ·  {_breaks_taken(len(breaks))}",
        ha="left",
        fontsize=10,
        color=C_TEXT,
    )
    handles = [
        Patch(facecolor=C_WORN, label="worn, no sustained strain"),
        Patch(facecolor=C_STRAIN, label="minutes of sustained strain in the hour"),
        Line2D([], [], color=C_BREAK, marker="o", ls="none", label=BREAK_LABEL),
        Patch(facecolor="white", edgecolor="#cccccc", label="not worn"),
    ]
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.035, 1.0 - 0.8 / height),
        ncol=4,
        frameon=False,
        fontsize=9.5,
    )
    cax = fig.add_axes((0.62, 0.55 / height, 0.18, 0.12 / height))
    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
    cb.set_ticks([0, 15, 30, 45, 60])
    cb.outline.set_visible(False)
    cb.ax.tick_params(labelsize=8, colors=C_TEXT, length=0)
    cb.set_label("minutes of the hour", fontsize=8, color=C_TEXT)
    fig.text(
        0.04,
        0.5 / height,
        f"Each square is one hour of one day.\n{KIND_NOTE}",
        ha="left",
        va="center",
        fontsize=9,
        color=C_TEXT,
    )
    fig.subplots_adjust(left=0.1, right=0.76, top=1.0 - 1.35 / height, bottom=1.35 / height)
    return fig


# -- entry points --------------------------------------------------------------------------


def render_plot(
    store: Store, period: Period, path: str | Path, moving_mg: float | None = None
) -> Path:
    """Draw ``period`` from ``store`` to ``path`` (PNG or SVG, from its suffix; 0600).
    ``moving_mg``: the moving threshold of the day's "on the move" band (default: the
    detector's, else 20 mg).

    Raises :class:`~kindpulse.errors.UsageError` for another suffix,
    :class:`~kindpulse.errors.UnavailableError` when matplotlib is missing and
    :class:`~kindpulse.config.commands.CannotCreateError` when the file cannot be written.
    """
    path = Path(path)
    fmt = plot_format(path)
    mpl = _matplotlib()
    if len(period.days) == 1:
        from kindpulse.daemon.store import moving_threshold_mg

        threshold = moving_threshold_mg() if moving_mg is None else moving_mg
        fig = _day_figure(mpl, store, period, threshold)
    else:
        fig = _week_figure(mpl, store, period)
    buf = io.BytesIO()
    # Text stays text in an SVG (searchable, readable by a screen reader); no timestamps,
    # so the same log gives the same file.
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "kindpulse"}):
        fig.savefig(
            buf,
            format=fmt,
            dpi=DPI,
            facecolor="white",
            metadata={"Date": None} if fmt == "svg" else {"Software": None},
        )
    write_private_file(path, [buf.getvalue()])
    return path


def cmd_plot(args: argparse.Namespace, period: Period, state_dir: Path) -> int:
    """``review --plot FILE``: check the suffix and matplotlib before opening the log, draw,
    and say where the picture is."""
    from kindpulse.daemon.review import review_moving_mg
    from kindpulse.daemon.store import Store

    path = Path(args.plot)
    plot_format(path)
    _matplotlib()
    moving_mg = review_moving_mg(args)
    store = Store.open(state_dir)
    try:
        render_plot(store, period, path, moving_mg)
    finally:
        store.close()
    print(f"Plot written to {path}")
    return 0


__all__ = [
    "FORMATS",
    "HourGrid",
    "Usual",
    "cmd_plot",
    "hour_grid",
    "moving_spans",
    "plot_format",
    "render_plot",
    "usual_for",
]
