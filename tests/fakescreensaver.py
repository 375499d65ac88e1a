"""A fake screen locker on a private session bus: ``org.freedesktop.ScreenSaver`` (or
``org.gnome.ScreenSaver``) answering ``GetActive``, as a desktop's locker does.

The other side of the boundary for the busy probe of the notifier (there is no screen
locker on a test machine). :class:`ThreadedScreenSaver` serves it from a thread with its
own event loop, so that a daemon in another process can ask it while the test locks and
unlocks the "screen".
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Annotated

from dbus_fast import RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusSignature
from dbus_fast.service import ServiceInterface, dbus_method, dbus_signal

Bool = Annotated[bool, DBusSignature("b")]

#: (bus name, object path, interface) of the lockers the probe knows.
FREEDESKTOP = ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver")
FREEDESKTOP_SHORT = ("org.freedesktop.ScreenSaver", "/ScreenSaver")
GNOME = ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver")


class FakeScreenSaver(ServiceInterface):
    """``GetActive`` returns whether the screen is locked; ``ActiveChanged`` is declared as
    real lockers do."""

    def __init__(self, interface: str, active: bool = False) -> None:
        super().__init__(interface)
        self.active = active
        self.asked = 0

    @dbus_method()
    def GetActive(self) -> Bool:
        self.asked += 1
        return self.active

    @dbus_signal()
    def ActiveChanged(self, active: Bool) -> Bool:
        return active


async def serve(
    bus_address: str, name: str, path: str, active: bool = False
) -> tuple[MessageBus, FakeScreenSaver]:
    """Export a fake locker as ``name`` at ``path`` on the bus at ``bus_address``."""
    bus = await MessageBus(bus_address).connect()
    iface = FakeScreenSaver(name, active)
    bus.export(path, iface)
    reply = await bus.request_name(name)
    if reply is not RequestNameReply.PRIMARY_OWNER:
        bus.disconnect()
        raise RuntimeError(f"could not own {name}: {reply}")
    return bus, iface


class ThreadedScreenSaver:
    """A fake locker served from a thread of its own; :meth:`lock` / :meth:`unlock` from
    the test's thread."""

    def __init__(self, bus_address: str, where: tuple[str, str] = FREEDESKTOP) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        fut: Future[tuple[MessageBus, FakeScreenSaver]] = asyncio.run_coroutine_threadsafe(
            serve(bus_address, *where), self._loop
        )
        self.bus, self.iface = fut.result(10)

    def _set(self, active: bool) -> None:
        def change() -> None:
            self.iface.active = active
            self.iface.ActiveChanged(active)

        self._loop.call_soon_threadsafe(change)

    def lock(self) -> None:
        self._set(True)

    def unlock(self) -> None:
        self._set(False)

    @property
    def asked(self) -> int:
        return self.iface.asked

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self.bus.disconnect)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
