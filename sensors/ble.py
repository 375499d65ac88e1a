"""Beats from a Bluetooth LE heart-rate strap, through bleak and BlueZ.

The strap implements the Bluetooth SIG *Heart Rate Service* (HRS v1.0, service 0x180D):
its Heart Rate Measurement characteristic (0x2A37) notifies frames carrying the heart
rate and the RR intervals (decoded by :mod:`kindpulse.sensors.hrm`). Most straps also
carry the *Battery Service* (BAS v1.0, service 0x180F) whose Battery Level
characteristic (0x2A19) reads as one uint8 percentage.

:class:`BleHeartRateSource` is a :class:`~kindpulse.sensors.source.BeatSource` that
supervises the link for as long as it runs:

* it finds the strap by configured address, by name, or as the first device advertising
  the Heart Rate Service; while nothing is found it keeps scanning, and reports "not
  found" less and less often;
* it connects, reads the battery level (at connect and every ``battery_interval_s``),
  subscribes to 0x2A37 and back-dates each notification's RR intervals from its arrival
  time (an injectable clock, ``time.time`` by default);
* when the link drops it yields a :class:`~kindpulse.types.Gap`, releases the old client
  completely, keeps scanning and reconnects as soon as the strap advertises again;
  failed connection attempts are paced by exponential backoff with jitter
  (:func:`backoff_delay`), which restarts after a connection that delivered beats;
* a watchdog reconnects when no RR interval arrived for ``watchdog_s`` while connected;
* when the strap also offers Polar Measurement Data (:mod:`kindpulse.sensors.pmd`, the
  accelerometer of Polar straps) and ``accelerometer`` is on, it starts the accelerometer
  stream once heart rate flows (heart rate never waits for it, and goes on when it
  fails) and yields one :class:`~kindpulse.types.Movement` per second, on every
  connection;
* ``close()`` stops the notifications and disconnects.

bleak is imported lazily, inside the functions that use it, so importing this module (or
:mod:`kindpulse.sensors.hrm`) does not need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from kindpulse.errors import ConfigError, UnavailableError
from kindpulse.types import Beat, Gap, Movement

from .hrm import ParseStats, backdate, parse_hrm
from .pmd import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    WANTED_RANGE_G,
    WANTED_RATE_HZ,
    WANTED_RESOLUTION,
    AccSamples,
    AccTimeline,
    CpResponse,
    CpStatus,
    MovementAccumulator,
    OpCode,
    PmdError,
    PmdStats,
    Setting,
    choose_acc_settings,
    parse_acc_frame,
    parse_cp_response,
    parse_settings,
    settings_request,
    start_request,
    stop_request,
)
from .source import SourceCounters, SourceStatus

if TYPE_CHECKING:
    from bleak import BleakClient
    from bleak.args.bluez import BlueZClientArgs, BlueZScannerArgs
    from bleak.backends.characteristic import BleakGATTCharacteristic
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

logger = logging.getLogger(__name__)

__all__ = [
    "BATTERY_LEVEL_UUID",
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "BleConfig",
    "BleHeartRateSource",
    "FoundDevice",
    "MotionStatus",
    "backoff_delay",
    "describe_bluetooth_problem",
    "scan",
]

#: Heart Rate Service (HRS v1.0), as a full 128-bit UUID on the Bluetooth base UUID.
HEART_RATE_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
#: Heart Rate Measurement characteristic (HRS v1.0 section 3.1), notify only.
HEART_RATE_MEASUREMENT_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
#: Battery Level characteristic (BAS v1.0 section 3.1): uint8, percent.
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"

#: Consecutive frames without RR after which a strap is reported as sending HR only.
HR_ONLY_FRAMES = 10
#: Upper bound of one GATT read, one disconnect, and of close() before it cancels.
IO_TIMEOUT_S = 10.0
#: The "not found" and "Bluetooth unavailable" reports repeat at most this rarely.
MAX_REPORT_INTERVAL_S = 900.0
#: Upper bound of one PMD control point request (write and indication).
PMD_TIMEOUT_S = 5.0

#: What the stream yields: beats, gaps, seconds of movement, and raw accelerometer
#: samples when asked for (``BleConfig.acc_samples``).
BleItem = Beat | Gap | Movement | AccSamples

_PERMISSION_HINT = (
    "permission denied on the system D-Bus talking to BlueZ: allow your user to use "
    "Bluetooth (e.g. 'sudo usermod -aG bluetooth $USER', then log in again)"
)


@dataclass(frozen=True, slots=True)
class BleConfig:
    """How to find and supervise the strap (all times in seconds).

    ``address``: the strap's Bluetooth address (``AA:BB:CC:DD:EE:FF``); wins over ``name``.
    ``name``: its advertised name, or the start of it (``"Polar H10"`` matches
    ``"Polar H10 A1B2C3D4"``). Neither set: the first device advertising the Heart Rate
    Service 0x180D.
    ``backoff_initial_s`` / ``backoff_max_s``: pacing of connection attempts, see
    :func:`backoff_delay` (the first retry after a link loss comes within
    ``backoff_initial_s``).
    ``watchdog_s``: reconnect when no RR interval arrived for this long while connected.
    ``battery_interval_s``: how often the battery level is read while connected.
    ``scan_timeout_s``: one scanning round; after each round without the strap the scan
    restarts (which also notices an adapter that went away), and "not found" is
    reported after the first round, then less and less often (doubling, at most every
    15 min).
    ``connect_timeout_s``: one connection attempt, service discovery included.
    ``adapter``: BlueZ adapter name (``"hci1"``), default: the first powered one.
    ``use_start_notify``: subscribe with BlueZ ``StartNotify`` (default, D-Bus signals);
    False uses ``AcquireNotify`` (a socket per subscription), which some adapters and
    straps handle better and which costs less per notification.
    ``accelerometer``: start the accelerometer of a strap that offers Polar Measurement
    Data and yield one :class:`~kindpulse.types.Movement` a second.
    ``acc_samples``: also yield the raw samples (:class:`~kindpulse.sensors.pmd.AccSamples`)
    from :meth:`BleHeartRateSource.stream_with_samples` (for ``kindpulse record``).
    """

    address: str | None = None
    name: str | None = None
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    watchdog_s: float = 15.0
    battery_interval_s: float = 300.0
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 20.0
    adapter: str | None = None
    use_start_notify: bool = True
    accelerometer: bool = True
    acc_samples: bool = False

    def __post_init__(self) -> None:
        for field_name in (
            "backoff_initial_s",
            "backoff_max_s",
            "watchdog_s",
            "battery_interval_s",
            "scan_timeout_s",
            "connect_timeout_s",
        ):
            value = getattr(self, field_name)
            if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
                raise ConfigError(
                    f"ble.{field_name} must be a positive number of seconds, got {value!r}"
                )
        if self.backoff_max_s < self.backoff_initial_s:
            raise ConfigError(
                f"ble.backoff_max_s ({self.backoff_max_s:g}) must be at least "
                f"ble.backoff_initial_s ({self.backoff_initial_s:g})"
            )
        if self.address is not None and not self.address.strip():
            raise ConfigError("ble.address is empty: set the strap's address or remove the key")
        if self.name is not None and not self.name.strip():
            raise ConfigError("ble.name is empty: set the strap's name or remove the key")


@dataclass(frozen=True, slots=True)
class FoundDevice:
    """A heart-rate device seen by :func:`scan`: advertised name (``None`` if it sent
    none), Bluetooth address, and signal strength in dBm (RSSI)."""

    name: str | None
    address: str
    rssi: int


def backoff_delay(
    failures: int, initial_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait before the next connection attempt.

    Exponential backoff with "equal jitter": the base ``min(max_s, initial_s * 2**failures)``
    (``failures`` = consecutive failed attempts since the last connection that delivered
    beats, 0 right after a link loss) scaled by a uniform factor in [0.5, 1]. The first
    retry therefore comes within ``initial_s``; jitter keeps several clients (or a
    strap's own restart) from falling into lock-step.
    """
    base = min(max_s, initial_s * 2.0 ** min(max(failures, 0), 62))
    return base * (rng or random).uniform(0.5, 1.0)


