"""A simulated BlueZ (``org.bluez``) on a private D-Bus, to run the real bleak against.

Run as a script (``python fakebluez.py``) it serves, on the bus named by
``DBUS_SYSTEM_BUS_ADDRESS``, what bleak 3.x uses from bluetoothd (tests/TESTING.md, "BLE:
the real bleak over a simulated BlueZ"):

* ``org.freedesktop.DBus.ObjectManager`` on ``/`` (dbus-fast answers ``GetManagedObjects``
  and emits ``InterfacesAdded`` / ``InterfacesRemoved`` on export / unexport);
* ``org.bluez.Adapter1`` at ``/org/bluez/hci0`` (``Powered``, ``Roles`` with ``central``,
  per-client discovery sessions);
* ``org.bluez.Device1`` objects that appear when discovery sees them advertise and then
  report RSSI every ``advert_interval`` seconds while discovering; ``Connect`` adds the
  GATT objects (Heart Rate Service 0x180D with Heart Rate Measurement 0x2A37 and its
  CCCD, Body Sensor Location 0x2A38; Battery Service 0x180F with Battery Level 0x2A19)
  and sets ``ServicesResolved``; ``Disconnect`` and link loss undo that;
* ``StartNotify`` / ``StopNotify`` (values as ``PropertiesChanged`` on ``Value``) and
  ``AcquireNotify`` (a ``SOCK_SEQPACKET`` socket pair: one end passed to the client with
  the MTU, as BlueZ does; the client closing its end releases the notification);
* opt-in per device, Polar Measurement Data (service ``FB005C80-…``): a control point
  (write + indicate) that answers the settings, start and stop requests for the
  accelerometer as a Polar strap does (or refuses the start with a chosen error), and a
  data characteristic (notify) that streams a scripted accelerometer signal in real time
  once started, in frames of the chosen type, with the strap's own sample timestamps.

A control interface on the same connection (name ``org.kindpulse.FakeBlueZ``) lets a test
add / remove the adapter and devices, switch advertising, drop links, send or pump
Heart Rate Measurement frames, give a device an accelerometer script, make connection
attempts fail, and see what the client called: every call is also broadcast as an
``Event(kind, detail)`` signal.

Imported by the tests, the module gives the helpers to start a private bus
(:class:`PrivateBus`), start this fake in a subprocess (:class:`FakeBluezProcess`),
drive it (:class:`FakeControl`) and build frames (:func:`hrm_frame`, :func:`acc_frame`)
and accelerometer scripts (:func:`motion_script`).
"""

import argparse
import asyncio
import contextlib
import math
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from dbus_fast import BusType, Message, MessageType, PropertyAccess, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusByte,
    DBusDict,
    DBusDouble,
    DBusInt16,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt16,
    DBusUInt32,
)
from dbus_fast.errors import DBusError
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

BLUEZ = "org.bluez"
CONTROL_NAME = "org.kindpulse.FakeBlueZ"
CONTROL_PATH = "/org/kindpulse/FakeBlueZ"
CONTROL_IFACE = "org.kindpulse.FakeBlueZ1"
ADAPTER_PATH = "/org/bluez/hci0"
ADAPTER_ADDRESS = "00:1A:7D:DA:71:13"
GATT_CHAR_IFACE = "org.bluez.GattCharacteristic1"


def uuid16(short: int) -> str:
    """A 16-bit SIG UUID on the Bluetooth base UUID."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


HRS_UUID = uuid16(0x180D)
HRM_UUID = uuid16(0x2A37)
BSL_UUID = uuid16(0x2A38)
BAS_UUID = uuid16(0x180F)
BATTERY_LEVEL_UUID = uuid16(0x2A19)
CCCD_UUID = uuid16(0x2902)
HID_UUID = uuid16(0x1812)

StrList = Annotated[list[str], DBusSignature("as")]
PathList = Annotated[list[str], DBusSignature("ao")]
Bytes = Annotated[bytes, DBusSignature("ay")]
ByteArrays = Annotated[list[bytes], DBusSignature("aay")]
ManufacturerData = Annotated[dict[int, Variant], DBusSignature("a{qv}")]
Triples = Annotated[list[list[int]], DBusSignature("a(nnn)")]
CountsDict = Annotated[dict[str, int], DBusSignature("a{su}")]
EventBody = Annotated[list[str], DBusSignature("ss")]


def hrm_frame(
    rr_1024: Sequence[int] = (),
    *,
    hr: int = 60,
    contact: bool | None = True,
    energy_kj: int | None = None,
    hr_uint16: bool = False,
) -> bytes:
    """Encode a Heart Rate Measurement frame (HRS v1.0 section 3.1), independently of
    the parser under test: RR values are raw 1/1024 s counts."""
    flags = 0
    body = bytearray()
    if hr_uint16:
        flags |= 0x01
        body += hr.to_bytes(2, "little")
    else:
        body.append(hr)
    if contact is not None:
        flags |= 0x04 | (0x02 if contact else 0)
    if energy_kj is not None:
        flags |= 0x08
        body += energy_kj.to_bytes(2, "little")
    if rr_1024:
        flags |= 0x10
        for v in rr_1024:
            body += int(v).to_bytes(2, "little")
    return bytes([flags]) + bytes(body)


PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

#: What a Polar H10 offers for the accelerometer (control point settings parameters):
#: sample rate 25/50/100/200 Hz, resolution 16 bits, range 2/4/8 G.
H10_ACC_SETTINGS = bytes.fromhex("0004 1900 3200 6400 c800 0101 1000 0203 0200 0400 0800")


def _signed_bits(value: int) -> int:
    """Bits needed for ``value`` as a two's complement number (at least 1)."""
    return max(1, (value if value >= 0 else ~value).bit_length() + 1)


