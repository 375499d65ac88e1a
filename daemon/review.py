"""``kindpulse import``, ``review``, ``export`` and ``forget``: the commands that read and
manage the private log (:mod:`kindpulse.daemon.store`).

* ``import FILE`` runs a recording through the same pipeline as ``analyze --episodes``
  (:func:`kindpulse.analysis.detect` on :func:`kindpulse.hrv.prepare`) and keeps its
  beats, minute windows and episodes in the log, on the wall clock: a file with date-time
  stamps keeps them, any other starts at ``--start`` (default: now). Beats already in the
  log (within 1 ms) are skipped, so importing a file twice changes nothing.
* ``review`` describes a day, a week or any period: time worn, stretches of sustained
  strain and the breaks taken. It describes and never grades: no scores, no verdicts.
* ``export`` writes beats (``timestamp,rr_ms`` as ``kindpulse record`` does, JSON, or a
  Kubios-readable text) or episodes (CSV, JSON).
* ``forget`` deletes for real (rows, then VACUUM).

Times in JSON and CSV are ISO 8601 with the local UTC offset; days are local days, and an
episode that crosses midnight is split between the days it touches.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any, TextIO

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


def _output(path: str | None) -> tuple[TextIO, Path | None]:
    if path in (None, "-"):
        return sys.stdout, None
    return io.StringIO(), Path(path)


def _finish_output(buf: TextIO, path: Path | None) -> None:
    if path is None:
        return
    from kindpulse.daemon.run import write_private

    assert isinstance(buf, io.StringIO)
    try:
        write_private(path, buf.getvalue())
    except OSError as e:
        raise StoreError(f"{path}: cannot be written ({e.strerror})") from None


# -- import ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    beats_read: int
    beats_added: int
    windows: int
    episodes: tuple[StoredEpisode, ...]
    start: float
    end: float


def import_recording(
    store: Store,
    path: str | Path,
    start: datetime | None = None,
    config_path: str | None = None,
) -> ImportResult:
    """Read ``path``, detect as ``analyze --episodes`` does, and keep it in ``store``."""
    import numpy as np

    from kindpulse.analysis import detect
    from kindpulse.detector import DetectorConfig
    from kindpulse.hrv import metrics_for_windows, prepare, window_ends
    from kindpulse.sensors.rrfile import read_rr_file

    rec = read_rr_file(path)
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
    found = detect(series, cfg)

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
        for row in table.rows():
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
    return ImportResult(int(rec.rr_ms.size), added, windows, eps, t0, t1)


def _opt(v: float | int | None) -> float | None:
    return None if v is None else float(v)


def cmd_import(args: argparse.Namespace) -> int:
    from kindpulse.daemon.run import _parse_start

    start = _parse_start(args.start)
    store = Store.open(_state_dir(args))
    try:
        r = import_recording(store, args.file, start, getattr(args, "config", None))
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


def build_review(store: Store, period: Period) -> dict[str, Any]:
    """The review document (what ``--format json`` prints)."""
    import numpy as np

    p0, p1 = period.start, period.end
    t, rr = store.beats_between(p0, p1)
    episodes = store.episodes_between(p0, p1)
    breaks = store.breaks_between(p0 - BREAK_AFTER_S, p1)
    snoozes = [
        c.t for c in store.controls_since(p0) if c.kind == "snooze" and c.t < p1
    ]
    pauses = [c.t for c in store.controls_since(p0) if c.kind == "pause" and c.t < p1]
    prompts = [
        r[0] / 1000.0
        for r in store.query(
            "SELECT t_ms FROM prompts WHERE t_ms >= ? AND t_ms < ?",
            (round(p0 * 1000), round(p1 * 1000)),
        )
    ]

    # Beats are kept for fewer days than windows: where a day has no beats left, its wear
    # is the time its minute windows' beats covered (n_beats × mean RR).
    win = [
        (w.end_epoch_s, w.n_beats * 60.0 / w.mean_hr)
        for w in store.windows_between(p0, p1 + 60.0)
        if w.mean_hr and w.n_beats
    ]

    def wear(a: float, b: float) -> float:
        m = (t >= a) & (t < b)
        if m.any():
            return float(np.sum(rr[m])) / 1000.0
        return sum(min(60.0, s) for e, s in win if a < e <= b)

    def with_break(e: StoredEpisode) -> bool:
        return any(e.start <= b0 <= e.end + BREAK_AFTER_S for b0, _ in breaks)

    def in_range(xs: Iterable[float], a: float, b: float) -> int:
        return sum(a <= x < b for x in xs)

    days = []
    for d in period.days:
        a, b = max(_midnight(d), p0), min(_midnight(d + timedelta(days=1)), p1)
        stress_here = [e for e in episodes if e.kind == "stress" and _overlap(e.start, e.end, a, b)]
        days.append(
            {
                "date": d.isoformat(),
                "start": iso(a),
                "end": iso(b),
                "wear_s": wear(a, b),
                "stress_s": sum(_overlap(e.start, e.end, a, b) for e in stress_here),
                "episodes": len(stress_here),
                "active_episodes": sum(
                    e.kind == "active" and _overlap(e.start, e.end, a, b) > 0 for e in episodes
                ),
                "breaks_taken": sum(a <= b0 < b for b0, _ in breaks),
                "snoozes": in_range(snoozes, a, b),
                "prompts": in_range(prompts, a, b),
            }
        )
    stress = [e for e in episodes if e.kind == "stress"]
    in_period_breaks = [b0 for b0, _ in breaks if p0 <= b0 < p1]
    return {
        "period": {"start": iso(p0), "end": iso(p1)},
        "summary": {
            "wear_s": sum(d["wear_s"] for d in days),
            "stress_s": sum(_overlap(e.start, e.end, p0, p1) for e in stress),
            "episodes": len(stress),
            "episodes_with_break": sum(with_break(e) for e in stress),
            "active_episodes": sum(e.kind == "active" for e in episodes),
            "breaks_taken": len(in_period_breaks),
            "prompts": len(prompts),
            "snoozes": len(snoozes),
            "pauses": len(pauses),
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
    }


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else v


def _day_label(iso_date: str) -> str:
    d = date.fromisoformat(iso_date)
    return f"{d:%a} {d.day} {d:%b}"


def _clock(text: str) -> str:
    return datetime.fromisoformat(text).strftime("%H:%M")


def render_text(doc: dict[str, Any]) -> str:
    """The review in kind words: it describes what happened and never grades it."""
    s = doc["summary"]
    a = datetime.fromisoformat(doc["period"]["start"])
    b = datetime.fromisoformat(doc["period"]["end"]) - timedelta(seconds=1)
    span = f"{a:%a} {a.day} {a:%b %Y}" if a.date() == b.date() else (
        f"{a:%a} {a.day} {a:%b} to {b:%a} {b.day} {b:%b %Y}"
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
            lines.append(
                f"  {what} of sustained strain, {_hm(s['stress_s'])} in all; {took}."
            )
        if s["active_episodes"]:
            m = s["active_episodes"]
            lines.append(f"  {m} time{'s' if m != 1 else ''} your body was moving or exercising.")
        if s["breaks_taken"]:
            lines.append(f"  Breaks taken: {s['breaks_taken']}.")
        if s["snoozes"]:
            lines.append(f"  Reminders snoozed: {s['snoozes']}.")
        lines.append(
            "  Strain is part of being human; these notes are here for you to notice, "
            "not to judge."
        )
    lines += ["", f"  {'day':<12}{'worn':>12}{'strain':>10}{'stretches':>11}{'breaks':>8}"]
    for d in doc["days"]:
        worn = _hm(d["wear_s"]) if d["wear_s"] > 0 else "—"
        strain = _hm(d["stress_s"]) if d["stress_s"] > 0 else "—"
        lines.append(
            f"  {_day_label(d['date']):<12}{worn:>12}{strain:>10}{d['episodes']:>11}"
            f"{d['breaks_taken']:>8}"
        )
    for kind, title in (("stress", "Stretches of strain"), ("active", "Movement")):
        eps = [e for e in doc["episodes"] if e["kind"] == kind]
        if not eps:
            continue
        lines += ["", f"  {title}"]
        for e in eps:
            day = _day_label(e["start"][:10])
            brk = " You took a break." if kind == "stress" and e["break_taken"] else ""
            lines.append(
                f"  {day} {_clock(e['start'])}–{_clock(e['end'])}  {e['explanation']}{brk}"
            )
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
)


def cmd_review(args: argparse.Namespace) -> int:
    period = period_from_args(args)
    if getattr(args, "plot", None):
        from kindpulse.daemon.plot import cmd_plot

        return cmd_plot(args, period, _state_dir(args))
    store = Store.open(_state_dir(args))
    try:
        doc = build_review(store, period)
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
    from kindpulse.sensors.record import CSV_HEADER, format_rr_ms, format_timestamp

    a = _parse_instant(args.since, "--since") if getattr(args, "since", None) else 0.0
    b = (
        _parse_instant(args.until, "--until", end_of_day=True)
        if getattr(args, "until", None)
        else 4.0e9
    )
    what, fmt = args.what, args.format
    if what == "episodes" and fmt == "kubios":
        raise UsageError("--format kubios is for beats (--what beats)")
    store = Store.open(_state_dir(args))
    try:
        if what == "beats":
            t, rr = store.beats_between(a, b)
            gaps = [
                (r[0] / 1000.0, r[1])
                for r in store.query(
                    "SELECT start_ms, reason FROM gaps WHERE start_ms >= ? AND start_ms < ?"
                    " ORDER BY start_ms",
                    (round(a * 1000), round(b * 1000)),
                )
            ]
            episodes: list[StoredEpisode] = []
        else:
            episodes = store.episodes_between(a, b)
    finally:
        store.close()
    buf, path = _output(getattr(args, "out", None))
    if what == "beats":
        if fmt == "csv":
            buf.write(CSV_HEADER + "\n")
            g = 0
            for ti, ri in zip(t.tolist(), rr.tolist(), strict=True):
                while g < len(gaps) and gaps[g][0] < ti:
                    reason = " ".join(str(gaps[g][1]).split()) or "stream interrupted"
                    buf.write(f"# gap: {reason}\n")
                    g += 1
                buf.write(f"{format_timestamp(ti)},{format_rr_ms(ri)}\n")
        elif fmt == "json":
            json.dump(
                {"beats": [{"timestamp": iso_ms(ti), "rr_ms": ri} for ti, ri in
                           zip(t.tolist(), rr.tolist(), strict=True)]},
                buf,
            )
            buf.write("\n")
        else:  # kubios: time from the first beat and RR, both in seconds
            t0 = float(t[0]) if t.size else 0.0
            for ti, ri in zip(t.tolist(), rr.tolist(), strict=True):
                buf.write(f"{ti - t0:.3f}\t{ri / 1000.0:.6f}\n")
    else:
        rows = [_episode_row(e) for e in episodes]
        if fmt == "json":
            json.dump({"episodes": rows}, buf, allow_nan=False)
            buf.write("\n")
        else:
            w = csv.writer(buf, lineterminator="\n")
            cols = list(_episode_row_keys())
            w.writerow(cols)
            for r in rows:
                w.writerow(["" if r[c] is None else r[c] for c in cols])
    _finish_output(buf, path)
    return 0


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
    common(i)
    i.set_defaults(handler=cmd_import)

    r = subparsers.add_parser(
        "review",
        help="look back at a day, a week or a period",
        description="Time worn, stretches of sustained strain and breaks taken, per local "
        "day. Default: the last 7 days.",
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
        help="write beats or episodes from the log to a file",
        description="Beats as 'timestamp,rr_ms' CSV (as 'kindpulse record' writes), JSON or "
        "Kubios text (seconds from the first beat and RR in seconds); episodes as CSV or "
        "JSON. The file is created readable by you alone.",
    )
    e.add_argument("--what", choices=("beats", "episodes"), default="beats")
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
