"""Polar Measurement Data (PMD): the accelerometer stream of Polar straps, over BLE.

Polar sensors (H10, Verity Sense, OH1, ...) carry a vendor GATT service next to the Heart
Rate Service, described in Polar's public BLE SDK (``technical_documentation`` and the
``pmd`` client of its Android and iOS sources) and used by bleakheart and polar-python:

* service ``FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8``;
* control point ``FB005C81-…`` (read, write, indicate): requests are written to it and
  the answers come back as indications;
* data ``FB005C82-…`` (notify): the measurement frames.

Control point requests (client to sensor)::

    01 <type>                                  get the settings the sensor offers
    02 <type> {<setting> 01 <value LE>}...     start streaming with these settings
    03 <type>                                  stop streaming

Control point responses (indications)::

    F0 <op code> <type> <status> [<more> {<setting> <count> <values LE>}...]

``status`` 0 is success (the other codes are :class:`CpStatus`); ``more`` non-zero says a
continuation response follows whose parameters (from byte 5 on) extend this one.
Settings: 0 sample rate (Hz, uint16), 1 resolution (bits, uint16), 2 range (G, uint16),
3 range in milli-units (uint32), 4 channels (uint8), 5 factor (IEEE 754 float32, in a
start response: the scale of the compressed frames). A sensor may also indicate
``01 <type>...`` by itself when it stopped a stream.

An accelerometer (ACC, measurement type 2) data frame::

    byte 0      measurement type (the low 6 bits; 2 = ACC)
    bytes 1-8   sensor timestamp, uint64 LE, nanoseconds: the time of the LAST sample
    byte 9      frame type: bit 7 set = delta-compressed, bits 0-6 the type
    then        samples

Uncompressed frame types carry x, y, z per sample as signed little-endian integers in mg:
0x00 one byte per axis, 0x01 two bytes (int16), 0x02 three bytes (int24). Compressed
frames (0x80, 0x81) carry a reference sample (x, y, z as int16 LE), then blocks of
``<delta bit width> <sample count> <packed deltas>``: ``count`` samples of three signed
deltas of ``width`` bits each, packed least significant bit first into
``ceil(count * 3 * width / 8)`` bytes, each sample being the previous one plus its deltas.
Frame type 0x81 is in mg (scaled by the start response's factor when that is not 1);
0x80 is in sensor counts and ``mg = count * factor * 1000`` (the factor is in G per count;
when the start response gives none, the full scale ``range / 2**(resolution - 1)`` is
assumed, which is what a 16-bit, 8 G setting gives: 2.44e-4 G per count).

The sample timestamps follow the sensor timestamps: the spacing of a frame's samples is
the time since the previous frame divided by the frame's sample count (the nominal
``1 / sample rate`` for the first frame or after a break). :class:`AccTimeline` puts
them on the source's clock and :class:`MovementAccumulator` turns them into per-second
:class:`~kindpulse.types.Movement` (see there for how).

Pure: no IO, no clock, no Bluetooth library. Malformed data frames never raise; they are
counted in :class:`PmdStats` and logged at debug level. Malformed control point
responses raise :class:`PmdError`.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from kindpulse.motion import movement_per_second
from kindpulse.types import Movement

logger = logging.getLogger(__name__)

__all__ = [
    "ACC",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "RESPONSE_CODE",
    "AccFrame",
    "AccSamples",
    "AccTimeline",
    "CpResponse",
    "CpStatus",
    "MovementAccumulator",
    "OpCode",
    "PmdError",
    "PmdStats",
    "Setting",
    "choose_acc_settings",
    "parse_acc_frame",
    "parse_cp_response",
    "parse_settings",
    "settings_request",
    "start_request",
    "stop_request",
]

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

#: Measurement type of the accelerometer.
ACC = 0x02
#: First byte of every control point response.
RESPONSE_CODE = 0xF0
#: Bytes before the samples of a data frame: type, timestamp, frame type.
HEADER_LEN = 10
#: Frame type flag of delta-compressed frames.
COMPRESSED = 0x80


class OpCode(IntEnum):
    """Control point request op codes (client to sensor)."""

    GET_SETTINGS = 0x01
    START = 0x02
    STOP = 0x03


class Setting(IntEnum):
    """Setting types of control point requests and responses."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5