def acc_frame(
    sensor_ns: int,
    samples: Sequence[tuple[int, int, int]],
    frame_type: int = 0x01,
    *,
    block: int = 12,
) -> bytes:
    """Encode a PMD accelerometer data frame, independently of the parser under test.

    ``samples``: (x, y, z) per sample, in the frame type's units (mg for 0x00-0x02 and
    0x81, sensor counts for 0x80); ``sensor_ns``: the timestamp of the last sample.
    Compressed types (bit 7) get the first sample as the int16 reference, then blocks of
    up to ``block`` samples, each with the smallest delta width that holds its deltas.
    """
    out = bytearray([0x02]) + sensor_ns.to_bytes(8, "little") + bytes([frame_type])
    if not frame_type & 0x80:
        size = {0x00: 1, 0x01: 2, 0x02: 3}[frame_type]
        for sample in samples:
            for v in sample:
                out += int(v).to_bytes(size, "little", signed=True)
        return bytes(out)
    first, rest = samples[0], list(samples[1:])
    for v in first:
        out += int(v).to_bytes(2, "little", signed=True)
    prev = first
    for start in range(0, len(rest), block):
        chunk = rest[start : start + block]
        deltas: list[int] = []
        for sample in chunk:
            deltas += [int(a) - int(b) for a, b in zip(sample, prev, strict=True)]
            prev = sample
        width = max(_signed_bits(d) for d in deltas)
        packed = 0
        for k, d in enumerate(deltas):
            packed |= (d & ((1 << width) - 1)) << (k * width)
        out += bytes([width, len(chunk)])
        out += packed.to_bytes((len(deltas) * width + 7) // 8, "little")
    return bytes(out)


def motion_script(
    phases: Sequence[tuple[str, float]],
    *,
    rate: int = 25,
    gravity_axis: int = 2,
    gravity_sign: int = 1,
    mg_per_count: float = 1.0,
    seed: int = 7,
) -> list[tuple[int, int, int]]:
    """An accelerometer signal of a strap on the chest, as integers of ``mg_per_count``.

    ``phases``: ``("still", seconds)`` (about 1.7 mg of noise per axis: a movement of
    about 3 mg) or ``("walk", seconds)`` (a 2 Hz bounce of 212 mg peak along gravity: a
    movement of about 150 mg). Gravity (1000 mg) lies on ``gravity_axis`` with
    ``gravity_sign``.
    """
    rng = random.Random(seed)
    out: list[tuple[int, int, int]] = []
    k = 0
    for kind, seconds in phases:
        for _ in range(round(seconds * rate)):
            v = [rng.gauss(0.0, 1.7) for _ in range(3)]
            v[gravity_axis] += gravity_sign * 1000.0
            if kind == "walk":
                v[gravity_axis] += 212.0 * math.sin(2.0 * math.pi * 2.0 * k / rate)
            elif kind != "still":
                raise ValueError(f"unknown phase {kind!r}")
            out.append(
                (round(v[0] / mg_per_count), round(v[1] / mg_per_count), round(v[2] / mg_per_count))
            )
            k += 1
    return out


# ---------------------------------------------------------------------------------------
# The service (runs in its own process)
# ---------------------------------------------------------------------------------------


class World:
    """All fake BlueZ state, on one dbus-fast connection."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.adapter: FakeAdapter | None = None
        self.devices: dict[str, FakeDevice] = {}
        self.sender = ""
        self.advert_interval = 0.3
        self.connect_fail_delay = 0.05
        self.counts: Counter[str] = Counter()
        self.control: Control | None = None
        self.chars: dict[str, FakeCharacteristic] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def event(self, kind: str, detail: str = "") -> None:
        self.counts[kind] += 1
        if self.control is not None:
            self.control.Event(kind, detail)

    # -- incoming messages before dispatch: sender tracking, AcquireNotify, clients gone
    def pre_dispatch(self, msg: Message) -> Message | bool | None:
        if msg.message_type == MessageType.METHOD_CALL:
            self.sender = msg.sender or ""
            if msg.interface == GATT_CHAR_IFACE and msg.member == "AcquireNotify":
                return self.acquire_notify(msg)
            return None
        if (
            msg.message_type == MessageType.SIGNAL
            and msg.member == "NameOwnerChanged"
            and msg.sender == "org.freedesktop.DBus"
        ):
            name, _old, new = msg.body
            if name.startswith(":") and not new:
                self.client_gone(name)
        return None

    def client_gone(self, name: str) -> None:
        gone = False
        if self.adapter is not None and name in self.adapter.sessions:
            self.adapter.stop_session(name)
            gone = True
        for char in list(self.chars.values()):
            if name in char.sessions:
                char.sessions.discard(name)
                char.update_notifying()
                gone = True
        if gone:
            self.event("ClientGone", name)

    def acquire_notify(self, msg: Message) -> Message | bool:
        char = self.chars.get(msg.path or "")
        if char is None:
            return Message.new_error(
                msg, "org.freedesktop.DBus.Error.UnknownObject", f"no characteristic at {msg.path}"
            )
        if "notify" not in char.flags:
            return Message.new_error(
                msg, "org.bluez.Error.NotSupported", "Operation is not supported"
            )
        if char.acquired is not None or char.sessions:
            return Message.new_error(msg, "org.bluez.Error.NotPermitted", "Notify acquired")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        char.acquired = ours
        asyncio.get_running_loop().add_reader(ours.fileno(), char.on_acquired_readable)
        char.notify_acquired = True
        char.emit_properties_changed({"NotifyAcquired": True})
        reply = Message.new_method_return(msg, "hq", [0, 23], [theirs.fileno()])
        sent = self.bus.send(reply)
        # our copy of the client's end must go once the message carried it, so that the
        # client closing its copy is seen as a hang-up
        sent.add_done_callback(lambda _f: theirs.close())
        self.event("AcquireNotify", char.path)
        return True

    # -- adapter
    def add_adapter(self) -> None:
        if self.adapter is not None:
            return
        self.adapter = FakeAdapter(self)
        self.bus.export(ADAPTER_PATH, self.adapter)
        self.event("AdapterAdded")

    def remove_adapter(self) -> None:
        if self.adapter is None:
            return
        for device in self.devices.values():
            if device.connected:
                device.teardown("adapter removed")
            device.unexport()
        self.bus.unexport(ADAPTER_PATH)
        self.adapter = None
        self.event("AdapterRemoved")

    def discovering(self) -> bool:
        return self.adapter is not None and self.adapter.powered and self.adapter.discovering

    def advertise(self) -> None:
        if not self.discovering():
            return
        for device in self.devices.values():
            if device.advertising and not device.connected:
                if not device.exported:
                    device.export()  # InterfacesAdded: bleak treats it as an advertisement
                else:
                    device.emit_properties_changed({"RSSI": device.rssi})

    async def advertiser(self) -> None:
        while True:
            await asyncio.sleep(self.advert_interval)
            self.advertise()

    def send(self, device: "FakeDevice", frame: bytes) -> bool:
        char = device.hrm
        if char is None or not device.connected:
            return False
        return self.notify(char, frame)

    def notify(self, char: "FakeCharacteristic", frame: bytes) -> bool:
        """A notification or indication of ``char`` to whoever subscribed."""
        delivered = False
        if char.sessions:
            char.value = frame
            char.emit_properties_changed({"Value": frame})
            delivered = True
        if char.acquired is not None:
            with contextlib.suppress(BlockingIOError, OSError):
                char.acquired.send(frame)
                delivered = True
        return delivered

    def device(self, address: str) -> "FakeDevice":
        try:
            return self.devices[address.upper()]
        except KeyError:
            raise DBusError("org.kindpulse.Error.NoDevice", f"no fake device {address}") from None

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class FakeAdapter(ServiceInterface):
    def __init__(self, world: World) -> None:
        super().__init__("org.bluez.Adapter1")
        self.world = world
        self.powered = True
        self.discovering = False
        self.sessions: set[str] = set()

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return ADAPTER_ADDRESS

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return "public"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return "fakehost"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:
        return "fakehost"

    @dbus_property(access=PropertyAccess.READ)
    def Class(self) -> DBusUInt32:
        return 0

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> DBusBool:
        return self.powered

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Pairable(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> DBusBool:
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> StrList:
        return []

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> StrList:
        return ["central", "peripheral"]

    @dbus_property(access=PropertyAccess.READ)
    def Modalias(self) -> DBusStr:
        return "usb:v1D6Bp0246d0548"

    def set_powered(self, on: bool) -> None:
        if on == self.powered:
            return
        if not on:
            for device in self.world.devices.values():
                if device.connected:
                    device.teardown("adapter powered off")
            self.sessions.clear()
            self.set_discovering(False)
        self.powered = on
        self.emit_properties_changed({"Powered": on})

    def set_discovering(self, on: bool) -> None:
        if on != self.discovering:
            self.discovering = on
            self.emit_properties_changed({"Discovering": on})

    def stop_session(self, sender: str) -> None:
        self.sessions.discard(sender)
        if not self.sessions:
            self.set_discovering(False)

    @dbus_method()
    def SetDiscoveryFilter(self, properties: DBusDict) -> None:
        self.world.event("SetDiscoveryFilter", ",".join(sorted(properties)))

    @dbus_method()
    def GetDiscoveryFilters(self) -> StrList:
        return [
            "UUIDs",
            "RSSI",
            "Pathloss",
            "Transport",
            "DuplicateData",
            "Discoverable",
            "Pattern",
        ]

    @dbus_method()
    def StartDiscovery(self) -> None:
        if not self.powered:
            raise DBusError("org.bluez.Error.NotReady", "Resource Not Ready")
        self.sessions.add(self.world.sender)
        self.set_discovering(True)
        self.world.event("StartDiscovery", self.world.sender)
        asyncio.get_running_loop().call_soon(self.world.advertise)

    @dbus_method()
    def StopDiscovery(self) -> None:
        if not self.powered:
            raise DBusError("org.bluez.Error.NotReady", "Resource Not Ready")
        if self.world.sender not in self.sessions:
            raise DBusError("org.bluez.Error.Failed", "No discovery started")
        self.stop_session(self.world.sender)
        self.world.event("StopDiscovery", self.world.sender)

    @dbus_method()
    def RemoveDevice(self, device: DBusObjectPath) -> None:
        for d in self.world.devices.values():
            if d.path == device and d.exported:
                if d.connected:
                    d.teardown("removed")
                d.unexport()
                self.world.event("RemoveDevice", d.address)
                return
        raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")


class FakeDevice(ServiceInterface):
    def __init__(self, world: World, address: str, name: str, rssi: int, heart_rate: bool):
        super().__init__("org.bluez.Device1")
        self.world = world
        self.address = address.upper()
        self.device_name = name  # (``name`` is the D-Bus interface name of a ServiceInterface)
        self.rssi = rssi
        self.heart_rate = heart_rate
        self.path = f"{ADAPTER_PATH}/dev_{self.address.replace(':', '_')}"
        self.advertising = True
        self.exported = False
        self.connected = False
        self.services_resolved = False
        self.battery = 87
        self.connect_failures = 0
        self.connect_delay = 0.0
        self.cancel_connect: asyncio.Event | None = None
        self.pump_frames: list[bytes] = []
        self.pump_interval = 0.05
        self.pump_index = 0
        self.gatt: list[tuple[str, ServiceInterface]] = []
        self.hrm: FakeCharacteristic | None = None
        self.pmd: FakePmd | None = None  # Polar Measurement Data, when the device has it

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return self.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return "random"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return self.device_name

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:
        return self.device_name

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> DBusObjectPath:
        return ADAPTER_PATH

    @dbus_property(access=PropertyAccess.READ)
    def Appearance(self) -> DBusUInt16:
        return 0x0341 if self.heart_rate else 0x03C2  # heart rate belt / mouse

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> DBusBool:
        return self.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> DBusBool:
        return self.services_resolved

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> StrList:
        uuids = [HRS_UUID, BAS_UUID] if self.heart_rate else [HID_UUID, BAS_UUID]
        return uuids + ([PMD_SERVICE_UUID] if self.pmd is not None else [])

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> DBusInt16:
        return self.rssi

    @dbus_property(access=PropertyAccess.READ)
    def TxPower(self) -> DBusInt16:
        return 0

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> ManufacturerData:
        return {0x006B: Variant("ay", b"\x3f\x00\x00")}  # 0x006B: Polar Electro Oy

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> DBusDict:
        return {}

    def export(self) -> None:
        if not self.exported:
            self.world.bus.export(self.path, self)
            self.exported = True
            self.world.event("DeviceAdded", self.address)

    def unexport(self) -> None:
        if self.exported:
            self.world.bus.unexport(self.path, self)
            self.exported = False
            self.world.event("DeviceRemoved", self.address)

    @dbus_method()
    async def Connect(self) -> None:
        world = self.world
        world.event("ConnectCall", self.address)
        if world.adapter is None or not world.adapter.powered:
            raise DBusError("org.bluez.Error.NotReady", "Resource Not Ready")
        if self.connected:
            raise DBusError("org.bluez.Error.AlreadyConnected", "Already Connected")
        if not self.advertising or self.connect_failures > 0:
            self.connect_failures = max(0, self.connect_failures - 1)
            await asyncio.sleep(world.connect_fail_delay)
            world.event("ConnectFailed", self.address)
            raise DBusError("org.bluez.Error.Failed", "Software caused connection abort")
        if self.connect_delay > 0:  # a slow connection; Disconnect cancels it, as in BlueZ
            self.cancel_connect = cancel = asyncio.Event()
            try:
                await asyncio.wait_for(cancel.wait(), self.connect_delay)
            except asyncio.TimeoutError:
                pass
            else:
                world.event("ConnectCancelled", self.address)
                raise DBusError("org.bluez.Error.Failed", "Operation was cancelled")
            finally:
                self.cancel_connect = None
        self.connected = True
        self.emit_properties_changed({"Connected": True})
        self.export_gatt()
        self.services_resolved = True
        self.emit_properties_changed({"ServicesResolved": True})
        world.event("Connect", self.address)

    @dbus_method()
    def Disconnect(self) -> None:
        self.world.event("Disconnect", self.address)
        if self.cancel_connect is not None:
            self.cancel_connect.set()
            return
        if not self.connected:
            raise DBusError("org.bluez.Error.NotConnected", "Not Connected")
        self.teardown("local")

    @dbus_method()
    def Pair(self) -> None:
        raise DBusError("org.bluez.Error.NotSupported", "Operation is not supported")

    @dbus_method()
    def CancelPairing(self) -> None:
        raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")

    def export_gatt(self) -> None:
        p = self.path
        hrs = f"{p}/service000c"
        hrm_path = f"{hrs}/char000d"
        bas = f"{p}/service0020"
        self.hrm = FakeCharacteristic(self.world, hrm_path, HRM_UUID, hrs, ["notify"])
        objects: list[tuple[str, ServiceInterface]] = [
            (hrs, FakeService(HRS_UUID, p)),
            (hrm_path, self.hrm),
            (f"{hrm_path}/desc000f", FakeDescriptor(CCCD_UUID, hrm_path)),
            (
                f"{hrs}/char0010",
                FakeCharacteristic(self.world, f"{hrs}/char0010", BSL_UUID, hrs, ["read"], b"\x01"),
            ),
            (bas, FakeService(BAS_UUID, p)),
            (
                f"{bas}/char0021",
                FakeCharacteristic(
                    self.world,
                    f"{bas}/char0021",
                    BATTERY_LEVEL_UUID,
                    bas,
                    ["read", "notify"],
                    bytes([self.battery]),
                ),
            ),
            (f"{bas}/char0021/desc0023", FakeDescriptor(CCCD_UUID, f"{bas}/char0021")),
        ]
        if self.pmd is not None:
            objects += self.pmd.gatt_objects(p)
        for path, iface in objects:
            self.world.bus.export(path, iface)
            if isinstance(iface, FakeCharacteristic):
                self.world.chars[path] = iface
        self.gatt = objects

    def teardown(self, why: str) -> None:
        """The link ends: notifications stop, GATT objects go, Connected turns false."""
        for path, iface in self.gatt:
            if isinstance(iface, FakeCharacteristic):
                iface.release_acquired(by_client=False)
                iface.sessions.clear()
                self.world.chars.pop(path, None)
        if self.pmd is not None:
            self.pmd.link_down()
        self.services_resolved = False
        self.emit_properties_changed({"ServicesResolved": False})
        self.connected = False
        self.emit_properties_changed({"Connected": False})
        for path, _iface in reversed(self.gatt):
            self.world.bus.unexport(path)
        self.gatt = []
        self.hrm = None
        self.world.event("Disconnected", f"{self.address} {why}")

    async def pump(self) -> None:
        while True:
            await asyncio.sleep(self.pump_interval)
            if self.pump_frames and self.connected:
                frame = self.pump_frames[self.pump_index % len(self.pump_frames)]
                if self.world.send(self, frame):
                    self.pump_index += 1


class FakePmd:
    """A device's Polar Measurement Data service: the accelerometer, as a Polar strap
    answers and streams it (see the module docstring of ``kindpulse.sensors.pmd``)."""

    def __init__(self, world: World, device: "FakeDevice") -> None:
        self.world = world
        self.device = device
        self.settings = H10_ACC_SETTINGS
        self.start_error = 0
        self.factor = 0.0  # 0: the start response carries no factor
        self.frame_type = 0x80
        self.rate = 25
        self.per_frame = 10
        self.jitter = 0.0
        self.script: list[tuple[int, int, int]] = [(0, 0, 1000)]
        self.script_index = 0
        self.sample_index = 0  # the strap's sample clock: samples since it was switched on
        self.t0_ns = 599_000_000_000_000_000  # the strap's clock at sample 0
        self.streaming = False
        self.cp: FakeCharacteristic | None = None
        self.data: FakeCharacteristic | None = None
        self.rng = random.Random(1)

    def gatt_objects(self, device_path: str) -> list[tuple[str, ServiceInterface]]:
        svc = f"{device_path}/service0030"
        cp_path, data_path = f"{svc}/char0031", f"{svc}/char0034"
        self.cp = FakeCharacteristic(
            self.world,
            cp_path,
            PMD_CP_UUID,
            svc,
            ["read", "write", "indicate"],
            b"\x0f\x05\x00",  # features: ECG and ACC
        )
        self.cp.on_write = self.on_control
        self.data = FakeCharacteristic(self.world, data_path, PMD_DATA_UUID, svc, ["notify"])
        return [
            (svc, FakeService(PMD_SERVICE_UUID, device_path)),
            (cp_path, self.cp),
            (f"{cp_path}/desc0033", FakeDescriptor(CCCD_UUID, cp_path)),
            (data_path, self.data),
            (f"{data_path}/desc0036", FakeDescriptor(CCCD_UUID, data_path)),
        ]

    def link_down(self) -> None:
        if self.streaming:
            self.world.event("PmdStopped", f"{self.device.address} link down")
        self.streaming = False
        self.cp = self.data = None

    def answer(self, op: int, measurement: int, status: int, params: bytes = b"") -> None:
        body = bytes([0xF0, op, measurement, status])
        if status == 0:
            body += b"\x00" + params
        if self.cp is not None:
            self.world.notify(self.cp, body)

    def on_control(self, request: bytes) -> None:
        if not self.device.connected or len(request) < 2:
            return
        op, measurement = request[0], request[1]
        if measurement != 0x02:
            self.answer(op, measurement, 3)  # NOT_SUPPORTED
            return
        if op == 0x01:
            self.world.event("PmdSettings", self.device.address)
            self.answer(op, measurement, 0, self.settings)
        elif op == 0x02:
            self.world.event("PmdStart", request.hex())
            if self.start_error:
                self.answer(op, measurement, self.start_error)
            elif self.streaming:
                self.answer(op, measurement, 6)  # ALREADY_IN_STATE
            else:
                params = b"\x05\x01" + struct.pack("<f", self.factor) if self.factor else b""
                self.answer(op, measurement, 0, params)
                self.streaming = True
        elif op == 0x03:
            self.world.event("PmdStop", self.device.address)
            self.streaming = False
            self.answer(op, measurement, 0)
        else:
            self.answer(op, measurement, 1)  # INVALID_OP_CODE

    async def pump(self) -> None:
        """The strap's sampling: a frame of ``per_frame`` samples every
        ``per_frame / rate`` s of real time, sent while streaming (a little late, up to
        ``jitter`` s, as notifications are)."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += self.per_frame / self.rate
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            self.sample_index += self.per_frame
            if not (self.streaming and self.device.connected and self.data is not None):
                continue
            samples = [
                self.script[(self.script_index + k) % len(self.script)]
                for k in range(self.per_frame)
            ]
            self.script_index += self.per_frame
            last_ns = self.t0_ns + round((self.sample_index - 1) * 1e9 / self.rate)
            frame = acc_frame(last_ns, samples, self.frame_type)
            data = self.data
            delay = self.rng.uniform(0.0, self.jitter) if self.jitter > 0 else 0.0
            loop.call_later(delay, self.send_frame, data, frame)

    def send_frame(self, data: "FakeCharacteristic", frame: bytes) -> None:
        if data is self.data and self.world.notify(data, frame):
            self.world.event("PmdFrame", str(len(frame)))


class FakeService(ServiceInterface):
    def __init__(self, uuid: str, device: str) -> None:
        super().__init__("org.bluez.GattService1")
        self.uuid = uuid
        self.device = device

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> DBusObjectPath:
        return self.device

    @dbus_property(access=PropertyAccess.READ)
    def Includes(self) -> PathList:
        return []


class FakeCharacteristic(ServiceInterface):
    def __init__(
        self, world: World, path: str, uuid: str, service: str, flags: list[str], value: bytes = b""
    ) -> None:
        super().__init__(GATT_CHAR_IFACE)
        self.world = world
        self.path = path
        self.uuid = uuid
        self.service = service
        self.flags = flags
        self.value = value
        self.sessions: set[str] = set()
        self.notifying = False
        self.notify_acquired = False
        self.acquired: socket.socket | None = None
        self.on_write: Callable[[bytes], None] | None = None

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:
        return self.service

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> Bytes:
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> DBusBool:
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def NotifyAcquired(self) -> DBusBool:
        return self.notify_acquired

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> StrList:
        return self.flags

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> DBusUInt16:
        return 23

    @dbus_method()
    def ReadValue(self, options: DBusDict) -> Bytes:
        if "read" not in self.flags:
            raise DBusError("org.bluez.Error.NotPermitted", "Read not permitted")
        self.world.event("ReadValue", self.uuid)
        return self.value

    @dbus_method()
    def WriteValue(self, value: Bytes, options: DBusDict) -> None:
        if "write" not in self.flags or self.on_write is None:
            raise DBusError("org.bluez.Error.NotPermitted", "Write not permitted")
        self.world.event("WriteValue", f"{self.uuid} {bytes(value).hex()}")
        # the answer (an indication) comes after the write's own reply, as on the air
        asyncio.get_running_loop().call_soon(self.on_write, bytes(value))

    @dbus_method()
    def StartNotify(self) -> None:
        if "notify" not in self.flags and "indicate" not in self.flags:
            raise DBusError("org.bluez.Error.NotSupported", "Operation is not supported")
        if self.acquired is not None:
            raise DBusError("org.bluez.Error.NotPermitted", "Notify acquired")
        if self.world.sender in self.sessions:
            raise DBusError("org.bluez.Error.InProgress", "In Progress")
        self.sessions.add(self.world.sender)
        self.update_notifying()
        self.world.event("StartNotify", self.uuid)

    @dbus_method()
    def StopNotify(self) -> None:
        if self.world.sender not in self.sessions:
            raise DBusError("org.bluez.Error.Failed", "No notify session started")
        self.sessions.discard(self.world.sender)
        self.update_notifying()
        self.world.event("StopNotify", self.uuid)

    def update_notifying(self) -> None:
        on = bool(self.sessions)
        if on != self.notifying:
            self.notifying = on
            self.emit_properties_changed({"Notifying": on})

    def on_acquired_readable(self) -> None:
        sock = self.acquired
        if sock is None:
            return
        try:
            data = sock.recv(512)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.release_acquired(by_client=True)

    def release_acquired(self, by_client: bool) -> None:
        sock = self.acquired
        if sock is None:
            return
        self.acquired = None
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(sock.fileno())
        sock.close()
        if by_client:
            self.notify_acquired = False
            self.emit_properties_changed({"NotifyAcquired": False})
            self.world.event("NotifyReleased", self.uuid)


class FakeDescriptor(ServiceInterface):
    def __init__(self, uuid: str, characteristic: str) -> None:
        super().__init__("org.bluez.GattDescriptor1")
        self.uuid = uuid
        self.characteristic = characteristic

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Characteristic(self) -> DBusObjectPath:
        return self.characteristic

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> Bytes:
        return b""

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> StrList:
        return ["read", "write"]


class Control(ServiceInterface):
    """What a test may do to the fake world."""

    def __init__(self, world: World) -> None:
        super().__init__(CONTROL_IFACE)
        self.world = world

    @dbus_signal()
    def Event(self, kind: str, detail: str) -> EventBody:
        return [kind, detail]

    @dbus_method()
    def AddAdapter(self) -> None:
        self.world.add_adapter()

    @dbus_method()
    def RemoveAdapter(self) -> None:
        self.world.remove_adapter()

    @dbus_method()
    def SetPowered(self, on: DBusBool) -> None:
        if self.world.adapter is None:
            raise DBusError("org.kindpulse.Error.NoAdapter", "no adapter")
        self.world.adapter.set_powered(on)

    @dbus_method()
    def AddDevice(
        self, address: DBusStr, name: DBusStr, rssi: DBusInt16, heart_rate: DBusBool
    ) -> None:
        device = FakeDevice(self.world, address, name, rssi, heart_rate)
        self.world.devices[device.address] = device
        self.world.spawn(device.pump())

    @dbus_method()
    def ForgetDevice(self, address: DBusStr) -> None:
        """BlueZ drops the device object (as it does for temporary devices)."""
        device = self.world.device(address)
        if device.connected:
            device.teardown("removed")
        device.unexport()

    @dbus_method()
    def SetAdvertising(self, address: DBusStr, on: DBusBool) -> None:
        self.world.device(address).advertising = on

    @dbus_method()
    def DropLink(self, address: DBusStr, advertising: DBusBool) -> None:
        """The link is lost (strap out of range or switched off when not advertising)."""
        device = self.world.device(address)
        device.advertising = advertising
        if not device.connected:
            raise DBusError("org.kindpulse.Error.NotConnected", f"{address} is not connected")
        device.teardown("link lost")

    @dbus_method()
    def SetPump(self, address: DBusStr, interval: DBusDouble, frames: ByteArrays) -> None:
        """Send these frames in a loop every ``interval`` s while notifying; [] = silent."""
        device = self.world.device(address)
        device.pump_interval = max(0.001, interval)
        device.pump_frames = [bytes(f) for f in frames]
        device.pump_index = 0

    @dbus_method()
    def SetPmd(
        self,
        address: DBusStr,
        frame_type: DBusByte,
        rate: DBusUInt16,
        per_frame: DBusUInt16,
        factor: DBusDouble,
        start_error: DBusByte,
        jitter: DBusDouble,
        settings: Bytes,
        script: Triples,
    ) -> None:
        """Give the device Polar Measurement Data with this accelerometer script (x, y, z
        per sample, played in a loop); effective from the next connection."""
        device = self.world.device(address)
        pmd = device.pmd
        if pmd is None:
            pmd = device.pmd = FakePmd(self.world, device)
            self.world.spawn(pmd.pump())
        pmd.frame_type = frame_type
        pmd.rate = max(1, rate)
        pmd.per_frame = max(1, per_frame)
        pmd.factor = factor
        pmd.start_error = start_error
        pmd.jitter = jitter
        pmd.settings = bytes(settings) or H10_ACC_SETTINGS
        pmd.script = [(int(x), int(y), int(z)) for x, y, z in script] or [(0, 0, 1000)]

    @dbus_method()
    def Send(self, address: DBusStr, frames: ByteArrays) -> DBusUInt32:
        device = self.world.device(address)
        return sum(1 for f in frames if self.world.send(device, bytes(f)))

    @dbus_method()
    def SetBattery(self, address: DBusStr, level: DBusByte) -> None:
        self.world.device(address).battery = level

    @dbus_method()
    def SetAdvertInterval(self, seconds: DBusDouble) -> None:
        self.world.advert_interval = max(0.001, seconds)

    @dbus_method()
    def FailConnects(self, address: DBusStr, count: DBusUInt32) -> None:
        self.world.device(address).connect_failures = count

    @dbus_method()
    def SetConnectDelay(self, address: DBusStr, seconds: DBusDouble) -> None:
        self.world.device(address).connect_delay = seconds

    @dbus_method()
    def Counts(self) -> CountsDict:
        return dict(self.world.counts)


async def _serve(with_adapter: bool) -> None:
    bus = await MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True).connect()
    world = World(bus)
    bus.add_message_handler(world.pre_dispatch)
    reply = await bus.call(
        Message(
            destination="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus",
            member="AddMatch",
            signature="s",
            body=["type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'"],
        )
    )
    assert reply is not None and reply.message_type == MessageType.METHOD_RETURN
    world.control = Control(world)
    bus.export(CONTROL_PATH, world.control)
    if with_adapter:
        world.add_adapter()
    for name in (BLUEZ, CONTROL_NAME):
        owned = await bus.request_name(name)
        assert owned == RequestNameReply.PRIMARY_OWNER, (name, owned)
    world.spawn(world.advertiser())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    await stop.wait()
    bus.disconnect()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a fake org.bluez for tests")
    parser.add_argument("--no-adapter", action="store_true", help="start without hci0")
    args = parser.parse_args(argv)
    asyncio.run(_serve(with_adapter=not args.no_adapter))
    return 0


