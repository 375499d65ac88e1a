"""The real desktop-notifier against a fake notification server on a private session bus,
and the terminal and recording notifiers."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from kindpulse.breaks import button_labels, prompt_text
from kindpulse.daemon.notifier import (
    BusyProbe,
    DesktopNotifier,
    Outcome,
    Prompt,
    RecordingNotifier,
    TerminalNotifier,
    default_notifier,
)

from .conftest import need_program
from .fakenotify import FakeInhibitingNotifications, FakeServer, SessionBus
from .fakescreensaver import FREEDESKTOP, FREEDESKTOP_SHORT, GNOME, serve

T = TypeVar("T")
DIGIT = re.compile(r"\d")


def make_prompt(timeout_s: float = 30.0) -> Prompt:
    title, body = prompt_text(3)
    labels = button_labels(30)
    return Prompt(
        title,
        body,
        snooze_label=labels.snooze,
        take_break_label=labels.take_break,
        okay_label=labels.okay,
        timeout_s=timeout_s,
    )


@pytest.fixture
def session_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SessionBus]:
    need_program("dbus-daemon", "dbus-daemon")
    bus = SessionBus.start(tmp_path)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
    try:
        yield bus
    finally:
        bus.stop()


def run_with_server(scenario: Callable[[FakeServer], Awaitable[T]]) -> T:
    async def main() -> T:
        server = await FakeServer.start()
        try:
            return await asyncio.wait_for(scenario(server), 15)
        finally:
            server.stop()

    return asyncio.run(main())


async def settle() -> None:
    """Give desktop-notifier time to register the notification: it does so only once the
    ``Notify`` reply is back, and an answer arriving before that is ignored (no person
    answers within the same millisecond)."""
    await asyncio.sleep(0.3)


async def prompt_and(
    server: FakeServer, act: Callable[[int, dict[str, str]], None], timeout_s: float = 30.0
) -> tuple[Outcome, dict[str, str]]:
    """Send a prompt with the real notifier; once it arrives, ``act(id, label->key)``."""
    notifier = DesktopNotifier()
    task = asyncio.create_task(notifier.prompt(make_prompt(timeout_s)))
    got = await server.iface.wait_for(1)
    await settle()
    keys = {label: key for key, label in got.actions}
    act(got.id, keys)
    return await task, keys


@pytest.mark.integration
def test_prompt_arrives_with_three_actions_and_no_digits(session_bus: SessionBus) -> None:
    async def scenario(server: FakeServer) -> None:
        notifier = DesktopNotifier()
        task = asyncio.create_task(notifier.prompt(make_prompt()))
        got = await server.iface.wait_for(1)
        assert got.app_name == "kindpulse"
        assert not DIGIT.search(got.summary + got.body)
        labels = [label for key, label in got.actions if key != "default"]
        assert labels == ["Take a break", "Snooze 30 min", "I'm okay"]
        assert "default" in dict(got.actions)  # a click on the body takes the break
        assert got.hints.get("urgency") == 1  # normal
        assert got.expire_timeout_ms == 30_000
        await settle()
        server.iface.invoke(got.id, "default")
        assert await task is Outcome.BREAK

    run_with_server(scenario)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("label", "outcome"),
    [
        ("Take a break", Outcome.BREAK),
        ("Snooze 30 min", Outcome.SNOOZE),
        ("I'm okay", Outcome.OKAY),
    ],
)
def test_each_action_yields_its_outcome(
    session_bus: SessionBus, label: str, outcome: Outcome
) -> None:
    async def scenario(server: FakeServer) -> Outcome:
        result, _ = await prompt_and(
            server, lambda nid, keys: server.iface.invoke(nid, keys[label])
        )
        return result

    assert run_with_server(scenario) is outcome


@pytest.mark.integration
def test_closing_yields_dismissed(session_bus: SessionBus) -> None:
    async def scenario(server: FakeServer) -> Outcome:
        result, _ = await prompt_and(server, lambda nid, keys: server.iface.dismiss(nid))
        return result

    assert run_with_server(scenario) is Outcome.DISMISSED


@pytest.mark.integration
def test_no_answer_times_out_and_withdraws_the_notification(session_bus: SessionBus) -> None:
    async def scenario(server: FakeServer) -> tuple[Outcome, list[int]]:
        result, _ = await prompt_and(server, lambda nid, keys: None, timeout_s=0.5)
        await asyncio.sleep(0.2)  # let CloseNotification reach the server
        return result, server.iface.closed_by_call

    result, closed = run_with_server(scenario)
    assert result is Outcome.TIMED_OUT
    assert closed == [1]


@pytest.mark.integration
def test_show_sends_a_plain_message(session_bus: SessionBus) -> None:
    async def scenario(server: FakeServer) -> bool:
        ok = await DesktopNotifier().show("Thank you", "Thank you for taking this moment.")
        got = await server.iface.wait_for(1)
        assert got.summary == "Thank you"
        assert [label for _, label in got.actions if label] == []
        return ok

    assert run_with_server(scenario) is True


@pytest.mark.integration
def test_no_server_fails_quietly_and_logs_once(
    session_bus: SessionBus, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> list[Outcome]:
        notifier = DesktopNotifier()
        return [await notifier.prompt(make_prompt()) for _ in range(3)]

    with caplog.at_level(logging.DEBUG):
        outcomes = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert outcomes == [Outcome.FAILED] * 3
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].name == "kindpulse.daemon.notifier"


def test_no_bus_at_all_fails_quietly_and_logs_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-bus")

    async def scenario() -> list[Outcome]:
        notifier = DesktopNotifier()
        return [await notifier.prompt(make_prompt()) for _ in range(2)]

    with caplog.at_level(logging.DEBUG):
        outcomes = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert outcomes == [Outcome.FAILED] * 2
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


def test_terminal_notifier_prints_the_prompt() -> None:
    out = io.StringIO()
    notifier = TerminalNotifier(stream=out)
    assert asyncio.run(notifier.prompt(make_prompt())) is Outcome.TIMED_OUT
    assert asyncio.run(notifier.show("Thank you", "Kindly done."))
    text = out.getvalue()
    for part in ("Take a break", "Snooze 30 min", "I'm okay", "Thank you"):
        assert part in text


def test_recording_notifier_answers_from_its_script() -> None:
    notifier = RecordingNotifier(answers=[Outcome.OKAY])
    assert asyncio.run(notifier.prompt(make_prompt())) is Outcome.OKAY
    assert asyncio.run(notifier.prompt(make_prompt())) is Outcome.TIMED_OUT
    assert len(notifier.prompts) == 2


def test_default_notifier_falls_back_to_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(default_notifier(), DesktopNotifier)
    monkeypatch.setitem(sys.modules, "desktop_notifier", None)  # as if not installed
    out = io.StringIO()
    notifier = default_notifier(out)
    assert isinstance(notifier, TerminalNotifier)
    asyncio.run(notifier.prompt(make_prompt()))
    assert "Take a break" in out.getvalue()


# ------------------------------------------------------------------ the busy probe


async def probe_once() -> tuple[bool | None, str | None]:
    notifier = DesktopNotifier()
    try:
        return await notifier.busy(), notifier.busy_reason
    finally:
        await notifier.aclose()


@pytest.mark.integration
def test_busy_cannot_tell_when_nothing_answers(session_bus: SessionBus) -> None:
    # A notification server without a pause or do-not-disturb property, no screen locker:
    # nothing says, so the caller prompts as usual.
    assert run_with_server(lambda server: probe_once()) == (None, None)


@pytest.mark.integration
@pytest.mark.parametrize("where", [FREEDESKTOP, FREEDESKTOP_SHORT, GNOME])
def test_busy_while_the_screen_is_locked(session_bus: SessionBus, where: tuple[str, str]) -> None:
    async def scenario() -> list[tuple[bool | None, str | None]]:
        bus, locker = await serve(session_bus.address, *where, active=True)
        try:
            locked = await probe_once()
            locker.active = False
            unlocked = await probe_once()
            return [locked, unlocked]
        finally:
            bus.disconnect()

    locked, unlocked = asyncio.run(asyncio.wait_for(scenario(), 15))
    assert locked == (True, "screen locked")
    assert unlocked == (False, None)


@pytest.mark.integration
@pytest.mark.parametrize("inhibited", [True, False])
def test_busy_while_notifications_are_inhibited(session_bus: SessionBus, inhibited: bool) -> None:
    async def scenario() -> tuple[bool | None, str | None]:
        server = await FakeServer.start(FakeInhibitingNotifications(inhibited))
        try:
            return await probe_once()
        finally:
            server.stop()

    got = asyncio.run(asyncio.wait_for(scenario(), 15))
    assert got == ((True, "notifications inhibited") if inhibited else (False, None))


def test_busy_without_a_session_bus_cannot_tell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-bus")
    assert asyncio.run(asyncio.wait_for(probe_once(), 10)) == (None, None)


def test_which_notifiers_can_tell_busy() -> None:
    assert isinstance(DesktopNotifier(), BusyProbe)
    assert isinstance(RecordingNotifier(), BusyProbe)
    assert not isinstance(TerminalNotifier(), BusyProbe)  # a terminal cannot tell
    recording = RecordingNotifier(busy_state=True)
    assert asyncio.run(recording.busy()) is True and recording.busy_checks == 1
