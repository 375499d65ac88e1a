"""Showing a break prompt: desktop notifications, a terminal fallback, a recording fake.

All three share the :class:`Notifier` protocol: ``await notifier.prompt(prompt)`` shows
the prompt and returns what became of it, an :class:`Outcome`. ``await
notifier.show(title, body)`` shows a plain message (the guided steps of a break).

:class:`DesktopNotifier` sends through desktop-notifier 6.x (``org.freedesktop.Notifications``
over the session D-Bus on Linux): app name "kindpulse", normal urgency, three buttons
("Take a break", "Snooze … min", "I'm okay"), a click on the body taking the break. As in
desktop-notifier itself, notifications are not critical: a failed send is never raised; it
is logged once (not once per prompt; again only after a send has worked in between) and
the prompt's outcome is ``failed``.

``await DesktopNotifier().busy()`` tells whether the desktop cannot take a prompt right now
(:class:`BusyProbe`): the screen is locked, or the notification server is paused or in
do-not-disturb. It reads, over the session bus, whichever of these answer: dunst's
``paused`` property (``org.dunstproject.cmd0``), the ``Inhibited`` property of
``org.freedesktop.Notifications`` (KDE Plasma), and ``GetActive`` of
``org.freedesktop.ScreenSaver`` (at ``/org/freedesktop/ScreenSaver`` and ``/ScreenSaver``)
and ``org.gnome.ScreenSaver``. None when none of them can be read: the caller then prompts
as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from kindpulse.breaks import BUTTON_OKAY, BUTTON_TAKE_BREAK

if TYPE_CHECKING:
    import desktop_notifier

__all__ = [
    "APP_NAME",
    "BusyProbe",
    "DesktopNotifier",
    "Notifier",
    "Outcome",
    "Prompt",
    "RecordingNotifier",
    "TerminalNotifier",
    "default_notifier",
]

log = logging.getLogger(__name__)

APP_NAME = "kindpulse"

#: Seconds to wait past the notification's own timeout for the server to report back.
GRACE_S = 1.0

#: Seconds to wait for one answer of the busy probe (a desktop that does not answer is
#: taken as not telling).
PROBE_TIMEOUT_S = 1.0

#: Where the busy probe looks: (bus name, object path, interface, property or None for a
#: ``GetActive`` call, what it means).
_BUSY_SOURCES: tuple[tuple[str, str, str, str | None, str], ...] = (
    (
        "org.freedesktop.Notifications",
        "/org/freedesktop/Notifications",
        "org.dunstproject.cmd0",
        "paused",
        "notifications paused",
    ),
    (
        "org.freedesktop.Notifications",
        "/org/freedesktop/Notifications",
        "org.freedesktop.Notifications",
        "Inhibited",
        "notifications inhibited",
    ),
    (
        "org.freedesktop.ScreenSaver",
        "/org/freedesktop/ScreenSaver",
        "org.freedesktop.ScreenSaver",
        None,
        "screen locked",
    ),
    (
        "org.freedesktop.ScreenSaver",
        "/ScreenSaver",
        "org.freedesktop.ScreenSaver",
        None,
        "screen locked",
    ),
    (
        "org.gnome.ScreenSaver",
        "/org/gnome/ScreenSaver",
        "org.gnome.ScreenSaver",
        None,
        "screen locked",
    ),
)


class Outcome(str, Enum):
    """What became of a prompt."""

    BREAK = "break"
    SNOOZE = "snooze"
    OKAY = "okay"
    DISMISSED = "dismissed"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Prompt:
    """A break prompt: text from :func:`kindpulse.breaks.prompt_text`, button labels from
    :func:`kindpulse.breaks.button_labels`; ``timeout_s`` in wall-clock seconds."""

    title: str
    body: str
    snooze_label: str = "Snooze 30 min"
    take_break_label: str = BUTTON_TAKE_BREAK
    okay_label: str = BUTTON_OKAY
    timeout_s: float = 120.0


class Notifier(Protocol):
    """Shows prompts and messages; never raises for a failed notification."""

    async def prompt(self, prompt: Prompt) -> Outcome: ...

    async def show(self, title: str, body: str, timeout_s: float = 15.0) -> bool: ...


@runtime_checkable
class BusyProbe(Protocol):
    """A notifier that can tell whether the desktop is busy: True (screen locked,
    notifications paused or do-not-disturb: defer the prompt), False (free), None (cannot
    tell: prompt as usual)."""

    async def busy(self) -> bool | None: ...


class _SwallowFailureLogs(logging.Filter):
    """desktop-notifier warns (with a traceback) on every failed send; the adapter logs
    once instead, so those records are dropped and their error kept for that one line."""

    def __init__(self) -> None:
        super().__init__()
        self.last_error: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == "Notification failed":
            exc = record.exc_info[1] if record.exc_info else None
            self.last_error = f"{type(exc).__name__}: {exc}" if exc is not None else None
            return False
        return True


_FILTER = _SwallowFailureLogs()
_FILTERED_LOGGER = "desktop_notifier.backends.base"


class DesktopNotifier:
    """Desktop notifications through desktop-notifier 6.x (extra ``notify``).

    Needs a running asyncio loop (callbacks arrive on it). Buttons map to outcomes; a click
    on the notification body is "take a break"; a dismissal is ``dismissed``; no answer
    within ``timeout_s`` (plus a short grace) is ``timed_out`` and the notification is
    withdrawn.
    """

    def __init__(self, app_name: str = APP_NAME) -> None:
        # desktop-notifier (and D-Bus with it) is loaded with the first notification, so a
        # daemon that has not prompted yet does not carry it (about 3 MB).
        self._app_name = app_name
        self._backend: Any = None
        self._failing = False
        self._probe_bus: Any = None  # dbus_fast.aio.MessageBus, connected on first use
        self.busy_reason: str | None = None
        base_logger = logging.getLogger(_FILTERED_LOGGER)
        if _FILTER not in base_logger.filters:
            base_logger.addFilter(_FILTER)

    @property
    def _dn(self) -> Any:
        if self._backend is None:
            from desktop_notifier import DesktopNotifier as _Backend

            self._backend = _Backend(app_name=self._app_name, app_icon=None)
        return self._backend

    def _failed(self) -> None:
        if not self._failing:
            self._failing = True
            reason = _FILTER.last_error or "no notification server answered"
            log.warning(
                "desktop notifications are not available (%s); prompts are recorded as "
                "failed until they are",
                reason,
            )
        else:
            log.debug("desktop notification failed again")

    async def _send(
        self,
        title: str,
        body: str,
        timeout_s: float,
        buttons: tuple[desktop_notifier.Button, ...],
        on_clicked: Callable[[], None] | None,
        on_dismissed: Callable[[], None] | None,
    ) -> str | None:
        """Send; the identifier, or None when it failed (already logged)."""
        from desktop_notifier import Urgency

        dispatched = False

        def mark() -> None:
            nonlocal dispatched
            dispatched = True

        _FILTER.last_error = None
        try:
            identifier = await self._dn.send(
                title=title,
                message=body,
                urgency=Urgency.Normal,
                buttons=buttons,
                on_dispatched=mark,
                on_clicked=on_clicked,
                on_dismissed=on_dismissed,
                timeout=max(1, round(timeout_s)),
            )
        except Exception as exc:  # desktop-notifier should not raise; never let it through
            _FILTER.last_error = f"{type(exc).__name__}: {exc}"
            dispatched = False
            identifier = ""
        if not dispatched:
            self._failed()
            return None
        if self._failing:
            log.info("desktop notifications work again")
        self._failing = False
        return str(identifier)

    async def prompt(self, prompt: Prompt) -> Outcome:
        from desktop_notifier import Button

        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Outcome] = loop.create_future()

        def answer_with(outcome: Outcome) -> Callable[[], None]:
            def set_outcome() -> None:
                if not answer.done():
                    answer.set_result(outcome)

            return set_outcome

        buttons = (
            Button(prompt.take_break_label, answer_with(Outcome.BREAK), "take-break"),
            Button(prompt.snooze_label, answer_with(Outcome.SNOOZE), "snooze"),
            Button(prompt.okay_label, answer_with(Outcome.OKAY), "okay"),
        )
        identifier = await self._send(
            prompt.title,
            prompt.body,
            prompt.timeout_s,
            buttons,
            on_clicked=answer_with(Outcome.BREAK),
            on_dismissed=answer_with(Outcome.DISMISSED),
        )
        if identifier is None:
            return Outcome.FAILED
        try:
            return await asyncio.wait_for(answer, prompt.timeout_s + GRACE_S)
        except asyncio.TimeoutError:
            with contextlib.suppress(Exception):
                await self._dn.clear(identifier)
            return Outcome.TIMED_OUT

    async def show(self, title: str, body: str, timeout_s: float = 15.0) -> bool:
        return await self._send(title, body, timeout_s, (), None, None) is not None

    async def _bus(self) -> Any:
        """The probe's own session-bus connection (reconnected when it was lost)."""
        from dbus_fast.aio import MessageBus

        bus = self._probe_bus
        if bus is None or not bus.connected:
            bus = await asyncio.wait_for(MessageBus().connect(), PROBE_TIMEOUT_S)
            self._probe_bus = bus
        return bus

    async def _read(self, bus: Any, name: str, path: str, iface: str, prop: str | None) -> Any:
        """One value, or None when it cannot be read (no such service, method or property,
        no answer). Services are never started for it (``NO_AUTOSTART``)."""
        from dbus_fast import Message, MessageFlag, MessageType

        if prop is None:
            msg = Message(
                destination=name,
                path=path,
                interface=iface,
                member="GetActive",
                flags=MessageFlag.NO_AUTOSTART,
            )
        else:
            msg = Message(
                destination=name,
                path=path,
                interface="org.freedesktop.DBus.Properties",
                member="Get",
                signature="ss",
                body=[iface, prop],
                flags=MessageFlag.NO_AUTOSTART,
            )
        try:
            reply = await asyncio.wait_for(bus.call(msg), PROBE_TIMEOUT_S)
        except (asyncio.TimeoutError, OSError, EOFError) as e:
            log.debug("busy probe %s %s: no answer (%s)", name, prop or "GetActive", e)
            return None
        if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
            return None
        value = reply.body[0] if reply.body else None
        return getattr(value, "value", value)  # a property comes as a Variant

    async def busy(self) -> bool | None:
        """Whether the desktop cannot take a prompt now: True when the screen is locked or
        the notification server is paused / in do-not-disturb, False when at least one of
        those could be read and none says so, None when nothing could be read. The reason
        of a True is kept in :attr:`busy_reason`. Never raises."""
        try:
            bus = await self._bus()
        except Exception as e:  # no session bus: nothing to read
            log.debug("busy probe: no session bus (%s)", e)
            self._probe_bus = None
            return None
        readable = False
        for name, path, iface, prop, meaning in _BUSY_SOURCES:
            try:
                value = await self._read(bus, name, path, iface, prop)
            except Exception as e:  # a strange answer is "cannot tell", never a crash
                log.debug("busy probe %s: %s", name, e)
                value = None
            if isinstance(value, bool):
                readable = True
                if value:
                    self.busy_reason = meaning
                    return True
        self.busy_reason = None
        return False if readable else None

    async def aclose(self) -> None:
        """Close the probe's bus connection."""
        bus, self._probe_bus = self._probe_bus, None
        if bus is not None:
            with contextlib.suppress(Exception):
                bus.disconnect()


