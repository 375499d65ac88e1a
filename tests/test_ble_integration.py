"""The BLE source and ``kindpulse scan`` / ``record`` against the real bleak.

Integration tests (``@pytest.mark.integration``) run the unmodified bleak over a private
dbus-daemon standing in for the system bus, against a simulated BlueZ
(``tests/fakebluez.py``, in its own process, driven through a control interface on the
same bus). They need ``dbus-daemon`` (Debian package ``dbus-daemon``). Everything waits
for events (the fake's event signals, the stream's items) or polls with a deadline; the
few fixed pauses are scenario time (how long a strap stays away), never a wait for
something that can be observed.

The tests at the end without the mark check the record writer, the backoff and the
configuration with hand-written fakes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kindpulse.errors import ConfigError, UnavailableError, UsageError
from kindpulse.sensors.ble import (
    BleConfig,
    BleHeartRateSource,
    FoundDevice,
    backoff_delay,
    describe_bluetooth_problem,
    scan,
)
from kindpulse.sensors.hrm import encode_rr_ms
from kindpulse.sensors.pmd import AccSamples
from kindpulse.sensors.record import (
    CSV_HEADER,
    RecordSummary,
    add_ble_commands,
    cmd_record,
    cmd_scan,
    default_motion_path,
    format_mg,
    format_phone_time,
    format_timestamp,
    record,
)
from kindpulse.sensors.source import SourceStatus
from kindpulse.types import Beat, Gap, Movement

from .conftest import need_program
from .fakebluez import FakeBluezProcess, FakeControl, PrivateBus, hrm_frame

STRAP = "A0:9E:1A:12:34:56"
STRAP_NAME = "Polar H10 12345678"
MOUSE = "11:22:33:44:55:66"
KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 40.0) -> T:
    """Run one test scenario on a fresh event loop, with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def fast(**overrides: Any) -> BleConfig:
    """Short supervision times for tests (the defaults are minutes for battery etc.)."""
    values: dict[str, Any] = {
        "address": STRAP,
        "backoff_initial_s": 0.1,
        "backoff_max_s": 0.5,
        "watchdog_s": 5.0,
        "battery_interval_s": 60.0,
        "scan_timeout_s": 2.0,
        "connect_timeout_s": 5.0,
    }
    values.update(overrides)
    return BleConfig(**values)


# -- fixtures ---------------------------------------------------------------------------


@dataclass
class Bluez:
    bus: PrivateBus
    fake: FakeBluezProcess | None


def _start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    fake: bool = True,
    adapter: bool = True,
    deny_send_to: tuple[str, ...] = (),
) -> Iterator[Bluez]:
    need_program("dbus-daemon", "dbus-daemon")
    bus = PrivateBus.start(tmp_path, deny_send_to=deny_send_to)
    try:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)
        process = (
            FakeBluezProcess.start(bus.address, tmp_path / "fakebluez.log", adapter=adapter)
            if fake
            else None
        )
        try:
            yield Bluez(bus, process)
        finally:
            if process is not None:
                process.stop()
    finally:
        bus.stop()


@pytest.fixture
def bluez(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bluez]:
    """A private system bus with the fake BlueZ and its adapter hci0."""
    yield from _start(tmp_path, monkeypatch)


@pytest.fixture
def bluez_no_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bluez]:
    yield from _start(tmp_path, monkeypatch, adapter=False)


@pytest.fixture
def local_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is India (UTC+05:30, no DST): offsets in output are then unambiguous."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# -- helpers ----------------------------------------------------------------------------


