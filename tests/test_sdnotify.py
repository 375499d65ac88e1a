"""sd_notify over a real AF_UNIX datagram socket, as systemd's manager would receive it."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kindpulse.daemon.sdnotify import Notifier


@pytest.fixture
def fs_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2.0)
    yield path, sock
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    name = f"kindpulse-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2.0)
    yield "@" + name, sock
    sock.close()


def _receive(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().splitlines()


@pytest.mark.parametrize("which", ["fs_socket", "abstract_socket"])
def test_messages_arrive(which: str, request: pytest.FixtureRequest) -> None:
    address, sock = request.getfixturevalue(which)
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "60000000", "HOME": "/x"}
    n = Notifier.from_env(env)
    assert n.enabled
    assert "NOTIFY_SOCKET" not in env and "WATCHDOG_USEC" not in env  # popped
    assert env == {"HOME": "/x"}
    assert n.watchdog_interval_s == 30.0

    assert n.ready()
    assert _receive(sock) == ["READY=1"]
    assert n.ready("listening to Polar H10")
    assert _receive(sock) == ["READY=1", "STATUS=listening to Polar H10"]
    assert n.status("paused until 14:00\nsecond line")
    assert _receive(sock) == ["STATUS=paused until 14:00 second line"]
    assert n.watchdog()
    assert _receive(sock) == ["WATCHDOG=1"]

    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert n.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    reloading, stamp = _receive(sock)
    assert reloading == "RELOADING=1"
    key, _, value = stamp.partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after

    assert n.stopping()
    assert _receive(sock) == ["STOPPING=1"]
    assert n.notify(ERRNO=5, STATUS=None)
    assert _receive(sock) == ["ERRNO=5"]
    n.close()


def test_pop_false_keeps_environment(fs_socket: tuple[str, socket.socket]) -> None:
    address, _ = fs_socket
    env = {"NOTIFY_SOCKET": address}
    assert Notifier.from_env(env, pop=False).enabled
    assert env == {"NOTIFY_SOCKET": address}


def test_defaults_to_os_environ(
    fs_socket: tuple[str, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    address, sock = fs_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    n = Notifier.from_env()
    assert "NOTIFY_SOCKET" not in os.environ
    assert n.ready()
    assert _receive(sock) == ["READY=1"]


def test_without_notify_socket_nothing_happens() -> None:
    n = Notifier.from_env({})
    assert not n.enabled
    assert n.watchdog_interval_s is None
    for call in (n.ready, n.watchdog, n.reloading, n.stopping):
        assert call() is False
    assert n.status("x") is False
    assert Notifier(None).notify(READY=1) is False


@pytest.mark.parametrize(
    ("usec", "pid", "interval"),
    [
        ("10000000", None, 5.0),
        ("10000000", "self", 5.0),
        ("10000000", "1", None),  # the watchdog is meant for another process
        ("0", None, None),
        ("junk", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval(usec: str | None, pid: str | None, interval: float | None) -> None:
    env = {"NOTIFY_SOCKET": "@unused"}
    if usec is not None:
        env["WATCHDOG_USEC"] = usec
    if pid is not None:
        env["WATCHDOG_PID"] = str(os.getpid()) if pid == "self" else pid
    n = Notifier.from_env(env)
    assert n.watchdog_interval_s == interval
    assert env == {}


def test_vanished_socket_does_not_raise(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "gone.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    n = Notifier.from_env({"NOTIFY_SOCKET": str(path)})
    sock.close()
    path.unlink()
    with caplog.at_level("WARNING", logger="kindpulse.daemon.sdnotify"):
        assert n.ready() is False
        assert n.watchdog() is False
        assert n.stopping() is False
    warnings = [r for r in caplog.records if r.name == "kindpulse.daemon.sdnotify"]
    assert len(warnings) == 1  # logged once, not on every call
    assert "gone.sock" in warnings[0].getMessage()


def test_abstract_name_never_bound_does_not_raise() -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": f"@kindpulse-absent-{uuid.uuid4().hex}"})
    assert n.ready() is False


def test_a_manager_that_stops_reading_never_blocks_the_sender(
    fs_socket: tuple[str, socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody reads the socket: once its queue is full, a send fails at once (and is said
    once) rather than waiting."""
    path, _sock = fs_socket
    import threading

    n = Notifier.from_env({"NOTIFY_SOCKET": path})
    results: list[bool] = []
    with caplog.at_level("WARNING", logger="kindpulse.daemon.sdnotify"):
        sender = threading.Thread(
            target=lambda: results.extend(n.watchdog() for _ in range(5000)), daemon=True
        )
        sender.start()
        sender.join(30)
    assert not sender.is_alive(), "a send blocked on the full socket"
    assert results[0] is True and results[-1] is False
    assert len([r for r in caplog.records if r.name == "kindpulse.daemon.sdnotify"]) == 1
