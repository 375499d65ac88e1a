"""``kindpulse run``: the one place that wires source -> core -> (log, prompts).

Data flow, per item from the source (BLE strap, replay file or simulator):

    Beat(t, rr_ms)  -> IncrementalWindows (60 s windows every 15 s, corrected)
                    -> Detector (baseline, states, episodes)
                    -> episode lines in the log, the status file
    Gap             -> the next beat starts a new run (no difference spans the gap)
    Movement(t, mg) -> MotionBuffer (one value a second, on the session's time axis)
                    -> each scored window's movement (the median of its seconds), the
                       minute rows of the log, the status file

Movement that comes before the first beat (an accelerometer that starts first) waits on
the source's clock and moves onto the session's axis when the first beat sets the origin;
the session's time zero stays where the first beat's interval began, as without movement.

Time: a beat's ``t`` is the source's clock in epoch seconds (a replay at ``--speed`` runs
its own clock); window ends are seconds from the session's origin, and the status file
reports both. The event loop also sends ``WATCHDOG=1`` to the service manager, but only
while the pipeline keeps up: a ping goes out only when the loop is not blocked and the
source's items are being consumed (or the source is quietly waiting).

Stopping: SIGTERM/SIGINT close the source, settle the windows, save the baseline and the
status, and exit 0 within about a second. SIGHUP reloads the configuration; an invalid new
one is refused with one log line and the old one stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import os
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kindpulse.config.schema import Config
from kindpulse.daemon.care import Care
from kindpulse.daemon.files import write_private
from kindpulse.daemon.notifier import Notifier, default_notifier
from kindpulse.daemon.reflect import ReflectionInviter
from kindpulse.detector import BaselineTracker, Detector, DetectorConfig, Episode, WindowInput
from kindpulse.errors import ConfigError, UsageError
from kindpulse.hrv import IncrementalWindows, WindowTable
from kindpulse.motion import MotionBuffer
from kindpulse.sensors.source import BeatSource
from kindpulse.types import Beat, Gap, Movement

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"
BASELINE_FILE = "baseline.json"
#: How often (s, wall clock) the status file is rewritten and the service manager told.
STATUS_EVERY_S = 2.0
#: SQLite's page cache for the daemon's log connection (benchmarks/README.md, footprint).
DAEMON_CACHE_KIB = 256
#: Seconds of per-second movement the pipeline keeps. A window is scored only once artifact
#: correction has settled the beats around it (up to 224 beats and a settling batch of 64
#: after its end: about 5 minutes at 60 bpm, 7 at 40 bpm); measured with the simulator, the
#: newest second is at most about 400 s past the start of the window being scored
#: (tests/test_daemon_run.py), so half an hour leaves ample room.
MOTION_KEEP_S = 1800.0


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What ``kindpulse run`` was asked to do, after the config and the flags are merged."""

    source: str
    replay: Path | None
    start: datetime | None
    scenario: str | None
    speed: float
    state_dir: Path
    until_end: bool
    address: str | None = None
    name: str | None = None
    #: The demo answers an unanswered prompt "take a break" after this many seconds.
    answer_after_s: float | None = None


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) 0700; tighten an existing one."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def make_source(opts: RunOptions, config: Config) -> BeatSource:
    """The beat source the options name (raises the readers' errors for a bad replay)."""
    from kindpulse.sensors import replay

    if opts.source == "replay":
        if opts.replay is None:
            raise UsageError("--source replay needs --replay FILE (or [sensor] replay)")
        return replay.ReplaySource.from_file(opts.replay, start=opts.start, speed=opts.speed)
    if opts.source == "sim":
        return replay.simulated_source(opts.scenario, start=opts.start, speed=opts.speed)
    from kindpulse.sensors.ble import BleConfig, BleHeartRateSource

    s = config.sensor
    return BleHeartRateSource(
        BleConfig(
            address=opts.address or None,
            name=opts.name or None,
            backoff_initial_s=s.backoff_initial_s,
            backoff_max_s=s.backoff_max_s,
            watchdog_s=s.watchdog_s,
            battery_interval_s=s.battery_interval_s,
            accelerometer=s.accelerometer,
        )
    )