class Collector:
    """Consumes a source's stream in a task so a test can wait for what arrives."""

    def __init__(
        self, source: BleHeartRateSource, stream: AsyncIterator[Any] | None = None
    ) -> None:
        self.items: list[tuple[float, Any]] = []
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(
            self._consume(source.stream() if stream is None else stream)
        )

    async def _consume(self, stream: AsyncIterator[Any]) -> None:
        async for item in stream:
            self.items.append((time.monotonic(), item))
            self._changed.set()

    def of(self, kind: type[Any], since: int = 0) -> list[Any]:
        """The items of one type that arrived from the ``since``-th on."""
        return [i for _t, i in self.items[since:] if isinstance(i, kind)]

    async def wait_for(
        self, kind: type[Any], n: int, since: int = 0, timeout: float = 15.0
    ) -> float:
        return await self.wait(
            lambda: len(self.of(kind, since)) >= n, f"{n} {kind.__name__}", timeout
        )

    def beats(self, since: int = 0) -> list[Beat]:
        return [i for _t, i in self.items[since:] if isinstance(i, Beat)]

    def gaps(self) -> list[Gap]:
        return [i for _t, i in self.items if isinstance(i, Gap)]

    async def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> float:
        """Wait until ``predicate()`` holds after an item arrived; the time it did."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.task.done():
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for {what}; "
                    f"last items: {[i for _t, i in self.items[-5:]]}"
                )
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return time.monotonic()

    async def wait_beats(self, n: int, since: int = 0, timeout: float = 10.0) -> float:
        return await self.wait(lambda: len(self.beats(since)) >= n, f"{n} beats", timeout)

    async def wait_gaps(self, n: int, timeout: float = 10.0) -> float:
        return await self.wait(lambda: len(self.gaps()) >= n, f"{n} gaps", timeout)


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``predicate`` every 20 ms until it holds (for log records and bleak's cache)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)


async def until_async(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


async def strap(
    fake: FakeControl, *, pump: float = 0.05, frames: tuple[bytes, ...] = (hrm_frame([1024]),)
) -> None:
    await fake.add_device(STRAP, STRAP_NAME, -58)
    await fake.set_pump(STRAP, pump, frames)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


integration = pytest.mark.integration


# -- scan -------------------------------------------------------------------------------


@integration
def test_scan_lists_heart_rate_devices_only(
    bluez: Bluez, capsys: pytest.CaptureFixture[str]
) -> None:
    async def only_a_mouse() -> None:
        async with await FakeControl.connect() as fake:
            await fake.add_device(MOUSE, "Mouse", -40, heart_rate=False)
            assert await scan(0.5) == []
            await fake.wait_for("StopDiscovery")

    run(only_a_mouse())
    assert cmd_scan(argparse.Namespace(timeout=0.4)) == 1
    out = capsys.readouterr().out
    assert out.startswith("No heart-rate strap found in 0.4 s.") and out.count("\n") == 1

    async def with_the_strap() -> None:
        async with await FakeControl.connect() as fake:
            await fake.add_device(STRAP, STRAP_NAME, -58)
            assert await scan(0.5) == [FoundDevice(STRAP_NAME, STRAP, -58)]

    run(with_the_strap())
    assert cmd_scan(argparse.Namespace(timeout=0.5)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESS", "RSSI"]
    assert lines[1].split() == [*STRAP_NAME.split(), STRAP, "-58", "dBm"]
    assert not any("Mouse" in line for line in lines)


@integration
def test_scan_explains_a_missing_or_powered_off_adapter(bluez_no_adapter: Bluez) -> None:
    async def scan_error() -> str:
        try:
            await scan(0.1)
        except UnavailableError as exc:
            return str(exc)
        return ""

    async def main() -> None:
        async with await FakeControl.connect() as fake:
            problem = await scan_error()
            assert problem.startswith("no Bluetooth adapter found:"), problem
            await fake.call("AddAdapter")
            await fake.call("SetPowered", "b", False)

            async def powered_off() -> bool:
                return "powered off" in await scan_error()

            await until_async(powered_off, "the powered-off adapter to be reported")
            assert "bluetoothctl power on" in await scan_error()
            await fake.call("SetPowered", "b", True)

            async def works() -> bool:
                return await scan_error() == ""

            await until_async(works, "scanning to work again")

    run(main())


@integration
def test_scan_explains_bluetoothd_not_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in _start(tmp_path, monkeypatch, fake=False):
        with pytest.raises(UnavailableError, match=r"BlueZ \(bluetoothd\) is not running"):
            run(scan(0.1))


@integration
def test_scan_explains_permission_denied_on_the_system_bus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in _start(tmp_path, monkeypatch, deny_send_to=("org.bluez",)):
        with pytest.raises(UnavailableError) as info:
            run(scan(0.1))
        assert str(info.value).startswith("permission denied on the system D-Bus")
        assert "bluetooth" in str(info.value) and "\n" not in str(info.value)


# -- record -----------------------------------------------------------------------------


@integration
def test_record_writes_exactly_the_rr_values_sent(
    bluez: Bluez, tmp_path: Path, local_tz: None
) -> None:
    frames = [
        hrm_frame([1024, 1029]),  # the documented example: 1000.0 and 1004.8828125 ms
        hrm_frame([1]),
        hrm_frame([65535]),
        hrm_frame([977, 1000, 1001]),
        hrm_frame([700] * 9),  # a full 20-byte payload
        hrm_frame([], hr=61),  # heart rate only: no row
        b"\x10",  # short: dropped, no row
        hrm_frame([800], contact=False),  # no skin contact: still recorded
        hrm_frame([900], hr=300, hr_uint16=True, energy_kj=1234),
        hrm_frame([1100, 1200]) + b"\x07",  # odd trailing byte ignored
    ]
    sent_raw = [1024, 1029, 1, 65535, 977, 1000, 1001, *[700] * 9, 800, 900, 1100, 1200]
    out = tmp_path / "rr.csv"

    async def main() -> tuple[RecordSummary, float]:
        async with await FakeControl.connect() as fake:
            await fake.add_device(STRAP, STRAP_NAME)
            source = BleHeartRateSource(fast())
            task = asyncio.create_task(record(source, out, duration_s=1.0))
            await fake.wait_for("StartNotify")
            sent_at = time.time()
            assert await fake.send(STRAP, frames) == len(frames)  # all notified
            summary = await task
            assert source.status.counters.dropped_short == 1
            assert source.status.counters.odd_trailing == 1
            await fake.wait_for("Disconnect")  # record closed the source
            return summary, sent_at

    summary, sent_at = run(main())
    lines = out.read_text().splitlines()
    assert lines[0] == CSV_HEADER
    rows = [line.split(",") for line in lines[1:]]
    assert summary.beats == len(rows) == len(sent_raw) and summary.stopped_by == "duration"
    assert [r[1] for r in rows] == [f"{raw * 1000 / 1024:.4f}" for raw in sent_raw]
    assert encode_rr_ms([float(r[1]) for r in rows]) == sent_raw  # exact round trip
    stamps = [datetime.fromisoformat(r[0]) for r in rows]
    assert all(s.utcoffset() == timedelta(hours=5, minutes=30) for s in stamps)
    assert all(len(r[0].split(".")[1]) == len("123+05:30") for r in rows)  # milliseconds
    # the last RR of a notification ends at its arrival; earlier ones are back-dated
    assert abs(stamps[1].timestamp() - sent_at) < 2.0
    assert (stamps[1] - stamps[0]) in (timedelta(milliseconds=1004), timedelta(milliseconds=1005))


@integration
def test_kindpulse_record_cli_and_ctrl_c_leave_a_complete_file(
    bluez: Bluez, tmp_path: Path
) -> None:
    """The real command line, as a person runs it; Ctrl-C is a real SIGINT."""

    async def start_strap() -> None:
        async with await FakeControl.connect() as fake:
            await strap(fake, pump=0.02, frames=(hrm_frame([1024, 1029]),))

    run(start_strap())
    out = tmp_path / "timed.csv"
    p = subprocess.run(
        [KINDPULSE, "record", "--out", str(out), "--duration", "0.5", "--address", STRAP],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == CSV_HEADER and len(lines) > 5
    assert {line.split(",")[1] for line in lines[1:]} == {"1000.0000", "1004.8828"}
    assert "wrote" in p.stderr and str(out) in p.stderr
    # an existing recording is never overwritten
    again = subprocess.run(
        [KINDPULSE, "record", "--out", str(out), "--address", STRAP],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 64 and "already exists" in again.stderr
    assert out.read_text().splitlines() == lines

    out = tmp_path / "interrupted.csv"
    proc = subprocess.Popen(
        [KINDPULSE, "record", "--out", str(out), "--name", "Polar H10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not (out.exists() and out.read_text().count("\n") >= 20):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no rows recorded"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    text = out.read_text()
    assert text.endswith("\n") and "Traceback" not in stderr
    body = text.splitlines()[1:]
    assert len(body) >= 19 and all(
        line.split(",")[1] in ("1000.0000", "1004.8828") for line in body
    )


# -- supervision ------------------------------------------------------------------------


@integration
def test_link_loss_gives_a_gap_and_a_strap_back_streams_again_within_seconds(
    bluez: Bluez,
) -> None:
    async def main() -> tuple[float, float]:
        async with await FakeControl.connect() as fake:
            await strap(fake, pump=1.0)  # a real strap notifies about once a second
            # default backoff: the real first-retry delay (<= 0.5 s) is part of the timing
            source = BleHeartRateSource(fast(backoff_initial_s=0.5, backoff_max_s=30.0))
            got = Collector(source)
            await got.wait_beats(2)
            scans = fake.count("StartDiscovery")
            await fake.drop_link(STRAP, advertising=False)  # out of range
            await got.wait_gaps(1)
            assert got.gaps()[0].reason == "link lost"
            await fake.wait_for("StartDiscovery", scans + 1)  # it looks for the strap
            await asyncio.sleep(1.0)  # scenario: the strap stays away for a second
            assert fake.count("ConnectCall") == 1  # no attempt while it does not advertise
            mark = len(got.items)
            back = time.monotonic()
            await fake.set_advertising(STRAP, True)
            first = await got.wait_beats(1, since=mark, timeout=10.0)
            subscribed = await fake.wait_for("StartNotify", 2)  # subscribed again
            status = source.status
            assert status.connected and status.device_name == STRAP_NAME
            assert status.counters.link_losses == 1 and status.counters.connects == 2
            assert status.battery_pct == 87 and status.contact is True
            assert got.items[mark][1].t > got.gaps()[0].t  # new beats come after the gap
            await source.close()
            await got.task
            return subscribed - back, first - back

    subscribed, first = run(main())
    print(
        f"\n[ble] strap back after 1 s away: subscribed {subscribed:.2f} s and first beat "
        f"{first:.2f} s after it advertised again (it notifies once a second)"
    )
    assert first < 10.0


@integration
def test_200_link_losses_leak_no_fds_and_no_tasks(bluez: Bluez) -> None:
    cycles = 200

    async def main() -> dict[str, Any]:
        async with await FakeControl.connect() as fake:
            await fake.call("SetAdvertInterval", "d", 0.02)
            await strap(fake, pump=0.005)
            source = BleHeartRateSource(fast(backoff_initial_s=0.01, backoff_max_s=0.05))
            got = Collector(source)

            async def one_cycle() -> None:
                gaps = len(got.gaps())
                await fake.drop_link(STRAP, advertising=True)
                await got.wait_gaps(gaps + 1)
                mark = len(got.items)
                await got.wait_beats(2, since=mark)
                await until(lambda: source.status.connected, "connected")

            await got.wait_beats(2)
            for _ in range(3):  # warm-up: bleak's manager, first-time imports
                await one_cycle()
            base = (open_fds(), len(asyncio.all_tasks()))
            fds, tasks = [], []
            started = time.monotonic()
            for _ in range(cycles):
                await one_cycle()
                fds.append(open_fds())
                tasks.append(len(asyncio.all_tasks()))
            elapsed = time.monotonic() - started
            counters = source.status.counters
            await source.close()
            await got.task
            await fake.wait_for("StopNotify")
            return {
                "base": base,
                "fds": fds,
                "tasks": tasks,
                "elapsed": elapsed,
                "counters": counters,
            }

    r = run(main(), timeout=120)
    base_fds, base_tasks = r["base"]
    fds, tasks = r["fds"], r["tasks"]
    print(
        f"\n[ble] {cycles} link-loss cycles in {r['elapsed']:.1f} s "
        f"({r['elapsed'] / cycles * 1000:.0f} ms each); open fds {base_fds} -> "
        f"min {min(fds)} max {max(fds)} last {fds[-1]}; asyncio tasks {base_tasks} -> "
        f"min {min(tasks)} max {max(tasks)} last {tasks[-1]}"
    )
    counters = r["counters"]
    assert counters.link_losses == cycles + 3 and counters.gaps == cycles + 3
    assert counters.connects == cycles + 4 and counters.failed_attempts == 0
    assert max(fds) - base_fds <= 2, fds
    assert max(tasks) - base_tasks <= 2, tasks
    # no slow growth either: the last 50 cycles hold no more than the first 50
    assert max(fds[-50:]) <= max(fds[:50]) and max(tasks[-50:]) <= max(tasks[:50])


@integration
def test_watchdog_reconnects_a_strap_that_stops_notifying(bluez: Bluez) -> None:
    async def main() -> None:
        async with await FakeControl.connect() as fake:
            await strap(fake, pump=0.05)
            source = BleHeartRateSource(fast(watchdog_s=0.5, backoff_initial_s=0.05))
            got = Collector(source)
            await got.wait_beats(3)
            await fake.set_pump(STRAP, 0.05, [])  # link up, nothing sent
            silent = time.monotonic()
            tripped = await got.wait_gaps(1, timeout=5.0)
            assert got.gaps()[0].reason == "no RR interval for 0.5 s"
            assert tripped - silent >= 0.4  # not before the watchdog time
            await fake.wait_for("Disconnect")  # it dropped the stale link itself
            await fake.wait_for("StartNotify", 2)  # and subscribed again
            mark = len(got.items)
            await fake.set_pump(STRAP, 0.05, [hrm_frame([1024])])
            await got.wait_beats(2, since=mark)
            assert source.status.counters.watchdog_trips >= 1
            assert source.status.counters.link_losses == 0
            await source.close()
            await got.task

    run(main())


@integration
def test_adapter_missing_then_appearing_and_removed_while_streaming(
    bluez_no_adapter: Bluez, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kindpulse")

    async def main() -> None:
        async with await FakeControl.connect() as fake:
            await strap(fake)
            source = BleHeartRateSource(fast(backoff_initial_s=0.05, backoff_max_s=0.2))
            got = Collector(source)
            await until(
                lambda: bool(messages(caplog, "no Bluetooth adapter found")),
                "the missing adapter to be reported",
            )
            await fake.call("AddAdapter")
            await got.wait_beats(2)
            assert messages(caplog, "Bluetooth is available again")
            await fake.call("RemoveAdapter")
            await got.wait_gaps(1)
            await until(
                lambda: len(messages(caplog, "no Bluetooth adapter found")) >= 2,
                "the adapter's removal to be reported",
            )
            mark = len(got.items)
            await fake.call("AddAdapter")
            await got.wait_beats(2, since=mark)
            await source.close()
            await got.task

    run(main())
    assert all("\n" not in r.getMessage() for r in caplog.records)


@integration
@pytest.mark.parametrize("use_start_notify", [True, False], ids=["StartNotify", "AcquireNotify"])
def test_both_notify_methods_stream_reconnect_and_close_cleanly(
    bluez: Bluez, use_start_notify: bool
) -> None:
    method = "StartNotify" if use_start_notify else "AcquireNotify"
    other = "AcquireNotify" if use_start_notify else "StartNotify"

    async def main() -> None:
        async with await FakeControl.connect() as fake:
            await strap(fake, pump=0.02, frames=(hrm_frame([1024, 1029]),))
            source = BleHeartRateSource(fast(use_start_notify=use_start_notify))
            got = Collector(source)
            await got.wait_beats(4)
            assert [b.rr_ms for b in got.beats()[:4]] == [1000.0, 1004.8828125] * 2
            await fake.drop_link(STRAP, advertising=True)
            await got.wait_gaps(1)
            mark = len(got.items)
            await got.wait_beats(2, since=mark)
            # The fake reports its calls on another connection, which may trail the beats.
            await fake.wait_for(method, 2)
            assert fake.count(method) == 2 and fake.count(other) == 0
            fds_streaming = open_fds()
            await source.close()
            await got.task  # the stream ends
            if use_start_notify:
                stopped = await fake.wait_for("StopNotify")
            else:
                stopped = await fake.wait_for("NotifyReleased")  # client closed its socket
            disconnected = await fake.wait_for("Disconnect")
            assert stopped <= disconnected
            assert not source.status.connected
            # the notification socket and the connection's own bus connection are gone
            await until(lambda: open_fds() <= fds_streaming - 1, "the client's fds to close")

    run(main())


@integration
def test_strap_without_rr_intervals_is_reported(
    bluez: Bluez, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kindpulse")

    async def main() -> None:
        async with await FakeControl.connect() as fake:
            await strap(fake, pump=0.01, frames=(hrm_frame([], hr=72),))
            source = BleHeartRateSource(fast())
            got = Collector(source)
            await until(
                lambda: bool(messages(caplog, "without RR intervals")), "the HR-only warning"
            )
            assert got.beats() == [] and source.status.hr_bpm == 72
            await source.close()
            await got.task

    run(main())
    (warning,) = messages(caplog, "without RR intervals")
    text = warning.getMessage()
    assert "HRV needs RR intervals" in text
    for strap_name in ("Polar H10/H9", "Garmin HRM-Pro/HRM-Dual", "Wahoo TICKR"):
        assert strap_name in text


@integration
def test_strap_not_found_keeps_looking_and_reports_less_often(
    bluez: Bluez, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kindpulse")

    async def main() -> int:
        async with await FakeControl.connect() as fake:
            await fake.add_device(MOUSE, "Mouse", -40, heart_rate=False)
            source = BleHeartRateSource(fast(address="C0:FF:EE:00:00:01", scan_timeout_s=0.1))
            got = Collector(source)
            await fake.wait_for("StartDiscovery", 12, timeout=15)
            rounds = fake.count("StartDiscovery")
            assert fake.count("ConnectCall") == 0
            closing = time.monotonic()
            await source.close()
            await got.task
            assert time.monotonic() - closing < 2.0
            return int(rounds)

    rounds = run(main())
    reports = messages(caplog, "strap not found yet")
    times = [r.created for r in reports]
    print(f"\n[ble] {rounds} scanning rounds of 0.1 s, {len(reports)} 'not found' reports")
    assert 2 <= len(reports) <= rounds // 2
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps)), gaps
    assert "C0:FF:EE:00:00:01" in reports[0].getMessage()


@integration
def test_close_cancels_a_pending_connection_at_once(bluez: Bluez) -> None:
    async def main() -> float:
        async with await FakeControl.connect() as fake:
            await strap(fake)
            await fake.call("SetConnectDelay", "sd", STRAP, 30.0)
            source = BleHeartRateSource(fast(connect_timeout_s=20.0))
            got = Collector(source)
            await fake.wait_for("ConnectCall")
            closing = time.monotonic()
            await source.close()
            took = time.monotonic() - closing
            await got.task
            await fake.wait_for("ConnectCancelled")  # BlueZ was told to give up
            assert got.items == [] and not source.status.connected
            return took

    assert run(main()) < 2.0


@integration
def test_failed_connection_attempts_back_off_then_stream(bluez: Bluez) -> None:
    seed = 7

    async def main() -> list[float]:
        async with await FakeControl.connect() as fake:
            await strap(fake)
            await fake.call("FailConnects", "su", STRAP, 4)
            source = BleHeartRateSource(
                fast(backoff_initial_s=0.1, backoff_max_s=0.8), rng=random.Random(seed)
            )
            got = Collector(source)
            await got.wait_beats(1)
            assert source.status.counters.failed_attempts == 4
            attempts: list[float] = list(fake.times("ConnectCall"))
            await source.close()
            await got.task
            return attempts

    attempts = run(main())
    assert len(attempts) == 5
    rng = random.Random(seed)
    expected = [backoff_delay(k, 0.1, 0.8, rng) for k in range(1, 5)]
    intervals = [b - a for a, b in itertools.pairwise(attempts)]
    print(
        "\n[ble] backoff between failed attempts: "
        + ", ".join(f"{i:.2f} s (>= {e:.2f})" for i, e in zip(intervals, expected, strict=True))
    )
    for interval, delay in zip(intervals, expected, strict=True):
        assert delay <= interval < delay + 1.0


# -- unit tests: no bus needed ----------------------------------------------------------


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    rng = random.Random(1)
    first = [backoff_delay(0, 0.5, 30.0, rng) for _ in range(200)]
    assert all(0.25 <= d <= 0.5 for d in first)  # the first retry comes within 1 s
    assert len({round(d, 6) for d in first}) > 150  # jittered
    for k in range(1, 6):
        assert all(0.25 * 2**k <= backoff_delay(k, 0.5, 30.0, rng) <= 0.5 * 2**k for _ in range(50))
    assert all(15.0 <= backoff_delay(k, 0.5, 30.0, rng) <= 30.0 for k in (6, 10, 1000))


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="backoff_initial_s"):
        BleConfig(backoff_initial_s=0)
    with pytest.raises(ConfigError, match="backoff_max_s"):
        BleConfig(backoff_initial_s=5, backoff_max_s=1)
    with pytest.raises(ConfigError, match="watchdog_s"):
        BleConfig(watchdog_s=float("nan"))
    with pytest.raises(ConfigError, match="address"):
        BleConfig(address=" ")
    assert BleConfig().backoff_initial_s <= 1.0


def test_bluetooth_problems_are_one_actionable_line() -> None:
    from bleak.exc import (
        BleakBluetoothNotAvailableError,
        BleakBluetoothNotAvailableReason,
        BleakDBusError,
    )

    reasons = BleakBluetoothNotAvailableReason
    cases = {
        BleakBluetoothNotAvailableError("x", reasons.NO_BLUETOOTH): "no Bluetooth adapter",
        BleakBluetoothNotAvailableError("x", reasons.POWERED_OFF): "bluetoothctl power on",
        BleakBluetoothNotAvailableError("x", reasons.DENIED_BY_SYSTEM): "usermod -aG bluetooth",
        BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", []): "permission denied",
        BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", []): "systemctl start",
        PermissionError(13, "denied"): "permission denied",
        FileNotFoundError(2, "nope"): "system D-Bus is not reachable",
    }
    for exc, needle in cases.items():
        text = describe_bluetooth_problem(exc)
        assert text is not None and needle in text and "\n" not in text, (exc, text)
    assert describe_bluetooth_problem(ValueError("unrelated")) is None


def test_importing_the_ble_modules_does_not_import_bleak() -> None:
    code = (
        "import sys, kindpulse.sensors.ble, kindpulse.sensors.record;"
        "assert 'bleak' not in sys.modules"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=60
    )
    assert p.returncode == 0, p.stderr


class ScriptedSource:
    """A hand-written BeatSource: the test hands it items one at a time."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Beat | Gap | None] = asyncio.Queue()
        self.closed = False

    @property
    def status(self) -> SourceStatus:
        return SourceStatus(connected=not self.closed)

    async def stream(self) -> AsyncIterator[Beat | Gap]:
        while (item := await self.queue.get()) is not None:
            yield item

    async def close(self) -> None:
        self.closed = True


