"""A fake ``org.freedesktop.Notifications`` server on a private session bus.

The notification server is served by a dbus-fast ``ServiceInterface`` in the test's own
event loop (TESTING.md, "Notifications"): ``Notify``, ``GetCapabilities`` (``body``,
``actions``), ``GetServerInformation``, ``CloseNotification``, and the signals
``ActionInvoked`` and ``NotificationClosed`` *declared*, so that introspection shows them
and desktop-notifier subscribes to them. The test drives it as a user would: invoke an
action, dismiss a notification, or let one expire.

:class:`SessionBus` starts a private ``dbus-daemon`` (Debian package ``dbus-daemon``) as a
session bus whose configuration names no service directories, so nothing is auto-started.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from dbus_fast import RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusSignature, DBusStr
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"

#: NotificationClosed reasons (Desktop Notifications Specification 1.2).
EXPIRED = 1
DISMISSED = 2
CLOSED_BY_CALL = 3

StrList = Annotated[list[str], DBusSignature("as")]
Hints = Annotated[dict[str, Variant], DBusSignature("a{sv}")]
ServerInfo = Annotated[list[str], DBusSignature("ssss")]
ActionBody = Annotated[list[Any], DBusSignature("us")]
ClosedBody = Annotated[list[int], DBusSignature("uu")]
UInt32 = Annotated[int, DBusSignature("u")]
Bool = Annotated[bool, DBusSignature("b")]
Int32 = Annotated[int, DBusSignature("i")]

# The socket goes in /tmp: a pytest tmp_path can exceed the 108-byte socket path limit.
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass
class Received:
    """One ``Notify`` call as the server saw it."""

    id: int
    app_name: str
    summary: str
    body: str
    actions: list[tuple[str, str]]  # (key, label)
    hints: dict[str, Any]
    expire_timeout_ms: int

    def label_of(self, key: str) -> str:
        return dict(self.actions)[key]

    def key_of(self, label: str) -> str:
        return {lab: key for key, lab in self.actions}[label]


class FakeNotifications(ServiceInterface):
    """The server side of the Desktop Notifications Specification, recording what it got."""

    def __init__(self) -> None:
        super().__init__(NAME)
        self.received: list[Received] = []
        self.closed_by_call: list[int] = []
        self._next_id = 1
        self._arrived = asyncio.Event()

    @dbus_method()
    def Notify(
        self,
        app_name: DBusStr,
        replaces_id: UInt32,
        app_icon: DBusStr,
        summary: DBusStr,
        body: DBusStr,
        actions: StrList,
        hints: Hints,
        expire_timeout: Int32,
    ) -> UInt32:
        nid = replaces_id or self._next_id
        self._next_id = max(self._next_id, nid) + 1
        pairs = list(zip(actions[0::2], actions[1::2], strict=False))
        plain = {k: v.value for k, v in hints.items()}
        self.received.append(Received(nid, app_name, summary, body, pairs, plain, expire_timeout))
        self._arrived.set()
        return nid

    @dbus_method()
    def GetCapabilities(self) -> StrList:
        return ["body", "actions"]

    @dbus_method()
    def GetServerInformation(self) -> ServerInfo:
        return ["fakenotify", "kindpulse tests", "1.0", "1.2"]

    @dbus_method()
    def CloseNotification(self, id: UInt32) -> None:
        self.closed_by_call.append(id)
        self.NotificationClosed(id, CLOSED_BY_CALL)

    @dbus_signal()
    def ActionInvoked(self, id: UInt32, action_key: DBusStr) -> ActionBody:
        return [id, action_key]

    @dbus_signal()
    def NotificationClosed(self, id: UInt32, reason: UInt32) -> ClosedBody:
        return [id, reason]

    # ---------------------------------------------------------------- the "user"

    async def wait_for(self, count: int = 1, timeout: float = 10.0) -> Received:
        """Wait until ``count`` notifications have arrived; return the last one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.received) < count:
            self._arrived.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{count} notification(s) did not arrive in {timeout} s")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                continue
        return self.received[count - 1]

    def invoke(self, nid: int, key: str) -> None:
        """The user picks an action: ``ActionInvoked`` then ``NotificationClosed``
        (dismissed), as real servers do."""
        self.ActionInvoked(nid, key)
        self.NotificationClosed(nid, DISMISSED)

    def dismiss(self, nid: int) -> None:
        self.NotificationClosed(nid, DISMISSED)

    def expire(self, nid: int) -> None:
        self.NotificationClosed(nid, EXPIRED)


class FakeInhibitingNotifications(FakeNotifications):
    """A server like KDE Plasma's, whose do-not-disturb shows as the read-only property
    ``Inhibited``."""

    def __init__(self, inhibited: bool = False) -> None:
        super().__init__()
        self.inhibited = inhibited

    @dbus_property(access=PropertyAccess.READ)
    def Inhibited(self) -> Bool:
        return self.inhibited


@dataclass
class FakeServer:
    """The fake served on its own connection in the running event loop."""

    bus: MessageBus
    iface: FakeNotifications = field(default_factory=FakeNotifications)

    @classmethod
    async def start(cls, iface: FakeNotifications | None = None) -> "FakeServer":
        bus = await MessageBus().connect()
        server = cls(bus) if iface is None else cls(bus, iface)
        bus.export(PATH, server.iface)
        reply = await bus.request_name(NAME)
        if reply is not RequestNameReply.PRIMARY_OWNER:
            bus.disconnect()
            raise RuntimeError(f"could not own {NAME}: {reply}")
        return server

    def stop(self) -> None:
        self.bus.disconnect()


def dbus_daemon() -> str | None:
    """Path of dbus-daemon (Debian package ``dbus-daemon``), or None."""
    return shutil.which("dbus-daemon")


@dataclass
class SessionBus:
    """A private session bus: ``dbus-daemon --fork --print-address=1 --print-pid=1`` with a
    ``<type>session</type>`` configuration that names no service directories (dbus-daemon
    refuses ``--session`` together with ``--config-file``)."""

    address: str
    pid: int

    @classmethod
    def start(cls, directory: Path) -> "SessionBus":
        exe = dbus_daemon()
        if exe is None:
            raise FileNotFoundError("dbus-daemon")
        config = directory / "session.conf"
        config.write_text(_BUS_CONFIG)
        out = subprocess.run(
            [exe, f"--config-file={config}", "--fork", "--print-address=1", "--print-pid=1"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        address, pid = out.stdout.split()[:2]
        return cls(address, int(pid))

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
