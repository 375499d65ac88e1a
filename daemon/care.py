"""The care side of the run loop: from a confirmed stretch of strain to an offered break.

policy (pure, kindpulse.policy) -> notifier (desktop or terminal) -> outcome -> the log:

* ``break``: the guided break is shown step by step (paced on the source's clock, so fast
  in a sped-up replay), and a break row keeps heart rate and ln RMSSD before and after;
* ``snooze``: no prompt until the snooze ends (a control row, so it holds across restarts);
* ``okay``: the person says this was not strain: the stress threshold moves up a little
  (bounded), and the adaptation is logged;
* ``dismissed`` / ``timed_out`` / ``failed``: logged; a timed-out prompt is not sent again
  for the same stretch; a failed one is tried again next time.

Every decision not to prompt is logged at debug level with its reason and counted, and the
moment is kept in the log (``quiet_moments``, once per stretch and reason).

Deferral: before a prompt goes out, the notifier is asked whether the desktop is busy
(:class:`~kindpulse.daemon.notifier.BusyProbe`: screen locked, notifications paused or
do-not-disturb). If it is, the prompt is *deferred*, not dropped: one info line says so
(and why), and the desktop is asked again every :data:`RECHECK_S` seconds, each time with
the policy deciding afresh on the source's current time (a snooze, the daily cap or the
end of the stretch can still stop it). A deferred prompt that goes out later is logged
like any other, at the time it was shown. It is never deferred forever: the policy drops
it once the stretch has ended or after its ``max_defer_min`` (kept in the log as the quiet
moment ``deferred_too_long``), also when that much wall-clock time has passed (at the
replay's speed) without the source's clock moving, and when the daemon stops. The prompts
table keeps only prompts that were sent, so review and status count no deferral as a
prompt. Where the desktop cannot tell (``None``), prompts go out as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from kindpulse.breaks import (
    build_variants,
    button_labels,
    choose_variant,
    guided_steps,
    prompt_text,
)
from kindpulse.daemon.notifier import BusyProbe, Notifier, Outcome, Prompt
from kindpulse.detector import Detector, DetectorConfig, Episode, State
from kindpulse.policy import Decision, PolicyConfig, PromptPolicy, Reason, ThresholdAdapter

if TYPE_CHECKING:
    from kindpulse.config.schema import Config
    from kindpulse.daemon.store import Store

log = logging.getLogger(__name__)

#: Seconds (wall clock) between two looks at a busy desktop while a prompt is deferred;
#: the daemon's own tick (status, controls) runs at the same pace.
RECHECK_S = 2.0

#: Reasons that are not a moment passing quietly: the prompt was already sent, or waits.
_NOT_QUIET = (Reason.ALREADY_OFFERED, Reason.DEFERRED)


class Care:
    """Offers breaks for confirmed stretches of strain, within the policy's limits."""

    def __init__(
        self,
        config: Config,
        *,
        store: Store,
        detector: Detector,
        notifier: Notifier,
        wall: Callable[[float], float],
        speed: float = 1.0,
        answer_after_s: float | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.detector = detector
        self.notifier = notifier
        self.wall = wall
        self.speed = speed
        self.answer_after_s = answer_after_s
        p = config.prompts
        self.policy = PromptPolicy(PolicyConfig.from_sections(p, config.quiet_hours))
        self.adapter = ThresholdAdapter(max_shift=p.max_threshold_shift)
        self.variants = build_variants(
            p.phrases_mindfulness, p.phrases_humanity, p.phrases_kindness, p.replace_builtin
        )
        self._used_today: dict[int, set[int]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.breaks_shown = 0
        self.deferrals = 0
        #: Why a prompt is waiting for the desktop right now ("screen locked", ...), or None.
        self.deferred_reason: str | None = None
        self._closing = asyncio.Event()
        #: When the threshold shift learnt from feedback was last written (a threshold
        #: reset older than that is already in it).
        self._shift_since = -math.inf
        self._remembered = False
        self._restore_shift()

    def _restore_shift(self) -> None:
        """The threshold shift learnt from "I'm okay" before a restart: the newest one in
        the log (a later ``thresholds reset`` in the log still applies)."""
        row = next(
            self.store.query(
                "SELECT t_ms, threshold_shift FROM adaptations ORDER BY t_ms DESC LIMIT 1"
            ),
            None,
        )
        if row is None:
            return
        self._shift_since = row[0] / 1000.0
        self.adapter.shift = min(max(float(row[1]), 0.0), self.adapter.max_shift)
        self.detector.cfg = _with_shift(self.detector, self.adapter.threshold_shift)

    def _remember_prompts(self, now: datetime) -> None:
        """Once, at the first decision: the prompts of the last two days that reached the
        screen before a restart, so the cooldown and the daily cap go on from them."""
        if self._remembered:
            return
        self._remembered = True
        t1 = now.timestamp()
        rows = self.store.query(
            "SELECT t_ms, episode_start_ms FROM prompts WHERE t_ms >= ? AND t_ms <= ?"
            " AND coalesce(outcome, '') != ? ORDER BY t_ms",
            (round((t1 - 2 * 86400.0) * 1000), round(t1 * 1000), Outcome.FAILED.value),
        )
        self.policy.remember(
            (
                (
                    datetime.fromtimestamp(t / 1000.0, tz=timezone.utc).astimezone(),
                    "" if start is None else f"{start / 1000.0:.3f}",
                )
                for t, start in rows
            ),
            now,
        )

    def reconfigure(self, config: Config) -> None:
        """A reloaded configuration: new limits and phrases; what happened today stays."""
        self.config = config
        p = config.prompts
        self.policy.config = PolicyConfig.from_sections(p, config.quiet_hours)
        self.adapter.max_shift = p.max_threshold_shift
        self.variants = build_variants(
            p.phrases_mindfulness, p.phrases_humanity, p.phrases_kindness, p.replace_builtin
        )

    def _now(self, session_s: float) -> datetime:
        return datetime.fromtimestamp(self.wall(session_s), tz=timezone.utc).astimezone()

    def _source_now_s(self, ep: Episode) -> float:
        """The source's current time (session seconds): the end of the latest scored
        window, never before the stretch was confirmed."""
        scores = self.detector.scores
        return max(ep.confirmed_s, scores[-1].end_s) if scores else ep.confirmed_s

    def _still_open(self, ep: Episode) -> bool:
        current = self.detector.open_episode
        return current is not None and current.start_s == ep.start_s

    def _decide(
        self,
        ep: Episode,
        episode_id: str,
        now: datetime,
        *,
        can_show: bool = True,
        episode_open: bool = True,
    ) -> Decision:
        """The policy's decision; a moment that passes quietly is logged (debug) and kept in
        the log's quiet moments."""
        self._remember_prompts(now)
        scores = self.detector.scores
        state = scores[-1].state if scores else State.UNKNOWN
        decision = self.policy.decide(
            now,
            episode_id,
            state,
            self.detector.baseline.current().ready,
            can_show=can_show,
            episode_open=episode_open,
        )
        if not decision.offer and decision.reason not in _NOT_QUIET:
            log.debug("no prompt for the stretch from %s: %s", episode_id, decision.reason.value)
            self.store.add_quiet_moment(
                now.timestamp(), self.wall(ep.start_s), decision.reason.value
            )
        return decision

    def confirmed(self, ep: Episode) -> None:
        """A stretch of strain was just confirmed: offer a break if the policy agrees (once
        the desktop can take it)."""
        now = self._now(ep.confirmed_s)
        episode_id = f"{self.wall(ep.start_s):.3f}"
        decision = self._decide(ep, episode_id, now)
        if not decision.offer:
            if decision.reason is Reason.ALREADY_OFFERED:
                log.debug("no prompt for the stretch from %s: already offered", episode_id)
            return
        task = asyncio.get_running_loop().create_task(self._when_free(ep, episode_id, now))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _busy(self) -> bool | None:
        if not isinstance(self.notifier, BusyProbe):
            return None
        try:
            return await self.notifier.busy()
        except Exception as e:  # a probe that fails cannot tell; prompts go out as usual
            log.debug("busy probe failed: %s", e)
            return None

    async def _when_free(self, ep: Episode, episode_id: str, now: datetime) -> None:
        """Offer the break now, or defer it while the desktop is busy (see the module
        docstring); never for ever."""
        busy = await self._busy()
        if busy is not True:
            await self._offer(ep, episode_id, now)
            return
        # Wall-clock bound for a source whose clock stands still (strap gone quiet).
        wall_limit_s = 60.0 * self.policy.config.max_defer_min / max(self.speed, 1e-9)
        try:
            await self._deferred(ep, episode_id, busy, wall_limit_s)
        finally:
            self.deferred_reason = None

    async def _deferred(
        self, ep: Episode, episode_id: str, busy: bool | None, wall_limit_s: float
    ) -> None:
        loop = asyncio.get_running_loop()
        last_source_s = self._source_now_s(ep)
        moved_at = loop.time()
        logged = False
        while True:
            source_s = self._source_now_s(ep)
            if source_s != last_source_s:
                last_source_s, moved_at = source_s, loop.time()
            now = self._now(source_s)
            stalled = loop.time() - moved_at >= wall_limit_s
            open_ = self._still_open(ep) and not stalled and not self._closing.is_set()
            decision = self._decide(
                ep, episode_id, now, can_show=busy is not True, episode_open=open_
            )
            if decision.offer:
                log.info("the desktop is free again: offering the deferred break")
                self.deferred_reason = None
                await self._offer(ep, episode_id, now)
                return
            if not decision.defer:
                log.info(
                    "deferred break for the stretch from %s dropped: %s",
                    episode_id,
                    decision.reason.value,
                )
                return
            reason = getattr(self.notifier, "busy_reason", None) or "desktop busy"
            self.deferred_reason = reason
            if not logged:
                logged = True
                self.deferrals += 1
                log.info(
                    "break for the stretch from %s deferred (%s); asking again every %g s",
                    episode_id,
                    reason,
                    RECHECK_S,
                )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), RECHECK_S)
            if not self._closing.is_set():
                busy = await self._busy()

    async def _offer(self, ep: Episode, episode_id: str, now: datetime) -> None:
        p = self.config.prompts
        day = now.toordinal()
        used = self._used_today.setdefault(day, set())
        v = choose_variant(day, used, rng_seed=day, count=len(self.variants))
        used.add(v)
        title, body = prompt_text(v, show_numbers=p.show_numbers, variants=self.variants)
        labels = button_labels(p.snooze_min)
        prompt = Prompt(
            title, body, labels.snooze, labels.take_break, labels.okay, timeout_s=p.timeout_s
        )
        self.policy.offered(now, episode_id)
        if self.answer_after_s is not None:
            outcome = await self._answered_for_demo(prompt)
        else:
            outcome = await self.notifier.prompt(prompt)
        at = now.timestamp()  # when it was shown: the confirmation, or the end of a deferral
        self.store.add_prompt(at, self.wall(ep.start_s), outcome.value, at)
        log.info("break offered for the stretch from %s: %s", episode_id, outcome.value)
        if outcome is Outcome.BREAK:
            await self._guided(v, ep)
        elif outcome is Outcome.SNOOZE:
            self.policy.snoozed(now, p.snooze_min)
            self.store.add_control("snooze", at + 60.0 * p.snooze_min, at_epoch_s=at)
        elif outcome is Outcome.OKAY:
            self.adapter.okay()
            self.detector.cfg = _with_shift(self.detector, self.adapter.threshold_shift)
            self.store.add_adaptation(at, self.adapter.threshold_shift, "I'm okay")
        elif outcome is Outcome.TIMED_OUT:
            self.policy.timed_out(episode_id)
        elif outcome is Outcome.FAILED:
            self.policy.undelivered(now, episode_id)

    async def _answered_for_demo(self, prompt: Prompt) -> Outcome:
        """The demo: show the prompt, and with no one there to press a button, answer
        "take a break" after a moment."""
        wait = self.answer_after_s or 0.0
        shown = asyncio.ensure_future(self.notifier.prompt(prompt))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(shown), wait)
        except asyncio.TimeoutError:
            shown.cancel()
            outcome = Outcome.TIMED_OUT
        if outcome in (Outcome.BREAK, Outcome.SNOOZE, Outcome.OKAY):
            return outcome
        await asyncio.sleep(wait / 2)
        await self.notifier.show("kindpulse demo", "No one pressed a button: taking the break.")
        return Outcome.BREAK

    async def _guided(self, variant: int, ep: Episode) -> None:
        """The three steps, paced over about a minute of source time, then a thank-you."""
        start = self.wall(ep.confirmed_s)
        last = 0.0
        for offset, title, body in guided_steps(variant, variants=self.variants):
            await asyncio.sleep(max(0.0, (offset - last) / self.speed))
            last = offset
            await self.notifier.show(title, body, timeout_s=15)
        self.breaks_shown += 1
        before = _recent(self.detector, ep.confirmed_s, -300.0)
        # "Did it help?": the five minutes after the break, once they have been scored (or
        # as far as they are when the run ends).
        after_from = ep.confirmed_s + last
        after: tuple[float | None, float | None] = (None, None)
        try:
            for _ in range(int(2 * (300.0 + 240.0) / self.speed) + 2):
                scores = self.detector.scores
                if scores and scores[-1].end_s >= after_from + 300.0:
                    break
                await asyncio.sleep(0.5)
        finally:
            after = _recent(self.detector, after_from, 300.0)
            self.store.add_break(
                start,
                start + last,
                hr_before=before[0],
                hr_after=after[0],
                ln_rmssd_before=before[1],
                ln_rmssd_after=after[1],
            )

    def apply_control(
        self,
        kind: str,
        at_epoch_s: float,
        until_epoch_s: float | None,
        *,
        before_start: bool = False,
    ) -> None:
        """A pause, resume, snooze or threshold reset from the log (written by the CLI or
        by this daemon), so they hold across restarts. ``before_start``: read back at start
        up (a threshold reset older than the restored shift is already in it)."""
        at = datetime.fromtimestamp(at_epoch_s, tz=timezone.utc).astimezone()
        until = (
            None
            if until_epoch_s is None
            else datetime.fromtimestamp(until_epoch_s, tz=timezone.utc).astimezone()
        )
        if kind == "pause":
            self.policy.paused(at, until)
        elif kind == "resume":
            self.policy.resumed(at)
        elif kind == "snooze" and until_epoch_s is not None:
            self.policy.snoozed(at, (until_epoch_s - at_epoch_s) / 60.0)
        elif kind == "threshold_reset" and (not before_start or at_epoch_s >= self._shift_since):
            self.adapter.reset()
            self.detector.cfg = _with_shift(self.detector, 0.0)

    def holds(self, now_epoch_s: float) -> dict[str, str | None]:
        """What currently holds prompts back, for the status: a pause, a snooze, and a
        prompt waiting for a busy desktop (``prompt_deferred``: why, such as "screen
        locked")."""
        now = datetime.fromtimestamp(now_epoch_s, tz=timezone.utc).astimezone()
        p = self.policy
        paused = None
        if p.is_paused(now):
            paused = "until resumed" if p.paused_until is None else p.paused_until.isoformat()
        snoozed = p.snoozed_until.isoformat() if p.is_snoozed(now) and p.snoozed_until else None
        return {"paused": paused, "snoozed_until": snoozed, "prompt_deferred": self.deferred_reason}

    async def drain(self, timeout_s: float) -> None:
        """Let prompts in flight finish (bounded), then cancel what is left. A deferred
        prompt is dropped at once (the run is ending, and its stretch with it)."""
        self._closing.set()
        if not self.tasks:
            return
        _, pending = await asyncio.wait(set(self.tasks), timeout=timeout_s)
        for t in pending:
            t.cancel()


def _with_shift(detector: Detector, shift: float) -> DetectorConfig:
    return replace(detector.cfg, threshold_shift=shift)


def _recent(detector: Detector, at_s: float, span_s: float) -> tuple[float | None, float | None]:
    """Mean heart rate and ln RMSSD over the windows between ``at_s`` and ``at_s + span_s``
    (a negative span looks back) that are known so far."""
    lo, hi = sorted((at_s, at_s + span_s))
    hr = [s.mean_hr for s in detector.scores if lo < s.end_s <= hi and s.mean_hr is not None]
    ln = [s.ln_rmssd for s in detector.scores if lo < s.end_s <= hi and s.ln_rmssd is not None]
    return (sum(hr) / len(hr) if hr else None, sum(ln) / len(ln) if ln else None)
