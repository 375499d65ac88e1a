"""A small, dependency-free link to the service manager: the sd_notify(3) protocol.

systemd starts a ``Type=notify`` service with ``NOTIFY_SOCKET`` set to an ``AF_UNIX``
datagram socket; the service sends newline-separated ``KEY=VALUE`` assignments to it
(sd_notify(3)): ``READY=1`` once it is up, ``STATUS=…`` for ``systemctl status``,
``WATCHDOG=1`` at least every half ``WATCHDOG_USEC`` (sd_watchdog_enabled(3)),
``RELOADING=1`` and ``STOPPING=1``. A path starting with ``@`` is in the abstract namespace.

Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing. Telling the manager is
never critical to the daemon: a failed send is logged once and never raised.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import MutableMapping

logger = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify(3) messages to the socket systemd named in ``NOTIFY_SOCKET``.

    Create it with :meth:`from_env`; ``Notifier(None)`` is a notifier that does nothing.
    ``watchdog_interval_s`` is how often to call :meth:`watchdog`: half the manager's
    ``WATCHDOG_USEC`` timeout, as sd_watchdog_enabled(3) advises, or ``None`` when the
    watchdog is off (or meant for another process, per ``WATCHDOG_PID``).
    """

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self._address = _socket_address(address) if address else None
        self.socket_path = address or None
        self.watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self._sock: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_env(
        cls, environ: MutableMapping[str, str] | None = None, pop: bool = True
    ) -> Notifier:
        """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` (sd_notify(3)).

        With ``pop`` (the default) the three variables are removed from ``environ`` so child
        processes do not inherit them and notify systemd in the daemon's name, as
        sd_notify(3)'s ``unset_environment`` does.
        """
        env = os.environ if environ is None else environ
        names = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
        values = [env.pop(n, None) if pop else env.get(n) for n in names]
        address, usec_text, pid_text = values
        return cls(address or None, _watchdog_usec(usec_text, pid_text))

    @property
    def enabled(self) -> bool:
        """True when there is a manager to tell."""
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """Seconds between :meth:`watchdog` calls: half the timeout, or None when off."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2e6

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: start-up is finished (sd_notify(3)); optionally with a status line."""
        return self.notify(READY=1, STATUS=status)

    def status(self, text: str) -> bool:
        """``STATUS=text``: one line shown by ``systemctl status`` (sd_notify(3))."""
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: keep-alive ping for ``WatchdogSec=`` (sd_notify(3))."""
        return self.notify(WATCHDOG=1)

    def reloading(self) -> bool:
        """``RELOADING=1`` with ``MONOTONIC_USEC=`` (CLOCK_MONOTONIC, µs).

        systemd 253+ requires the timestamp for ``Type=notify-reload`` (sd_notify(3));
        older managers ignore the unknown field. Send :meth:`ready` when the reload is done.
        """
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(RELOADING=1, MONOTONIC_USEC=usec)

    def stopping(self) -> bool:
        """``STOPPING=1``: the service is shutting down (sd_notify(3))."""
        return self.notify(STOPPING=1)

    def notify(self, **fields: object) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; fields whose value is None are left out.

        Returns True when the datagram was sent; False when there is no manager or the send
        failed (logged once, never raised).
        """
        if self._address is None:
            return False
        lines = [f"{key}={_one_line(value)}" for key, value in fields.items() if value is not None]
        if not lines:
            return False
        data = ("\n".join(lines) + "\n").encode("utf-8", "replace")
        try:
            if self._sock is None:
                # Non-blocking: a manager that stops reading must never stall the loop.
                self._sock = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
                )
            self._sock.sendto(data, self._address)
        except OSError as e:
            if not self._warned:
                self._warned = True
                logger.warning("cannot notify the service manager at %s: %s", self.socket_path, e)
            return False
        return True

    def close(self) -> None:
        """Close the socket (a later call opens it again)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _socket_address(path: str) -> str:
    """``@name`` is the abstract namespace: a leading NUL byte (unix(7))."""
    return "\0" + path[1:] if path.startswith("@") else path


def _watchdog_usec(usec_text: str | None, pid_text: str | None) -> int | None:
    """The watchdog timeout in µs, or None when off or meant for another PID."""
    if not usec_text:
        return None
    try:
        usec = int(usec_text)
        if pid_text and int(pid_text) != os.getpid():
            return None
    except ValueError:
        logger.warning("ignoring a malformed WATCHDOG_USEC/WATCHDOG_PID")
        return None
    return usec if usec > 0 else None


def _one_line(value: object) -> str:
    """A value on one line: newlines would start a new assignment."""
    return str(value).replace("\n", " ")