#: Bytes per value of each setting type.
SETTING_SIZE: dict[Setting, int] = {
    Setting.SAMPLE_RATE: 2,
    Setting.RESOLUTION: 2,
    Setting.RANGE: 2,
    Setting.RANGE_MILLIUNIT: 4,
    Setting.CHANNELS: 1,
    Setting.FACTOR: 4,
}


class CpStatus(IntEnum):
    """Status codes of control point responses."""

    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


class PmdError(ValueError):
    """A control point response that cannot be understood."""


# -- control point ------------------------------------------------------------------------


def settings_request(measurement: int = ACC) -> bytes:
    """Ask which settings the sensor offers for ``measurement`` (online streaming)."""
    return bytes([OpCode.GET_SETTINGS, measurement])


def start_request(settings: Mapping[Setting, int], measurement: int = ACC) -> bytes:
    """Start streaming ``measurement`` with one value per setting (the factor is never
    sent: the sensor tells it)."""
    out = bytearray([OpCode.START, measurement])
    for kind, value in sorted(settings.items()):
        if kind is Setting.FACTOR:
            continue
        size = SETTING_SIZE[kind]
        out += bytes([kind, 1]) + int(value).to_bytes(size, "little")
    return bytes(out)


def stop_request(measurement: int = ACC) -> bytes:
    """Stop streaming ``measurement``."""
    return bytes([OpCode.STOP, measurement])


@dataclass(frozen=True, slots=True)
class CpResponse:
    """One control point response: the request's op code and measurement type, the
    status, whether a continuation follows, and the raw parameters (settings)."""

    op: int
    measurement: int
    status: int
    more: bool
    parameters: bytes

    @property
    def ok(self) -> bool:
        return self.status == CpStatus.SUCCESS

    @property
    def status_text(self) -> str:
        """``SUCCESS``, ``INVALID_SAMPLE_RATE``, ... or ``status 42``."""
        try:
            return CpStatus(self.status).name
        except ValueError:
            return f"status {self.status}"


def parse_cp_response(data: bytes | bytearray) -> CpResponse:
    """Decode a control point indication; raises :class:`PmdError` when it is not a
    response (a sensor's own notice, such as a stream it stopped) or is too short."""
    if len(data) < 4 or data[0] != RESPONSE_CODE:
        raise PmdError(f"not a PMD control point response: {bytes(data).hex(' ')}")
    status = data[3]
    more = status == CpStatus.SUCCESS and len(data) > 4 and data[4] != 0
    params = bytes(data[5:]) if status == CpStatus.SUCCESS else b""
    return CpResponse(data[1], data[2], status, more, params)


SettingValues = dict[Setting, tuple[float, ...]]


def parse_settings(parameters: bytes) -> SettingValues:
    """The settings in a response's parameters: ``{setting: (value, ...)}`` (the factor
    as a float, the rest as whole numbers). Raises :class:`PmdError` on an unknown
    setting type or a short field."""
    out: SettingValues = {}
    i = 0
    n = len(parameters)
    while i < n:
        if i + 2 > n:
            raise PmdError(f"PMD settings cut short at byte {i}: {parameters.hex(' ')}")
        try:
            kind = Setting(parameters[i])
        except ValueError:
            raise PmdError(f"unknown PMD setting type {parameters[i]}") from None
        count = parameters[i + 1]
        size = SETTING_SIZE[kind]
        i += 2
        if i + count * size > n:
            raise PmdError(f"PMD setting {kind.name} cut short: {parameters.hex(' ')}")
        values: list[float] = []
        for k in range(count):
            field = parameters[i + k * size : i + (k + 1) * size]
            if kind is Setting.FACTOR:
                values.append(struct.unpack("<f", field)[0])
            else:
                values.append(int.from_bytes(field, "little"))
        out[kind] = out.get(kind, ()) + tuple(values)
        i += count * size
    return out