class Pipeline:
    """Beats in, windows and episodes out; pure apart from the log lines it writes."""

    def __init__(self, detector_config: DetectorConfig, baseline: BaselineTracker | None) -> None:
        self.cfg = detector_config
        # Correction runs over the held-back context each time it settles: every 64 beats
        # (about a minute) keeps that cost small per beat.
        self.windows = IncrementalWindows(
            detector_config.window_s, detector_config.step_s, settle_every=64
        )
        self.detector = Detector(detector_config, baseline)
        self.origin: float | None = None  # epoch seconds of the session's time zero
        self.last_beat_t: float | None = None
        self.beats = 0
        self.confirmed: list[Episode] = []
        self._no_contact: list[float] = []  # session seconds of beats sent without contact
        #: Scored windows ending on a whole minute, for the log: (end_s, row, state,
        #: movement in mg or None).
        self.minutes: list[tuple[float, dict[str, float | int | None], str, float | None]] = []
        #: Per-second movement on the session's axis; before the first beat, on the source's
        #: clock in ``_early_motion`` (at most :data:`MOTION_KEEP_S` of it).
        self.motion = MotionBuffer(keep_s=MOTION_KEEP_S)
        self._early_motion: deque[tuple[float, float]] = deque(maxlen=int(MOTION_KEEP_S))
        self.movements = 0
        #: The newest second of movement: (source-clock time, mg).
        self.last_movement: tuple[float, float] | None = None
        #: How far (s) the newest second of movement was past the start of a window when
        #: it was scored, at most: what :data:`MOTION_KEEP_S` must exceed.
        self.motion_lag_s = 0.0

    def feed(self, item: Beat | Gap | Movement) -> list[Episode]:
        if isinstance(item, Gap):
            self.windows.mark_gap()
            return []
        if isinstance(item, Movement):
            self._movement(item)
            return []
        if self.origin is None:
            self.origin = item.t - item.rr_ms / 1000.0
            for t, mg in self._early_motion:
                self.motion.add(t - self.origin, mg)
            self._early_motion.clear()
        self.beats += 1
        self.last_beat_t = item.t
        if not item.contact:
            self._no_contact.append(item.t - self.origin)
        table = self.windows.push([item.rr_ms], [(item.t - self.origin) * 1000.0])
        return self._score(table)

    def finish(self) -> list[Episode]:
        out = self._score(self.windows.flush())
        if self.last_beat_t is not None and self.origin is not None:
            out += self.detector.finish(self.last_beat_t - self.origin)
        return out

    #: Scored windows kept in memory (two hours at the default step): enough for the care
    #: side's before/after and the status; the log keeps the rest.
    KEEP_SCORES = 480
    #: Episodes (stress and activity) kept in memory; the log keeps them all.
    KEEP_EPISODES = 100

    def _score(self, table: WindowTable) -> list[Episode]:
        scores = self.detector.scores
        if len(scores) > 2 * self.KEEP_SCORES:
            del scores[: -self.KEEP_SCORES]
        # Episodes live in the log; memory keeps the recent ones only (days of wear).
        for kept in (self.detector.episodes, self.confirmed):
            if len(kept) > 2 * self.KEEP_EPISODES:
                del kept[: -self.KEEP_EPISODES]
        out: list[Episode] = []
        for row in table.rows():
            end = float(row["end_s"] or 0.0)
            # A window holding a beat sent without skin contact is unknown (never calm).
            lost = any(end - self.cfg.window_s < t <= end for t in self._no_contact)
            self._no_contact = [t for t in self._no_contact if t > end - self.cfg.window_s]
            movement = self.motion.window_movement(end, self.cfg.window_s)
            newest = self.motion.last
            if newest is not None:
                self.motion_lag_s = max(self.motion_lag_s, newest[0] - (end - self.cfg.window_s))
            step = WindowInput.from_row(row, contact=not lost, movement_mg=movement)
            out += self.detector.step(step)
            if end % 60.0 == 0.0:
                self.minutes.append((end, row, self.detector.scores[-1].state.value, movement))
        return out

    def _movement(self, item: Movement) -> None:
        """One second of movement (its end on the source's clock), kept in time order."""
        if not math.isfinite(item.t) or not math.isfinite(item.mg):
            return
        if self.last_movement is not None and item.t <= self.last_movement[0]:
            return  # a repeat or out of order: the buffer keeps time order
        self.movements += 1
        self.last_movement = (item.t, item.mg)
        if self.origin is None:
            self._early_motion.append((item.t, item.mg))
        else:
            self.motion.add(item.t - self.origin, item.mg)

    def movement_now(self) -> tuple[float, float] | None:
        """What the latest movement says: (source-clock time of its newest second, mg),
        the mg being the median of the last window's seconds as a window's movement is,
        or the newest second alone when the window holds too few; None before any."""
        if self.last_movement is None:
            return None
        t, mg = self.last_movement
        if self.origin is not None:
            median = self.motion.window_movement(t - self.origin, self.cfg.window_s)
            if median is not None:
                mg = median
        return t, mg

    def wall(self, session_s: float) -> float:
        return (self.origin or 0.0) + session_s


