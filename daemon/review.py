"""``kindpulse import``, ``review``, ``export`` and ``forget``: the commands that read and
manage the private log (:mod:`kindpulse.daemon.store`).

* ``import FILE`` runs a recording through the same pipeline as ``analyze --episodes``
  (:func:`kindpulse.analysis.detect` on :func:`kindpulse.hrv.prepare`) and keeps its
  beats, minute windows and episodes in the log, on the wall clock: a file with date-time
  stamps keeps them, any other starts at ``--start`` (default: now). Beats already in the
  log (within 1 ms) are skipped, so importing a file twice changes nothing.
* ``review`` describes a day, a week or any period: time worn, stretches of sustained
  strain, time on the move (where the strap's motion sensor felt it), breaks offered and
  taken with the minutes around them, moments that passed quietly, when strain came (hour
  by weekday), the baseline's trend, data quality and reflections. It describes and never
  grades: no scores, no verdicts.
* ``export`` writes beats (``timestamp,rr_ms`` as ``kindpulse record`` does, JSON, or a
  Kubios-readable text), minute windows, episodes, prompts or breaks (CSV, JSON).
* ``forget`` deletes for real (rows, then VACUUM).

Times in JSON and CSV are ISO 8601 with the local UTC offset; days are local days, and an
episode that crosses midnight is split between the days it touches.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import io
import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any

from kindpulse.daemon.files import write_private_file
from kindpulse.daemon.store import Store, StoredEpisode, StoreError, WindowRow
from kindpulse.errors import UsageError

#: A break counts for a stretch of strain when it starts during it or this soon after.
BREAK_AFTER_S = 30 * 60.0


# -- shared ------------------------------------------------------------------------------


def _state_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "state_dir", None):
        return Path(args.state_dir)
    from kindpulse.config.loader import load_config
    from kindpulse.daemon.run import default_state_dir

    configured = load_config(getattr(args, "config", None)).storage.state_dir
    return configured or default_state_dir()


def _local(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc).astimezone()


def iso(t: float) -> str:
    """Epoch seconds as ISO 8601 local time with its UTC offset (to the second)."""
    return _local(t).isoformat(timespec="seconds")


def _midnight(d: date) -> float:
    """Epoch seconds of local midnight starting day ``d`` (DST-aware)."""
    return datetime.combine(d, dtime(0)).astimezone().timestamp()


def _parse_date(text: str, flag: str) -> date:
    t = text.strip().lower()
    today = datetime.now().astimezone().date()
    if t == "today":
        return today
    if t == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected a date like 2026-01-05") from None


def _parse_instant(text: str, flag: str, end_of_day: bool = False) -> float:
    """A date (its local midnight, or the next one when ``end_of_day``) or an ISO 8601
    date-time (local time when it has no offset), as epoch seconds."""
    s = text.strip()
    if len(s) <= 10 or s.lower() in ("today", "yesterday"):
        d = _parse_date(s, flag)
        return _midnight(d + timedelta(days=1)) if end_of_day else _midnight(d)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag} {text!r}: expected a date or an ISO 8601 date-time "
            "like 2026-01-05T09:00:00+01:00"
        ) from None
    return (dt if dt.tzinfo is not None else dt.astimezone()).timestamp()


def _hm(seconds: float) -> str:
    m = round(seconds / 60.0)
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min"


# -- import ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    beats_read: int
    beats_added: int
    windows: int
    episodes: tuple[StoredEpisode, ...]
    start: float
    end: float
    #: With an accelerometer file: the one line saying where movement came from and how
    #: much of the recording it covered.
    motion: str | None = None


def import_recording(
    store: Store,
    path: str | Path,
    start: datetime | None = None,
    config_path: str | None = None,
    motion_path: str | Path | None = None,
) -> ImportResult:
    """Read ``path``, detect as ``analyze --episodes`` does (with ``motion_path``, as
    ``analyze --episodes --motion`` does), and keep it in ``store``; each minute keeps its
    movement when there is an accelerometer file."""
    import numpy as np

    from kindpulse.analysis import detect
    from kindpulse.detector import DetectorConfig
    from kindpulse.hrv import metrics_for_windows, prepare, window_ends
    from kindpulse.sensors.rrfile import read_rr_file

    rec = read_rr_file(path)
    motion = None
    if motion_path is not None:
        from kindpulse.sensors.motionfile import load_motion

        motion = load_motion(motion_path, rec.start, rec.t_ms, str(path))
    first = rec.start or start or datetime.now().astimezone()
    t_raw = rec.t_ms if rec.t_ms is not None else np.cumsum(rec.rr_ms)
    # Beat i is at first + (T_i − T_0): the file's own clock placed on the wall clock.
    origin = first.timestamp() - float(t_raw[0]) / 1000.0
    if config_path is None:
        cfg = DetectorConfig()
    else:
        import dataclasses

        from kindpulse.config.loader import load_config

        cfg = DetectorConfig.from_mapping(dataclasses.asdict(load_config(config_path).detector))
    series = prepare(rec.rr_ms, rec.t_ms)
    found = detect(series, cfg, motion=None if motion is None else motion.track)

    before = store.beat_count()
    store.add_beats(origin + t_raw / 1000.0, rec.rr_ms)
    if not store.flush():
        raise StoreError(f"{store.path}: the beats could not be written (see the warning)")
    added = store.beat_count() - before

    windows = 0
    if series.t_ms.size:
        ends = window_ends(float(series.t_ms[-1]), 60.0, 60.0)
        states = {s.end_s: s.state.value for s in found.scores}
        table = metrics_for_windows(series, ends, 60.0, spectrum=False)
        minute_mg = (
            motion.window_movement(ends.tolist(), 60.0)
            if motion is not None
            else [None] * int(ends.size)
        )
        for row, mg in zip(table.rows(), minute_mg, strict=True):
            end_s = float(row["end_s"] or 0.0)
            store.add_window(
                WindowRow(
                    end_epoch_s=origin + end_s,
                    state=states.get(end_s, "unknown"),
                    n_beats=int(row["n_beats"] or 0),
                    mean_hr=_opt(row["mean_hr"]),
                    ln_rmssd=_opt(row["ln_rmssd"]),
                    rmssd=_opt(row["rmssd"]),
                    sdnn=_opt(row["sdnn"]),
                    artifact_pct=_opt(row["artifact_pct"]),
                    movement_mg=mg,
                )
            )
            windows += 1
        gaps = np.flatnonzero(series.gap_before[1:]) + 1
        for i in gaps.tolist():
            a = origin + float(series.t_ms[i - 1]) / 1000.0
            b = origin + float(series.t_ms[i] - series.rr_ms[i]) / 1000.0
            if b > a:
                store.add_gap(a, b, "gap in the recording")
        store.add_baseline(origin + float(series.t_ms[-1]) / 1000.0, found.baseline.current())
    source = f"import:{Path(path).name}"
    for ep in found.episodes:
        store.add_episode(ep, origin, source=source)
    if not store.flush():
        raise StoreError(f"{store.path}: the import could not be written (see the warning)")
    t0 = origin + float(t_raw[0]) / 1000.0
    t1 = origin + float(t_raw[-1]) / 1000.0
    eps = tuple(e for e in store.episodes_between(t0 - 3600, t1 + 3600) if e.source == source)
    said = None
    if motion is not None:
        scored = [sc.end_s for sc in found.scores]
        said = motion.describe(motion.window_movement(scored, cfg.window_s))
    return ImportResult(int(rec.rr_ms.size), added, windows, eps, t0, t1, said)


def _opt(v: float | int | None) -> float | None:
    return None if v is None else float(v)


def cmd_import(args: argparse.Namespace) -> int:
    from kindpulse.daemon.run import _parse_start

    start = _parse_start(args.start)
    store = Store.open(_state_dir(args))
    try:
        r = import_recording(
            store,
            args.file,
            start,
            getattr(args, "config", None),
            getattr(args, "motion", None),
        )
    finally:
        store.close()
    stress = sum(e.kind == "stress" for e in r.episodes)
    skipped = r.beats_read - r.beats_added
    sys.stdout.write(
        f"Imported {args.file}: {iso(r.start)} to {iso(r.end)}, {r.beats_added} new beats"
        + (f" ({skipped} already in the log)" if skipped else "")
        + f", {r.windows} minutes, {stress} stretch{'es' if stress != 1 else ''} of "
        "sustained strain.\n"
    )
    if r.motion is not None:
        sys.stdout.write(r.motion + "\n")
    return 0


# -- review ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    start: float
    end: float
    days: tuple[date, ...]


def period_from_args(args: argparse.Namespace, now: float | None = None) -> Period:
    """``--day``, ``--week [DATE]`` (the 7 days ending with DATE, default today),
    ``--since X [--until Y]``; default: the last 7 days. A date given to ``--until`` counts
    as a whole day."""
    now = time.time() if now is None else now
    today = _local(now).date()
    if getattr(args, "day", None):
        d = _parse_date(args.day, "--day")
        return Period(_midnight(d), _midnight(d + timedelta(days=1)), (d,))
    if getattr(args, "since", None) or getattr(args, "until", None):
        if not args.since:
            raise UsageError("--until needs --since")
        a = _parse_instant(args.since, "--since")
        b = _parse_instant(args.until, "--until", end_of_day=True) if args.until else now
        if b <= a:
            raise UsageError("--until must be after --since")
        d0, d1 = _local(a).date(), _local(b - 1e-3).date()
        days = tuple(d0 + timedelta(days=k) for k in range((d1 - d0).days + 1))
        return Period(a, b, days)
    week = getattr(args, "week", None)
    last = today if week in (None, True, "") else _parse_date(str(week), "--week")
    days = tuple(last - timedelta(days=6 - k) for k in range(7))
    return Period(_midnight(days[0]), _midnight(last + timedelta(days=1)), days)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


#: Plain words for the reasons a moment of strain passed without a prompt.
QUIET_REASONS: dict[str, str] = {
    "quiet_hours": "during quiet hours",
    "cooldown": "because a break had been offered a little earlier",
    "daily_cap": "because the day's offers were already made",
    "snoozed": "while reminders were snoozed",
    "paused": "while kindpulse was paused",
    "active": "while you were moving",
    "unknown": "while the signal was unclear",
    "warming_up": "while kindpulse was still learning your usual rhythm",
    "deferred_too_long": "while the screen was away for a long time",
    "ended": "because the stretch ended before the screen was free",
}

#: What is kept of each break's before and after (heart rate in bpm, ln RMSSD).
BREAK_MEASURES = ("hr_before", "hr_after", "ln_rmssd_before", "ln_rmssd_after")

#: Prompt outcomes as stored (daemon/notifier.py ``Outcome``).
OUTCOMES = ("break", "snooze", "okay", "dismissed", "timed_out", "failed")

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _hour_slices(a: float, b: float) -> Iterable[tuple[datetime, float]]:
    """``[a, b)`` cut at local hour boundaries: (local start, seconds) for each piece."""
    cur = a
    while cur < b:
        lt = datetime.fromtimestamp(cur)
        nxt = (lt.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).timestamp()
        end = min(b, max(nxt, cur + 1.0))
        yield lt, end - cur
        cur = end


def review_moving_mg(args: argparse.Namespace) -> float:
    """The moving threshold the review counts with: the configured detector's (``--config``
    or the default file), else the detector's default, else 20 mg (a config that cannot be
    read does not stop the review)."""
    import dataclasses

    from kindpulse.daemon.store import moving_threshold_mg
    from kindpulse.detector import DetectorConfig
    from kindpulse.errors import KindpulseError

    try:
        from kindpulse.config.loader import load_config

        detector = load_config(getattr(args, "config", None)).detector
        return moving_threshold_mg(DetectorConfig.from_mapping(dataclasses.asdict(detector)))
    except (KindpulseError, OSError, TypeError, ValueError):
        return moving_threshold_mg()


def _movement_by_day(
    store: Store, edges: Sequence[float], buckets: dict[str, Any], moving_mg: float
) -> tuple[list[float | None], list[float | None]]:
    """Per day (``edges``: its bounds), the seconds of worn minutes that were moving
    (movement at or above ``moving_mg``) and of worn minutes whose movement is known; None
    for a day without any (no accelerometer, or a log from before movement was kept). A
    minute belongs to the day its window ends in, as the worn minutes do; the known ones
    come from the quarter-hour totals (a quarter lies inside one local day: UTC offsets
    are whole quarter hours), the moving ones are read one by one (they are the few)."""
    import numpy as np

    e = np.asarray(edges)
    n_days = len(edges) - 1
    q_day = np.searchsorted(e, buckets["start"] + 1.0, side="left") - 1
    ok = (q_day >= 0) & (q_day < n_days)
    known_n = np.bincount(q_day[ok], weights=buckets["movement_minutes"][ok], minlength=n_days)
    ends = store.moving_minutes(edges[0], edges[-1], moving_mg)
    m_day = np.searchsorted(e, ends, side="left") - 1
    moving_n = np.bincount(m_day[(m_day >= 0) & (m_day < n_days)], minlength=n_days)
    moving: list[float | None] = []
    known: list[float | None] = []
    for i in range(n_days):
        has = known_n[i] > 0
        known.append(60.0 * float(known_n[i]) if has else None)
        moving.append(60.0 * float(moving_n[i]) if has else None)
    return moving, known


def build_review(store: Store, period: Period, moving_mg: float | None = None) -> dict[str, Any]:
    """The review document (what ``--format json`` prints). ``moving_mg``: a minute with at
    least this movement counts as moving (default: the detector's threshold, else 20 mg)."""
    import numpy as np

    from kindpulse.daemon.reflect import reflection_entries
    from kindpulse.daemon.store import moving_threshold_mg

    if moving_mg is None:
        moving_mg = moving_threshold_mg()
    p0, p1 = period.start, period.end
    ms0, ms1 = round(p0 * 1000), round(p1 * 1000)
    buckets = store.window_buckets(p0, p1)
    b_start, b_wear = buckets["start"], buckets["wear_s"]
    b_cum = np.concatenate(([0.0], np.cumsum(b_wear)))
    episodes = store.episodes_between(p0, p1)
    breaks = [
        {
            "start": a / 1000.0,
            "end": b / 1000.0,
            "hr_before": hb,
            "hr_after": ha,
            "ln_rmssd_before": lb,
            "ln_rmssd_after": la,
        }
        for a, b, hb, ha, lb, la in store.query(
            "SELECT start_ms, end_ms, hr_before, hr_after, ln_rmssd_before, ln_rmssd_after"
            " FROM breaks WHERE start_ms >= ? AND start_ms < ? ORDER BY start_ms",
            (round((p0 - BREAK_AFTER_S) * 1000), ms1),
        )
    ]
    controls = [c for c in store.controls_since(p0) if c.t < p1]
    snoozes = [c.t for c in controls if c.kind == "snooze"]
    pauses = [c.t for c in controls if c.kind == "pause"]
    prompts = [
        (t / 1000.0, outcome)
        for t, outcome in store.query(
            "SELECT t_ms, outcome FROM prompts WHERE t_ms >= ? AND t_ms < ? ORDER BY t_ms",
            (ms0, ms1),
        )
    ]
    quiet = [
        (t / 1000.0, reason)
        for t, reason in store.query(
            "SELECT t_ms, reason FROM quiet_moments WHERE t_ms >= ? AND t_ms < ? ORDER BY t_ms",
            (ms0, ms1),
        )
    ]

    break_starts = [k["start"] for k in breaks]

    def with_break(e: StoredEpisode) -> bool:
        i = bisect.bisect_left(break_starts, e.start)
        return i < len(break_starts) and break_starts[i] <= e.end + BREAK_AFTER_S

    # Day boundaries (local midnights, DST-aware), clipped to the period.
    edges = [max(_midnight(d), p0) for d in period.days]
    edges.append(min(_midnight(period.days[-1] + timedelta(days=1)), p1))
    n_days = len(period.days)
    # Time worn: the beats' RR summed; where a day's beats have aged out of the log, the
    # time its kept minute windows' beats covered.
    beat_s = store.rr_totals(edges)
    j = np.searchsorted(b_start, edges)
    wear = [
        beat_s[i] if beat_s[i] > 0 else float(b_cum[j[i + 1]] - b_cum[j[i]]) for i in range(n_days)
    ]

    def per_day(times: Iterable[float]) -> list[int]:
        counts = [0] * n_days
        for x in times:
            i = bisect.bisect_right(edges, x) - 1
            if 0 <= i < n_days and x < edges[i + 1]:
                counts[i] += 1
        return counts

    stress_s = [0.0] * n_days
    stress_n = [0] * n_days
    active_n = [0] * n_days
    for e in episodes:
        i = max(0, bisect.bisect_right(edges, e.start) - 1)
        while i < n_days and edges[i] < e.end:
            part = _overlap(e.start, e.end, edges[i], edges[i + 1])
            if part > 0:
                if e.kind == "stress":
                    stress_s[i] += part
                    stress_n[i] += 1
                elif e.kind == "active":
                    active_n[i] += 1
            i += 1
    breaks_n = per_day(break_starts)
    snoozes_n = per_day(snoozes)
    prompts_n = per_day(t for t, _ in prompts)
    quiet_n = per_day(t for t, _ in quiet)
    moving_s, movement_s = _movement_by_day(store, edges, buckets, moving_mg)
    days = [
        {
            "date": d.isoformat(),
            "start": iso(edges[i]),
            "end": iso(edges[i + 1]),
            "wear_s": wear[i],
            "stress_s": stress_s[i],
            "episodes": stress_n[i],
            "active_episodes": active_n[i],
            "breaks_taken": breaks_n[i],
            "snoozes": snoozes_n[i],
            "prompts": prompts_n[i],
            "quiet_moments": quiet_n[i],
            "moving_s": moving_s[i],
            "movement_s": movement_s[i],
        }
        for i, d in enumerate(period.days)
    ]
    known = [d for d in days if d["movement_s"] is not None]
    stress = [e for e in episodes if e.kind == "stress"]
    in_period = [k for k in breaks if p0 <= k["start"] < p1]
    quiet_by_reason: dict[str, int] = {}
    for _t, reason in quiet:
        quiet_by_reason[reason] = quiet_by_reason.get(reason, 0) + 1
    return {
        "period": {"start": iso(p0), "end": iso(p1)},
        "summary": {
            "wear_s": sum(d["wear_s"] for d in days),
            "stress_s": sum(_overlap(e.start, e.end, p0, p1) for e in stress),
            "episodes": len(stress),
            "episodes_with_break": sum(with_break(e) for e in stress),
            "active_episodes": sum(e.kind == "active" for e in episodes),
            "breaks_taken": len(in_period),
            "prompts": len(prompts),
            "snoozes": len(snoozes),
            "pauses": len(pauses),
            "quiet_moments": len(quiet),
            "prompt_outcomes": {o: sum(out == o for _t, out in prompts) for o in OUTCOMES},
            "quiet_moments_by_reason": quiet_by_reason,
            "around_breaks": _around_breaks(in_period),
            "moving_s": sum(d["moving_s"] for d in known) if known else None,
            "movement_s": sum(d["movement_s"] for d in known) if known else None,
            "moving_mg": moving_mg,
        },
        "days": days,
        "episodes": [
            {
                "kind": e.kind,
                "start": iso(e.start),
                "confirmed": iso(e.confirmed),
                "end": iso(e.end),
                "duration_s": e.duration_s,
                "explanation": e.explanation,
                "break_taken": with_break(e),
                "mean_hr": _finite(e.mean_hr),
                "baseline_hr": _finite(e.baseline_hr),
                "peak_z_ln_rmssd": _finite(e.peak_z_ln_rmssd),
                "peak_z_hr": _finite(e.peak_z_hr),
                "source": e.source,
            }
            for e in episodes
        ],
        "breaks": [
            {
                "start": iso(k["start"]),
                "end": iso(k["end"]),
                **{f: _finite(k[f]) for f in BREAK_MEASURES},
            }
            for k in in_period
        ],
        "heatmap": _heatmap(episodes, b_start, b_wear, p0, p1),
        "baseline": _baseline_trend(store, period),
        "quality": _quality(store, p0, p1, buckets),
        "adaptations": [
            {"at": iso(t / 1000.0), "threshold_shift": shift, "reason": reason}
            for t, shift, reason in store.query(
                "SELECT t_ms, threshold_shift, reason FROM adaptations"
                " WHERE t_ms >= ? AND t_ms < ? ORDER BY t_ms",
                (ms0, ms1),
            )
        ],
        "reflections": [
            {
                "at": iso(t),
                "answers": [{"question": q, "answer": a} for q, a in answers],
            }
            for t, answers in reflection_entries(store, p0, p1)
        ],
    }


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _around_breaks(breaks: list[dict[str, Any]]) -> dict[str, Any]:
    """ "Did it help?": heart rate and ln RMSSD in the five minutes before and after the
    breaks, averaged over the breaks that have both (information, never a grade)."""
    hr = [(k["hr_before"], k["hr_after"]) for k in breaks]
    hr = [(a, b) for a, b in hr if _finite(a) is not None and _finite(b) is not None]
    ln = [(k["ln_rmssd_before"], k["ln_rmssd_after"]) for k in breaks]
    ln = [(a, b) for a, b in ln if _finite(a) is not None and _finite(b) is not None]
    return {
        "breaks_with_hr": len(hr),
        "hr_before": _mean([a for a, _ in hr]),
        "hr_after": _mean([b for _, b in hr]),
        "breaks_with_ln_rmssd": len(ln),
        "ln_rmssd_before": _mean([a for a, _ in ln]),
        "ln_rmssd_after": _mean([b for _, b in ln]),
    }


def _heatmap(
    episodes: list[StoredEpisode], b_start: Any, b_wear: Any, p0: float, p1: float
) -> dict[str, Any]:
    """Minutes worn and minutes in sustained strain by weekday (Monday first) and local
    hour of day, summed over the period."""
    worn = [[0.0] * 24 for _ in range(7)]
    strain = [[0.0] * 24 for _ in range(7)]
    for s, w in zip(b_start.tolist(), b_wear.tolist(), strict=True):
        lt = time.localtime(s)
        worn[lt.tm_wday][lt.tm_hour] += w / 60.0
    for e in episodes:
        if e.kind != "stress":
            continue
        for local, secs in _hour_slices(max(e.start, p0), min(e.end, p1)):
            strain[local.weekday()][local.hour] += secs / 60.0
    return {"weekdays": list(WEEKDAYS), "worn_min": worn, "strain_min": strain}


def _baseline_trend(store: Store, period: Period) -> list[dict[str, Any]]:
    """The usual resting rhythm kindpulse had learnt at the end of each day (ready
    baselines only): heart rate in bpm, ln RMSSD and RMSSD in ms."""
    rows = list(
        store.query(
            "SELECT t_ms, ln_rmssd, hr_bpm FROM baselines WHERE ready = 1 AND t_ms >= ?"
            " AND t_ms < ? ORDER BY t_ms",
            (round(period.start * 1000), round(period.end * 1000)),
        )
    )
    out = []
    i = 0
    for d in period.days:
        end_ms = round(_midnight(d + timedelta(days=1)) * 1000)
        last = None
        while i < len(rows) and rows[i][0] < end_ms:
            last = rows[i]
            i += 1
        if last is not None and math.isfinite(last[1]) and math.isfinite(last[2]):
            out.append(
                {
                    "date": d.isoformat(),
                    "hr_bpm": last[2],
                    "ln_rmssd": last[1],
                    "rmssd_ms": math.exp(last[1]),
                }
            )
    return out


def _quality(store: Store, p0: float, p1: float, buckets: dict[str, Any]) -> dict[str, Any]:
    """Gaps in the stream (and beats dropped while the log could not be written), and the
    share of beats artifact correction replaced."""
    a, b = round(p0 * 1000), round(p1 * 1000)
    n, gap_ms, dropped = next(
        store.query(
            "SELECT count(*), coalesce(sum(min(end_ms, ?) - max(start_ms, ?)), 0),"
            " coalesce(sum(dropped), 0) FROM gaps WHERE start_ms < ? AND end_ms > ?",
            (b, a, b, a),
        )
    )
    beats = float(buckets["beats"].sum())
    return {
        "gaps": int(n),
        "gap_s": gap_ms / 1000.0,
        "dropped_beats": int(dropped),
        "minutes_with_beats": int(buckets["minutes"].sum()),
        "artifact_pct": 100.0 * float(buckets["artifact_beats"].sum()) / beats if beats else None,
    }


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else v


def _day_label(iso_date: str) -> str:
    d = date.fromisoformat(iso_date)
    return f"{d:%a} {d.day} {d:%b}"


def _clock(text: str) -> str:
    return datetime.fromisoformat(text).strftime("%H:%M")


_SHADES = " ·░▒▓█"
_SPARK = "▁▂▃▄▅▆▇█"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _movement_lines(s: dict[str, Any]) -> list[str]:
    """Time on the move, as the strap's motion sensor felt it; nothing when it sensed no
    movement in the period (a strap without one, or an older log)."""
    moving, known = s.get("moving_s"), s.get("movement_s")
    if moving is None or not known:
        return []
    if moving > 0:
        line = f"  You were up and moving for {_hm(moving)}, as the strap's motion sensor felt it"
    else:
        line = "  The strap's motion sensor felt you keeping still all along"
    if known < 0.9 * s["wear_s"]:
        line += f" (the motion sensor covered {_hm(known)} of that time)"
    return [line + "."]


def _summary_extras(doc: dict[str, Any]) -> list[str]:
    s = doc["summary"]
    lines = []
    if s["prompts"]:
        o = s["prompt_outcomes"]
        parts = [
            f"{o['break']} taken" if o["break"] else "",
            f"{o['snooze']} snoozed" if o["snooze"] else "",
            f"{o['okay']} “I'm okay”" if o["okay"] else "",
            f"{o['dismissed'] + o['timed_out']} let pass"
            if o["dismissed"] + o["timed_out"]
            else "",
            f"{o['failed']} not delivered" if o["failed"] else "",
        ]
        what = ", ".join(p for p in parts if p)
        lines.append(f"  Breaks offered: {s['prompts']}" + (f" ({what})." if what else "."))
    ab = s["around_breaks"]
    if ab["breaks_with_hr"] or ab["breaks_with_ln_rmssd"]:
        parts = []
        if ab["breaks_with_hr"]:
            parts.append(f"heart rate {ab['hr_before']:.0f} → {ab['hr_after']:.0f} bpm")
        if ab["breaks_with_ln_rmssd"]:
            parts.append(
                f"variability (RMSSD) {math.exp(ab['ln_rmssd_before']):.0f} → "
                f"{math.exp(ab['ln_rmssd_after']):.0f} ms"
            )
        n = max(ab["breaks_with_hr"], ab["breaks_with_ln_rmssd"])
        lines.append(
            f"  Around {'your break' if n == 1 else f'your {n} breaks'} (five minutes before "
            f"and after{'' if n == 1 else ', on average'}): {', '.join(parts)}."
        )
        lines.append("  This is here as information, not as a measure of how well you did.")
    if s["quiet_moments"]:
        by = sorted(s["quiet_moments_by_reason"].items(), key=lambda kv: -kv[1])
        why = ", ".join(f"{n} {QUIET_REASONS.get(r, r.replace('_', ' '))}" for r, n in by)
        lines.append(
            f"  {_count(s['quiet_moments'], 'moment')} passed quietly, with no offer: {why}."
        )
    ad = doc["adaptations"]
    if ad:
        last = ad[-1]["threshold_shift"]
        okays = sum(a["reason"] == "I'm okay" for a in ad)
        said = f"You said “I'm okay” {_count(okays, 'time')}; " if okays else ""
        now = (
            "kindpulse now waits for a somewhat clearer sign before offering a break."
            if last > 0
            else "kindpulse is back to its usual sensitivity."
        )
        lines.append(f"  {said}{now}")
    return lines


#: Periods longer than this many days are tabled by month in the text review.
DAYS_TABLED = 31
#: At most this many stretches of strain are listed in the text review (the latest).
MAX_LISTED = 30


def _table_lines(days: list[dict[str, Any]]) -> list[str]:
    """A row per day, or per month for a long period."""
    rows: list[tuple[str, dict[str, float]]] = []
    for d in days:
        if len(days) <= DAYS_TABLED:
            label = _day_label(d["date"])
        else:
            label = f"{date.fromisoformat(d['date']):%b %Y}"
        if not rows or rows[-1][0] != label:
            rows.append(
                (
                    label,
                    {"wear_s": 0.0, "stress_s": 0.0, "episodes": 0, "breaks": 0, "moving_s": -1.0},
                )
            )
        acc = rows[-1][1]
        acc["wear_s"] += d["wear_s"]
        acc["stress_s"] += d["stress_s"]
        acc["episodes"] += d["episodes"]
        acc["breaks"] += d["breaks_taken"]
        if d.get("moving_s") is not None:  # -1: not known on any day of the row
            acc["moving_s"] = max(acc["moving_s"], 0.0) + d["moving_s"]
    # A column for time on the move only when the motion sensor felt any of the period.
    with_moving = any(acc["moving_s"] >= 0 for _label, acc in rows)
    head = "day" if len(days) <= DAYS_TABLED else "month"
    more = f"{'moving':>12}" if with_moving else ""
    lines = ["", f"  {head:<12}{'worn':>13}{'strain':>13}{'stretches':>11}{'breaks':>8}{more}"]
    for label, acc in rows:
        worn = _hm(acc["wear_s"]) if acc["wear_s"] > 0 else "—"
        strain = _hm(acc["stress_s"]) if acc["stress_s"] > 0 else "—"
        moving = _hm(acc["moving_s"]) if acc["moving_s"] > 0 else "—"
        lines.append(
            f"  {label:<12}{worn:>12}{strain:>10}{int(acc['episodes']):>11}{int(acc['breaks']):>8}"
            + (f"{moving:>12}" if with_moving else "")
        )
    return lines


def _heatmap_lines(doc: dict[str, Any]) -> list[str]:
    h = doc["heatmap"]
    rows = [
        (name, worn, strain)
        for name, worn, strain in zip(h["weekdays"], h["worn_min"], h["strain_min"], strict=True)
        if sum(worn) >= 1.0
    ]
    if not rows:
        return []
    lines = [
        "",
        "  When strain came, by hour of day",
        "       " + "".join(f"{hr:<6}" for hr in range(0, 24, 3)).rstrip(),
    ]
    for name, worn, strain in rows:
        cells = []
        for w, st in zip(worn, strain, strict=True):
            if st > 0:
                share = st / w if w > 0 else 1.0
                k = 2 if share < 0.1 else 3 if share < 0.25 else 4 if share < 0.5 else 5
            else:
                k = 1 if w >= 1.0 else 0
            cells.append(_SHADES[k] * 2)
        lines.append((f"  {name:<5}" + "".join(cells)).rstrip())
    lines.append(
        "  · worn   ░ strain in under a tenth of the time worn   ▒ under a quarter"
        "   ▓ under half   █ half or more"
    )
    return lines


def _baseline_lines(doc: dict[str, Any]) -> list[str]:
    trend = doc["baseline"]
    if not trend:
        return []
    lines = ["", "  Your usual resting rhythm (the baseline kindpulse has learnt)"]
    step = max(1, math.ceil(len(trend) / 8))
    shown = trend[::step]
    if shown[-1] is not trend[-1]:
        shown.append(trend[-1])
    for b in shown:
        lines.append(
            f"  {_day_label(b['date']):<12}heart rate {b['hr_bpm']:.0f} bpm, "
            f"variability (RMSSD) {b['rmssd_ms']:.0f} ms"
        )
    if len(trend) >= 3:
        vals = [b["ln_rmssd"] for b in trend]
        per = max(1, math.ceil(len(vals) / 60))  # at most 60 marks: weeks for a year
        vals = [sum(vals[i : i + per]) / len(vals[i : i + per]) for i in range(0, len(vals), per)]
        lo, hi = min(vals), max(vals)
        spark = "".join(
            _SPARK[0 if hi - lo < 1e-9 else min(7, int((v - lo) / (hi - lo) * 8))] for v in vals
        )
        unit = "day" if per == 1 else "week"
        lines.append(f"  variability, {unit} by {unit}: {spark}")
    return lines


def _quality_lines(doc: dict[str, Any]) -> list[str]:
    q = doc["quality"]
    if not q["minutes_with_beats"] and not q["gaps"]:
        return []
    parts = []
    if q["gaps"]:
        parts.append(f"{_count(q['gaps'], 'gap')} in the signal ({_hm(q['gap_s'])} in all)")
    else:
        parts.append("no gaps in the signal")
    if q["artifact_pct"] is not None:
        parts.append(f"{q['artifact_pct']:.1f}% of beats corrected as artifacts")
    line = f"  Data: {'; '.join(parts)}."
    if q["dropped_beats"]:
        line += (
            f" {q['dropped_beats']} beats could not be written to the log in time and were"
            " counted as lost."
        )
    return ["", line]


def _reflection_lines(doc: dict[str, Any]) -> list[str]:
    refl = doc["reflections"]
    if not refl:
        return []
    lines = ["", "  Your reflections"]
    for r in refl:
        lines.append(f"  {_day_label(r['at'][:10])} {_clock(r['at'])}")
        for qa in r["answers"]:
            if qa["question"]:
                lines.append(f"    {qa['question']}")
            lines += [f"      {line}" for line in qa["answer"].splitlines() if line.strip()]
    return lines


def render_text(doc: dict[str, Any]) -> str:
    """The review in kind words: it describes what happened and never grades it."""
    s = doc["summary"]
    a = datetime.fromisoformat(doc["period"]["start"])
    b = datetime.fromisoformat(doc["period"]["end"]) - timedelta(seconds=1)
    first = f"{a:%a} {a.day} {a:%b}" + (f" {a:%Y}" if a.year != b.year else "")
    span = (
        f"{a:%a} {a.day} {a:%b %Y}"
        if a.date() == b.date()
        else f"{first} to {b:%a} {b.day} {b:%b %Y}"
    )
    lines = [f"Your log, {span}", ""]
    if s["wear_s"] <= 0:
        lines.append("  The strap was not worn in this time, so there is nothing to look back on.")
    else:
        lines.append(f"  You wore the strap for {_hm(s['wear_s'])}.")
        n = s["episodes"]
        if n == 0:
            lines.append("  No sustained stretch of strain was noticed.")
        else:
            what = "1 stretch" if n == 1 else f"{n} stretches"
            k = s["episodes_with_break"]
            took = (
                f"you took a break in {k}"
                if k
                else "no break was logged around " + ("it" if n == 1 else "them")
            )
            lines.append(f"  {what} of sustained strain, {_hm(s['stress_s'])} in all; {took}.")
        if s["active_episodes"]:
            m = s["active_episodes"]
            lines.append(f"  {m} time{'s' if m != 1 else ''} your body was moving or exercising.")
        lines += _movement_lines(s)
        if s["breaks_taken"]:
            lines.append(f"  Breaks taken: {s['breaks_taken']}.")
        if s["snoozes"]:
            lines.append(f"  Reminders snoozed: {s['snoozes']}.")
        lines += _summary_extras(doc)
        lines.append(
            "  Strain is part of being human; these notes are here for you to notice, not to judge."
        )
    lines += _table_lines(doc["days"]) + _heatmap_lines(doc)
    for kind, title in (("stress", "Stretches of strain"), ("active", "Movement")):
        eps = [e for e in doc["episodes"] if e["kind"] == kind]
        if not eps:
            continue
        lines += ["", f"  {title}"]
        limit = MAX_LISTED if kind == "stress" else MAX_LISTED // 3
        if len(eps) > limit:
            lines.append(
                f"  The latest {limit} of {len(eps)} (all of them: --format json or"
                " kindpulse export --what episodes)."
            )
        for e in eps[-limit:]:
            day = _day_label(e["start"][:10])
            brk = " You took a break." if kind == "stress" and e["break_taken"] else ""
            lines.append(
                f"  {day} {_clock(e['start'])}–{_clock(e['end'])}  {e['explanation']}{brk}"
            )
    lines += _baseline_lines(doc) + _quality_lines(doc)
    lines += _reflection_lines(doc)
    return "\n".join(lines) + "\n"


DAY_COLUMNS = (
    "date",
    "start",
    "end",
    "wear_s",
    "stress_s",
    "episodes",
    "active_episodes",
    "breaks_taken",
    "snoozes",
    "prompts",
    "quiet_moments",
    "moving_s",
    "movement_s",
)


def cmd_review(args: argparse.Namespace) -> int:
    period = period_from_args(args)
    if getattr(args, "plot", None):
        from kindpulse.daemon.plot import cmd_plot

        return cmd_plot(args, period, _state_dir(args))
    moving_mg = review_moving_mg(args)
    store = Store.open(_state_dir(args))
    try:
        doc = build_review(store, period, moving_mg)
    finally:
        store.close()
    out = sys.stdout
    fmt = getattr(args, "format", "text")
    if fmt == "json":
        json.dump(doc, out, allow_nan=False)
        out.write("\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(DAY_COLUMNS)
        for d in doc["days"]:
            w.writerow([d[c] for c in DAY_COLUMNS])
    else:
        out.write(render_text(doc))
    return 0


# -- export ------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    a = _parse_instant(args.since, "--since") if getattr(args, "since", None) else 0.0
    b = (
        _parse_instant(args.until, "--until", end_of_day=True)
        if getattr(args, "until", None)
        else 4.0e9
    )
    what, fmt = args.what, args.format
    if what != "beats" and fmt == "kubios":
        raise UsageError("--format kubios is for beats (--what beats)")
    span = (round(a * 1000), round(b * 1000))
    store = Store.open(_state_dir(args))
    try:
        pieces: Iterable[bytes]
        if what == "beats":
            from kindpulse.daemon.beatstext import beats_csv, beats_json, beats_kubios

            t_ms, rr = store.beats_raw(a, b)
            gaps = [
                (int(r[0]), " ".join(str(r[1]).split()) or "stream interrupted")
                for r in store.query(
                    "SELECT start_ms, reason FROM gaps WHERE start_ms >= ? AND start_ms < ?"
                    " ORDER BY start_ms",
                    span,
                )
            ]
            pieces = (
                beats_csv(t_ms, rr, gaps)
                if fmt == "csv"
                else beats_kubios(t_ms, rr)
                if fmt == "kubios"
                else beats_json(t_ms, rr)
            )
        elif what == "episodes":
            rows = [_episode_row(e) for e in store.episodes_between(a, b)]
            pieces = [_rows_text(rows, _episode_row_keys(), fmt, what).encode()]
        else:
            cols, sql = EXPORT_TABLES[what]
            rows = [
                {
                    c: (iso_ms(v / 1000.0) if v is not None else None)
                    if c in TIME_COLUMNS
                    else (_finite(v) if isinstance(v, float) else v)
                    for c, v in zip(cols, r, strict=True)
                }
                for r in store.query(sql, span)
            ]
            pieces = [_rows_text(rows, cols, fmt, what).encode()]
    finally:
        store.close()
    _write_out(getattr(args, "out", None), pieces)
    return 0


def _write_out(path: str | None, pieces: Iterable[bytes]) -> None:
    """To standard output, or to ``path`` (0600, in place only once complete)."""
    if path not in (None, "-"):
        write_private_file(str(path), pieces)
        return
    sys.stdout.flush()
    out = sys.stdout.buffer
    for p in pieces:
        out.write(p)
    out.flush()


#: The other tables ``export`` writes: their columns (in CSV and JSON) and the query.
EXPORT_TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "windows": (
        (
            "end",
            "state",
            "n_beats",
            "mean_hr",
            "ln_rmssd",
            "rmssd",
            "sdnn",
            "artifact_pct",
            "movement_mg",
        ),
        "SELECT t_ms, state, n_beats, mean_hr, ln_rmssd, rmssd, sdnn, artifact_pct, movement_mg"
        " FROM windows WHERE t_ms >= ? AND t_ms < ? ORDER BY t_ms",
    ),
    "prompts": (
        ("at", "episode_start", "outcome", "outcome_at"),
        "SELECT t_ms, episode_start_ms, outcome, outcome_ms FROM prompts"
        " WHERE t_ms >= ? AND t_ms < ? ORDER BY t_ms, id",
    ),
    "breaks": (
        ("start", "end", "hr_before", "hr_after", "ln_rmssd_before", "ln_rmssd_after"),
        "SELECT start_ms, end_ms, hr_before, hr_after, ln_rmssd_before, ln_rmssd_after"
        " FROM breaks WHERE start_ms >= ? AND start_ms < ? ORDER BY start_ms, id",
    ),
}
#: Columns of :data:`EXPORT_TABLES` holding a time (stored in ms, written as ISO 8601).
TIME_COLUMNS = frozenset({"end", "at", "episode_start", "outcome_at", "start"})


def _rows_text(rows: list[dict[str, Any]], cols: Sequence[str], fmt: str, what: str) -> str:
    buf = io.StringIO()
    if fmt == "json":
        json.dump({what: rows}, buf, allow_nan=False)
        buf.write("\n")
    else:
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r[c] is None else r[c] for c in cols])
    return buf.getvalue()