def describe_bluetooth_problem(exc: BaseException) -> str | None:
    """One actionable line for a Bluetooth / D-Bus problem, or None for other errors.

    Knows: no adapter, an adapter without LE central role, adapter powered off, a
    configured adapter that is missing, BlueZ not running, the system bus not reachable,
    and permission denied on the system bus.
    """
    from bleak.exc import (
        BleakBluetoothNotAvailableError,
        BleakBluetoothNotAvailableReason,
        BleakDBusError,
        BleakError,
    )
    from dbus_fast.errors import AuthError

    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = exc.reason
        if reason is BleakBluetoothNotAvailableReason.NO_BLUETOOTH:
            return (
                "no Bluetooth adapter found: plug in a Bluetooth LE adapter or enable the "
                "built-in one (check 'bluetoothctl list' and 'rfkill list bluetooth')"
            )
        if reason is BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE:
            return (
                "the Bluetooth adapter cannot act as a Bluetooth LE central: "
                "use a Bluetooth 4.0 (LE) or newer adapter"
            )
        if reason is BleakBluetoothNotAvailableReason.POWERED_OFF:
            return (
                "the Bluetooth adapter is powered off: turn it on with "
                "'bluetoothctl power on' (and 'rfkill unblock bluetooth' if it is blocked)"
            )
        if reason in (
            BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
            BleakBluetoothNotAvailableReason.DENIED_BY_USER,
            BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN,
        ):
            return _PERMISSION_HINT
        return f"Bluetooth is not available: {exc.args[0]}"
    if isinstance(exc, BleakDBusError):
        name = exc.dbus_error
        if name in (
            "org.freedesktop.DBus.Error.AccessDenied",
            "org.freedesktop.DBus.Error.AuthFailed",
            "org.bluez.Error.NotAuthorized",
        ):
            return _PERMISSION_HINT
        if name in (
            "org.freedesktop.DBus.Error.ServiceUnknown",
            "org.freedesktop.DBus.Error.NameHasNoOwner",
        ):
            return (
                "BlueZ (bluetoothd) is not running on the system D-Bus: start it with "
                "'sudo systemctl start bluetooth' (Debian/Ubuntu package 'bluez')"
            )
        if name == "org.bluez.Error.NotReady":
            return (
                "the Bluetooth adapter is not ready (powered off?): turn it on with "
                "'bluetoothctl power on'"
            )
        return None
    if isinstance(exc, (AuthError, PermissionError)):
        return _PERMISSION_HINT
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        return (
            "the system D-Bus is not reachable (no /run/dbus/system_bus_socket or "
            "DBUS_SYSTEM_BUS_ADDRESS): is the dbus service running?"
        )
    if isinstance(exc, BleakError) and str(exc).startswith("adapter '"):
        return f"Bluetooth {exc}: check the configured adapter name against 'bluetoothctl list'"
    return None