#: What we ask for: 25 Hz is plenty for movement (walking is 1-3 Hz) and the cheapest on
#: the strap's coin cell; 8 G never clips on the chest; 16 bits.
WANTED_RATE_HZ = 25
WANTED_RANGE_G = 8
WANTED_RESOLUTION = 16
WANTED_CHANNELS = 3


def choose_acc_settings(offered: SettingValues) -> dict[Setting, int]:
    """The settings to start the accelerometer with, from those the sensor offers.

    Sample rate 25 Hz, else the lowest offered; range 8 G, else the largest offered;
    resolution 16 bits, else the highest offered; 3 channels when channels are offered.
    A setting the sensor does not list is not sent. Raises :class:`PmdError` when it
    offers no sample rate.
    """
    chosen: dict[Setting, int] = {}
    rates = [int(v) for v in offered.get(Setting.SAMPLE_RATE, ()) if v > 0]
    if not rates:
        raise PmdError("the sensor offers no accelerometer sample rate")
    chosen[Setting.SAMPLE_RATE] = WANTED_RATE_HZ if WANTED_RATE_HZ in rates else min(rates)
    for kind, wanted in (
        (Setting.RESOLUTION, WANTED_RESOLUTION),
        (Setting.RANGE, WANTED_RANGE_G),
        (Setting.CHANNELS, WANTED_CHANNELS),
    ):
        values = [int(v) for v in offered.get(kind, ())]
        if values:
            chosen[kind] = wanted if wanted in values else max(values)
    return chosen


# -- data frames ----------------------------------------------------------------------------


@dataclass(slots=True)
class PmdStats:
    """Counters of the data frames seen (mutable, owned by one source).

    ``frames``: every frame given to :func:`parse_acc_frame`; ``samples``: samples in the
    frames kept; ``dropped_short``: frames without a whole header or sample;
    ``dropped_type``: frames of another measurement or an unknown frame type;
    ``dropped_malformed``: frames whose length does not fit their frame type (a partial
    sample, a delta block cut short, a zero or too wide delta width).
    """

    frames: int = 0
    samples: int = 0
    dropped_short: int = 0
    dropped_type: int = 0
    dropped_malformed: int = 0


F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AccFrame:
    """One decoded accelerometer frame: the sensor timestamp of its last sample (ns),
    its frame type byte, and its samples as an ``(n, 3)`` array of x, y, z in mg."""

    sensor_ns: int
    frame_type: int
    mg: F64


_RAW_BYTES = {0x00: 1, 0x01: 2, 0x02: 3}
_REF_BYTES = 2  # the reference sample of compressed frames: int16 per axis


def parse_acc_frame(
    data: bytes | bytearray | memoryview,
    stats: PmdStats | None = None,
    *,
    factor: float | None = None,
    range_g: int = WANTED_RANGE_G,
    resolution: int = WANTED_RESOLUTION,
) -> AccFrame | None:
    """Decode one PMD data notification carrying accelerometer samples, in mg.

    ``factor``: the factor of the start response, if it gave one; ``range_g`` and
    ``resolution``: the settings the stream was started with (for frame type 0x80 when
    there is no factor). Returns ``None`` and counts the reason for a frame that is not
    an ACC frame of a known type or is malformed; never raises.
    """
    if stats is not None:
        stats.frames += 1
    raw = bytes(data)
    n = len(raw)
    if n < HEADER_LEN:
        _drop(stats, "dropped_short", raw, "shorter than the header")
        return None
    if raw[0] & 0x3F != ACC:
        _drop(stats, "dropped_type", raw, f"measurement type {raw[0] & 0x3F}, not ACC")
        return None
    sensor_ns = int.from_bytes(raw[1:9], "little")
    frame_type = raw[9]
    body = raw[HEADER_LEN:]
    if frame_type in _RAW_BYTES:
        size = _RAW_BYTES[frame_type]
        step = 3 * size
        if not body:
            _drop(stats, "dropped_short", raw, "no samples")
            return None
        if len(body) % step:
            _drop(stats, "dropped_malformed", raw, f"{len(body)} bytes of {step}-byte samples")
            return None
        if size == 3:
            padded = bytearray()
            for k in range(0, len(body), 3):
                chunk = body[k : k + 3]
                padded += chunk + (b"\xff" if chunk[2] & 0x80 else b"\x00")
            counts = np.frombuffer(bytes(padded), dtype="<i4")
        else:
            counts = np.frombuffer(body, dtype="<i1" if size == 1 else "<i2")
        mg = counts.astype(np.float64).reshape(-1, 3)
    elif frame_type in (COMPRESSED | 0x00, COMPRESSED | 0x01):
        decoded = _decode_delta(body)
        if isinstance(decoded, str):
            _drop(
                stats, "dropped_short" if decoded == "short" else "dropped_malformed", raw, decoded
            )
            return None
        mg = decoded
        if frame_type == COMPRESSED | 0x00:
            g_per_count = factor if factor else range_g / 2.0 ** (resolution - 1)
            mg = mg * (g_per_count * 1000.0)
        elif factor is not None and factor != 1.0:
            mg = mg * factor
    else:
        _drop(stats, "dropped_type", raw, f"unknown frame type 0x{frame_type:02x}")
        return None
    if stats is not None:
        stats.samples += mg.shape[0]
    return AccFrame(sensor_ns, frame_type, mg)


