"""The prompt policy and the threshold adapter: tables over time, no sleeps."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kindpulse.config.schema import PromptsSection, QuietHoursSection
from kindpulse.detector import State
from kindpulse.policy import Decision, PolicyConfig, PromptPolicy, Reason, ThresholdAdapter

TZ = timezone(timedelta(hours=2))
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=TZ)


def at(hh: int, mm: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=TZ)


def ask(p: PromptPolicy, now: datetime, ep: str = "e1", **kw: object) -> Decision:
    state = kw.pop("state", State.STRESS)
    ready = kw.pop("ready", True)
    return p.decide(now, ep, state, ready, **kw)  # type: ignore[arg-type]


def test_offer_when_nothing_stands_in_the_way() -> None:
    d = ask(PromptPolicy(), NOON)
    assert d == Decision(True, Reason.OFFER)
    assert not d.defer


@pytest.mark.parametrize(
    ("minutes_later", "offer"),
    [(0, False), (30, False), (44.99, False), (45, True), (46, True), (300, True)],
)
def test_cooldown_edges(minutes_later: float, offer: bool) -> None:
    p = PromptPolicy()
    p.offered(NOON, "e0")
    d = ask(p, NOON + timedelta(minutes=minutes_later))
    assert d.offer is offer
    assert d.reason is (Reason.OFFER if offer else Reason.COOLDOWN)


def test_zero_cooldown_allows_back_to_back() -> None:
    p = PromptPolicy(PolicyConfig(cooldown_min=0))
    p.offered(NOON, "e0")
    assert ask(p, NOON).offer


def test_daily_cap_counts_per_local_day_and_resets_at_local_midnight() -> None:
    p = PromptPolicy(PolicyConfig(cooldown_min=0, daily_cap=2, quiet_enabled=False))
    p.offered(at(9), "a")
    p.offered(at(10), "b")
    assert ask(p, at(11), "c").reason is Reason.DAILY_CAP
    assert ask(p, at(23, 59), "c").reason is Reason.DAILY_CAP
    # 00:00 local (22:00 UTC the day before): a new local day.
    assert ask(p, at(0, 0, day=11), "c").offer
    assert p.offers_on(date(2026, 3, 10)) == 2


def test_daily_cap_uses_the_configured_zone() -> None:
    # 23:30 UTC on the 10th is 01:30 on the 11th at UTC+2.
    p = PromptPolicy(PolicyConfig(cooldown_min=0, daily_cap=1, quiet_enabled=False, tz=TZ))
    p.offered(datetime(2026, 3, 10, 20, 0, tzinfo=timezone.utc), "a")  # 22:00 local, 10th
    late = datetime(2026, 3, 10, 23, 30, tzinfo=timezone.utc)
    assert ask(p, late, "b").offer
    assert p.local_day(late) == date(2026, 3, 11)


def test_daily_cap_zero_means_never() -> None:
    assert ask(PromptPolicy(PolicyConfig(daily_cap=0)), NOON).reason is Reason.DAILY_CAP


@pytest.mark.parametrize(
    ("start", "end", "hh", "mm", "quiet"),
    [
        # wrapping midnight (the default 21:00-08:00)
        (time(21), time(8), 20, 59, False),
        (time(21), time(8), 21, 0, True),
        (time(21), time(8), 23, 59, True),
        (time(21), time(8), 0, 0, True),
        (time(21), time(8), 7, 59, True),
        (time(21), time(8), 8, 0, False),
        (time(21), time(8), 12, 0, False),
        # not wrapping (a midday rest)
        (time(13), time(14), 12, 59, False),
        (time(13), time(14), 13, 0, True),
        (time(13), time(14), 13, 59, True),
        (time(13), time(14), 14, 0, False),
        (time(13), time(14), 23, 0, False),
    ],
)
def test_quiet_hours(start: time, end: time, hh: int, mm: int, quiet: bool) -> None:
    p = PromptPolicy(PolicyConfig(quiet_start=start, quiet_end=end))
    d = ask(p, at(hh, mm))
    assert d.offer is not quiet
    assert d.reason is (Reason.QUIET_HOURS if quiet else Reason.OFFER)


def test_disabled_quiet_hours() -> None:
    p = PromptPolicy(PolicyConfig(quiet_enabled=False))
    assert ask(p, at(23)).offer
    assert ask(p, at(3), "e2").offer


def test_quiet_hours_are_local_time_of_the_configured_zone() -> None:
    p = PromptPolicy(PolicyConfig(tz=TZ))
    # 19:30 UTC is 21:30 at UTC+2: quiet.
    d = ask(p, datetime(2026, 3, 10, 19, 30, tzinfo=timezone.utc))
    assert d.reason is Reason.QUIET_HOURS


def test_from_sections_reads_the_config_dataclasses() -> None:
    prompts = PromptsSection(
        cooldown_min=10.0,
        daily_cap=3,
        snooze_min=15.0,
        show_numbers=False,
        timeout_s=60.0,
        phrases_mindfulness=(),
        phrases_humanity=(),
        phrases_kindness=(),
        replace_builtin=False,
        evening_reflection=False,
        reflection_time=time(18),
        max_threshold_shift=1.0,
    )
    quiet = QuietHoursSection(start=time(22), end=time(7), enabled=True)
    c = PolicyConfig.from_sections(prompts, quiet)
    assert (c.cooldown_min, c.daily_cap, c.snooze_min) == (10.0, 3, 15.0)
    assert (c.quiet_start, c.quiet_end, c.quiet_enabled) == (time(22), time(7), True)
    for t in (time(21, 59), time(7), time(12)):
        assert c.in_quiet_hours(t) == quiet.contains(t)


@pytest.mark.parametrize(
    ("minutes_later", "reason"),
    [(0, Reason.SNOOZED), (29.9, Reason.SNOOZED), (30, Reason.OFFER), (31, Reason.OFFER)],
)
def test_snooze_expiry(minutes_later: float, reason: Reason) -> None:
    p = PromptPolicy(PolicyConfig(cooldown_min=0))
    p.snoozed(NOON)  # default: the configured 30 minutes
    assert ask(p, NOON + timedelta(minutes=minutes_later)).reason is reason


def test_snooze_with_explicit_minutes() -> None:
    p = PromptPolicy()
    p.snoozed(NOON, 10)
    assert ask(p, NOON + timedelta(minutes=9)).reason is Reason.SNOOZED
    assert ask(p, NOON + timedelta(minutes=10)).offer


def test_pause_until_a_time() -> None:
    p = PromptPolicy()
    p.paused(NOON, until=NOON + timedelta(hours=2))
    assert ask(p, NOON + timedelta(hours=1)).reason is Reason.PAUSED
    assert p.is_paused(NOON + timedelta(hours=1))
    assert ask(p, NOON + timedelta(hours=2)).offer


def test_pause_indefinitely_then_resume() -> None:
    p = PromptPolicy(PolicyConfig(quiet_enabled=False))
    p.paused(NOON)
    assert ask(p, NOON + timedelta(days=3)).reason is Reason.PAUSED
    p.resumed(NOON + timedelta(days=3))
    assert ask(p, NOON + timedelta(days=3)).offer


def test_resume_also_lifts_a_snooze() -> None:
    p = PromptPolicy()
    p.snoozed(NOON, 60)
    p.resumed(NOON + timedelta(minutes=5))
    assert ask(p, NOON + timedelta(minutes=5)).offer


@pytest.mark.parametrize(
    ("state", "ready", "reason"),
    [
        (State.STRESS, True, Reason.OFFER),
        (State.ELEVATED, True, Reason.OFFER),
        (State.CALM, True, Reason.OFFER),
        (State.ACTIVE, True, Reason.ACTIVE),
        (State.UNKNOWN, True, Reason.UNKNOWN),
        (State.STRESS, False, Reason.WARMING_UP),
    ],
)
def test_active_unknown_and_warm_up(state: State, ready: bool, reason: Reason) -> None:
    assert PromptPolicy().decide(NOON, "e1", state, ready).reason is reason


def test_already_offered_and_timed_out_are_not_sent_again() -> None:
    p = PromptPolicy(PolicyConfig(cooldown_min=0))
    p.offered(NOON, "e1")
    assert ask(p, NOON + timedelta(hours=1), "e1").reason is Reason.ALREADY_OFFERED
    p.timed_out("e2")
    assert ask(p, NOON + timedelta(hours=1), "e2").reason is Reason.ALREADY_OFFERED
    assert ask(p, NOON + timedelta(hours=1), "e3").offer


def test_defer_then_offer_when_unlocked() -> None:
    p = PromptPolicy()
    d = ask(p, NOON, can_show=False)
    assert d == Decision(False, Reason.DEFERRED)
    assert d.defer
    assert ask(p, NOON + timedelta(minutes=20), can_show=False).defer
    d = ask(p, NOON + timedelta(minutes=25))
    assert d.offer
    p.offered(NOON + timedelta(minutes=25), "e1")
    assert not p.deferred_since


@pytest.mark.parametrize(
    ("minutes_later", "open_", "reason"),
    [
        (59, True, Reason.OFFER),
        (60, True, Reason.DEFERRED_TOO_LONG),
        (90, True, Reason.DEFERRED_TOO_LONG),
        (5, False, Reason.DEFERRED_TOO_LONG),
    ],
)
def test_defer_too_long(minutes_later: float, open_: bool, reason: Reason) -> None:
    p = PromptPolicy()
    assert ask(p, NOON, can_show=False).defer
    d = ask(p, NOON + timedelta(minutes=minutes_later), episode_open=open_)
    assert d.reason is reason
    if reason is Reason.DEFERRED_TOO_LONG:
        assert p.passed_quietly()[Reason.DEFERRED_TOO_LONG] == 1


def test_defer_too_long_even_while_still_locked() -> None:
    p = PromptPolicy()
    assert ask(p, NOON, can_show=False).defer
    assert ask(p, NOON + timedelta(minutes=60), can_show=False).reason is (Reason.DEFERRED_TOO_LONG)


def test_an_ended_episode_that_was_never_deferred_is_not_offered() -> None:
    assert ask(PromptPolicy(), NOON, episode_open=False).reason is Reason.ENDED


def test_deferral_never_hides_a_boundary() -> None:
    p = PromptPolicy()
    assert ask(p, at(20, 30), can_show=False).defer
    assert ask(p, at(21, 0), can_show=False).reason is Reason.QUIET_HOURS


def test_counters_count_each_episode_once_per_reason_and_per_day() -> None:
    p = PromptPolicy()
    for minutes in (0, 15, 30):  # the loop asks again while the episode lasts
        ask(p, at(22, minutes), "night1")
    ask(p, at(23), "night2")
    ask(p, at(12), "run", state=State.ACTIVE)
    counts = p.passed_quietly(date(2026, 3, 10))
    assert counts[Reason.QUIET_HOURS] == 2
    assert counts[Reason.ACTIVE] == 1
    assert p.passed_quietly(date(2026, 3, 11)) == {}
    p.forget_before(date(2026, 3, 11))
    assert p.passed_quietly() == {}


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PromptPolicy().decide(datetime(2026, 3, 10, 12), "e", State.STRESS, True)


def test_reasons_are_the_documented_strings() -> None:
    assert {r.value for r in Reason} >= {
        "cooldown",
        "daily_cap",
        "quiet_hours",
        "snoozed",
        "paused",
        "active",
        "unknown",
        "warming_up",
        "already_offered",
        "deferred_too_long",
    }


@pytest.mark.parametrize(
    ("okays", "max_shift", "expected"),
    [
        (0, 1.0, 0.0),
        (1, 1.0, 0.25),
        (3, 1.0, 0.75),
        (4, 1.0, 1.0),
        (10, 1.0, 1.0),
        (3, 0.5, 0.5),
        (5, 0.0, 0.0),
    ],
)
def test_threshold_adapter_bounds(okays: int, max_shift: float, expected: float) -> None:
    a = ThresholdAdapter(max_shift=max_shift)
    for _ in range(okays):
        a.okay()
    assert a.threshold_shift == pytest.approx(expected)


def test_threshold_adapter_accept_keeps_and_reset_clears() -> None:
    a = ThresholdAdapter()
    a.okay()
    a.okay()
    assert a.accepted() == pytest.approx(0.5)
    assert a.threshold_shift == pytest.approx(0.5)
    assert a.reset() == 0.0
    assert a.threshold_shift == 0.0


def test_threshold_adapter_clamps_a_restored_shift_and_refuses_negative_bounds() -> None:
    assert ThresholdAdapter(max_shift=1.0, shift=2.5).threshold_shift == 1.0
    with pytest.raises(ValueError):
        ThresholdAdapter(max_shift=-1.0)


def test_state_round_trips_through_json() -> None:
    import json

    p = PromptPolicy(PolicyConfig(quiet_enabled=False))
    ask(p, NOON, "run", state=State.ACTIVE)
    p.offered(NOON, "e1")
    p.snoozed(NOON, 30)
    p.paused(NOON, until=NOON + timedelta(hours=3))
    q = PromptPolicy.from_dict(json.loads(json.dumps(p.to_dict())), p.config)
    assert q.to_dict() == p.to_dict()
    later = NOON + timedelta(hours=1)
    assert ask(q, later, "e2").reason is Reason.PAUSED
    q.resumed(later)
    assert ask(q, later, "e1").reason is Reason.ALREADY_OFFERED
    assert ask(q, later, "e2").offer
    assert q.passed_quietly()[Reason.ACTIVE] == 1
    assert q.offers_on(date(2026, 3, 10)) == 1


def _offered(*times: datetime) -> object:
    def setup(p: PromptPolicy) -> None:
        for k, t in enumerate(times):
            p.offered(t, f"before{k}")

    return setup


def _snoozed(t: datetime, minutes: float) -> object:
    return lambda p: p.snoozed(t, minutes)


def _paused(t: datetime, until: datetime | None) -> object:
    return lambda p: p.paused(t, until)


def _both(*setups: object) -> object:
    def setup(p: PromptPolicy) -> None:
        for s in setups:
            s(p)  # type: ignore[operator]

    return setup


@pytest.mark.parametrize(
    ("config", "setup", "now", "expected", "held"),
    [
        pytest.param(PolicyConfig(), None, NOON, NOON, None, id="nothing-holds"),
        pytest.param(
            PolicyConfig(), _offered(at(11, 30)), NOON, at(12, 15), Reason.COOLDOWN, id="cooldown"
        ),
        pytest.param(PolicyConfig(), _offered(at(11, 15)), NOON, NOON, None, id="cooldown-over"),
        pytest.param(
            PolicyConfig(),
            _offered(at(20, 30)),
            at(20, 40),
            at(8, day=11),
            Reason.COOLDOWN,
            id="cooldown-runs-into-quiet-hours",
        ),
        pytest.param(
            PolicyConfig(daily_cap=2),
            _offered(at(9), at(10)),
            NOON,
            at(8, day=11),
            Reason.DAILY_CAP,
            id="cap-then-quiet-night",
        ),
        pytest.param(
            PolicyConfig(daily_cap=2, quiet_enabled=False),
            _offered(at(9), at(10)),
            NOON,
            at(0, day=11),
            Reason.DAILY_CAP,
            id="cap-until-local-midnight",
        ),
        pytest.param(
            PolicyConfig(daily_cap=0), None, NOON, None, Reason.DAILY_CAP, id="cap-zero-never"
        ),
        pytest.param(
            PolicyConfig(), None, at(22), at(8, day=11), Reason.QUIET_HOURS, id="quiet-evening"
        ),
        pytest.param(
            PolicyConfig(),
            None,
            at(3, day=11),
            at(8, day=11),
            Reason.QUIET_HOURS,
            id="quiet-small-hours",
        ),
        pytest.param(
            PolicyConfig(quiet_start=time(13), quiet_end=time(14)),
            None,
            at(13, 30),
            at(14),
            Reason.QUIET_HOURS,
            id="quiet-midday-span",
        ),
        pytest.param(PolicyConfig(quiet_enabled=False), None, at(22), at(22), None, id="quiet-off"),
        pytest.param(
            PolicyConfig(), _snoozed(NOON, 30), at(12, 10), at(12, 30), Reason.SNOOZED, id="snooze"
        ),
        pytest.param(
            PolicyConfig(),
            _both(_offered(NOON), _snoozed(NOON, 10)),
            at(12, 5),
            at(12, 45),
            Reason.SNOOZED,
            id="snooze-then-cooldown",
        ),
        pytest.param(
            PolicyConfig(), _paused(NOON, at(14)), NOON, at(14), Reason.PAUSED, id="pause-until"
        ),
        pytest.param(
            PolicyConfig(),
            _paused(NOON, at(22)),
            NOON,
            at(8, day=11),
            Reason.PAUSED,
            id="pause-into-quiet-hours",
        ),
        pytest.param(
            PolicyConfig(),
            _paused(NOON, None),
            at(15),
            None,
            Reason.PAUSED,
            id="paused-until-resumed",
        ),
        pytest.param(PolicyConfig(), _paused(NOON, at(13)), at(14), at(14), None, id="pause-over"),
        # Quiet hours are local to the configured zone: 20:00 UTC is 22:00 at UTC+2, and
        # they end at 08:00 there, 06:00 UTC.
        pytest.param(
            PolicyConfig(tz=TZ),
            None,
            datetime(2026, 3, 10, 20, tzinfo=timezone.utc),
            datetime(2026, 3, 11, 6, tzinfo=timezone.utc),
            Reason.QUIET_HOURS,
            id="configured-zone",
        ),
    ],
)
def test_next_possible(
    config: PolicyConfig,
    setup: object,
    now: datetime,
    expected: datetime | None,
    held: Reason | None,
) -> None:
    p = PromptPolicy(config)
    if setup is not None:
        setup(p)  # type: ignore[operator]
    assert p.next_possible(now) == expected
    assert p.held_by(now) is held
    if expected is not None:
        # The policy itself agrees: a new stretch is offered then, and not a second before.
        assert ask(p, expected, "new").offer
        if expected > now:
            assert not ask(p, expected - timedelta(seconds=1), "new2").offer


def test_holds_lists_every_rule_waited_out_in_order() -> None:
    p = PromptPolicy(PolicyConfig(daily_cap=2))
    p.offered(at(19), "a")
    p.offered(at(20), "b")
    p.snoozed(at(20), 10)
    # Snoozed, then today's cap, then the quiet night: 08:00 tomorrow.
    assert p.next_possible(at(20, 5)) == at(8, day=11)
    assert p.holds(at(20, 5)) == [Reason.SNOOZED, Reason.DAILY_CAP, Reason.QUIET_HOURS]
    q = PromptPolicy()
    q.offered(NOON, "a")
    q.snoozed(NOON, 10)
    assert q.holds(at(12, 5)) == [Reason.SNOOZED, Reason.COOLDOWN]
    assert q.holds(at(12, 20)) == [Reason.COOLDOWN]
    assert q.holds(at(13)) == []
    q.paused(at(13))
    assert q.holds(at(13)) == [Reason.PAUSED] and q.next_possible(at(13)) is None


def test_next_possible_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PromptPolicy().next_possible(datetime(2026, 3, 10, 12))


@given(
    cooldown=st.sampled_from([0.0, 20.0, 45.0, 600.0]),
    cap=st.integers(0, 3),
    quiet=st.tuples(st.integers(0, 23), st.integers(0, 23), st.booleans()),
    offers=st.lists(st.integers(-36 * 60, 0), max_size=4),
    snooze=st.one_of(st.none(), st.integers(0, 600)),
    pause=st.one_of(st.none(), st.integers(-60, 3000), st.just(-1)),
    now_min=st.integers(0, 24 * 60),
    probes=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3),
)
@settings(max_examples=300, deadline=None)
def test_next_possible_agrees_with_decide(
    cooldown: float,
    cap: int,
    quiet: tuple[int, int, bool],
    offers: list[int],
    snooze: int | None,
    pause: int | None,
    now_min: int,
    probes: list[float],
) -> None:
    config = PolicyConfig(
        cooldown_min=cooldown,
        daily_cap=cap,
        quiet_start=time(quiet[0]),
        quiet_end=time(quiet[1]),
        quiet_enabled=quiet[2],
    )
    p = PromptPolicy(config)
    now = at(0) + timedelta(minutes=now_min)
    for k, m in enumerate(sorted(offers)):
        p.offered(now + timedelta(minutes=m), f"old{k}")
    if snooze is not None:
        p.snoozed(now, snooze)
    if pause == -1:
        p.paused(now)
    elif pause is not None:
        p.paused(now, now + timedelta(minutes=pause))
    t = p.next_possible(now)
    if t is None:
        # Never by the time rules: refused now and far ahead.
        assert p.held_by(now) is not None
        assert not ask(p, now + timedelta(days=5), "later").offer
        return
    assert t >= now
    assert ask(p, t, "then").offer
    assert (p.held_by(now) is None) == (t == now) == (p.holds(now) == [])
    assert p.holds(now)[:1] == ([] if t == now else [p.held_by(now)])
    for k, f in enumerate(probes):
        between = now + (t - now) * f
        if between < t:
            assert not ask(p, between, f"probe{k}").offer


def test_an_undelivered_prompt_counts_for_neither_cooldown_nor_cap() -> None:
    p = PromptPolicy(PolicyConfig(daily_cap=1, quiet_enabled=False))
    p.offered(at(9), "earlier")
    p.offered(at(11), "e1")
    p.undelivered(at(11), "e1")  # no notification server: it never reached the screen
    assert p.last_offer == at(9)
    assert p.offers_on(date(2026, 3, 10)) == 1
    assert ask(p, at(11, 1), "e1").reason is Reason.ALREADY_OFFERED  # not tried again
    assert ask(p, at(11, 1), "e2").reason is Reason.DAILY_CAP  # the delivered one counts
    q = PromptPolicy(PolicyConfig(quiet_enabled=False))
    q.offered(at(11), "e1")
    q.undelivered(at(11), "e1")
    assert q.last_offer is None and ask(q, at(11, 1), "e2").offer


def test_remembered_prompts_carry_cooldown_cap_and_episodes_across_a_restart() -> None:
    p = PromptPolicy(PolicyConfig(daily_cap=3, quiet_enabled=False))
    p.remember([(at(8), "a"), (at(11, 30), "b"), (at(13), "future")], now=at(12))
    assert p.last_offer == at(11, 30) and p.offers_on(date(2026, 3, 10)) == 2
    assert ask(p, at(12), "b").reason is Reason.ALREADY_OFFERED
    assert ask(p, at(12), "c").reason is Reason.COOLDOWN
    assert ask(p, at(12, 15), "c").offer
    capped = PromptPolicy(PolicyConfig(daily_cap=2, quiet_enabled=False))
    capped.remember([(at(8), "a"), (at(9), "b")], now=at(12))
    assert ask(capped, at(12), "c").reason is Reason.DAILY_CAP
    assert ask(capped, at(8, day=11), "c").offer
