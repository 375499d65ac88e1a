"""When to invite the evening reflection (``[prompts] evening_reflection``).

The Self-Compassion Practice pattern closes the day with a short reflection: name one
moment you fell short of your own standard, then speak to yourself as you would to a
friend who told you the same (DESIGN.md, "What the care side must honour"). The daemon
offers it once a day with a quiet notification; this module decides *when*.

The rule, in local time:

* only when the reflection is switched on (it is off by default);
* at or after ``reflection_time``, and no later than :data:`WINDOW` after it: a daemon
  that starts late in the evening does not bring up a reflection meant for the afternoon;
* at most once per local day: the day is the one whose ``reflection_time`` opened the
  current window, so a window that runs past midnight still belongs to the evening it
  started in;
* never in quiet hours, and never while prompts are paused or snoozed (the caller passes
  that as ``held``): an invitation held back waits for the hold to end, within the window;
* not when a reflection was already written that day (the caller passes that too, as
  ``reflected_today``).

Times of day are compared on the wall clock of ``now``'s zone; on the day clocks change the
window is an hour longer or shorter, as a person reading the clock would expect.

Pure: the clock is an argument, nothing here sleeps, reads files or talks to a bus.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from enum import Enum

__all__ = ["WINDOW", "InviteReason", "decide_invitation", "reflection_day"]

#: How long after ``reflection_time`` the invitation may still go out.
WINDOW = timedelta(hours=2)


class InviteReason(str, Enum):
    """Why :func:`decide_invitation` came out as it did (``INVITE``: send it now)."""

    INVITE = "invite"
    OFF = "off"
    NOT_YET = "not_yet"
    WINDOW_PASSED = "window_passed"
    ALREADY_INVITED = "already_invited"
    ALREADY_REFLECTED = "already_reflected"
    QUIET_HOURS = "quiet_hours"
    HELD = "held"


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def reflection_day(now: datetime, reflection_time: time) -> date:
    """The local day whose reflection time most recently came (at or before ``now``):
    today once ``reflection_time`` has passed, else yesterday."""
    _require_aware(now)
    local = now.replace(tzinfo=None)
    today = local.date()
    if local.time() >= reflection_time.replace(tzinfo=None):
        return today
    return today - timedelta(days=1)


def decide_invitation(
    now: datetime,
    *,
    enabled: bool,
    reflection_time: time,
    last_invited: date | None,
    in_quiet_hours: Callable[[time], bool],
    held: bool,
    reflected_today: bool = False,
    window: timedelta = WINDOW,
) -> InviteReason:
    """Whether to send the evening invitation at ``now`` (timezone-aware, local), and why.

    ``last_invited`` is the :func:`reflection_day` of the last invitation sent (None:
    never); ``in_quiet_hours`` answers for a local time of day (e.g.
    :meth:`kindpulse.policy.PolicyConfig.in_quiet_hours`); ``held`` is True while prompts
    are paused or snoozed; ``reflected_today`` is True when a reflection was already written
    on that day.
    """
    _require_aware(now)
    if not enabled:
        return InviteReason.OFF
    local = now.replace(tzinfo=None)
    t = reflection_time.replace(tzinfo=None)
    day = reflection_day(now, t)
    opened = datetime.combine(day, t)
    if local - opened >= window:
        # Between the end of yesterday's window and today's reflection time.
        return InviteReason.NOT_YET if day < local.date() else InviteReason.WINDOW_PASSED
    if last_invited is not None and last_invited >= day:
        return InviteReason.ALREADY_INVITED
    if reflected_today:
        return InviteReason.ALREADY_REFLECTED
    if in_quiet_hours(local.time()):
        return InviteReason.QUIET_HOURS
    if held:
        return InviteReason.HELD
    return InviteReason.INVITE
