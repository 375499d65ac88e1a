"""When to offer a self-compassion break, and how answers nudge the detector.

Pure: the clock is an argument (``now``, a timezone-aware :class:`~datetime.datetime`),
nothing here sleeps, reads files or talks to a bus. The run loop asks :meth:`PromptPolicy.decide`
for each confirmed stress episode and reports back what happened (``offered``, ``snoozed``,
``paused``, ``resumed``, ``timed_out``).

The boundaries follow the "nagging" failure mode of the Self-Compassion Practice pattern
(DESIGN.md, "What the care side must honour"): a cooldown between prompts, a daily cap per
local day, quiet hours, snooze, pause, no prompt while the body is exercising or the signal
is unknown, none while the personal baseline is still warming up, and never twice for the
same episode. A prompt that cannot be shown right now (screen locked, notifications paused
by the desktop) is *deferred*, not dropped, but only for so long: it is dropped once the
episode has ended or after ``max_defer_min``.

Days and times of day are those of ``now`` in ``tz`` (the policy's zone; by default the
zone ``now`` carries), so the caller decides what "local" means.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import Enum
from typing import Any, Protocol

from kindpulse.detector import State

__all__ = [
    "Decision",
    "PolicyConfig",
    "PromptPolicy",
    "Reason",
    "ThresholdAdapter",
]


class Reason(str, Enum):
    """Why a decision came out as it did (``OFFER`` and ``DEFERRED`` are not refusals)."""

    OFFER = "offer"
    DEFERRED = "deferred"
    COOLDOWN = "cooldown"
    DAILY_CAP = "daily_cap"
    QUIET_HOURS = "quiet_hours"
    SNOOZED = "snoozed"
    PAUSED = "paused"
    ACTIVE = "active"
    UNKNOWN = "unknown"
    WARMING_UP = "warming_up"
    ALREADY_OFFERED = "already_offered"
    DEFERRED_TOO_LONG = "deferred_too_long"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Decision:
    """``offer``: send the prompt now. ``defer``: ask again later (the screen is not
    available). Neither: the moment passes quietly, for ``reason``."""

    offer: bool
    reason: Reason

    @property
    def defer(self) -> bool:
        return self.reason is Reason.DEFERRED


class _PromptsLike(Protocol):
    @property
    def cooldown_min(self) -> float: ...
    @property
    def daily_cap(self) -> int: ...
    @property
    def snooze_min(self) -> float: ...


class _QuietLike(Protocol):
    @property
    def start(self) -> time: ...
    @property
    def end(self) -> time: ...
    @property
    def enabled(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """The boundaries (``[prompts]`` and ``[quiet_hours]`` in the config file).

    Minutes for spans; quiet hours are local times of day, ``start`` inclusive, ``end``
    exclusive, and ``start > end`` spans midnight; ``start == end`` is an empty span.
    ``tz`` None: local time is the zone of the ``now`` passed in.
    """

    cooldown_min: float = 45.0
    daily_cap: int = 4
    snooze_min: float = 30.0
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    quiet_enabled: bool = True
    max_defer_min: float = 60.0
    tz: tzinfo | None = None

    @classmethod
    def from_sections(
        cls,
        prompts: _PromptsLike,
        quiet_hours: _QuietLike,
        *,
        max_defer_min: float = 60.0,
        tz: tzinfo | None = None,
    ) -> PolicyConfig:
        """From the loaded ``PromptsSection`` and ``QuietHoursSection``."""
        return cls(
            cooldown_min=float(prompts.cooldown_min),
            daily_cap=int(prompts.daily_cap),
            snooze_min=float(prompts.snooze_min),
            quiet_start=quiet_hours.start,
            quiet_end=quiet_hours.end,
            quiet_enabled=bool(quiet_hours.enabled),
            max_defer_min=max_defer_min,
            tz=tz,
        )

    def in_quiet_hours(self, t: time) -> bool:
        """Whether the local time of day ``t`` is inside quiet hours."""
        if not self.quiet_enabled:
            return False
        t = t.replace(tzinfo=None)
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= t < self.quiet_end
        return t >= self.quiet_start or t < self.quiet_end


def _add(reasons: list[Reason], reason: Reason) -> list[Reason]:
    """``reasons`` with ``reason`` appended unless it is already there."""
    if reason not in reasons:
        reasons.append(reason)
    return reasons


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


@dataclass
class PromptPolicy:
    """Decides whether a confirmed stress episode gets a break prompt, and remembers what
    happened. Episodes are named by the caller (any string, e.g. the log's episode id)."""

    config: PolicyConfig = field(default_factory=PolicyConfig)
    last_offer: datetime | None = None
    offers_by_day: dict[date, int] = field(default_factory=dict)
    snoozed_until: datetime | None = None
    paused_flag: bool = False
    paused_until: datetime | None = None  # None with paused_flag: until resumed
    offered_episodes: set[str] = field(default_factory=set)
    deferred_since: dict[str, datetime] = field(default_factory=dict)
    _passed: set[tuple[date, str, Reason]] = field(default_factory=set)
    _offer_before: dict[str, datetime | None] = field(default_factory=dict)

    # ----------------------------------------------------------------- helpers

    def _local(self, now: datetime) -> datetime:
        _require_aware(now)
        return now.astimezone(self.config.tz) if self.config.tz is not None else now

    def local_day(self, now: datetime) -> date:
        """The local calendar day of ``now`` (the daily cap counts per such day)."""
        return self._local(now).date()

    def offers_on(self, day: date) -> int:
        """Prompts offered on the local ``day``."""
        return self.offers_by_day.get(day, 0)

    def is_paused(self, now: datetime) -> bool:
        _require_aware(now)
        if not self.paused_flag:
            return False
        return self.paused_until is None or now < self.paused_until

    def is_snoozed(self, now: datetime) -> bool:
        _require_aware(now)
        return self.snoozed_until is not None and now < self.snoozed_until

    # ------------------------------------------------------------- the decision

    def _refusal(
        self, now: datetime, episode_id: str, state: State, baseline_ready: bool
    ) -> Reason | None:
        c = self.config
        local = self._local(now)
        if episode_id in self.offered_episodes:
            return Reason.ALREADY_OFFERED
        if self.is_paused(now):
            return Reason.PAUSED
        if self.is_snoozed(now):
            return Reason.SNOOZED
        if c.in_quiet_hours(local.timetz()):
            return Reason.QUIET_HOURS
        if state is State.ACTIVE:
            return Reason.ACTIVE
        if state is State.UNKNOWN:
            return Reason.UNKNOWN
        if not baseline_ready:
            return Reason.WARMING_UP
        if self.offers_on(local.date()) >= c.daily_cap:
            return Reason.DAILY_CAP
        if self.last_offer is not None and now - self.last_offer < timedelta(
            minutes=c.cooldown_min
        ):
            return Reason.COOLDOWN
        return None

    def decide(
        self,
        now: datetime,
        episode_id: str,
        state: State,
        baseline_ready: bool,
        *,
        can_show: bool = True,
        episode_open: bool = True,
    ) -> Decision:
        """Whether to offer a break for ``episode_id`` at ``now``.

        ``state`` is the detector's current state, ``baseline_ready`` whether the personal
        baseline has finished warming up. ``can_show`` False (screen locked, desktop
        notifications paused) turns an offer into a deferral; ask again later. A deferred
        episode is dropped (``deferred_too_long``) once it has ended (``episode_open``
        False) or has waited ``max_defer_min``. Deciding records nothing but deferrals and
        the moments that passed quietly; call :meth:`offered` once the prompt is sent.
        """
        reason = self._refusal(now, episode_id, state, baseline_ready)
        if reason is None:
            since = self.deferred_since.get(episode_id)
            waited_too_long = since is not None and (
                not episode_open or now - since >= timedelta(minutes=self.config.max_defer_min)
            )
            if waited_too_long:
                reason = Reason.DEFERRED_TOO_LONG
            elif not episode_open:
                reason = Reason.ENDED
            elif not can_show:
                self.deferred_since.setdefault(episode_id, now)
                return Decision(False, Reason.DEFERRED)
            else:
                return Decision(True, Reason.OFFER)
        if reason is not Reason.ALREADY_OFFERED:
            self.deferred_since.pop(episode_id, None)
            self._passed.add((self.local_day(now), episode_id, reason))
        return Decision(False, reason)

    # --------------------------------------------------------- what happened

    def offered(self, now: datetime, episode_id: str) -> None:
        """A prompt for ``episode_id`` went out at ``now``."""
        day = self.local_day(now)
        self.offers_by_day[day] = self.offers_by_day.get(day, 0) + 1
        self._offer_before[episode_id] = self.last_offer
        self.last_offer = now if self.last_offer is None else max(self.last_offer, now)
        self.offered_episodes.add(episode_id)
        self.deferred_since.pop(episode_id, None)
        # Keep only recent days: the cap needs today's count, review reads the log.
        for old in [d for d in self.offers_by_day if (day - d).days > 2]:
            del self.offers_by_day[old]

    def undelivered(self, now: datetime, episode_id: str) -> None:
        """The prompt for ``episode_id`` offered at ``now`` never reached the screen (no
        notification server): it counts neither against the daily cap nor for the cooldown,
        so the next stretch of strain is offered as if it had not been tried. This stretch
        is not tried again."""
        day = self.local_day(now)
        if self.offers_by_day.get(day, 0) > 0:
            self.offers_by_day[day] -= 1
        if self.last_offer == now and episode_id in self._offer_before:
            self.last_offer = self._offer_before.pop(episode_id)

    def remember(self, offers: Iterable[tuple[datetime, str]], now: datetime) -> None:
        """Prompts that reached the screen before a restart (``(when, episode)``, from the
        log): the cooldown and the daily cap go on from them, and their stretches are not
        offered again. Offers later than ``now`` are ignored."""
        for at, episode_id in offers:
            if at > now:
                continue
            self.offered(at, episode_id)
            self._offer_before.pop(episode_id, None)

    def snoozed(self, now: datetime, minutes: float | None = None) -> None:
        """Hold off prompts for ``minutes`` (default: the configured snooze)."""
        _require_aware(now)
        span = self.config.snooze_min if minutes is None else minutes
        self.snoozed_until = now + timedelta(minutes=span)

    def paused(self, now: datetime, until: datetime | None = None) -> None:
        """Pause prompts until ``until`` (None: until :meth:`resumed`)."""
        _require_aware(now)
        if until is not None:
            _require_aware(until)
        self.paused_flag = True
        self.paused_until = until

    def resumed(self, now: datetime) -> None:
        """Lift a pause and any snooze."""
        _require_aware(now)
        self.paused_flag = False
        self.paused_until = None
        self.snoozed_until = None

    def timed_out(self, episode_id: str) -> None:
        """The prompt for ``episode_id`` timed out unanswered: it is not sent again."""
        self.offered_episodes.add(episode_id)
        self.deferred_since.pop(episode_id, None)

    # ------------------------------------------------------------ when next

    def held_by(self, now: datetime) -> Reason | None:
        """What keeps a prompt for a new stretch of strain from coming at ``now``: ``paused``,
        ``snoozed``, ``quiet_hours``, ``daily_cap`` or ``cooldown`` (checked in that order,
        as :meth:`decide` does), or None when one could come now."""
        reasons = self._next(now)[1]
        return reasons[0] if reasons else None

    def holds(self, now: datetime) -> list[Reason]:
        """Every rule :meth:`next_possible` had to wait out, in the order met: e.g.
        ``[snoozed, cooldown]`` when the cooldown outlasts the snooze. Empty when a prompt
        could come now."""
        return self._next(now)[1]

    def next_possible(self, now: datetime) -> datetime | None:
        """The earliest moment, at or after ``now``, at which a new stretch of strain could be
        met with a prompt, by the time-bound rules alone (pause, snooze, quiet hours, daily
        cap, cooldown; the body's state and the baseline are not foreseeable). ``now`` itself
        when nothing holds; None while paused until resumed or with a daily cap of zero.

        Each rule moves the moment past itself (the end of the pause, the snooze, the quiet
        hours, the cooldown; local midnight for a used-up day) until none holds, so a cap
        reached in the evening with quiet hours until 08:00 gives 08:00 the next morning.
        """
        return self._next(now)[0]

    def _next(self, now: datetime) -> tuple[datetime | None, list[Reason]]:
        _require_aware(now)
        c = self.config
        t = now
        met: list[Reason] = []
        for _ in range(16):  # each pass moves t forward; a few passes settle it
            moved: datetime | None = None
            reason: Reason | None = None
            if self.is_paused(t):
                if self.paused_until is None:
                    return None, _add(met, Reason.PAUSED)
                moved, reason = self.paused_until, Reason.PAUSED
            elif self.is_snoozed(t) and self.snoozed_until is not None:
                moved, reason = self.snoozed_until, Reason.SNOOZED
            else:
                local = self._local(t)
                if c.in_quiet_hours(local.timetz()):
                    end = datetime.combine(local.date(), c.quiet_end, tzinfo=local.tzinfo)
                    if end <= local:
                        end = datetime.combine(
                            local.date() + timedelta(days=1), c.quiet_end, tzinfo=local.tzinfo
                        )
                    moved, reason = end, Reason.QUIET_HOURS
                elif c.daily_cap <= 0:
                    return None, _add(met, Reason.DAILY_CAP)
                elif self.offers_on(local.date()) >= c.daily_cap:
                    midnight = datetime.combine(
                        local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo
                    )
                    moved, reason = midnight, Reason.DAILY_CAP
                elif self.last_offer is not None and t - self.last_offer < timedelta(
                    minutes=c.cooldown_min
                ):
                    moved = self.last_offer + timedelta(minutes=c.cooldown_min)
                    reason = Reason.COOLDOWN
            if moved is None or reason is None:
                return t, met
            _add(met, reason)
            t = max(t, moved.astimezone(now.tzinfo))
        return t, met

    # -------------------------------------------------------------- counters

    def passed_quietly(self, day: date | None = None) -> Counter[Reason]:
        """Episodes that passed without a prompt, by reason (each episode counted once per
        reason); only those of the local ``day`` when given. For review text such as
        "2 moments passed quietly during quiet hours"."""
        return Counter(r for d, _, r in self._passed if day is None or d == day)

    def forget_before(self, day: date) -> None:
        """Drop counters and offer counts of local days before ``day`` (bounded memory)."""
        self._passed = {p for p in self._passed if p[0] >= day}
        for old in [d for d in self.offers_by_day if d < day]:
            del self.offers_by_day[old]

    # ------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """The remembered state (not the config) as JSON-ready values: datetimes in ISO
        8601 with their offset, days as ISO dates. Deferrals are not kept (after a restart
        the episode is seen afresh)."""

        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "last_offer": iso(self.last_offer),
            "offers_by_day": {d.isoformat(): n for d, n in sorted(self.offers_by_day.items())},
            "snoozed_until": iso(self.snoozed_until),
            "paused": self.paused_flag,
            "paused_until": iso(self.paused_until),
            "offered_episodes": sorted(self.offered_episodes),
            "passed": sorted([d.isoformat(), e, r.value] for d, e, r in self._passed),
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any], config: PolicyConfig | None = None) -> PromptPolicy:
        """The inverse of :meth:`to_dict`."""

        def when(v: Any) -> datetime | None:
            return None if v is None else datetime.fromisoformat(str(v))

        policy = cls(config if config is not None else PolicyConfig())
        policy.last_offer = when(doc.get("last_offer"))
        policy.offers_by_day = {
            date.fromisoformat(d): int(n) for d, n in dict(doc.get("offers_by_day", {})).items()
        }
        policy.snoozed_until = when(doc.get("snoozed_until"))
        policy.paused_flag = bool(doc.get("paused", False))
        policy.paused_until = when(doc.get("paused_until"))
        policy.offered_episodes = {str(e) for e in doc.get("offered_episodes", [])}
        policy._passed = {
            (date.fromisoformat(d), str(e), Reason(r)) for d, e, r in doc.get("passed", [])
        }
        return policy


@dataclass
class ThresholdAdapter:
    """Feedback on prompts, as a shift of the detector's stress thresholds (z units).

    "I'm okay" raises the thresholds by ``step`` (stress becomes a little harder to call),
    never beyond ``max_shift``; an accepted break keeps them. :attr:`threshold_shift` is what
    ``DetectorConfig.threshold_shift`` takes; :meth:`reset` returns to zero.
    """

    max_shift: float = 1.0
    step: float = 0.25
    shift: float = 0.0

    def __post_init__(self) -> None:
        if self.max_shift < 0 or self.step < 0:
            raise ValueError("max_shift and step must not be negative")
        self.shift = min(max(self.shift, 0.0), self.max_shift)

    @property
    def threshold_shift(self) -> float:
        return self.shift

    def okay(self) -> float:
        """The user said "I'm okay": nudge the thresholds up (bounded)."""
        self.shift = min(self.shift + self.step, self.max_shift)
        return self.shift

    def accepted(self) -> float:
        """The user took the break: the thresholds stay where they are."""
        return self.shift

    def reset(self) -> float:
        self.shift = 0.0
        return self.shift