async def scan(timeout: float = 5.0, *, adapter: str | None = None) -> list[FoundDevice]:
    """Scan ``timeout`` seconds for devices advertising the Heart Rate Service (0x180D).

    Returns them strongest signal first. Raises
    :class:`~kindpulse.errors.UnavailableError` with one actionable line when Bluetooth
    cannot be used (no adapter, powered off, BlueZ not running, permission denied).
    """
    from bleak import BleakScanner

    if not timeout > 0:
        raise ValueError(f"scan timeout must be positive, got {timeout!r}")
    bluez: BlueZScannerArgs = {}
    if adapter:
        bluez["adapter"] = adapter
    try:
        found = await BleakScanner.discover(
            timeout,
            return_adv=True,
            service_uuids=[HEART_RATE_SERVICE_UUID],
            bluez=bluez,
        )
    except Exception as exc:
        problem = describe_bluetooth_problem(exc)
        if problem is None:
            raise
        raise UnavailableError(problem) from exc
    devices = [
        FoundDevice(name=adv.local_name or dev.name, address=dev.address, rssi=adv.rssi)
        for dev, adv in found.values()
    ]
    devices.sort(key=lambda d: (-d.rssi, d.address))
    return devices


class _Reporter:
    """Logs a recurring problem at once, then less and less often.

    The same message repeats only after an interval that starts at ``first_repeat_s``
    and doubles up to :data:`MAX_REPORT_INTERVAL_S`; a different message logs at once.
    """

    def __init__(self, first_repeat_s: float) -> None:
        self._first_repeat_s = first_repeat_s
        self._key: str | None = None
        self._interval = first_repeat_s
        self._next = 0.0

    @property
    def active(self) -> bool:
        return self._key is not None

    def report(self, message: str, level: int = logging.WARNING) -> bool:
        now = time.monotonic()
        if message != self._key:
            self._key = message
            self._interval = self._first_repeat_s
        elif now < self._next:
            logger.debug("%s", message)
            return False
        else:
            self._interval = min(self._interval * 2.0, MAX_REPORT_INTERVAL_S)
        self._next = now + self._interval
        logger.log(level, "%s", message)
        return True

    def reset(self) -> None:
        self._key = None


class _End(Enum):
    """How one connection session ended."""

    FAILED = "failed"  # never reached streaming
    NO_DATA = "no data"  # streamed, but no RR interval arrived
    STREAMED = "streamed"  # delivered beats before the link ended
    CLOSED = "closed"  # close() was called


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class MotionStatus:
    """The accelerometer side of the link (all counts since the source was created).

    ``streaming``: accelerometer frames are flowing on the current connection;
    ``rate_hz`` / ``range_g``: what it was started with (``None`` before the first
    start); ``starts`` / ``start_failures``: accelerometer starts that succeeded and
    failed; ``frames`` / ``samples`` / ``dropped``: data frames received, samples decoded,
    frames dropped as malformed or of another type; ``movements``: seconds of movement
    delivered; ``late``: samples dropped because their second was already given out.
    """

    streaming: bool = False
    rate_hz: int | None = None
    range_g: int | None = None
    starts: int = 0
    start_failures: int = 0
    frames: int = 0
    samples: int = 0
    dropped: int = 0
    movements: int = 0
    late: int = 0