def _decode_delta(body: bytes) -> F64 | str:
    """Samples of a delta-compressed body as counts, or why it cannot be decoded."""
    ref_len = 3 * _REF_BYTES
    if len(body) < ref_len:
        return "short"
    ref = [int.from_bytes(body[k : k + 2], "little", signed=True) for k in range(0, ref_len, 2)]
    rows: list[list[int]] = [ref]
    i = ref_len
    n = len(body)
    while i < n:
        if i + 2 > n:
            return "a delta block header cut short"
        width, count = body[i], body[i + 1]
        i += 2
        if not 1 <= width <= 32:
            return f"delta width {width}"
        nbytes = (count * 3 * width + 7) // 8
        if i + nbytes > n:
            return f"a delta block of {count} samples cut short"
        bits = int.from_bytes(body[i : i + nbytes], "little")
        i += nbytes
        mask = (1 << width) - 1
        sign = 1 << (width - 1)
        last = rows[-1]
        for s in range(count):
            row = []
            for axis in range(3):
                v = (bits >> ((3 * s + axis) * width)) & mask
                if v & sign:
                    v -= 1 << width
                row.append(last[axis] + v)
            rows.append(row)
            last = row
    return np.asarray(rows, dtype=np.float64)


def _drop(stats: PmdStats | None, counter: str, raw: bytes, why: str) -> None:
    if stats is not None:
        setattr(stats, counter, getattr(stats, counter) + 1)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("PMD frame %s dropped: %s", raw.hex(), why)


# -- time and movement ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccSamples:
    """Raw accelerometer samples of one frame, for recording: the source-clock time of
    each sample (s), its sensor timestamp (ns), and x, y, z in mg."""

    t: tuple[float, ...]
    sensor_ns: tuple[int, ...]
    x_mg: tuple[float, ...]
    y_mg: tuple[float, ...]
    z_mg: tuple[float, ...]