@dataclass
class TerminalNotifier:
    """Fallback without a desktop: writes the prompt to ``stream`` (stdout) and answers
    at once with ``answer`` (nobody can click a terminal line; by default the prompt
    counts as unanswered)."""

    stream: TextIO | None = None
    answer: Outcome = Outcome.TIMED_OUT

    def _write(self, text: str) -> None:
        out = self.stream if self.stream is not None else sys.stdout
        out.write(text)
        out.flush()

    async def prompt(self, prompt: Prompt) -> Outcome:
        self._write(
            f"{prompt.title}\n{prompt.body}\n"
            f"[{prompt.take_break_label}] [{prompt.snooze_label}] [{prompt.okay_label}]\n"
        )
        return self.answer

    async def show(self, title: str, body: str, timeout_s: float = 15.0) -> bool:
        self._write(f"{title}\n{body}\n")
        return True


@dataclass
class RecordingNotifier:
    """A fake for tests of the run loop: records prompts and messages, answers from a
    script (then ``default``)."""

    answers: list[Outcome] = field(default_factory=list)
    default: Outcome = Outcome.TIMED_OUT
    prompts: list[Prompt] = field(default_factory=list)
    shown: list[tuple[str, str]] = field(default_factory=list)
    #: What :meth:`busy` answers (the desktop's state, set by the test); None: cannot tell.
    busy_state: bool | None = None
    busy_checks: int = 0

    async def prompt(self, prompt: Prompt) -> Outcome:
        self.prompts.append(prompt)
        return self.answers.pop(0) if self.answers else self.default

    async def show(self, title: str, body: str, timeout_s: float = 15.0) -> bool:
        self.shown.append((title, body))
        return True

    async def busy(self) -> bool | None:
        self.busy_checks += 1
        return self.busy_state


def default_notifier(stream: TextIO | None = None) -> Notifier:
    """Desktop notifications when desktop-notifier is installed (extra ``notify``), else
    the terminal fallback writing to ``stream`` (stdout)."""
    found = (
        sys.modules["desktop_notifier"] is not None
        if "desktop_notifier" in sys.modules
        else importlib.util.find_spec("desktop_notifier") is not None
    )
    if found:
        return DesktopNotifier()  # loads desktop-notifier when it first notifies
    log.info("desktop-notifier is not installed; prompts are written to the terminal")
    return TerminalNotifier(stream=stream)
