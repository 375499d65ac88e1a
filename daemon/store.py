"""The private stress log: one SQLite file in the state directory, readable by its owner
alone.

What it holds (times are integer milliseconds since the Unix epoch, ``*_ms``):

* ``beats`` — every RR interval, in blocks of one minute: ``minute = t_ms // 60000`` is the
  key, ``t`` the beats' offsets into the minute (ms, little-endian uint16) and ``rr`` their
  intervals (1/16 µs, little-endian uint32, up to 268 s: exact for a strap's 1/1024 s
  units and for whole milliseconds, otherwise within 1/32 µs). A row per beat costs about
  15 bytes in SQLite (key, value, record header, cell pointer), 1.5 MB for a day of wear
  on its own; a minute block costs about 6 bytes a beat, so a day of beats and minute
  windows stays well under 1.5 MB (about 0.8 MB measured). The same absolute beat time
  (within :data:`DEDUP_MS`) is never stored twice: new beats are merged into their
  minute's block and those already there are skipped, so importing a file twice, or a
  live source repeating itself, changes nothing.
* ``gaps``, ``windows`` (one metrics row per minute with its state and, where the strap
  has an accelerometer, its movement in mg), ``baselines``
  (snapshots), ``episodes``, ``prompts``, ``breaks``, ``device_events``, ``controls``
  (pause, resume, snooze, threshold reset: the CLI writes them, the daemon reads them —
  control through the log), ``adaptations`` and ``reflections``.

Durability: WAL mode with ``synchronous=NORMAL``; a committed transaction survives the
process being killed (SIGKILL, OOM), and the file is always consistent. Beats are buffered
and written in one transaction once :data:`FLUSH_EVERY_S` seconds of *beat* time have
piled up, so a crash loses at most the last few seconds of beats.

Faults never stop the daemon: when a write fails (disk full, read-only file, a locked
database) the data stays in a bounded memory buffer (:data:`MAX_BUFFER_S` of beat time),
one warning is logged for the whole outage, and the write is retried at the next flush.
Past the bound the oldest beats are dropped and counted, and a gap saying how many is
recorded as soon as writing works again — nothing is lost silently.

Schema changes are steps in :data:`MIGRATIONS`; ``PRAGMA user_version`` says how many have
been applied. A file from a newer kindpulse is refused with one clear line.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import sqlite3
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kindpulse.detector import Baseline, Episode
from kindpulse.errors import EX_UNAVAILABLE, KindpulseError

log = logging.getLogger(__name__)

DB_NAME = "kindpulse.sqlite3"
#: Beats are written at most this often, in seconds of beat time (``flush()`` forces).
FLUSH_EVERY_S = 5.0
#: While the log cannot be written, at most this much beat time (s) waits in memory.
MAX_BUFFER_S = 300.0
#: Other rows (windows, episodes, events…) waiting while the log cannot be written.
MAX_PENDING_ROWS = 5000
#: Two beats closer than this (ms) are the same beat.
DEDUP_MS = 1
BUSY_TIMEOUT_MS = 1000
#: While failing, rows other than beats retry at most this often (s, wall clock).
RETRY_EVERY_S = 5.0
MINUTE_MS = 60_000
#: Stored RR units per millisecond (1/16 µs; 1/1024 s = 15625 units exactly).
RR_UNITS_PER_MS = 16_000.0

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

QUARTER_MS = 900_000

CONTROL_KINDS = ("pause", "resume", "snooze", "threshold_reset")

_V1 = """
CREATE TABLE beats (
    minute INTEGER PRIMARY KEY,      -- t_ms // 60000
    n INTEGER NOT NULL,
    t BLOB NOT NULL,                 -- uint16 LE: ms into the minute, ascending
    rr BLOB NOT NULL                 -- uint32 LE: RR interval in 1/16 µs
);
CREATE TABLE gaps (
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    dropped INTEGER NOT NULL DEFAULT 0,
    UNIQUE (start_ms, end_ms)
);
CREATE TABLE windows (
    t_ms INTEGER PRIMARY KEY,        -- the end of the minute window
    state TEXT NOT NULL,
    n_beats INTEGER NOT NULL,
    mean_hr REAL,
    ln_rmssd REAL,
    rmssd REAL,
    sdnn REAL,
    artifact_pct REAL
);
CREATE TABLE baselines (
    t_ms INTEGER PRIMARY KEY,
    ln_rmssd REAL NOT NULL,
    ln_rmssd_spread REAL NOT NULL,
    hr_bpm REAL NOT NULL,
    hr_spread REAL NOT NULL,
    samples INTEGER NOT NULL,
    ready INTEGER NOT NULL
);
CREATE TABLE episodes (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    confirmed_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    peak_z_ln_rmssd REAL,
    peak_z_hr REAL,
    mean_hr REAL,
    mean_ln_rmssd REAL,
    baseline_hr REAL,
    baseline_ln_rmssd REAL,
    explanation TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'live',
    UNIQUE (kind, start_ms)
);
CREATE INDEX episodes_end ON episodes (end_ms);
CREATE TABLE prompts (
    id INTEGER PRIMARY KEY,
    t_ms INTEGER NOT NULL,
    episode_start_ms INTEGER,
    outcome TEXT,                    -- e.g. taken, dismissed, snoozed, expired
    outcome_ms INTEGER
);
CREATE TABLE breaks (
    id INTEGER PRIMARY KEY,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    prompt_id INTEGER,
    hr_before REAL,
    hr_after REAL,
    ln_rmssd_before REAL,
    ln_rmssd_after REAL
);
CREATE TABLE device_events (
    t_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX device_events_t ON device_events (t_ms);
CREATE TABLE controls (
    id INTEGER PRIMARY KEY,
    t_ms INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pause', 'resume', 'snooze', 'threshold_reset')),
    until_ms INTEGER
);
CREATE TABLE adaptations (
    t_ms INTEGER NOT NULL,
    threshold_shift REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE reflections (
    t_ms INTEGER NOT NULL,
    text TEXT NOT NULL
);
"""

#: Version 2: the moments a stress episode passed without a prompt, and why (quiet hours,
#: cooldown, daily cap, snooze, pause, ...), once per episode and reason.
_V2 = """
CREATE TABLE quiet_moments (
    t_ms INTEGER NOT NULL,
    episode_start_ms INTEGER,
    reason TEXT NOT NULL,
    UNIQUE (episode_start_ms, reason)
);
CREATE INDEX quiet_moments_t ON quiet_moments (t_ms);
"""

#: Totals of the minute windows per quarter hour (``q``: windows ending in
#: ``(q·15 min, (q+1)·15 min]``), kept by triggers in the same transaction as the windows, so
#: a review of a year reads 35,040 rows rather than 525,600. ``wear_s`` is the time the
#: beats covered (n × mean RR, at most a minute per window).
_WINDOW_TERMS = (
    "min(60.0, {r}.n_beats * 60.0 / {r}.mean_hr)",
    "{r}.n_beats",
    "coalesce({r}.artifact_pct, 0) * {r}.n_beats / 100.0",
)
_ADD = (
    "INSERT INTO window_totals VALUES ((NEW.t_ms - 1) / 900000, 1, {}, {}, {})"
    " ON CONFLICT (q) DO UPDATE SET minutes = minutes + 1, wear_s = wear_s + excluded.wear_s,"
    " beats = beats + excluded.beats, artifact_beats = artifact_beats + excluded.artifact_beats;"
).format(*(t.format(r="NEW") for t in _WINDOW_TERMS))
_SUB = (
    "UPDATE window_totals SET minutes = minutes - 1, wear_s = wear_s - {},"
    " beats = beats - {}, artifact_beats = artifact_beats - {}"
    " WHERE q = (OLD.t_ms - 1) / 900000;"
    " DELETE FROM window_totals WHERE q = (OLD.t_ms - 1) / 900000 AND minutes <= 0;"
).format(*(t.format(r="OLD") for t in _WINDOW_TERMS))
_COUNTS = "{r}.n_beats > 0 AND {r}.mean_hr > 0"
_V3 = f"""
ALTER TABLE beats ADD COLUMN rr_sum INTEGER;  -- the minute's RR summed; NULL in older rows
CREATE INDEX beats_rr_sum ON beats (minute, rr_sum);  -- time worn without reading the beats
CREATE TABLE window_totals (
    q INTEGER PRIMARY KEY,
    minutes INTEGER NOT NULL,
    wear_s REAL NOT NULL,
    beats INTEGER NOT NULL,
    artifact_beats REAL NOT NULL
);
INSERT INTO window_totals
    SELECT (t_ms - 1) / 900000, count(*), sum({_WINDOW_TERMS[0].format(r="windows")}),
        sum(n_beats), sum({_WINDOW_TERMS[2].format(r="windows")})
    FROM windows WHERE {_COUNTS.format(r="windows")} GROUP BY 1;
CREATE TRIGGER window_totals_insert AFTER INSERT ON windows
    WHEN {_COUNTS.format(r="NEW")} BEGIN {_ADD} END;
CREATE TRIGGER window_totals_delete AFTER DELETE ON windows
    WHEN {_COUNTS.format(r="OLD")} BEGIN {_SUB} END;
CREATE TRIGGER window_totals_update_old AFTER UPDATE ON windows
    WHEN {_COUNTS.format(r="OLD")} BEGIN {_SUB} END;
CREATE TRIGGER window_totals_update_new AFTER UPDATE ON windows
    WHEN {_COUNTS.format(r="NEW")} BEGIN {_ADD} END;
"""

#: Version 4: each minute's movement from the strap's accelerometer (mg, the median of the
#: minute's seconds, :mod:`kindpulse.motion`); NULL where it was not known (a strap without
#: an accelerometer, a log written before, an import without motion).
_V4 = """
ALTER TABLE windows ADD COLUMN movement_mg REAL;
"""

#: Version 5: the quarter-hour totals also count the minutes whose movement is known
#: (``movement_minutes``), so a review of a year tells how much of it the motion sensor
#: covered without reading every minute; counted afresh for the rows already there.
_WINDOW_TERMS_5 = (*_WINDOW_TERMS, "({r}.movement_mg IS NOT NULL)")
_ADD_5 = (
    "INSERT INTO window_totals VALUES ((NEW.t_ms - 1) / 900000, 1, {}, {}, {}, {})"
    " ON CONFLICT (q) DO UPDATE SET minutes = minutes + 1, wear_s = wear_s + excluded.wear_s,"
    " beats = beats + excluded.beats, artifact_beats = artifact_beats + excluded.artifact_beats,"
    " movement_minutes = movement_minutes + excluded.movement_minutes;"
).format(*(t.format(r="NEW") for t in _WINDOW_TERMS_5))
_SUB_5 = (
    "UPDATE window_totals SET minutes = minutes - 1, wear_s = wear_s - {},"
    " beats = beats - {}, artifact_beats = artifact_beats - {},"
    " movement_minutes = movement_minutes - {}"
    " WHERE q = (OLD.t_ms - 1) / 900000;"
    " DELETE FROM window_totals WHERE q = (OLD.t_ms - 1) / 900000 AND minutes <= 0;"
).format(*(t.format(r="OLD") for t in _WINDOW_TERMS_5))
_V5 = f"""
ALTER TABLE window_totals ADD COLUMN movement_minutes INTEGER NOT NULL DEFAULT 0;
UPDATE window_totals SET movement_minutes = (
    SELECT count(movement_mg) FROM windows
    WHERE t_ms > window_totals.q * 900000 AND t_ms <= window_totals.q * 900000 + 900000
        AND {_COUNTS.format(r="windows")}
);
DROP TRIGGER window_totals_insert;
DROP TRIGGER window_totals_delete;
DROP TRIGGER window_totals_update_old;
DROP TRIGGER window_totals_update_new;
CREATE TRIGGER window_totals_insert AFTER INSERT ON windows
    WHEN {_COUNTS.format(r="NEW")} BEGIN {_ADD_5} END;
CREATE TRIGGER window_totals_delete AFTER DELETE ON windows
    WHEN {_COUNTS.format(r="OLD")} BEGIN {_SUB_5} END;
CREATE TRIGGER window_totals_update_old AFTER UPDATE ON windows
    WHEN {_COUNTS.format(r="OLD")} BEGIN {_SUB_5} END;
CREATE TRIGGER window_totals_update_new AFTER UPDATE ON windows
    WHEN {_COUNTS.format(r="NEW")} BEGIN {_ADD_5} END;
"""

#: Schema steps; step k (1-based) brings ``user_version`` from k-1 to k.
MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5]

#: A minute counts as "moving" when its movement is at least this (mg) and the detector's
#: configuration names no threshold of its own (``DetectorConfig.moving_mg``): above
#: talking with gestures (5-20 mg), below the slowest walk (about 100 mg) and cycling's
#: rocking torso (30-120 mg) (:mod:`kindpulse.motion`).
DEFAULT_MOVING_MG = 20.0


def moving_threshold_mg(detector_config: Any = None) -> float:
    """The movement (mg) at or above which a minute counts as moving: the detector's
    ``moving_mg`` when its configuration has one, else :data:`DEFAULT_MOVING_MG`."""
    if detector_config is None:
        from kindpulse.detector import DetectorConfig

        detector_config = DetectorConfig()
    value = getattr(detector_config, "moving_mg", None)
    try:
        mg = float(value) if value is not None else DEFAULT_MOVING_MG
    except (TypeError, ValueError):
        return DEFAULT_MOVING_MG
    return mg if math.isfinite(mg) and mg > 0 else DEFAULT_MOVING_MG


#: Tables and the column holding each row's time (ms), for ``forget``.
_TIMED: tuple[tuple[str, str], ...] = (
    ("gaps", "start_ms"),
    ("windows", "t_ms"),
    ("baselines", "t_ms"),
    ("episodes", "start_ms"),
    ("prompts", "t_ms"),
    ("breaks", "start_ms"),
    ("device_events", "t_ms"),
    ("controls", "t_ms"),
    ("adaptations", "t_ms"),
    ("reflections", "t_ms"),
    ("quiet_moments", "t_ms"),
)


class StoreError(KindpulseError):
    """The log cannot be opened or used (exit 69, EX_UNAVAILABLE)."""

    exit_code = EX_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class WindowRow:
    """One minute of metrics and the detector's state for it; ``end_epoch_s`` is when the
    window ended (epoch seconds), metrics in ms / bpm / %, None where undefined."""

    end_epoch_s: float
    state: str
    n_beats: int
    mean_hr: float | None
    ln_rmssd: float | None
    rmssd: float | None = None
    sdnn: float | None = None
    artifact_pct: float | None = None
    #: The minute's movement from the strap's accelerometer (mg), None when not known.
    movement_mg: float | None = None


@dataclass(frozen=True, slots=True)
class StoredEpisode:
    """An episode as kept in the log; times in epoch seconds."""

    kind: str
    start: float
    confirmed: float
    end: float
    peak_z_ln_rmssd: float | None
    peak_z_hr: float | None
    mean_hr: float | None
    mean_ln_rmssd: float | None
    baseline_hr: float | None
    baseline_ln_rmssd: float | None
    explanation: str
    source: str

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Control:
    """A pause, resume, snooze or threshold reset written at ``t`` (epoch s), holding until
    ``until`` (epoch s) where that applies."""

    t: float
    kind: str
    until: float | None


def _ms(t_s: float) -> int:
    return round(t_s * 1000.0)


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _set_mode(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, mode)


class Store:
    """The log. Create with :meth:`open`; use from one thread; ``close()`` when done."""

    def __init__(
        self,
        path: Path,
        db: sqlite3.Connection,
        *,
        flush_every_s: float = FLUSH_EVERY_S,
        max_buffer_s: float = MAX_BUFFER_S,
    ) -> None:
        self.path = path
        self._db = db
        self.flush_every_ms = _ms(flush_every_s)
        self.max_buffer_ms = _ms(max_buffer_s)
        self._bt: list[I64] = []  # buffered beat times, ms
        self._brr: list[I64] = []  # buffered RR, 1/16 µs
        self._newest_ms: int | None = None
        self._mark_ms: int | None = None  # newest beat time at the last write attempt
        self._ops: deque[tuple[str, tuple[Any, ...]]] = deque()
        self._failing = False
        self._failed_at = 0.0  # time.monotonic() of the last failed write
        #: Beats dropped (buffer bound) since writing last worked, and their span (ms).
        self.dropped_beats = 0
        self.dropped_rows = 0
        self._dropped_span: tuple[int, int] | None = None
        #: Totals over this store's life, for status and tests.
        self.total_dropped_beats = 0
        self.write_failures = 0

    # -- opening ---------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        state_dir: Path,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        flush_every_s: float = FLUSH_EVERY_S,
        max_buffer_s: float = MAX_BUFFER_S,
        cache_kib: int | None = None,
    ) -> Store:
        """Open (creating, migrating) ``state_dir/kindpulse.sqlite3``; the directory is
        made 0700 and the database with its ``-wal`` and ``-shm`` files 0600.
        ``cache_kib``: SQLite's page cache (default 2 MiB); the daemon, which only appends,
        keeps it small so its memory stays flat over weeks."""
        state_dir = Path(state_dir)
        try:
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(state_dir, 0o700)
        except OSError as e:
            raise StoreError(
                f"{state_dir}: cannot create the log directory ({e.strerror})"
            ) from None
        path = state_dir / DB_NAME
        old = os.umask(0o077)
        try:
            db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000.0)
            try:
                db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
                mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    log.warning("%s: WAL mode not available (%s)", path, mode)
                db.execute("PRAGMA synchronous = NORMAL")
                if cache_kib is not None:
                    db.execute(f"PRAGMA cache_size = -{max(64, int(cache_kib))}")
                _migrate(db, path)
            except sqlite3.DatabaseError as e:
                db.close()
                raise StoreError(f"{path}: not a usable kindpulse log ({e})") from None
            except StoreError:
                db.close()
                raise
        except sqlite3.Error as e:
            raise StoreError(f"{path}: cannot open the log ({e})") from None
        finally:
            os.umask(old)
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            _set_mode(p, 0o600)
        return cls(path, db, flush_every_s=flush_every_s, max_buffer_s=max_buffer_s)

    def close(self) -> None:
        """Write what is buffered (a failure is logged, not raised) and close."""
        self.flush()
        if self._bt or self._ops:
            log.warning(
                "%s: closing with %d beats and %d rows not written",
                self.path,
                sum(a.size for a in self._bt),
                len(self._ops),
            )
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- writing -----------------------------------------------------------------------

    def add_beats(self, t_s: ArrayLike, rr_ms: ArrayLike) -> None:
        """Beats at ``t_s`` (epoch seconds) with their RR intervals (ms). Buffered; written
        in one transaction once :data:`FLUSH_EVERY_S` of beat time has piled up."""
        t = np.rint(np.asarray(t_s, dtype=np.float64).ravel() * 1000.0)
        rr = np.asarray(rr_ms, dtype=np.float64).ravel()
        if t.size != rr.size:
            raise ValueError("t_s and rr_ms differ in length")
        ok = np.isfinite(t)
        if not ok.all():
            t, rr = t[ok], rr[ok]
        if t.size == 0:
            return
        rr_us = np.clip(np.nan_to_num(np.rint(rr * RR_UNITS_PER_MS), nan=0.0), 0, 2**32 - 1)
        self._bt.append(t.astype(np.int64))
        self._brr.append(rr_us.astype(np.int64))
        newest = int(t.max())
        if self._mark_ms is None:
            self._mark_ms = int(t.min())
        self._newest_ms = newest if self._newest_ms is None else max(newest, self._newest_ms)
        if self._newest_ms - self._mark_ms >= self.flush_every_ms:
            self._write(beats=True)

    def flush(self) -> bool:
        """Write everything buffered now; False (and a logged warning) if it failed."""
        return self._write(beats=True)

    def add_gap(self, start_epoch_s: float, end_epoch_s: float, reason: str = "") -> None:
        self._queue(
            "INSERT OR IGNORE INTO gaps (start_ms, end_ms, reason) VALUES (?, ?, ?)",
            (_ms(start_epoch_s), _ms(end_epoch_s), reason),
        )

    def add_window(self, w: WindowRow) -> None:
        """One minute's metrics and state (replaces a row with the same end)."""
        self._queue(
            "INSERT INTO windows (t_ms, state, n_beats, mean_hr, ln_rmssd, rmssd, sdnn,"
            " artifact_pct, movement_mg) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (t_ms) DO UPDATE SET"
            " state = excluded.state, n_beats = excluded.n_beats, mean_hr = excluded.mean_hr,"
            " ln_rmssd = excluded.ln_rmssd, rmssd = excluded.rmssd, sdnn = excluded.sdnn,"
            " artifact_pct = excluded.artifact_pct, movement_mg = excluded.movement_mg",
            (
                _ms(w.end_epoch_s),
                w.state,
                int(w.n_beats),
                _num(w.mean_hr),
                _num(w.ln_rmssd),
                _num(w.rmssd),
                _num(w.sdnn),
                _num(w.artifact_pct),
                _num(w.movement_mg),
            ),
        )

    def add_baseline(self, at_epoch_s: float, b: Baseline) -> None:
        self._queue(
            "INSERT OR REPLACE INTO baselines VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _ms(at_epoch_s),
                b.ln_rmssd,
                b.ln_rmssd_spread,
                b.hr_bpm,
                b.hr_spread,
                b.samples,
                int(b.ready),
            ),
        )

    def add_episode(self, ep: Episode, origin_epoch_s: float, source: str = "live") -> None:
        """An episode whose times are seconds from ``origin_epoch_s``. The same episode
        (kind and start) seen again — first when confirmed, then complete — updates the
        row."""
        self._queue(
            "INSERT INTO episodes (kind, start_ms, confirmed_ms, end_ms, peak_z_ln_rmssd,"
            " peak_z_hr, mean_hr, mean_ln_rmssd, baseline_hr, baseline_ln_rmssd, explanation,"
            " source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, start_ms) DO UPDATE SET confirmed_ms = excluded.confirmed_ms,"
            " end_ms = excluded.end_ms, peak_z_ln_rmssd = excluded.peak_z_ln_rmssd,"
            " peak_z_hr = excluded.peak_z_hr, mean_hr = excluded.mean_hr,"
            " mean_ln_rmssd = excluded.mean_ln_rmssd, baseline_hr = excluded.baseline_hr,"
            " baseline_ln_rmssd = excluded.baseline_ln_rmssd,"
            " explanation = excluded.explanation, source = excluded.source",
            (
                ep.kind,
                _ms(origin_epoch_s + ep.start_s),
                _ms(origin_epoch_s + ep.confirmed_s),
                _ms(origin_epoch_s + ep.end_s),
                _num(ep.peak_z_ln_rmssd),
                _num(ep.peak_z_hr),
                _num(ep.mean_hr),
                _num(ep.mean_ln_rmssd),
                _num(ep.baseline_hr),
                _num(ep.baseline_ln_rmssd),
                ep.explanation,
                source,
            ),
        )

    def add_prompt(
        self,
        at_epoch_s: float,
        episode_start_epoch_s: float | None,
        outcome: str | None = None,
        outcome_epoch_s: float | None = None,
    ) -> None:
        self._queue(
            "INSERT INTO prompts (t_ms, episode_start_ms, outcome, outcome_ms) VALUES (?, ?, ?, ?)",
            (
                _ms(at_epoch_s),
                None if episode_start_epoch_s is None else _ms(episode_start_epoch_s),
                outcome,
                None if outcome_epoch_s is None else _ms(outcome_epoch_s),
            ),
        )

    def add_break(
        self,
        start_epoch_s: float,
        end_epoch_s: float,
        *,
        hr_before: float | None = None,
        hr_after: float | None = None,
        ln_rmssd_before: float | None = None,
        ln_rmssd_after: float | None = None,
    ) -> None:
        self._queue(
            "INSERT INTO breaks (start_ms, end_ms, hr_before, hr_after, ln_rmssd_before,"
            " ln_rmssd_after) VALUES (?, ?, ?, ?, ?, ?)",
            (
                _ms(start_epoch_s),
                _ms(end_epoch_s),
                _num(hr_before),
                _num(hr_after),
                _num(ln_rmssd_before),
                _num(ln_rmssd_after),
            ),
        )

    def add_device_event(self, at_epoch_s: float, kind: str, detail: str = "") -> None:
        self._queue(
            "INSERT INTO device_events (t_ms, kind, detail) VALUES (?, ?, ?)",
            (_ms(at_epoch_s), kind, detail),
        )

    def add_control(
        self, kind: str, until_epoch_s: float | None = None, *, at_epoch_s: float | None = None
    ) -> None:
        """Pause, resume, snooze or threshold reset, written now (or at ``at_epoch_s``)."""
        if kind not in CONTROL_KINDS:
            raise ValueError(f"unknown control {kind!r} (expected one of {CONTROL_KINDS})")
        at = time.time() if at_epoch_s is None else at_epoch_s
        self._queue(
            "INSERT INTO controls (t_ms, kind, until_ms) VALUES (?, ?, ?)",
            (_ms(at), kind, None if until_epoch_s is None else _ms(until_epoch_s)),
        )

    def add_adaptation(self, at_epoch_s: float, threshold_shift: float, reason: str = "") -> None:
        self._queue(
            "INSERT INTO adaptations (t_ms, threshold_shift, reason) VALUES (?, ?, ?)",
            (_ms(at_epoch_s), float(threshold_shift), reason),
        )

    def add_reflection(self, at_epoch_s: float, text: str) -> None:
        self._queue("INSERT INTO reflections (t_ms, text) VALUES (?, ?)", (_ms(at_epoch_s), text))

    def add_quiet_moment(
        self, at_epoch_s: float, episode_start_epoch_s: float | None, reason: str
    ) -> None:
        """A stress episode that passed without a prompt, and why (stored once per episode
        and reason)."""
        self._queue(
            "INSERT OR IGNORE INTO quiet_moments (t_ms, episode_start_ms, reason) VALUES (?, ?, ?)",
            (
                _ms(at_epoch_s),
                None if episode_start_epoch_s is None else _ms(episode_start_epoch_s),
                reason,
            ),
        )

    def _queue(self, sql: str, params: tuple[Any, ...]) -> None:
        """Rows other than beats are written at once (they are few and matter), or wait
        with the beats while the log cannot be written."""
        self._ops.append((sql, params))
        while len(self._ops) > MAX_PENDING_ROWS:
            self._ops.popleft()
            self.dropped_rows += 1
        if not self._failing or time.monotonic() - self._failed_at >= RETRY_EVERY_S:
            self._write(beats=False)

    def _write(self, beats: bool) -> bool:
        if beats:
            self._mark_ms = self._newest_ms
        has_beats = beats and bool(self._bt)
        if not has_beats and not self._ops and not self.dropped_beats:
            return True
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                if self.dropped_beats or self.dropped_rows:
                    self._record_drops()
                for sql, params in self._ops:
                    db.execute(sql, params)
                if has_beats:
                    t = np.concatenate(self._bt)
                    rr = np.concatenate(self._brr)
                    self._merge_beats(t, rr)
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            self._fail(e)
            return False
        self._ops.clear()
        if has_beats:
            self._bt.clear()
            self._brr.clear()
        if self._failing:
            log.warning("%s: the log can be written again; caught up", self.path)
        self._failing = False
        self.dropped_beats = 0
        self.dropped_rows = 0
        self._dropped_span = None
        return True

    def _fail(self, e: sqlite3.Error) -> None:
        self.write_failures += 1
        self._failed_at = time.monotonic()
        if not self._failing:
            log.warning(
                "%s: the log cannot be written (%s); keeping up to %.0f s of beats in memory "
                "and retrying",
                self.path,
                e,
                self.max_buffer_ms / 1000.0,
            )
        self._failing = True
        self._bound()

    def _bound(self) -> None:
        """Drop the oldest buffered beats beyond :data:`MAX_BUFFER_S`, counting them."""
        if not self._bt or self._newest_ms is None:
            return
        t = np.concatenate(self._bt)
        rr = np.concatenate(self._brr)
        keep = t > self._newest_ms - self.max_buffer_ms
        if keep.all():
            self._bt, self._brr = [t], [rr]
            return
        gone = t[~keep]
        self.dropped_beats += int(gone.size)
        self.total_dropped_beats += int(gone.size)
        lo, hi = int(gone.min()), int(gone.max())
        if self._dropped_span is not None:
            lo, hi = min(lo, self._dropped_span[0]), max(hi, self._dropped_span[1])
        self._dropped_span = (lo, hi)
        self._bt, self._brr = [t[keep]], [rr[keep]]

    def _record_drops(self) -> None:
        lo, hi = self._dropped_span or (self._newest_ms or 0, self._newest_ms or 0)
        self._db.execute(
            "INSERT OR IGNORE INTO gaps (start_ms, end_ms, reason, dropped) VALUES (?, ?, ?, ?)",
            (
                lo,
                hi,
                f"the log could not be written: {self.dropped_beats} beats and "
                f"{self.dropped_rows} other rows were dropped",
                self.dropped_beats,
            ),
        )

    def _merge_beats(self, t: I64, rr: I64) -> None:
        order = np.argsort(t, kind="stable")
        t, rr = t[order], rr[order]
        keep = np.ones(t.size, dtype=np.bool_)
        keep[1:] = np.diff(t) > DEDUP_MS
        t, rr = t[keep], rr[keep]
        minutes = t // MINUTE_MS
        lo, hi = int(minutes[0]), int(minutes[-1])
        blocks: dict[int, tuple[I64, I64]] = {}
        for minute, _n, tb, rb in self._db.execute(
            "SELECT minute, n, t, rr FROM beats WHERE minute BETWEEN ? AND ?", (lo - 1, hi + 1)
        ):
            blocks[int(minute)] = _decode(int(minute), tb, rb)
        if blocks:
            ex = np.sort(np.concatenate([b[0] for b in blocks.values()]))
            i = np.searchsorted(ex, t)
            near = np.zeros(t.size, dtype=np.bool_)
            has_right = i < ex.size
            near[has_right] = np.abs(ex[i[has_right]] - t[has_right]) <= DEDUP_MS
            has_left = i > 0
            near[has_left] |= np.abs(t[has_left] - ex[i[has_left] - 1]) <= DEDUP_MS
            t, rr, minutes = t[~near], rr[~near], minutes[~near]
        if t.size == 0:
            return
        bounds = np.flatnonzero(np.diff(minutes)) + 1
        rows = []
        for idx in np.split(np.arange(t.size), bounds):
            minute = int(minutes[idx[0]])
            bt, brr = t[idx], rr[idx]
            if minute in blocks:
                et, err = blocks[minute]
                bt, brr = np.concatenate((et, bt)), np.concatenate((err, brr))
                o = np.argsort(bt, kind="stable")
                bt, brr = bt[o], brr[o]
            rows.append(
                (
                    minute,
                    int(bt.size),
                    (bt - minute * MINUTE_MS).astype("<u2").tobytes(),
                    brr.astype("<u4").tobytes(),
                    int(brr.sum()),
                )
            )
        self._db.executemany(
            "INSERT OR REPLACE INTO beats (minute, n, t, rr, rr_sum) VALUES (?, ?, ?, ?, ?)", rows
        )

    # -- reading -----------------------------------------------------------------------

    def beats_between(self, t0_epoch_s: float, t1_epoch_s: float) -> tuple[F64, F64]:
        """Beats with ``t0 <= t < t1``: (times in epoch seconds, RR in ms), in time order.
        Buffered beats are written first (if the log can be written)."""
        t, rr = self.beats_raw(t0_epoch_s, t1_epoch_s)
        return t / 1000.0, rr / RR_UNITS_PER_MS

    def beats_raw(self, t0_epoch_s: float, t1_epoch_s: float) -> tuple[I64, I64]:
        """As :meth:`beats_between`, as stored: times in epoch ms and RR in 1/16 µs."""
        self.flush()
        a, b = _ms(t0_epoch_s), _ms(t1_epoch_s)
        minutes: list[int] = []
        counts: list[int] = []
        tbs: list[bytes] = []
        rbs: list[bytes] = []
        for minute, n, tb, rb in self._db.execute(
            "SELECT minute, n, t, rr FROM beats WHERE minute BETWEEN ? AND ? ORDER BY minute",
            (a // MINUTE_MS, b // MINUTE_MS),
        ):
            minutes.append(minute)
            counts.append(n)
            tbs.append(tb)
            rbs.append(rb)
        if not minutes:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        # One decode for the whole period: the minute's start repeated for its beats.
        base = np.repeat(np.asarray(minutes, np.int64) * MINUTE_MS, counts)
        t = np.frombuffer(b"".join(tbs), dtype="<u2").astype(np.int64) + base
        rr = np.frombuffer(b"".join(rbs), dtype="<u4").astype(np.int64)
        i0, i1 = np.searchsorted(t, [a, b])  # in time order: only the ends can be outside
        return t[i0:i1], rr[i0:i1]

    def rr_totals(self, edges_epoch_s: Sequence[float]) -> list[float]:
        """The time the stored beats cover, in seconds, between each pair of consecutive
        ``edges`` (ascending epoch seconds): the RR intervals of the beats with
        ``edges[i] <= t < edges[i+1]``, summed. Whole minutes are read from their stored
        sums; only a minute an edge cuts is decoded."""
        self.flush()
        e_ms = [_ms(x) for x in edges_epoch_s]
        if len(e_ms) < 2:
            return []
        rows = self._db.execute(
            "SELECT minute, rr_sum FROM beats INDEXED BY beats_rr_sum"
            " WHERE minute BETWEEN ? AND ? ORDER BY minute",
            (e_ms[0] // MINUTE_MS, e_ms[-1] // MINUTE_MS),
        ).fetchall()
        minutes = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        sums = np.fromiter((-1 if r[1] is None else r[1] for r in rows), np.int64, len(rows))
        for i in np.flatnonzero(sums < 0).tolist():  # rows written before the sums were kept
            (rb,) = self._db.execute(
                "SELECT rr FROM beats WHERE minute = ?", (int(minutes[i]),)
            ).fetchone()
            sums[i] = int(np.frombuffer(rb, "<u4").sum(dtype=np.int64))
        cum = np.concatenate(([0], np.cumsum(sums)))

        def before(e: int) -> int:
            """RR summed over the beats earlier than ``e`` (ms) among those read."""
            m = e // MINUTE_MS
            i = int(np.searchsorted(minutes, m))
            total = int(cum[i])
            if e % MINUTE_MS and i < minutes.size and minutes[i] == m:
                _t, rr = self.beats_raw(m * 60.0, e / 1000.0)
                total += int(rr.sum())
            return total

        at = [before(e) for e in e_ms]
        return [(b - a) / RR_UNITS_PER_MS / 1000.0 for a, b in itertools.pairwise(at)]

    def beat_count(self) -> int:
        row = self._db.execute("SELECT coalesce(sum(n), 0) FROM beats").fetchone()
        return int(row[0])

    def wear_by_minute(self, t0_epoch_s: float, t1_epoch_s: float) -> dict[int, int]:
        """Beats per stored minute (``minute = epoch ms // 60000``) in the period."""
        a, b = _ms(t0_epoch_s) // MINUTE_MS, _ms(t1_epoch_s) // MINUTE_MS
        return {
            int(m): int(n)
            for m, n in self._db.execute(
                "SELECT minute, n FROM beats WHERE minute BETWEEN ? AND ?", (a, b)
            )
        }

    def episodes_between(
        self, t0_epoch_s: float, t1_epoch_s: float, kind: str | None = None
    ) -> list[StoredEpisode]:
        """Episodes overlapping ``[t0, t1)``, by start time."""
        sql = (
            "SELECT kind, start_ms, confirmed_ms, end_ms, peak_z_ln_rmssd, peak_z_hr, mean_hr,"
            " mean_ln_rmssd, baseline_hr, baseline_ln_rmssd, explanation, source FROM episodes"
            " WHERE start_ms < ? AND end_ms >= ?"
        )
        params: list[Any] = [_ms(t1_epoch_s), _ms(t0_epoch_s)]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        out = []
        for r in self._db.execute(sql + " ORDER BY start_ms", params):
            out.append(
                StoredEpisode(
                    kind=r[0],
                    start=r[1] / 1000.0,
                    confirmed=r[2] / 1000.0,
                    end=r[3] / 1000.0,
                    peak_z_ln_rmssd=r[4],
                    peak_z_hr=r[5],
                    mean_hr=r[6],
                    mean_ln_rmssd=r[7],
                    baseline_hr=r[8],
                    baseline_ln_rmssd=r[9],
                    explanation=r[10],
                    source=r[11],
                )
            )
        return out

    def window_buckets(self, t0_epoch_s: float, t1_epoch_s: float) -> dict[str, F64]:
        """The minute windows ending in ``(t0, t1]``, summed per quarter hour (windows ending
        in ``(k·900 s, (k+1)·900 s]`` go to quarter k): ``start`` (epoch s of each quarter),
        ``minutes`` (windows with beats), ``wear_s`` (time the beats covered: n × mean RR, at
        most a minute each), ``beats``, ``artifact_beats`` (beats artifact correction
        replaced) and ``movement_minutes`` (windows with beats whose movement is known).
        Whole quarters come from ``window_totals``; a quarter the period cuts is summed
        from its windows."""
        a, b = _ms(t0_epoch_s), _ms(t1_epoch_s)
        q0, q1 = -(-a // QUARTER_MS), b // QUARTER_MS  # the quarters wholly inside
        rows = self._db.execute(
            "SELECT q, minutes, wear_s, beats, artifact_beats, movement_minutes"
            " FROM window_totals WHERE q >= ? AND q < ? ORDER BY q",
            (q0, q1),
        ).fetchall()
        terms = ", ".join(f"sum({t.format(r='windows')})" for t in _WINDOW_TERMS_5)
        edge = (
            f"SELECT (t_ms - 1) / {QUARTER_MS}, count(*), {terms} FROM windows"
            f" WHERE t_ms > ? AND t_ms <= ? AND {_COUNTS.format(r='windows')} GROUP BY 1"
        )
        if q1 < q0:  # the whole period inside one quarter
            rows = self._db.execute(edge, (a, b)).fetchall()
        else:
            head = self._db.execute(edge, (a, q0 * QUARTER_MS)).fetchall()
            tail = self._db.execute(edge, (q1 * QUARTER_MS, b)).fetchall()
            rows = head + rows + tail
        m = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
        return {
            "start": m[:, 0] * (QUARTER_MS / 1000),
            "minutes": m[:, 1],
            "wear_s": m[:, 2],
            "beats": m[:, 3],
            "artifact_beats": m[:, 4],
            "movement_minutes": m[:, 5],
        }

    def windows_between(self, t0_epoch_s: float, t1_epoch_s: float) -> list[WindowRow]:
        rows = self._db.execute(
            "SELECT t_ms, state, n_beats, mean_hr, ln_rmssd, rmssd, sdnn, artifact_pct,"
            " movement_mg FROM windows WHERE t_ms >= ? AND t_ms < ? ORDER BY t_ms",
            (_ms(t0_epoch_s), _ms(t1_epoch_s)),
        )
        return [WindowRow(r[0] / 1000.0, *r[1:]) for r in rows]

    def moving_minutes(self, t0_epoch_s: float, t1_epoch_s: float, moving_mg: float) -> F64:
        """The ends (epoch s) of the minute windows with beats ending in ``(t0, t1]`` whose
        movement was at least ``moving_mg``, in time order (only these rows leave SQLite)."""
        rows = self._db.execute(
            "SELECT t_ms FROM windows WHERE t_ms > ? AND t_ms <= ? AND movement_mg >= ?"
            f" AND {_COUNTS.format(r='windows')} ORDER BY t_ms",
            (_ms(t0_epoch_s), _ms(t1_epoch_s), float(moving_mg)),
        ).fetchall()
        return np.fromiter((r[0] for r in rows), np.float64, len(rows)) / 1000.0

    def controls_since(self, t_epoch_s: float) -> list[Control]:
        """Controls written at or after ``t`` (epoch s), oldest first."""
        rows = self._db.execute(
            "SELECT t_ms, kind, until_ms FROM controls WHERE t_ms >= ? ORDER BY t_ms, id",
            (_ms(t_epoch_s),),
        )
        return [Control(t / 1000.0, k, None if u is None else u / 1000.0) for t, k, u in rows]

    def breaks_between(self, t0_epoch_s: float, t1_epoch_s: float) -> list[tuple[float, float]]:
        rows = self._db.execute(
            "SELECT start_ms, end_ms FROM breaks WHERE start_ms >= ? AND start_ms < ?"
            " ORDER BY start_ms",
            (_ms(t0_epoch_s), _ms(t1_epoch_s)),
        )
        return [(a / 1000.0, b / 1000.0) for a, b in rows]

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Read-only access for review and export."""
        yield from self._db.execute(sql, params)

    # -- retention -----------------------------------------------------------------------

    def apply_retention(self, now_epoch_s: float, beats_days: float, windows_days: float) -> None:
        """Delete beats older than ``beats_days`` and windows older than ``windows_days``."""
        self.flush()
        beats_before = _ms(now_epoch_s - beats_days * 86400.0) // MINUTE_MS
        windows_before = _ms(now_epoch_s - windows_days * 86400.0)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM beats WHERE minute < ?", (beats_before,))
            self._db.execute("DELETE FROM windows WHERE t_ms < ?", (windows_before,))
            self._db.execute("COMMIT")
        except sqlite3.Error as e:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            log.warning("%s: old data not deleted (%s); will try again", self.path, e)

    def forget(self, before_epoch_s: float | None) -> None:
        """Delete everything before ``before_epoch_s`` (everything when None) for real:
        the rows, then VACUUM and a WAL truncation so no copy stays in the files."""
        self.flush()
        self._bt.clear()
        self._brr.clear()
        if before_epoch_s is None:
            self._ops.clear()
        cut = None if before_epoch_s is None else _ms(before_epoch_s)
        db = self._db
        try:
            db.execute("PRAGMA secure_delete = ON")
            db.execute("BEGIN IMMEDIATE")
            if cut is None:
                db.execute("DELETE FROM beats")
                for table, _col in _TIMED:
                    db.execute(f"DELETE FROM {table}")
            else:
                # Whole minutes before the cut, then the beats before it in its minute.
                minute = cut // MINUTE_MS
                db.execute("DELETE FROM beats WHERE minute < ?", (minute,))
                row = db.execute(
                    "SELECT n, t, rr FROM beats WHERE minute = ?", (minute,)
                ).fetchone()
                if row is not None:
                    t, rr = _decode(minute, row[1], row[2])
                    m = t >= cut
                    if m.any():
                        db.execute(
                            "UPDATE beats SET n = ?, t = ?, rr = ?, rr_sum = ? WHERE minute = ?",
                            (
                                int(m.sum()),
                                (t[m] - minute * MINUTE_MS).astype("<u2").tobytes(),
                                rr[m].astype("<u4").tobytes(),
                                int(rr[m].sum()),
                                minute,
                            ),
                        )
                    else:
                        db.execute("DELETE FROM beats WHERE minute = ?", (minute,))
                for table, col in _TIMED:
                    db.execute(f"DELETE FROM {table} WHERE {col} < ?", (cut,))
            db.execute("COMMIT")
        except sqlite3.Error as e:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise StoreError(f"{self.path}: could not delete ({e})") from None
        try:
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: deleted, but could not compact ({e})") from None


def _decode(minute: int, tb: bytes, rb: bytes) -> tuple[I64, I64]:
    t = np.frombuffer(tb, dtype="<u2").astype(np.int64) + minute * MINUTE_MS
    rr = np.frombuffer(rb, dtype="<u4").astype(np.int64)
    return t, rr


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Apply the steps of :data:`MIGRATIONS` the file has not seen, each in a transaction."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    latest = len(MIGRATIONS)
    if version > latest:
        raise StoreError(
            f"{path}: written by a newer kindpulse (log version {version}, this one reads up "
            f"to {latest}); upgrade kindpulse to read it"
        )
    for k in range(version, latest):
        try:
            db.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[k]}\nPRAGMA user_version = {k + 1};\nCOMMIT;"
            )
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