# 2024-05-01 04:00:00.1239 UTC = 09:30:00.1239 in India (+05:30)
T0 = 1714536000.1239


def test_timestamps_are_local_iso8601_with_offset_and_milliseconds(local_tz: None) -> None:
    assert format_timestamp(T0) == "2024-05-01T09:30:00.123+05:30"
    assert format_timestamp(T0 + 0.0009) == "2024-05-01T09:30:00.124+05:30"  # truncated


def test_record_rows_gaps_and_duration_from_the_first_beat(tmp_path: Path, local_tz: None) -> None:
    out = tmp_path / "rr.csv"
    now = [0.0]
    source = ScriptedSource()
    summary = RecordSummary(out)

    async def main() -> None:
        task = asyncio.create_task(record(source, out, 5.0, lambda: now[0], summary=summary))

        async def hand(item: Beat | Gap, at: float, beats: int, gaps: int) -> None:
            now[0] = at
            source.queue.put_nowait(item)
            await until(lambda: (summary.beats, summary.gaps) == (beats, gaps), "the row")

        await hand(Gap(T0 - 60, "connecting"), 50.0, 0, 1)  # before the first beat
        await hand(Beat(T0, 1000.0), 100.0, 1, 1)  # the 5 s start here
        await hand(Gap(T0 + 1, "link\nlost"), 101.0, 1, 2)
        await hand(Beat(T0 + 2.5, 1004.8828125), 104.9, 2, 2)
        now[0] = 105.0
        source.queue.put_nowait(Beat(T0 + 3.5, 976.5625))  # arrives after the 5 s
        await task

    run(main())
    assert summary.stopped_by == "duration" and source.closed
    assert out.read_text() == (
        "timestamp,rr_ms\n"
        "# gap: connecting\n"
        "2024-05-01T09:30:00.123+05:30,1000.0000\n"
        "# gap: link lost\n"
        "2024-05-01T09:30:02.623+05:30,1004.8828\n"
    )