def _num(v: float | int | None) -> float | None:
    return None if v is None else float(v)


def _iso(t: float | None) -> str | None:
    if t is None or not math.isfinite(t):
        return None
    return datetime.fromtimestamp(t, tz=timezone.utc).astimezone().isoformat(timespec="seconds")


class Daemon:
    """The run loop: one task reads the source, the loop itself pings the watchdog."""

    def __init__(
        self,
        config: Config,
        opts: RunOptions,
        *,
        notifier: Any,
        reload_config: Callable[[], Config],
        source_factory: Callable[[RunOptions, Config], BeatSource] = make_source,
        ui: Notifier | None = None,
    ) -> None:
        self.config = config
        self.opts = opts
        self.notifier = notifier
        self._reload = reload_config
        self._make_source = source_factory
        self.state_dir = private_dir(opts.state_dir)
        self.pipeline = Pipeline(self._detector_config(config), self._load_baseline())
        from kindpulse.daemon.store import Store

        self.store = Store.open(self.state_dir, cache_kib=DAEMON_CACHE_KIB)
        self._retained_at = -math.inf
        self._baseline_logged_at = -math.inf
        self._baseline_ready = False
        #: A gap in the stream not yet logged: (last beat, when it broke, why).
        self._gap: tuple[float, float, str] | None = None
        #: What the log last heard of the device: (connected, battery %).
        self._device: tuple[bool, int | None] = (False, None)
        self._status_failing = False
        self._ui = ui
        self.care: Care | None = None
        self.reflection: ReflectionInviter | None = None  # the evening invitation
        self.source: BeatSource | None = None
        self._stop = asyncio.Event()
        self._progress_at = time.monotonic()
        self._started = time.time()
        self._reloaded: float | None = None  # wall clock of the last accepted reload
        self._reload_refused: str | None = None  # why the last reload was refused
        self._last_prompt: dict[str, Any] | None = None  # cached from the log

    @staticmethod
    def _detector_config(config: Config) -> DetectorConfig:
        return DetectorConfig.from_mapping(dataclasses.asdict(config.detector))

    def _load_baseline(self) -> BaselineTracker | None:
        path = self.state_dir / BASELINE_FILE
        if not path.exists():
            return None
        try:
            return BaselineTracker.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("%s: not a usable baseline (%s); learning afresh", path, e)
            return None

    def request_stop(self) -> None:
        self._stop.set()

    def reload(self) -> None:
        self.notifier.reloading()
        try:
            new = self._reload()
        except ConfigError as e:
            log.error("reload refused, keeping the running configuration: %s", e)
            self._reload_refused = str(e)
        else:
            self._reloaded, self._reload_refused = time.time(), None
            self.config = new
            det = self.pipeline.detector
            # New thresholds; the shift learnt from "I'm okay" stays.
            det.cfg = dataclasses.replace(
                self._detector_config(new), threshold_shift=det.cfg.threshold_shift
            )
            if self.care is not None:
                self.care.reconfigure(new)
            if self.reflection is not None:
                self.reflection.reconfigure(new)
            log.info("configuration reloaded")
        self.notifier.ready()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.source = self._make_source(self.opts, self.config)
        self.care = Care(
            self.config,
            store=self.store,
            detector=self.pipeline.detector,
            notifier=self._ui if self._ui is not None else default_notifier(),
            wall=self.pipeline.wall,
            speed=self.opts.speed,
            answer_after_s=self.opts.answer_after_s,
        )
        # The evening invitation runs on the source's clock too (the real one for a strap).
        self.reflection = ReflectionInviter(
            self.config,
            store=self.store,
            notifier=self.care.notifier,
            policy=self.care.policy,
            clock=time.time if self.opts.source == "ble" else lambda: self.pipeline.last_beat_t,
        )
        self._controls_seen = 0
        self._controls_read = False
        self._apply_controls()
        reader = asyncio.create_task(self._read(self.source))
        block_after = _test_block_loop_after_s()
        if block_after is not None:
            loop.call_later(block_after, _block_loop_forever)
        self.notifier.ready()
        self._write_status()
        # The tick pings the watchdog: at least twice per WatchdogSec= (sd_watchdog_enabled(3)).
        every = min(STATUS_EVERY_S, getattr(self.notifier, "watchdog_interval_s", None) or 9e9)
        try:
            while not self._stop.is_set() and not reader.done():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), every)
                self._tick()
        finally:
            self.notifier.stopping()
            await self.source.close()
            # A finished replay lets offered breaks run their course; a stop does not wait.
            await self.care.drain(60.0 if reader.done() and not self._stop.is_set() else 0.5)
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(reader, 1.5)
            if not reader.done():
                reader.cancel()
            for ep in self.pipeline.finish():
                self._episode(ep)
            self._log_minutes()
            if self._gap is not None:  # the stream broke and did not come back
                start, broke, reason = self._gap
                self.store.add_gap(start, max(start, broke), reason)
            self._log_device()
            self._save_baseline()
            self.store.close()
            self._write_status(stopped=True)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]
        return 0

    async def _read(self, source: BeatSource) -> None:
        async for item in source.stream():
            self._progress_at = time.monotonic()
            if isinstance(item, Movement):
                pass  # only the pipeline keeps it, and the minute rows carry it
            elif isinstance(item, Gap):
                # The gap runs from the last beat to where the next beat's interval begins.
                if self.pipeline.last_beat_t is not None and self._gap is None:
                    self._gap = (self.pipeline.last_beat_t, item.t, item.reason)
            else:
                if self._gap is not None:
                    start, _t, reason = self._gap
                    self.store.add_gap(start, max(start, item.t - item.rr_ms / 1000.0), reason)
                    self._gap = None
                self.store.add_beats([item.t], [item.rr_ms])
            for ep in self.pipeline.feed(item):
                self._episode(ep)
            if self.pipeline.minutes:
                self._log_minutes()
            if self._stop.is_set():
                break
        if not self.opts.until_end:
            # A replay or scenario has ended: keep running (status stays readable) until
            # stopped, as a service would.
            await self._stop.wait()

    def _log_minutes(self) -> None:
        """One metrics row per minute into the log, and the daily retention."""
        from kindpulse.daemon.store import WindowRow

        p = self.pipeline
        for end, row, state, movement in p.minutes:
            t = p.wall(end)
            self.store.add_window(
                WindowRow(
                    end_epoch_s=t,
                    state=state,
                    n_beats=int(row["n_beats"] or 0),
                    mean_hr=_num(row["mean_hr"]),
                    ln_rmssd=_num(row["ln_rmssd"]),
                    rmssd=_num(row["rmssd"]),
                    sdnn=_num(row["sdnn"]),
                    artifact_pct=_num(row["artifact_pct"]),
                    movement_mg=movement,
                )
            )
            # The baseline's trend: hourly, and as soon as it is first learnt.
            base = p.detector.baseline.current()
            if t - self._baseline_logged_at >= 3600.0 or base.ready != self._baseline_ready:
                self.store.add_baseline(t, base)
                self._baseline_logged_at, self._baseline_ready = t, base.ready
            if t - self._retained_at >= 86400.0:  # once a day of source time
                st = self.config.storage
                self.store.apply_retention(t, st.beats_days, st.windows_days)
                self._retained_at = t
        p.minutes.clear()

    def _episode(self, ep: Episode) -> None:
        p = self.pipeline
        if p.origin is not None:
            self.store.add_episode(ep, p.origin, source="live")
        when = _iso(p.wall(ep.confirmed_s if ep.end_s == ep.confirmed_s else ep.end_s))
        if ep.kind == "stress" and ep.end_s == ep.confirmed_s:
            p.confirmed.append(ep)
            log.warning("sustained strain noticed at %s: %s", when, ep.explanation)
            if self.care is not None:
                self.care.confirmed(ep)
        elif ep.kind == "stress":
            log.info("stretch of strain ended at %s (from %s)", when, _iso(p.wall(ep.start_s)))
        else:
            log.info("activity from %s to %s", _iso(p.wall(ep.start_s)), when)

    def _apply_controls(self) -> None:
        """Pick up pause, resume, snooze and threshold reset written to the log."""
        if self.care is None:
            return
        controls = self.store.controls_since(0.0)
        at_start, self._controls_read = not self._controls_read, True
        for c in controls[self._controls_seen :]:
            self.care.apply_control(c.kind, c.t, c.until, before_start=at_start)
            log.info("control from the log: %s", c.kind)
        self._controls_seen = len(controls)

    def _tick(self) -> None:
        self._apply_controls()
        self._log_device()
        if self.reflection is not None:
            self.reflection.tick()
        # The watchdog is fed from the loop itself, and only while items keep flowing or
        # the source says it is waiting (not connected, or a replay that has finished).
        src = self.source
        waiting = src is not None and not src.status.connected
        if waiting or time.monotonic() - self._progress_at < 30.0:
            self.notifier.watchdog()
        self._write_status()

    def _state(self) -> str:
        scores = self.pipeline.detector.scores
        return scores[-1].state.value if scores else "unknown"

    def _log_device(self) -> None:
        """Connects, disconnects and battery changes into the log, as they are seen."""
        src = self.source
        if src is None:
            return
        st = src.status
        was_connected, was_battery = self._device
        now = self._policy_now()
        name = st.device_name or ""
        if st.connected != was_connected:
            self.store.add_device_event(now, "connected" if st.connected else "disconnected", name)
        if st.battery_pct is not None and st.battery_pct != was_battery:
            self.store.add_device_event(now, "battery", str(st.battery_pct))
        self._device = (st.connected, st.battery_pct if st.battery_pct is not None else was_battery)

    def _policy_now(self) -> float:
        """Now on the clock that policy time runs on: the source's clock (a replay or the
        simulator at any speed), the wall clock for the strap."""
        t = self.pipeline.last_beat_t
        return t if t is not None and self.opts.source != "ble" else time.time()

    def _read_last_prompt(self) -> dict[str, Any] | None:
        """The newest prompt in the log (it survives restarts): when, and what became of
        it; a prompt still on screen (offered, no answer yet) has outcome None."""
        try:
            rows = list(
                self.store.query(
                    "SELECT t_ms, outcome FROM prompts ORDER BY t_ms DESC, id DESC LIMIT 1"
                )
            )
        except sqlite3.Error:  # the log is failing or already closed: keep what we had
            return self._last_prompt
        last = None if not rows else {"at_epoch": rows[0][0] / 1000.0, "outcome": rows[0][1]}
        offer = self.care.policy.last_offer if self.care is not None else None
        if offer is not None and (last is None or offer.timestamp() > last["at_epoch"] + 0.001):
            last = {"at_epoch": offer.timestamp(), "outcome": None}
        if last is not None:
            last["at"] = _iso(last["at_epoch"])
        self._last_prompt = last
        return last

    def _prompt_status(self) -> dict[str, Any]:
        """Last prompt, and when the next one may come (PromptPolicy.next_possible)."""
        out: dict[str, Any] = {"last_prompt": self._read_last_prompt()}
        if self.care is None:
            return {**out, "next_prompt": None, "next_prompt_held_by": None}
        policy = self.care.policy
        now = datetime.fromtimestamp(self._policy_now(), tz=timezone.utc).astimezone()
        nxt = policy.next_possible(now)
        holds = [r.value for r in policy.holds(now)]
        return {
            **out,
            "next_prompt": None if nxt is None else _iso(nxt.timestamp()),
            "next_prompt_held_by": holds[0] if holds else None,
            "next_prompt_holds": holds,
            "prompts_today": policy.offers_on(policy.local_day(now)),
            "daily_cap": policy.config.daily_cap,
        }

    def status_doc(self, stopped: bool = False) -> dict[str, Any]:
        src = self.source.status if self.source is not None else None
        p = self.pipeline
        base = p.detector.baseline.current()
        last_ep = p.confirmed[-1] if p.confirmed else None
        return {
            "pid": os.getpid(),
            "running": not stopped,
            "updated": _iso(time.time()),
            "started": _iso(self._started),
            "source": self.opts.source,
            "device": None if src is None else src.device_name,
            "address": None if src is None else src.device_address,
            "connected": False if src is None else src.connected,
            "battery_pct": None if src is None else src.battery_pct,
            "contact": None if src is None else src.contact,
            "counters": None if src is None else dataclasses.asdict(src.counters),
            "beats": p.beats,
            "last_beat": _iso(p.last_beat_t),
            "last_beat_epoch": p.last_beat_t,
            "state": self._state(),
            "movement": self._movement_status(),
            "baseline_ready": base.ready,
            "in_episode": p.detector.open_episode is not None,
            **(
                self.care.holds(self._policy_now())
                if self.care is not None
                else {"paused": None, "snoozed_until": None}
            ),
            **self._prompt_status(),
            "reloaded": _iso(self._reloaded),
            "reload_refused": self._reload_refused,
            "last_episode": None
            if last_ep is None
            else {
                "confirmed": _iso(p.wall(last_ep.confirmed_s)),
                "explanation": last_ep.explanation,
            },
        }

    def _movement_status(self) -> dict[str, Any] | None:
        """What the daemon last saw of movement (None: no accelerometer data so far):
        ``state`` (``moving`` at or above ``moving_mg``, else ``still``), ``mg`` (the median
        of the last minute's seconds, or the newest second alone), ``at`` and ``at_epoch``
        (its newest second, on the source's clock)."""
        from kindpulse.daemon.store import moving_threshold_mg

        now = self.pipeline.movement_now()
        if now is None:
            return None
        t, mg = now
        threshold = moving_threshold_mg(self.pipeline.detector.cfg)
        return {
            "state": "moving" if mg >= threshold else "still",
            "mg": round(mg, 1),
            "at": _iso(t),
            "at_epoch": t,
            "moving_mg": threshold,
        }

    def status_line(self, doc: dict[str, Any] | None = None) -> str:
        """The one line for ``systemctl status`` (``STATUS=``), e.g. "Polar H10 connected ·
        calm" or "simulated ordinary days connected · calm · paused"."""
        d = self.status_doc() if doc is None else doc
        who = d["device"] or d["source"]
        link = "connected" if d["connected"] else "not connected"
        parts = [f"{who} {link}", d["state"]]
        if d.get("paused"):
            parts.append("prompts paused")
        elif d.get("snoozed_until"):
            parts.append("prompts snoozed")
        return " · ".join(parts)

    def _write_status(self, stopped: bool = False) -> None:
        doc = self.status_doc(stopped)
        try:
            write_private(self.state_dir / STATUS_FILE, json.dumps(doc, indent=1) + "\n")
            self._status_failing = False
        except OSError as e:
            if not self._status_failing:  # once, not every tick (again after it worked)
                log.warning("status file not written: %s", e)
            self._status_failing = True
        if not stopped:
            self.notifier.status(self.status_line(doc))

    def _save_baseline(self) -> None:
        doc = self.pipeline.detector.baseline.to_dict()
        try:
            write_private(self.state_dir / BASELINE_FILE, json.dumps(doc) + "\n")
        except OSError as e:
            log.warning("baseline not saved: %s", e)