def iso_ms(t: float) -> str:
    return _local(t).isoformat(timespec="milliseconds")


def _episode_row_keys() -> tuple[str, ...]:
    return (
        "kind",
        "start",
        "confirmed",
        "end",
        "duration_s",
        "peak_z_ln_rmssd",
        "peak_z_hr",
        "mean_hr",
        "mean_ln_rmssd",
        "baseline_hr",
        "baseline_ln_rmssd",
        "explanation",
        "source",
    )


def _episode_row(e: StoredEpisode) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "start": iso(e.start),
        "confirmed": iso(e.confirmed),
        "end": iso(e.end),
        "duration_s": e.duration_s,
        "peak_z_ln_rmssd": _finite(e.peak_z_ln_rmssd),
        "peak_z_hr": _finite(e.peak_z_hr),
        "mean_hr": _finite(e.mean_hr),
        "mean_ln_rmssd": _finite(e.mean_ln_rmssd),
        "baseline_hr": _finite(e.baseline_hr),
        "baseline_ln_rmssd": _finite(e.baseline_ln_rmssd),
        "explanation": e.explanation,
        "source": e.source,
    }


# -- forget ------------------------------------------------------------------------------


def cmd_forget(args: argparse.Namespace) -> int:
    if bool(args.all) == bool(args.before):
        raise UsageError("forget needs exactly one of --before DATE or --all")
    before = None if args.all else _parse_instant(args.before, "--before")
    store = Store.open(_state_dir(args))
    try:
        store.forget(before)
    finally:
        store.close()
    what = "everything" if before is None else f"everything before {iso(before)}"
    sys.stdout.write(f"Deleted {what} from {store.path}.\n")
    return 0


