"""When the evening reflection is offered: a table over local times, no clock, no sleeps."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from kindpulse.policy import PolicyConfig
from kindpulse.reflection import (
    WINDOW,
    InviteReason,
    decide_invitation,
    reflection_day,
)

CET = timezone(timedelta(hours=1))
DAY = date(2026, 11, 24)
YESTERDAY = DAY - timedelta(days=1)
QUIET = PolicyConfig(quiet_start=time(21, 0), quiet_end=time(8, 0)).in_quiet_hours
NO_QUIET = PolicyConfig(quiet_enabled=False).in_quiet_hours


def at(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=CET)


# (now, reflection_time, last_invited, quiet check, held, reflected_today, expected)
CASES = [
    (at(17, 59), time(18, 0), None, QUIET, False, False, InviteReason.NOT_YET),
    (at(18, 0), time(18, 0), None, QUIET, False, False, InviteReason.INVITE),
    (at(18, 1), time(18, 0), YESTERDAY, QUIET, False, False, InviteReason.INVITE),
    (at(19, 59), time(18, 0), None, QUIET, False, False, InviteReason.INVITE),
    (at(20, 0), time(18, 0), None, QUIET, False, False, InviteReason.WINDOW_PASSED),
    (at(23, 0), time(18, 0), None, NO_QUIET, False, False, InviteReason.WINDOW_PASSED),
    (at(9, 0), time(18, 0), None, QUIET, False, False, InviteReason.NOT_YET),
    (at(18, 30), time(18, 0), DAY, QUIET, False, False, InviteReason.ALREADY_INVITED),
    (at(18, 30), time(18, 0), None, QUIET, False, True, InviteReason.ALREADY_REFLECTED),
    (at(18, 30), time(18, 0), None, QUIET, True, False, InviteReason.HELD),
    # The window runs into quiet hours: the invitation waits, then the window closes.
    (at(20, 30), time(20, 0), None, QUIET, False, False, InviteReason.INVITE),
    (at(21, 0), time(20, 0), None, QUIET, False, False, InviteReason.QUIET_HOURS),
    (at(21, 0), time(20, 0), None, NO_QUIET, False, False, InviteReason.INVITE),
    # A late reflection time: the window after midnight belongs to the evening before.
    (at(23, 30), time(23, 0), None, NO_QUIET, False, False, InviteReason.INVITE),
    (at(0, 30), time(23, 0), YESTERDAY, NO_QUIET, False, False, InviteReason.ALREADY_INVITED),
    (at(0, 30), time(23, 0), DAY - timedelta(days=2), NO_QUIET, False, False, InviteReason.INVITE),
    (at(1, 0), time(23, 0), None, NO_QUIET, False, False, InviteReason.NOT_YET),
]


@pytest.mark.parametrize(("now", "when", "last", "quiet", "held", "done", "expected"), CASES)
def test_the_table(
    now: datetime,
    when: time,
    last: date | None,
    quiet: object,
    held: bool,
    done: bool,
    expected: InviteReason,
) -> None:
    kwargs = dict(
        reflection_time=when,
        last_invited=last,
        in_quiet_hours=quiet,
        held=held,
        reflected_today=done,
    )
    assert decide_invitation(now, enabled=True, **kwargs) is expected  # type: ignore[arg-type]
    # Off (the default) is off at every one of these moments.
    assert decide_invitation(now, enabled=False, **kwargs) is InviteReason.OFF  # type: ignore[arg-type]


def test_an_evening_minute_by_minute_invites_exactly_once() -> None:
    """Walk a whole day in minutes, remembering the invitation as the daemon does."""
    last: date | None = None
    sent: list[datetime] = []
    now = at(0, 0)
    while now < at(0, 0, DAY + timedelta(days=2)):
        if decide_invitation(
            now,
            enabled=True,
            reflection_time=time(18, 0),
            last_invited=last,
            in_quiet_hours=QUIET,
            held=at(18, 0) <= now < at(18, 20),  # paused for the first twenty minutes
        ) is InviteReason.INVITE:
            sent.append(now)
            last = reflection_day(now, time(18, 0))
        now += timedelta(minutes=1)
    assert sent == [at(18, 20), at(18, 0, DAY + timedelta(days=1))]


def test_the_window_and_the_reflection_day() -> None:
    assert timedelta(hours=2) == WINDOW
    assert reflection_day(at(18, 0), time(18, 0)) == DAY
    assert reflection_day(at(17, 59), time(18, 0)) == YESTERDAY
    assert (
        decide_invitation(
            at(18, 40),
            enabled=True,
            reflection_time=time(18, 0),
            last_invited=None,
            in_quiet_hours=QUIET,
            held=False,
            window=timedelta(minutes=30),
        )
        is InviteReason.WINDOW_PASSED
    )


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_invitation(
            datetime(2026, 11, 24, 18, 0),
            enabled=True,
            reflection_time=time(18, 0),
            last_invited=None,
            in_quiet_hours=QUIET,
            held=False,
        )