class AccTimeline:
    """Places frames of samples on the source's clock.

    Within a frame the samples are spaced by the sensor timestamps (see the module
    docstring). The sensor clock is mapped to the source clock by an offset
    ``source - sensor``: each frame's observation ``arrival - sensor_ts`` is the true
    offset plus the delivery latency, which is only ever positive and jitters by tens of
    ms with the connection interval. So the offset estimate is the *minimum* of the
    observations, allowed to creep up by ``drift`` seconds per second (the two clocks'
    relative drift, at most 100 ppm for Bluetooth sleep clocks) so that it follows a
    sensor clock that runs slow. A frame's last sample then lands at its arrival time
    less the latency above the best one seen; notification jitter does not move samples.
    An observation more than ``jump_s`` below the estimate (the source clock was set
    back, the sensor restarted) starts the estimate afresh at once; one more than
    ``jump_s`` above it does so only when that lasts ``jump_s`` (a clock set forward, not
    a burst of late notifications).
    """

    def __init__(self, rate_hz: float, *, drift: float = 1e-4, jump_s: float = 2.0) -> None:
        if not rate_hz > 0:
            raise ValueError(f"sample rate must be positive, got {rate_hz!r}")
        self.nominal_ns = 1e9 / rate_hz
        self.drift = drift
        self.jump_s = jump_s
        self.offset: float | None = None  # source seconds minus sensor seconds
        self._last_arrival = 0.0
        self._last_ns: int | None = None
        self._jump_since: float | None = None

    def place(self, sensor_ns: int, n: int, arrival: float) -> tuple[list[int], F64]:
        """Sensor timestamps (ns) and source-clock times (s) of a frame's ``n`` samples,
        the last of which the sensor stamped ``sensor_ns``, arriving at ``arrival``."""
        spacing = self.nominal_ns
        prev = self._last_ns
        if prev is not None and n > 0:
            measured = (sensor_ns - prev) / n
            if 0.5 * self.nominal_ns <= measured <= 2.0 * self.nominal_ns:
                spacing = measured
        self._last_ns = sensor_ns
        observed = arrival - sensor_ns / 1e9
        if self.offset is None or observed < self.offset - self.jump_s:
            self.offset = observed
            self._jump_since = None
        elif observed > self.offset + self.jump_s:
            # A late burst of notifications, or the source clock set forward: only the
            # second lasts, so the estimate follows once it persisted for jump_s.
            if self._jump_since is None:
                self._jump_since = arrival
            elif arrival - self._jump_since >= self.jump_s:
                self.offset = observed
                self._jump_since = None
        else:
            self._jump_since = None
            crept = self.offset + self.drift * max(0.0, arrival - self._last_arrival)
            self.offset = min(crept, observed)
        self._last_arrival = arrival
        back = np.arange(n - 1, -1, -1, dtype=np.float64) * spacing
        sensor = [sensor_ns - round(b) for b in back.tolist()]
        times = (sensor_ns - back) / 1e9 + self.offset
        return sensor, times


#: Samples this far before the seconds already given out mean the clock went back.
CLOCK_BACK_S = 2.0


class MovementAccumulator:
    """Samples in, per-second :class:`~kindpulse.types.Movement` out, for a live stream.

    Seconds are the whole seconds of the source clock (``[k, k+1)``, as in
    :func:`kindpulse.motion.movement_per_second`). A second is complete once a sample at
    or after its end has arrived; the samples of the second still open are carried over
    to the next frame. Samples that land in a second already given out (a frame that came
    in late by more than its spacing) are dropped and counted in ``late``; samples more
    than :data:`CLOCK_BACK_S` before them mean the clock was set back, and start afresh.
    """

    def __init__(self) -> None:
        self._t: F64 = np.empty(0)
        self._xyz: F64 = np.empty((0, 3))
        self._done_until = -math.inf  # seconds before this are given out
        self.late = 0

    def reset(self) -> None:
        """Forget the open second (the stream broke)."""
        self._t = np.empty(0)
        self._xyz = np.empty((0, 3))

    def add(self, t: F64, mg: F64) -> list[Movement]:
        """Add samples (times in s, ``(n, 3)`` mg); the seconds they complete."""
        if t.size and float(t.min()) < self._done_until - CLOCK_BACK_S:
            # the source clock went back: start over rather than drop everything
            self.reset()
            self._done_until = -math.inf
        keep = t >= self._done_until
        if not keep.all():
            self.late += int((~keep).sum())
            t, mg = t[keep], mg[keep]
        if t.size == 0:
            return []
        all_t = np.concatenate([self._t, t])
        all_xyz = np.concatenate([self._xyz, mg])
        order = np.argsort(all_t, kind="stable")
        all_t, all_xyz = all_t[order], all_xyz[order]
        cut = math.floor(float(all_t[-1]))
        n_done = int(np.searchsorted(all_t, cut, side="left"))
        self._t, self._xyz = all_t[n_done:], all_xyz[n_done:]
        if n_done == 0:
            return []
        self._done_until = float(cut)
        ends, values = movement_per_second(
            all_t[:n_done], all_xyz[:n_done, 0], all_xyz[:n_done, 1], all_xyz[:n_done, 2]
        )
        return [Movement(float(e), float(v)) for e, v in zip(ends, values, strict=True)]