def test_record_stops_after_the_duration_even_when_nothing_arrives(tmp_path: Path) -> None:
    source = ScriptedSource()

    async def main() -> RecordSummary:
        source.queue.put_nowait(Beat(time.time(), 800.0))
        return await record(source, tmp_path / "rr.csv", 0.2)

    started = time.monotonic()
    summary = run(main())
    assert summary.stopped_by == "duration" and summary.beats == 1
    assert time.monotonic() - started < 5.0


def test_cancelling_a_recording_leaves_a_complete_file(tmp_path: Path) -> None:
    out = tmp_path / "rr.csv"
    source = ScriptedSource()
    summary = RecordSummary(out)

    async def main() -> None:
        task = asyncio.create_task(record(source, out, None, summary=summary))
        for k in range(3):
            source.queue.put_nowait(Beat(T0 + k, 900.0 + k))
        await until(lambda: summary.beats == 3, "three rows")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    text = out.read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 4
    assert summary.stopped_by == "interrupted" and source.closed


def test_record_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "rr.csv"
    out.write_text("precious\n")
    source = ScriptedSource()
    with pytest.raises(UsageError, match="already exists"):
        run(record(source, out, 1.0))
    assert out.read_text() == "precious\n" and source.closed


def test_cli_commands_parse() -> None:
    parser = argparse.ArgumentParser(prog="kindpulse")
    add_ble_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["record", "--out", "x.csv", "--duration", "90", "--name", "Polar"])
    assert args.handler is cmd_record and args.duration == 90.0 and args.name == "Polar"
    assert args.address is None and args.motion_out is None
    args = parser.parse_args(["record", "--out", "x.csv", "--motion-out", "m.txt"])
    assert args.motion_out == "m.txt"
    args = parser.parse_args(["scan"])
    assert args.handler is cmd_scan and args.timeout == 5.0
    for bad in (
        ["record"],
        ["record", "--out", "x", "--duration", "-1"],
        ["record", "--out", "x", "--address", "A", "--name", "B"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


class ScriptedSampleSource(ScriptedSource):
    """A hand-written source that also yields raw accelerometer samples."""

    def __init__(self) -> None:
        super().__init__()
        self.items: asyncio.Queue[Beat | Gap | Movement | AccSamples | None] = asyncio.Queue()

    async def stream_with_samples(self) -> AsyncIterator[Beat | Gap | Movement | AccSamples]:
        while (item := await self.items.get()) is not None:
            yield item


def test_acc_file_name_times_and_values() -> None:
    assert default_motion_path("/data/walk.csv") == Path("/data/walk.acc.txt")
    assert default_motion_path("rr") == Path("rr.acc.txt")
    values = (-1000.0, 3.0, 0.0, 2.4414, -48.828125, 0.0004, -0.0004)
    expected = ["-1000", "3", "0", "2.441", "-48.828", "0", "0"]
    assert [format_mg(v) for v in values] == expected


def test_record_writes_acc_samples_in_polar_sensor_logger_layout(
    tmp_path: Path, local_tz: None
) -> None:
    out = tmp_path / "rr.csv"
    acc = default_motion_path(out)
    source = ScriptedSampleSource()
    summary = RecordSummary(out)
    frame = AccSamples(
        t=(T0 - 0.04, T0),
        sensor_ns=(599_634_123_416_789_000, 599_634_123_456_789_000),
        x_mg=(-1000.0, -998.0),
        y_mg=(3.0, 2.4414),
        z_mg=(12.0, 11.0),
    )

    async def main() -> None:
        task = asyncio.create_task(record(source, out, None, summary=summary, motion_out=acc))
        source.items.put_nowait(Movement(T0 + 1, 3.0))  # seconds of movement are not written
        source.items.put_nowait(frame)
        source.items.put_nowait(Beat(T0, 1000.0))
        source.items.put_nowait(None)
        await task

    assert format_phone_time(T0) == "2024-05-01T09:30:00.123+05:30"
    run(main())
    assert summary.acc_samples == 2 and summary.motion_path == acc and summary.beats == 1
    assert acc.read_text() == (
        "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n"
        "2024-05-01T09:30:00.083+05:30;599634123416789000;-1000;3;12\n"
        "2024-05-01T09:30:00.123+05:30;599634123456789000;-998;2.441;11\n"
    )
    assert out.read_text() == "timestamp,rr_ms\n2024-05-01T09:30:00.123+05:30,1000.0000\n"


def test_record_without_samples_leaves_no_acc_file_and_never_overwrites_one(
    tmp_path: Path,
) -> None:
    out = tmp_path / "rr.csv"
    acc = tmp_path / "rr.acc.txt"
    source = ScriptedSampleSource()

    async def main() -> RecordSummary:
        task = asyncio.create_task(record(source, out, None, motion_out=acc))
        source.items.put_nowait(Beat(T0, 1000.0))
        source.items.put_nowait(None)
        return await task

    summary = run(main())
    assert summary.beats == 1 and summary.motion_path is None and not acc.exists()
    acc.write_text("precious\n")
    other = ScriptedSampleSource()
    with pytest.raises(UsageError, match="already exists"):
        run(record(other, tmp_path / "new.csv", 1.0, motion_out=acc))
    assert acc.read_text() == "precious\n" and other.closed
    assert not (tmp_path / "new.csv").exists()