class _PmdLink:
    """The accelerometer stream of one connection."""

    def __init__(self) -> None:
        self.responses: asyncio.Queue[CpResponse] = asyncio.Queue()
        self.rate_hz = WANTED_RATE_HZ
        self.range_g = WANTED_RANGE_G
        self.resolution = WANTED_RESOLUTION
        self.factor: float | None = None
        self.requested = False  # a start request went out: frames are expected
        self.streaming = False  # the strap confirmed the start
        self.timeline = AccTimeline(self.rate_hz)
        self.accumulator = MovementAccumulator()

    def configure(self, chosen: dict[Setting, int]) -> None:
        self.rate_hz = chosen[Setting.SAMPLE_RATE]
        self.range_g = chosen.get(Setting.RANGE, WANTED_RANGE_G)
        self.resolution = chosen.get(Setting.RESOLUTION, WANTED_RESOLUTION)
        self.timeline = AccTimeline(self.rate_hz)
        self.requested = True

    def started(self, response: CpResponse) -> None:
        """A successful start response (its factor scales compressed frames)."""
        try:
            factors = parse_settings(response.parameters).get(Setting.FACTOR, ())
        except PmdError as exc:
            logger.debug("PMD start response parameters: %s", exc)
            factors = ()
        self.factor = float(factors[0]) if factors else None
        self.streaming = True


