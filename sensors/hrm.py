"""Heart Rate Measurement frames (GATT characteristic 0x2A37) to beats.

The layout follows the Bluetooth SIG *Heart Rate Service* specification (HRS v1.0,
section 3.1 "Heart Rate Measurement") and the GATT Specification Supplement (GSS,
"Heart Rate Measurement" characteristic)::

    byte 0      flags
                  bit 0    Heart Rate Value Format: 0 = uint8, 1 = uint16 (bpm)
                  bit 1    Sensor Contact detected      } "Sensor Contact Status":
                  bit 2    Sensor Contact supported     } 0b0x not supported,
                                                          0b10 not detected, 0b11 detected
                  bit 3    Energy Expended present (uint16, kilojoules)
                  bit 4    RR-Interval present (one or more uint16)
                  bits 5-7 reserved for future use
    then        Heart Rate Measurement Value (uint8 or uint16, little-endian)
    then        Energy Expended (uint16 LE), if bit 3
    then        RR-Interval values, uint16 LE each, resolution 1/1024 second, if bit 4

Example ``16 3c 00 04 05 04``: flags 0x16 (contact supported and detected, RR present),
heart rate 60 bpm, RR 0x0400 = 1024/1024 s = 1000.0 ms and 0x0405 = 1029/1024 s =
1004.8828125 ms.

RR values are converted to milliseconds once, here: ``rr_ms = raw * 1000 / 1024``. The
result is exact in binary floating point (``1000/1024 = 0.9765625 = 125/128`` and
``raw < 2**16``), so no rounding happens at the parser.

This module is pure: no IO, no clock, no Bluetooth library. Malformed frames never raise;
they are counted in :class:`ParseStats` and logged at debug level.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from kindpulse.types import Beat

logger = logging.getLogger(__name__)

__all__ = ["HrmFrame", "ParseStats", "backdate", "encode_rr_ms", "parse_hrm"]

FLAG_HR_UINT16 = 0x01
FLAG_CONTACT_DETECTED = 0x02
FLAG_CONTACT_SUPPORTED = 0x04
FLAG_ENERGY = 0x08
FLAG_RR = 0x10

#: Milliseconds per RR unit (1/1024 s), exactly representable: 0.9765625 = 125/128.
RR_UNIT_MS = 1000.0 / 1024.0
_RR_SCALE = RR_UNIT_MS.__mul__  # raw -> ms; the same exact product as raw * 1000 / 1024

# Decoding plans, one per (flags byte, frame length) seen: a precompiled struct that
# unpacks HR, energy and every RR value in one call, plus what the flags say. Frames up to
# _PLAN_CACHE_MAX_LEN bytes are cached (an ATT_MTU of 23 gives at most 20 bytes).
_PLAN_CACHE_MAX_LEN = 64
# plan = (struct, or None when the frame is short; contact; has_energy; odd_trailing;
#         bytes the flags require)
_Plan: TypeAlias = "tuple[struct.Struct | None, bool | None, bool, bool, int]"
_PLANS: dict[int, _Plan] = {}  # key: length << 8 | flags


@dataclass(frozen=True, slots=True)
class HrmFrame:
    """One decoded Heart Rate Measurement notification (HRS v1.0, section 3.1).

    ``hr_bpm``: heart rate in beats per minute as the sensor reported it.
    ``contact``: ``None`` when the sensor does not support contact detection (flag bit 2
    clear), else whether skin contact is detected (flag bit 1).
    ``energy_kj``: cumulative Energy Expended in kilojoules, ``None`` when absent.
    ``rr_ms``: the RR intervals of this notification in milliseconds, oldest first
    (``raw * 1000 / 1024``, exact).
    """

    hr_bpm: int
    contact: bool | None
    energy_kj: int | None
    rr_ms: tuple[float, ...]


@dataclass(slots=True)
class ParseStats:
    """Counters of what the parser saw (mutable, owned by one source).

    ``frames``: every frame given to :func:`parse_hrm`;
    ``dropped_short``: frames shorter than their flags require, dropped whole;
    ``odd_trailing``: kept frames whose RR field had an odd trailing byte (ignored).
    """

    frames: int = 0
    dropped_short: int = 0
    odd_trailing: int = 0


def _make_plan(flags: int, n: int) -> _Plan:
    contact = bool(flags & FLAG_CONTACT_DETECTED) if flags & FLAG_CONTACT_SUPPORTED else None
    has_energy = bool(flags & FLAG_ENERGY)
    fmt = "<xH" if flags & FLAG_HR_UINT16 else "<xB"
    need = 3 if flags & FLAG_HR_UINT16 else 2
    if has_energy:
        fmt += "H"
        need += 2
    odd = False
    if flags & FLAG_RR:
        rest = n - need
        need += 2
        if rest >= 2:
            fmt += f"{rest >> 1}H"
            odd = bool(rest & 1)
    if n < need:
        return (None, contact, has_energy, odd, need)
    return (struct.Struct(fmt), contact, has_energy, odd, need)


def parse_hrm(
    data: bytes | bytearray | memoryview, stats: ParseStats | None = None
) -> HrmFrame | None:
    """Decode one Heart Rate Measurement frame (HRS v1.0 section 3.1; GSS 0x2A37).

    Returns ``None`` (and counts ``dropped_short``) when the frame is shorter than its
    flags require: the flags byte, the heart rate (1 or 2 bytes), the Energy Expended
    field when flagged, and, when the RR flag is set, at least one RR value (the spec
    defines the RR-Interval field as one or more uint16). An odd trailing byte after the
    RR values is ignored and the complete RR values are kept (counted as
    ``odd_trailing``). Bytes after the heart rate / energy fields of a frame without the
    RR flag are ignored, as receivers must ignore fields they do not know.

    RR values are returned in milliseconds, ``raw * 1000 / 1024``, exact.
    """
    n = len(data)
    if stats is not None:
        stats.frames += 1
    if n < 2:
        _short(data, stats, 2)
        return None
    flags = data[0]
    plan = _PLANS.get((n << 8) | flags)
    if plan is None:
        plan = _make_plan(flags, n)
        if n <= _PLAN_CACHE_MAX_LEN:
            _PLANS[(n << 8) | flags] = plan
    unpacker, contact, has_energy, odd, need = plan
    if unpacker is None:
        _short(data, stats, need)
        return None
    vals = unpacker.unpack_from(data)
    if odd:
        if stats is not None:
            stats.odd_trailing += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("HRM frame %s: odd trailing byte after the RR values ignored",
                         bytes(data).hex())
    if has_energy:
        return HrmFrame(vals[0], contact, vals[1], tuple(map(_RR_SCALE, vals[2:])))
    return HrmFrame(vals[0], contact, None, tuple(map(_RR_SCALE, vals[1:])))


def _short(
    data: bytes | bytearray | memoryview, stats: ParseStats | None, needed: int
) -> None:
    if stats is not None:
        stats.dropped_short += 1
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("HRM frame %s dropped: %d bytes, its flags require at least %d",
                     bytes(data).hex(), len(data), needed)


def backdate(frame: HrmFrame, arrival_t: float) -> list[Beat]:
    """Turn a frame's RR intervals into beats on the arrival clock.

    One notification carries the RR intervals measured since the previous one (HRS v1.0
    section 3.1.1.5: several values when more than one beat occurred). The last interval
    ends at ``arrival_t`` (seconds); each earlier one ends where the following intervals
    begin: beat ``i`` of ``n`` is at ``arrival_t - (rr[i+1] + ... + rr[n-1]) / 1000``
    (the sum taken in milliseconds, exact for HRM values).

    ``Beat.contact`` is False only when the frame says contact detection is supported
    and contact is not detected; a sensor without contact detection gives True.
    """
    rr = frame.rr_ms
    n = len(rr)
    if n == 0:
        return []
    contact = frame.contact is not False
    if n == 1:
        return [Beat(arrival_t, rr[0], contact)]
    if n == 2:
        return [Beat(arrival_t - rr[1] / 1000.0, rr[0], contact), Beat(arrival_t, rr[1], contact)]
    out: list[Beat] = []
    after_ms = 0.0
    for k in range(n - 1, -1, -1):
        out.append(Beat(arrival_t - after_ms / 1000.0, rr[k], contact))
        after_ms += rr[k]
    out.reverse()
    return out


def encode_rr_ms(rr_ms: Sequence[float]) -> list[int]:
    """Raw 1/1024 s counts of RR values in milliseconds (inverse of the parser's scale).

    ``round(rr_ms * 1.024)``: exact for values that came from :func:`parse_hrm`, and for
    values rounded to 4 decimals (``kindpulse record``), whose error of at most
    0.00005 ms is far below half a unit (0.49 ms).
    """
    return [round(v * 1.024) for v in rr_ms]