# -- registration ------------------------------------------------------------------------


def add_store_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``import``, ``review``, ``export`` and ``forget`` (each sets ``handler``)."""

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--state-dir", metavar="DIR", help="where the log lives")
        p.add_argument("--config", metavar="FILE", help="config file (for [storage] state_dir)")

    i = subparsers.add_parser(
        "import",
        help="keep a recorded RR file in the log",
        description="Run a recording through the same detection as 'analyze --episodes' "
        "and keep its beats, minute windows and episodes in the log. A file with date-time "
        "stamps keeps them; any other starts at --start (default now). Beats already in "
        "the log are skipped, so importing twice changes nothing.",
    )
    i.add_argument("file", help="RR recording")
    i.add_argument("--start", metavar="ISO8601", help="wall-clock time of the first beat")
    i.add_argument(
        "--motion",
        metavar="ACC_FILE",
        help="the strap's accelerometer recording of the same time (as 'analyze --motion'): "
        "movement goes into detection and each minute keeps it; FILE needs date-time "
        "timestamps",
    )
    common(i)
    i.set_defaults(handler=cmd_import)

    r = subparsers.add_parser(
        "review",
        help="look back at a day, a week or a period",
        description="Time worn, stretches of sustained strain, breaks offered and taken, "
        "moments that passed quietly, when strain came, the baseline's trend and data "
        "quality, per local day. Default: the last 7 days.",
    )
    g = r.add_mutually_exclusive_group()
    g.add_argument("--day", metavar="DATE", help="one day (2026-01-05, today, yesterday)")
    g.add_argument(
        "--week", nargs="?", const=True, metavar="DATE", help="the 7 days ending with DATE"
    )
    g.add_argument("--since", metavar="DATE|ISO8601", help="from (with --until)")
    r.add_argument("--until", metavar="DATE|ISO8601", help="to (default now; a date: that day)")
    r.add_argument("--format", choices=("text", "json", "csv"), default="text")
    r.add_argument(
        "--plot",
        metavar="FILE",
        help="draw the period to FILE (.png or .svg) instead of printing it: one day as a "
        "timeline, more days as an hour-by-day map (needs: pip install 'kindpulse[plot]')",
    )
    common(r)
    r.set_defaults(handler=cmd_review)

    e = subparsers.add_parser(
        "export",
        help="write beats, windows, episodes, prompts or breaks from the log to a file",
        description="Beats as 'timestamp,rr_ms' CSV (as 'kindpulse record' writes), JSON or "
        "Kubios text (seconds from the first beat and RR in seconds); minute windows, "
        "episodes, prompts and breaks as CSV or JSON (columns in the README). The file is "
        "created readable by you alone.",
    )
    e.add_argument(
        "--what",
        choices=("beats", "windows", "episodes", "prompts", "breaks"),
        default="beats",
    )
    e.add_argument("--format", choices=("csv", "json", "kubios"), default="csv")
    e.add_argument("--since", metavar="DATE|ISO8601")
    e.add_argument("--until", metavar="DATE|ISO8601")
    e.add_argument("--out", metavar="FILE", help="default: standard output")
    common(e)
    e.set_defaults(handler=cmd_export)

    f = subparsers.add_parser(
        "forget",
        help="delete data from the log for good",
        description="Delete everything before a date (or everything), then compact the "
        "file so no copy stays behind.",
    )
    f.add_argument("--before", metavar="DATE|ISO8601")
    f.add_argument("--all", action="store_true")
    common(f)
    f.set_defaults(handler=cmd_forget)
