"""A real, private desktop for integration tests: a session bus, Xvfb and dunst.

TESTING.md, "Notifications": a private ``dbus-daemon`` whose configuration names no
service directories (so nothing is auto-started before the X server is up), ``Xvfb`` on a
display of its own choosing (``-displayfd``), and ``dunst`` started with
``tests/data/dunstrc``. The test then acts as the person at the screen, through
``dunstctl``: ``action 0`` is a click on the notification (its default action), ``close``
dismisses it, ``context`` opens the actions menu, which dunst pipes to ``tests/picker``
(the "dmenu" of the dunstrc), and the picker chooses the line the test asked for.

Everything is started with its own environment (``DBUS_SESSION_BUS_ADDRESS``,
``DISPLAY``), never the test process's, and stopped (by process id) on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .conftest import DATA, need_program
from .fakenotify import SessionBus

T = TypeVar("T")

HERE = Path(__file__).parent
PICKER = HERE / "picker"
DUNSTRC = DATA / "dunstrc"

#: Generous deadlines for starting things on a busy two-core machine (seconds).
START_TIMEOUT_S = 20.0


def need_desktop() -> None:
    """Skip (or fail, when integration is required) unless every part is installed."""
    need_program("dbus-daemon", "dbus-daemon")
    need_program("Xvfb", "xvfb")
    need_program("xdpyinfo", "x11-utils")
    need_program("dunst", "dunst")
    need_program("dunstctl", "dunst")


def wait_until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``check`` until it returns something other than None/False; fail after
    ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got is not None and got is not False:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class Desktop:
    """The running parts and the person at the screen."""

    directory: Path
    bus: SessionBus
    display: str
    xvfb: subprocess.Popen[bytes]
    dunst: subprocess.Popen[bytes] | None = None
    dunst_log: Path | None = None
    pick_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.pick_file = self.directory / "pick"

    @property
    def env(self) -> dict[str, str]:
        """An environment for a child process that belongs to this desktop."""
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.bus.address
        env["DISPLAY"] = self.display
        return env

    # ----------------------------------------------------------------- dunst

    def start_dunst(self) -> None:
        """dunst with the test dunstrc (picker path filled in); returns once it owns
        ``org.freedesktop.Notifications``."""
        rc = self.directory / "dunstrc"
        rc.write_text(DUNSTRC.read_text().replace("@PICKER@", str(PICKER)))
        self.dunst_log = self.directory / "dunst.log"
        env = self.env
        env["KINDPULSE_PICK"] = str(self.pick_file)
        with self.dunst_log.open("wb") as out:
            self.dunst = subprocess.Popen(
                ["dunst", "-config", str(rc)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

        def owned() -> bool:
            if self.dunst is not None and self.dunst.poll() is not None:
                raise RuntimeError(f"dunst exited early: {self.dunst_output()}")
            return self.ctl_run("is-paused").returncode == 0

        wait_until(owned, START_TIMEOUT_S, "dunst owning org.freedesktop.Notifications")

    def dunst_output(self) -> str:
        if self.dunst_log is None or not self.dunst_log.exists():
            return ""
        return self.dunst_log.read_text(errors="replace")

    def ctl_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["dunstctl", *args], env=self.env, capture_output=True, text=True, timeout=10
        )

    def ctl(self, *args: str) -> str:
        p = self.ctl_run(*args)
        if p.returncode != 0:
            raise RuntimeError(f"dunstctl {' '.join(args)}: {p.stderr.strip()}")
        return p.stdout

    def count(self, which: str = "displayed") -> int:
        return int(self.ctl("count", which).strip())

    def history(self) -> list[dict[str, Any]]:
        """Closed notifications, newest first, as plain values (dunstctl history wraps each
        field in ``{"type": ..., "data": ...}``)."""
        doc = json.loads(self.ctl("history"))
        entries = doc["data"][0] if doc.get("data") else []
        return [{k: v["data"] for k, v in e.items()} for e in entries]

    def wait_displayed(self, n: int = 1, timeout: float = 60.0) -> None:
        wait_until(lambda: self.count("displayed") >= n, timeout, f"{n} notification(s) shown")

    def set_paused(self, paused: bool) -> None:
        self.ctl("set-paused", "true" if paused else "false")

    def click(self) -> None:
        """A click on the newest notification: its default action."""
        self.ctl("action", "0")

    def close(self) -> None:
        """The person closes the newest notification."""
        self.ctl("close")

    def choose(self, text: str) -> list[str]:
        """Open the actions menu and choose the line containing ``text``; the lines the
        menu offered."""
        self.pick_file.write_text(text)
        offered = self.pick_file.with_name(self.pick_file.name + ".offered")
        offered.unlink(missing_ok=True)
        self.ctl("context")
        lines: list[str] = wait_until(
            lambda: offered.exists() and offered.read_text().splitlines(),
            10.0,
            "the actions menu",
        )
        return lines

    # ------------------------------------------------------------ screenshot

    def screenshot(self) -> Any:
        """The whole screen as a Pillow image."""
        from PIL import ImageGrab

        return ImageGrab.grab(xdisplay=self.display)

    def stop(self) -> None:
        _stop(self.dunst)
        _stop(self.xvfb)
        self.bus.stop()


def _start_xvfb(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Xvfb on a free display: it picks the number and writes it to ``-displayfd`` once it
    accepts connections."""
    read_fd, write_fd = os.pipe()
    log = (directory / "xvfb.log").open("wb")
    try:
        proc = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ],
            pass_fds=(write_fd,),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(write_fd)
        log.close()
    # Xvfb writes the number, then a newline, in two writes: read up to the newline (or
    # its exit), or a closed pipe makes the second write fail and Xvfb with it.
    got = b""
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not got.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 0.2)
            if ready:
                chunk = os.read(read_fd, 64)
                if not chunk:
                    break
                got += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(read_fd)
    number = got.decode().strip()
    if not number.isdigit():
        _stop(proc)
        raise RuntimeError(
            f"Xvfb did not report a display: {(directory / 'xvfb.log').read_text()[-500:]}"
        )
    display = f":{number}"
    env = {**os.environ, "DISPLAY": display}
    wait_until(
        lambda: subprocess.run(["xdpyinfo"], env=env, capture_output=True).returncode == 0,
        START_TIMEOUT_S,
        f"X display {display}",
    )
    return proc, display


@contextlib.contextmanager
def running_desktop(directory: Path, *, dunst: bool = True) -> Iterator[Desktop]:
    """A session bus, Xvfb and (unless ``dunst`` is False) dunst; all stopped on exit."""
    need_desktop()
    directory.mkdir(parents=True, exist_ok=True)
    bus = SessionBus.start(directory)
    xvfb: subprocess.Popen[bytes] | None = None
    desk: Desktop | None = None
    try:
        xvfb, display = _start_xvfb(directory)
        desk = Desktop(directory, bus, display, xvfb)
        if dunst:
            desk.start_dunst()
        yield desk
    finally:
        if desk is not None:
            desk.stop()
        else:
            _stop(xvfb)
            bus.stop()