# ---------------------------------------------------------------------------------------
# Test-side helpers
# ---------------------------------------------------------------------------------------

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    {extra}
  </policy>
</busconfig>
"""


def dbus_daemon() -> str | None:
    """Path of dbus-daemon (Debian package ``dbus-daemon``), or None."""
    return shutil.which("dbus-daemon")


def _read_line(proc: "subprocess.Popen[bytes]", timeout: float, what: str) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{what} did not start within {timeout:g} s")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                raise RuntimeError(f"{what} exited early with {proc.wait()}")
            buf += chunk
    return buf.decode().strip()


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@dataclass
class PrivateBus:
    """A private dbus-daemon (``<type>custom</type>``) standing in for the system bus."""

    address: str
    proc: "subprocess.Popen[bytes]"

    @classmethod
    def start(cls, directory: Path, *, deny_send_to: Iterable[str] = ()) -> "PrivateBus":
        extra = "\n    ".join(f'<deny send_destination="{n}"/>' for n in deny_send_to)
        config = directory / "bus.conf"
        config.write_text(_BUS_CONFIG.format(extra=extra))
        exe = dbus_daemon()
        if exe is None:
            raise FileNotFoundError("dbus-daemon")
        with (directory / "dbus-daemon.log").open("wb") as log:
            proc = subprocess.Popen(
                [exe, f"--config-file={config}", "--nofork", "--print-address=1"],
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        try:
            address = _read_line(proc, 10.0, "dbus-daemon")
        except BaseException:
            _stop(proc)
            raise
        return cls(address, proc)

    def stop(self) -> None:
        _stop(self.proc)


@dataclass
class FakeBluezProcess:
    """This module running as the fake ``org.bluez`` in a subprocess."""

    proc: "subprocess.Popen[bytes]"
    log_path: Path

    @classmethod
    def start(cls, bus_address: str, log_path: Path, *, adapter: bool = True) -> "FakeBluezProcess":
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus_address, PYTHONUNBUFFERED="1")
        args = [sys.executable, str(Path(__file__).resolve())]
        if not adapter:
            args.append("--no-adapter")
        log = log_path.open("wb")
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env
        )
        log.close()
        try:
            line = _read_line(proc, 20.0, "fake BlueZ")
        except BaseException:
            _stop(proc)
            raise
        if line != "READY":
            _stop(proc)
            raise RuntimeError(f"fake BlueZ said {line!r}; see {log_path}")
        return cls(proc, log_path)

    def stop(self) -> None:
        _stop(self.proc)


class FakeControl:
    """Drives the fake from the test's event loop and records its events."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self.events: list[tuple[float, str, str]] = []
        self._changed = asyncio.Event()
        bus.add_message_handler(self._on_message)

    @classmethod
    async def connect(cls) -> "FakeControl":
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        control = cls(bus)
        await control._call_bus(
            "AddMatch", "s", [f"type='signal',interface='{CONTROL_IFACE}',member='Event'"]
        )
        return control

    async def close(self) -> None:
        self._bus.disconnect()
        with contextlib.suppress(Exception):
            await self._bus.wait_for_disconnect()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> "FakeControl":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _on_message(self, msg: Message) -> None:
        if (
            msg.message_type == MessageType.SIGNAL
            and msg.interface == CONTROL_IFACE
            and msg.member == "Event"
        ):
            self.events.append((time.monotonic(), msg.body[0], msg.body[1]))
            self._changed.set()

    async def _call_bus(self, member: str, signature: str, body: list[Any]) -> None:
        reply = await self._bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member=member,
                signature=signature,
                body=body,
            )
        )
        assert reply is not None and reply.message_type == MessageType.METHOD_RETURN, reply

    async def call(self, member: str, signature: str = "", *body: Any) -> Any:
        reply = await self._bus.call(
            Message(
                destination=CONTROL_NAME,
                path=CONTROL_PATH,
                interface=CONTROL_IFACE,
                member=member,
                signature=signature,
                body=list(body),
            )
        )
        assert reply is not None
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"fake BlueZ {member}: {reply.error_name}: {reply.body}")
        return reply.body[0] if reply.body else None

    # convenience wrappers
    async def add_device(
        self, address: str, name: str, rssi: int = -60, *, heart_rate: bool = True
    ) -> None:
        await self.call("AddDevice", "ssnb", address, name, rssi, heart_rate)

    async def set_advertising(self, address: str, on: bool) -> None:
        await self.call("SetAdvertising", "sb", address, on)

    async def drop_link(self, address: str, *, advertising: bool) -> None:
        await self.call("DropLink", "sb", address, advertising)

    async def set_pump(self, address: str, interval: float, frames: Sequence[bytes]) -> None:
        await self.call("SetPump", "sdaay", address, interval, list(frames))

    async def set_pmd(
        self,
        address: str,
        script: Sequence[tuple[int, int, int]],
        *,
        frame_type: int = 0x80,
        rate: int = 25,
        per_frame: int = 10,
        factor: float = 0.0,
        start_error: int = 0,
        jitter: float = 0.0,
        settings: bytes = b"",
    ) -> None:
        await self.call(
            "SetPmd",
            "syqqdydaya(nnn)",
            address,
            frame_type,
            rate,
            per_frame,
            factor,
            start_error,
            jitter,
            settings,
            [list(s) for s in script],
        )

    async def send(self, address: str, frames: Sequence[bytes]) -> int:
        return int(await self.call("Send", "saay", address, list(frames)))

    def count(self, kind: str) -> int:
        return sum(1 for _t, k, _d in self.events if k == kind)

    def times(self, kind: str) -> list[float]:
        return [t for t, k, _d in self.events if k == kind]

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 10.0) -> float:
        """Wait until ``kind`` was seen ``count`` times in total; its last time."""
        deadline = time.monotonic() + timeout
        while self.count(kind) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = ", ".join(f"{k}({d})" for _t, k, d in self.events[-15:])
                raise AssertionError(
                    f"fake BlueZ saw {kind} {self.count(kind)} times, expected {count} "
                    f"within {timeout:g} s; recent events: {recent}"
                )
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.times(kind)[count - 1]


if __name__ == "__main__":
    sys.exit(main())