#: TEST-ONLY: seconds after start at which the event loop blocks for good (tests/
#: test_systemd_user.py proves that the service manager's watchdog then kills and restarts
#: the daemon). Never set it for real use: a blocked daemon notices nothing.
TEST_BLOCK_LOOP_ENV = "KINDPULSE_TEST_BLOCK_LOOP_AFTER_S"


def _test_block_loop_after_s() -> float | None:
    """The test-only hook's delay, or None when unset (always, outside tests)."""
    text = os.environ.get(TEST_BLOCK_LOOP_ENV, "")
    try:
        value = float(text) if text else None
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < 0:
        return None
    log.warning("%s is set: the event loop will block after %g s", TEST_BLOCK_LOOP_ENV, value)
    return value


def _block_loop_forever() -> None:
    """TEST-ONLY: hold the event loop in a plain sleep, so no watchdog ping goes out."""
    log.warning("test hook: blocking the event loop now")
    while True:
        time.sleep(3600.0)


def default_state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_path("kindpulse"))


def _parse_start(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--start {text!r}: expected an ISO 8601 date-time") from None
    return dt if dt.tzinfo is not None else dt.astimezone()


def cmd_run(args: Any) -> int:
    """``kindpulse run``: merge flags over the config, then run until stopped."""
    from kindpulse.config.loader import load_config
    from kindpulse.daemon.logs import setup_logging
    from kindpulse.daemon.sdnotify import Notifier

    if args.speed is not None and not (math.isfinite(args.speed) and args.speed > 0):
        raise UsageError(f"--speed {args.speed:g}: expected a positive number")
    config = load_config(args.config)
    if not args.verbose:
        setup_logging(config.logging.level.upper())
    s = config.sensor
    state_dir = (
        Path(args.state_dir)
        if args.state_dir
        else (config.storage.state_dir or default_state_dir())
    )
    opts = RunOptions(
        source=args.source or s.source,
        replay=Path(args.replay) if args.replay else s.replay,
        start=_parse_start(args.start) or s.start,
        scenario=args.scenario or s.scenario or None,
        speed=args.speed if args.speed is not None else s.speed,
        state_dir=state_dir,
        until_end=args.until_end,
        address=s.address or None,
        name=s.name or None,
    )
    daemon = Daemon(
        config, opts, notifier=Notifier.from_env(), reload_config=lambda: load_config(args.config)
    )
    return asyncio.run(daemon.run())


def _status_state_dir(args: Any) -> Path:
    """``--state-dir``, else the config's ``[storage] state_dir`` (the file the service reads:
    ``$KINDPULSE_CONFIG`` or the default), else the default; a broken config file does not
    stop ``status`` from looking in the default place."""
    if getattr(args, "state_dir", None):
        return Path(args.state_dir)
    from kindpulse.config.loader import load_config

    try:
        configured = load_config(getattr(args, "config", None)).storage.state_dir
    except ConfigError:
        configured = None
    return configured or default_state_dir()


def _when(iso: str | None, now: datetime) -> str:
    """An ISO time from the status as a person reads it: "14:05 today", "08:00 tomorrow",
    "yesterday 21:10", else the date and time."""
    if not iso:
        return "unknown"
    try:
        t = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return iso
    days = (t.date() - now.date()).days
    hm = t.strftime("%H:%M")
    if days == 0:
        return f"{hm} today"
    if days == 1:
        return f"{hm} tomorrow"
    if days == -1:
        return f"yesterday {hm}"
    return t.strftime("%Y-%m-%d %H:%M")


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{max(0, round(seconds))} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


#: What became of a prompt (the log's outcome), in plain words.
OUTCOME_WORDS = {
    None: "still on screen, waiting for an answer",
    "break": "you took the break",
    "snooze": "you snoozed it",
    "okay": "you said you were okay",
    "dismissed": "it was closed",
    "timed_out": "it passed unanswered",
    "failed": "it could not be shown",
}


#: What holds the next prompt back (PromptPolicy.holds), in plain words.
HOLD_WORDS = {
    "paused": "prompts are paused",
    "snoozed": "snoozed",
    "quiet_hours": "quiet hours",
    "daily_cap": "today's prompts are used up",
    "cooldown": "a rest since the last one",
}


def next_prompt_words(doc: dict[str, Any], now: datetime) -> str:
    """When the next prompt may come, from the status document, in plain words."""
    held = doc.get("next_prompt_held_by")
    nxt = doc.get("next_prompt")
    if "next_prompt_held_by" not in doc:
        return "unknown"
    if nxt is None:
        if held == "paused":
            return "not while prompts are paused ('kindpulse resume' lifts the pause)"
        return "none: the daily cap is zero, so prompts are off"
    at = _when(nxt, now)
    if held is None:
        return "whenever sustained strain is noticed"
    holds = doc.get("next_prompt_holds") or [held]
    because = ", then ".join(HOLD_WORDS.get(str(h), str(h)) for h in holds)
    return f"not before {at} ({because})"


def movement_words(movement: dict[str, Any] | None, now: datetime) -> str:
    """What the daemon last saw of movement, from the status document: "still (4 mg, 12:03
    today)", "moving (180 mg, …)", or that no accelerometer data has come."""
    if not movement:
        return "no accelerometer data (the strap sends heartbeats only, or none yet)"
    state = "moving" if movement.get("state") == "moving" else "still"
    mg = movement.get("mg")
    amount = f"{mg:.0f} mg, " if isinstance(mg, (int, float)) else ""
    return f"{state} ({amount}{_when(movement.get('at'), now)})"


def cmd_status(args: Any) -> int:
    """``kindpulse status``: what the daemon last wrote, or a clear line when it is not
    running."""
    state_dir = _status_state_dir(args)
    path = state_dir / STATUS_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = None
    alive = False
    if doc is not None and doc.get("running"):
        try:
            os.kill(int(doc["pid"]), 0)
            alive = True
        except (OSError, ValueError, KeyError):
            alive = False
    if args.json:
        print(json.dumps({"running": alive, "status": doc}))
        return 0
    if doc is None:
        print(f"kindpulse is not running (no status in {state_dir}).")
        return 3
    if not alive:
        print(f"kindpulse is not running; it last wrote at {doc.get('updated')}.")
    now = datetime.now().astimezone()
    who = doc.get("device") or doc.get("source")
    link = "connected" if doc.get("connected") else "not connected"
    battery = doc.get("battery_pct")
    power = "" if battery is None else f", battery {battery}%"
    print(f"device:      {who} ({link}{power})")
    last_beat, beat_t = doc.get("last_beat"), doc.get("last_beat_epoch")
    if last_beat and isinstance(beat_t, (int, float)):
        age = time.time() - beat_t
        ago = f"{_ago(max(0.0, age))}, " if -60 <= age < 2 * 86400 else ""
        print(f"last beat:   {ago}{_when(last_beat, now)}")
    else:
        print("last beat:   none yet")
    state = doc.get("state")
    if not doc.get("baseline_ready"):
        state = f"{state} (still learning your usual)"
    print(f"state:       {state}")
    if "movement" in doc:  # a daemon from before movement was known writes no such key
        print(f"movement:    {movement_words(doc['movement'], now)}")
    paused, snoozed = doc.get("paused"), doc.get("snoozed_until")
    if paused:
        until = "until you resume" if paused == "until resumed" else f"until {_when(paused, now)}"
        print(f"prompts:     paused {until}")
    elif snoozed:
        print(f"prompts:     snoozed until {_when(snoozed, now)}")
    if alive and doc.get("prompt_deferred"):
        print(f"prompt:      waiting to be shown ({doc['prompt_deferred']})")
    last = doc.get("last_prompt")
    if last:
        words = OUTCOME_WORDS.get(last.get("outcome"), str(last.get("outcome")))
        print(f"last prompt: {_when(last.get('at'), now)}, {words}")
    else:
        print("last prompt: none yet")
    if alive:
        print(f"next prompt: {next_prompt_words(doc, now)}")
    last_ep = doc.get("last_episode")
    if last_ep:
        print(f"last noticed: {_when(last_ep['confirmed'], now)}")
    if doc.get("reload_refused"):
        print(f"config:      the last reload was refused ({doc['reload_refused']})")
    return 0 if alive else 3