class BleHeartRateSource:
    """A :class:`~kindpulse.sensors.source.BeatSource` reading a BLE heart-rate strap.

    ``stream()`` starts the supervision (it can be iterated once) and yields
    :class:`~kindpulse.types.Beat` items whose ``t`` is the back-dated arrival time on
    ``clock`` (seconds; ``time.time`` by default, so wall-clock epoch seconds), a
    :class:`~kindpulse.types.Gap` on every loss of a streaming link, and, from a strap
    with Polar Measurement Data, one :class:`~kindpulse.types.Movement` per second on the
    same clock; it ends after :meth:`close`. ``status`` and ``motion_status`` are
    snapshots for status displays.

    Accelerometer samples are placed on the clock by
    :class:`~kindpulse.sensors.pmd.AccTimeline`: spaced by the strap's own timestamps,
    each frame anchored so that its last sample is at its arrival time less the delivery
    latency above the smallest one seen (so notification jitter does not move them), and
    grouped into whole seconds by :class:`~kindpulse.sensors.pmd.MovementAccumulator`
    (an open second is carried to the next frame and dropped when the link breaks).

    ``rng`` seeds the backoff jitter (tests).
    """

    def __init__(
        self,
        config: BleConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._cfg = config if config is not None else BleConfig()
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._stats = ParseStats()
        self._queue: asyncio.Queue[BleItem | None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._client: BleakClient | None = None
        self._link_lost = False
        self._last_rr = 0.0
        self._session_beats = 0
        self._frames_without_rr = 0
        self._warned_hr_only = False
        self._not_found = _Reporter(first_repeat_s=2.0 * self._cfg.scan_timeout_s)
        self._unavailable = _Reporter(first_repeat_s=30.0)
        self._connect_problem = _Reporter(first_repeat_s=60.0)
        self._no_contact = _Reporter(first_repeat_s=60.0)
        self._connecting = False
        # status
        self._connected = False
        self._name: str | None = None
        self._address: str | None = None
        self._battery: int | None = None
        self._contact: bool | None = None
        self._hr: int | None = None
        self._beats = 0
        self._connects = 0
        self._failed = 0
        self._link_losses = 0
        self._watchdog_trips = 0
        self._gaps = 0
        # accelerometer
        self._pmd_stats = PmdStats()
        self._pmd: _PmdLink | None = None
        self._pmd_warned = False  # a failed start was logged; the next only at debug
        self._pmd_starts = 0
        self._pmd_failures = 0
        self._movements = 0
        self._late = 0

    @property
    def config(self) -> BleConfig:
        """The configuration this source runs with."""
        return self._cfg

    @property
    def status(self) -> SourceStatus:
        """A snapshot of the link, the device and the counters."""
        return SourceStatus(
            connected=self._connected,
            device_name=self._name,
            device_address=self._address,
            battery_pct=self._battery,
            contact=self._contact,
            hr_bpm=self._hr,
            counters=SourceCounters(
                frames=self._stats.frames,
                dropped_short=self._stats.dropped_short,
                odd_trailing=self._stats.odd_trailing,
                beats=self._beats,
                connects=self._connects,
                failed_attempts=self._failed,
                link_losses=self._link_losses,
                watchdog_trips=self._watchdog_trips,
                gaps=self._gaps,
            ),
        )

    @property
    def motion_status(self) -> MotionStatus:
        """A snapshot of the accelerometer stream."""
        link = self._pmd
        stats = self._pmd_stats
        return MotionStatus(
            streaming=bool(link and link.streaming and self._connected),
            rate_hz=link.rate_hz if link and link.requested else None,
            range_g=link.range_g if link and link.requested else None,
            starts=self._pmd_starts,
            start_failures=self._pmd_failures,
            frames=stats.frames,
            samples=stats.samples,
            dropped=stats.dropped_short + stats.dropped_type + stats.dropped_malformed,
            movements=self._movements,
            late=self._late + (link.accumulator.late if link else 0),
        )

    async def stream(self) -> AsyncIterator[Beat | Gap | Movement]:
        """Beats, gaps and seconds of movement until :meth:`close`; the supervision starts
        on first use.

        Leaving the loop early does not stop the source: call :meth:`close`.
        """
        async with contextlib.aclosing(self.stream_with_samples()) as items:
            async for item in items:
                if not isinstance(item, AccSamples):
                    yield item

    async def stream_with_samples(self) -> AsyncGenerator[BleItem, None]:
        """As :meth:`stream`, and with ``acc_samples`` configured also the raw
        accelerometer samples of every frame (:class:`~kindpulse.sensors.pmd.AccSamples`),
        each frame's before the seconds of movement it completes."""
        if self._task is not None or self._closing:
            raise RuntimeError("BleHeartRateSource.stream() can be used once, before close()")
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[BleItem | None] = asyncio.Queue()
        self._queue = queue
        self._wake = asyncio.Event()
        task = self._task = self._loop.create_task(self._supervise())
        while True:
            item = await queue.get()
            if item is None:
                break
            yield item
        if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
            raise exc

    async def close(self) -> None:
        """Stop notifications, disconnect, and end the stream (idempotent).

        Waits up to :data:`IO_TIMEOUT_S` for a clean stop, then cancels the supervision.
        """
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        task = self._task
        if task is None or task.done():
            return
        if self._connecting:
            # bleak cancels a pending BlueZ connection on cancellation (it sends Disconnect)
            task.cancel()
        done, _ = await asyncio.wait({task}, timeout=IO_TIMEOUT_S)
        if not done:
            logger.warning("Bluetooth source did not stop within %.0f s; cancelling", IO_TIMEOUT_S)
            task.cancel()
            await asyncio.wait({task})

    # -- supervision -------------------------------------------------------------------

    async def _supervise(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        cfg = self._cfg
        failures = 0  # consecutive connection attempts that did not deliver beats
        unavailable = 0  # consecutive scans that could not start
        not_before = 0.0  # loop time before which no connection attempt starts
        try:
            while not self._closing:
                try:
                    device = await self._find_device()
                except Exception as exc:
                    self._unavailable.report(
                        describe_bluetooth_problem(exc)
                        or f"Bluetooth scan failed: {_one_line(exc)}; retrying"
                    )
                    await self._pause(
                        backoff_delay(
                            unavailable, cfg.backoff_initial_s, cfg.backoff_max_s, self._rng
                        )
                    )
                    unavailable += 1
                    continue
                if self._unavailable.active:
                    logger.warning("Bluetooth is available again; looking for the strap")
                    self._unavailable.reset()
                unavailable = 0
                if device is None:  # a scanning round without the strap, or close()
                    continue
                await self._pause(not_before - loop.time())
                if self._closing:
                    break
                try:
                    end = await self._session(device)
                except Exception:
                    logger.exception("unexpected error in the Bluetooth session; reconnecting")
                    end = _End.FAILED
                if end is _End.CLOSED:
                    break
                failures = 0 if end is _End.STREAMED else failures + 1
                not_before = loop.time() + backoff_delay(
                    failures, cfg.backoff_initial_s, cfg.backoff_max_s, self._rng
                )
        finally:
            self._connected = False
            self._queue.put_nowait(None)

    async def _pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking early on close()."""
        assert self._wake is not None
        self._wake.clear()
        if self._closing or seconds <= 0:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _wanted(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        cfg = self._cfg
        if cfg.address:
            return device.address.upper() == cfg.address.strip().upper()
        if cfg.name:
            name = adv.local_name or device.name
            return name is not None and name.startswith(cfg.name)
        return HEART_RATE_SERVICE_UUID in (u.lower() for u in adv.service_uuids)

    def _wanted_label(self) -> str:
        cfg = self._cfg
        if cfg.address:
            return f"the strap with address {cfg.address}"
        if cfg.name:
            return f"a strap named {cfg.name!r}"
        return "a heart-rate strap (any device advertising the Heart Rate Service)"

    async def _find_device(self) -> BLEDevice | None:
        """One scanning round: the wanted device, or None after ``scan_timeout_s``.

        Raises what bleak raises when scanning cannot start (no adapter, powered off...).
        """
        from bleak import BleakScanner

        assert self._wake is not None
        cfg = self._cfg
        found: list[BLEDevice] = []
        found_name: list[str | None] = []

        def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
            if not found and self._wanted(device, adv):
                found.append(device)
                found_name.append(adv.local_name or device.name)
                assert self._wake is not None
                self._wake.set()

        bluez: BlueZScannerArgs = {}
        if cfg.adapter:
            bluez["adapter"] = cfg.adapter
        scanner = BleakScanner(
            on_advertisement,
            service_uuids=None if (cfg.address or cfg.name) else [HEART_RATE_SERVICE_UUID],
            bluez=bluez,
        )
        self._wake.clear()
        await scanner.start()
        try:
            if not found and not self._closing:
                await asyncio.wait_for(self._wake.wait(), cfg.scan_timeout_s)
        except asyncio.TimeoutError:
            pass
        finally:
            try:
                await scanner.stop()
            except Exception as exc:
                logger.debug("stopping the scan failed: %s", _one_line(exc))
        if not found:
            if not self._closing:
                self._not_found.report(
                    f"strap not found yet: still looking for {self._wanted_label()}; wear it "
                    "(moist electrodes wake it up) and make sure no phone app is connected "
                    "to it"
                )
            return None
        if self._not_found.active:
            self._not_found.reset()
        self._name = found_name[0]
        self._address = found[0].address
        return found[0]

    def _label(self) -> str:
        if self._name:
            return f"{self._name} ({self._address})"
        return self._address or "the strap"

    async def _session(self, device: BLEDevice) -> _End:
        """Connect, subscribe, and supervise one link until it ends."""
        from bleak import BleakClient
        from bleak.exc import BleakCharacteristicNotFoundError

        assert self._wake is not None and self._loop is not None
        cfg = self._cfg
        self._link_lost = False

        def on_disconnected(client: BleakClient) -> None:
            if client is self._client:
                self._link_lost = True
                if self._wake is not None:
                    self._wake.set()

        bluez: BlueZClientArgs = {}
        if cfg.adapter:
            bluez["adapter"] = cfg.adapter
        client = BleakClient(
            device,
            disconnected_callback=on_disconnected,
            timeout=cfg.connect_timeout_s,
            bluez=bluez,
        )
        self._client = client

        def on_measurement(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            if client is self._client:  # a released client's late frames are dropped
                self._on_measurement(data)

        streaming = False
        gap_reason: str | None = None
        pmd_task: asyncio.Task[None] | None = None
        self._pmd = None
        try:
            self._connecting = True  # close() may cancel a pending connection at once
            try:
                await client.connect()
            except Exception as exc:
                self._failed += 1
                self._connect_problem.report(
                    f"could not connect to {self._label()}: {_one_line(exc)}; retrying"
                )
                return _End.FAILED
            finally:
                self._connecting = False
            if self._closing:
                return _End.CLOSED
            await self._read_battery(client)
            try:
                await client.start_notify(
                    HEART_RATE_MEASUREMENT_UUID,
                    on_measurement,
                    bluez={"use_start_notify": cfg.use_start_notify},
                )
            except BleakCharacteristicNotFoundError:
                self._failed += 1
                self._connect_problem.report(
                    f"{self._label()} has no Heart Rate Measurement characteristic (0x2A37), "
                    "so it is not a heart-rate strap: configure the strap's address "
                    "(see 'kindpulse scan')",
                    logging.ERROR,
                )
                return _End.FAILED
            except Exception as exc:
                self._failed += 1
                self._connect_problem.report(
                    f"could not subscribe to heart rate from {self._label()}: "
                    f"{_one_line(exc)}; reconnecting"
                )
                return _End.FAILED
            self._connect_problem.reset()
            streaming = True
            self._connected = True
            self._connects += 1
            self._session_beats = 0
            self._frames_without_rr = 0
            self._last_rr = self._loop.time()
            logger.info("connected to %s; receiving heart rate", self._label())
            if cfg.accelerometer and client.services.get_service(PMD_SERVICE_UUID) is not None:
                # heart rate flows already; the accelerometer starts beside it
                pmd_task = self._loop.create_task(self._start_pmd(client))
            gap_reason = await self._watch_link(client)
            if gap_reason is None:
                return _End.CLOSED
            return _End.STREAMED if self._session_beats else _End.NO_DATA
        finally:
            self._connected = False
            self._client = None  # later callbacks of this client are ignored
            if pmd_task is not None:
                pmd_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pmd_task
            link = self._pmd
            if link is not None:
                self._late += link.accumulator.late
                link.accumulator.late = 0
                link.accumulator.reset()  # the open second ends with the link
            if gap_reason is not None:
                self._emit(Gap(self._clock(), gap_reason))
            if link is not None and link.requested and self._closing and client.is_connected:
                await self._stop_pmd(client, link)
            if streaming and self._closing and client.is_connected:
                try:
                    await asyncio.wait_for(
                        client.stop_notify(HEART_RATE_MEASUREMENT_UUID), IO_TIMEOUT_S
                    )
                except Exception as exc:
                    logger.debug("stop_notify on %s: %s", self._label(), _one_line(exc))
            # Always disconnect, even after a link loss: it releases the client's own
            # D-Bus connection (one socket per connection) and cancels a pending connect.
            try:
                await asyncio.wait_for(client.disconnect(), IO_TIMEOUT_S)
            except Exception as exc:
                logger.debug("disconnect from %s: %s", self._label(), _one_line(exc))

    async def _watch_link(self, client: BleakClient) -> str | None:
        """Wait until the link ends; return the gap reason, or None on close()."""
        assert self._wake is not None and self._loop is not None
        loop = self._loop
        cfg = self._cfg
        next_battery = loop.time() + cfg.battery_interval_s
        while True:
            self._wake.clear()
            if self._closing:
                return None
            if self._link_lost or not client.is_connected:
                self._link_losses += 1
                logger.warning(
                    "lost the link to %s; reconnecting as soon as it is back", self._label()
                )
                return "link lost"
            now = loop.time()
            rr_deadline = self._last_rr + cfg.watchdog_s
            if now >= rr_deadline:
                self._watchdog_trips += 1
                logger.warning(
                    "no RR interval from %s for %g s although connected; reconnecting",
                    self._label(),
                    cfg.watchdog_s,
                )
                return f"no RR interval for {cfg.watchdog_s:g} s"
            if now >= next_battery:
                await self._read_battery(client)
                next_battery = loop.time() + cfg.battery_interval_s
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(rr_deadline, next_battery) - now)

    async def _read_battery(self, client: BleakClient) -> None:
        """Read Battery Level (BAS v1.0, 0x2A19: uint8, 0-100 %); absent is fine."""
        from bleak.exc import BleakCharacteristicNotFoundError

        try:
            data = await asyncio.wait_for(client.read_gatt_char(BATTERY_LEVEL_UUID), IO_TIMEOUT_S)
        except BleakCharacteristicNotFoundError:
            logger.debug("%s has no Battery Level characteristic", self._label())
            return
        except Exception as exc:
            logger.debug(
                "reading the battery level of %s failed: %s", self._label(), _one_line(exc)
            )
            return
        if not data or data[0] > 100:
            logger.debug("%s reported an invalid battery level %r", self._label(), bytes(data))
            return
        level = data[0]
        if level != self._battery:
            logger.log(
                logging.WARNING if level <= 10 else logging.INFO,
                "%s battery: %d %%%s",
                self._label(),
                level,
                " (low: replace the strap's coin cell soon)" if level <= 10 else "",
            )
        self._battery = level

    def _emit(self, item: BleItem) -> None:
        assert self._queue is not None
        if isinstance(item, Gap):
            self._gaps += 1
        self._queue.put_nowait(item)

    def _on_measurement(self, data: bytearray) -> None:
        """A Heart Rate Measurement notification of the current client (on the loop)."""
        arrival = self._clock()
        frame = parse_hrm(data, self._stats)
        if frame is None:
            return
        self._hr = frame.hr_bpm
        if frame.contact is False and self._contact is not False:
            self._no_contact.report(
                f"{self._label()} reports no skin contact: moisten the electrodes and "
                "tighten the strap (beats without contact count as unknown)",
                logging.INFO,
            )
        self._contact = frame.contact
        if not frame.rr_ms:
            self._frames_without_rr += 1
            if (
                self._frames_without_rr == HR_ONLY_FRAMES
                and frame.contact is not False
                and not self._warned_hr_only
            ):
                self._warned_hr_only = True
                logger.warning(
                    "%s sends heart rate without RR intervals, but HRV needs RR intervals: "
                    "use a strap that sends them (e.g. Polar H10/H9, Garmin HRM-Pro/HRM-Dual, "
                    "Wahoo TICKR)",
                    self._label(),
                )
            return
        assert self._loop is not None and self._queue is not None
        self._frames_without_rr = 0
        self._last_rr = self._loop.time()
        beats = backdate(frame, arrival)
        self._session_beats += len(beats)
        self._beats += len(beats)
        put = self._queue.put_nowait
        for beat in beats:
            put(beat)

    # -- accelerometer (Polar Measurement Data) ------------------------------------------

    async def _start_pmd(self, client: BleakClient) -> None:
        """Start the accelerometer stream on this connection; a failure is reported (once
        until a start succeeds) and heart rate goes on."""
        link = self._pmd = _PmdLink()

        def on_control(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            if client is self._client:
                self._on_pmd_control(link, data)

        def on_data(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            if client is self._client:
                self._on_pmd_data(link, data)

        try:
            await asyncio.wait_for(
                client.start_notify(
                    PMD_CONTROL_POINT_UUID, on_control, bluez={"use_start_notify": True}
                ),
                PMD_TIMEOUT_S,
            )
            await asyncio.wait_for(
                client.start_notify(
                    PMD_DATA_UUID, on_data, bluez={"use_start_notify": self._cfg.use_start_notify}
                ),
                PMD_TIMEOUT_S,
            )
            offered = await self._pmd_request(client, link, settings_request())
            if not offered.ok:
                raise PmdError(f"the settings request was refused ({offered.status_text})")
            chosen = choose_acc_settings(parse_settings(offered.parameters))
            link.configure(chosen)
            started = await self._pmd_request(client, link, start_request(chosen))
            if started.status == CpStatus.ALREADY_IN_STATE:
                # a stream left running from before: stop it and start ours
                await self._pmd_request(client, link, stop_request())
                started = await self._pmd_request(client, link, start_request(chosen))
            if not started.ok:
                raise PmdError(f"the start request was refused ({started.status_text})")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._pmd_failures += 1
            link.requested = False
            if isinstance(exc, asyncio.TimeoutError):
                why = f"no answer within {PMD_TIMEOUT_S:g} s"
            else:
                why = _one_line(exc)
            logger.log(
                logging.DEBUG if self._pmd_warned else logging.WARNING,
                "could not start the accelerometer of %s: %s; heart rate goes on without movement",
                self._label(),
                why,
            )
            self._pmd_warned = True
            return
        self._pmd_starts += 1
        self._pmd_warned = False
        logger.info(
            "receiving movement from %s (accelerometer at %d Hz, range %d G)",
            self._label(),
            link.rate_hz,
            link.range_g,
        )

    async def _pmd_request(self, client: BleakClient, link: _PmdLink, request: bytes) -> CpResponse:
        """Write one control point request and wait for its response (continuations
        merged)."""
        op = request[0]
        while not link.responses.empty():  # answers to earlier requests that timed out
            link.responses.get_nowait()
        await asyncio.wait_for(
            client.write_gatt_char(PMD_CONTROL_POINT_UUID, request, response=True),
            PMD_TIMEOUT_S,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PMD_TIMEOUT_S
        first: CpResponse | None = None
        params = b""
        while True:
            response = await asyncio.wait_for(link.responses.get(), deadline - loop.time())
            if response.op != op:
                logger.debug("PMD response to op %d while waiting for op %d", response.op, op)
                continue
            first = first or response
            params += response.parameters
            if not response.more:
                break
        assert first is not None
        return CpResponse(first.op, first.measurement, first.status, False, params)

    async def _stop_pmd(self, client: BleakClient, link: _PmdLink) -> None:
        """Ask the strap to stop the accelerometer (on close; a link loss stops it). The
        answer is not awaited: the connection is being released."""
        try:
            await asyncio.wait_for(
                client.write_gatt_char(PMD_CONTROL_POINT_UUID, stop_request(), response=True),
                PMD_TIMEOUT_S,
            )
        except Exception as exc:
            logger.debug("stopping the accelerometer of %s: %s", self._label(), _one_line(exc))
        link.streaming = False
        for uuid in (PMD_DATA_UUID, PMD_CONTROL_POINT_UUID):
            try:
                await asyncio.wait_for(client.stop_notify(uuid), IO_TIMEOUT_S)
            except Exception as exc:
                logger.debug("stop_notify %s on %s: %s", uuid, self._label(), _one_line(exc))

    def _on_pmd_control(self, link: _PmdLink, data: bytearray) -> None:
        """A control point indication of the current client (on the loop)."""
        try:
            response = parse_cp_response(data)
        except PmdError:
            if len(data) >= 2 and data[0] == 0x01:  # the strap stopped a stream itself
                if link.streaming:
                    logger.info("%s stopped its accelerometer stream", self._label())
                link.streaming = False
            else:
                logger.debug("PMD control point: %s", bytes(data).hex(" "))
            return
        if response.op == OpCode.START and response.ok:
            link.started(response)  # before any data frame that follows it is handled
        link.responses.put_nowait(response)

    def _on_pmd_data(self, link: _PmdLink, data: bytearray) -> None:
        """A PMD data notification of the current client (on the loop)."""
        arrival = self._clock()
        if not link.requested:
            return
        frame = parse_acc_frame(
            data,
            self._pmd_stats,
            factor=link.factor,
            range_g=link.range_g,
            resolution=link.resolution,
        )
        if frame is None:
            return
        sensor_ns, times = link.timeline.place(frame.sensor_ns, frame.mg.shape[0], arrival)
        if self._cfg.acc_samples:
            mg = frame.mg
            self._emit(
                AccSamples(
                    tuple(times.tolist()),
                    tuple(sensor_ns),
                    tuple(mg[:, 0].tolist()),
                    tuple(mg[:, 1].tolist()),
                    tuple(mg[:, 2].tolist()),
                )
            )
        for movement in link.accumulator.add(times, frame.mg):
            self._movements += 1
            self._emit(movement)
