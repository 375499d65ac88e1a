"""``kindpulse scan`` and ``kindpulse record``: find a strap, record its RR intervals.

The recording is a CSV file that ``kindpulse analyze`` reads back::

    timestamp,rr_ms
    2024-05-01T09:30:00.123+02:00,1000.0000
    2024-05-01T09:30:01.128+02:00,1004.8828
    # gap: link lost
    2024-05-01T09:30:09.880+02:00,976.5625

* ``timestamp``: the time the RR interval ended (the beat), back-dated from the
  notification's arrival (:func:`kindpulse.sensors.hrm.backdate`), as ISO 8601 local time
  with its UTC offset, truncated to the millisecond.
* ``rr_ms``: the RR interval in milliseconds with 4 decimals. Straps send RR in 1/1024 s,
  so a value is ``k * 0.9765625`` ms with up to 7 decimals; rounding to 4 decimals
  (Python's correctly rounded formatting) changes it by at most 0.00005 ms, far below
  the strap's 0.98 ms resolution, and the strap's raw value is recovered exactly as
  ``round(rr_ms * 1.024)`` (:func:`kindpulse.sensors.hrm.encode_rr_ms`).
* ``# gap: <reason>``: the stream broke there (link lost, watchdog); no successive
  difference spans it.

When the strap also streams its accelerometer (Polar Measurement Data, see
:mod:`kindpulse.sensors.pmd`), the raw samples go to a second file beside it
(``<RR file stem>.acc.txt``, or ``--motion-out``), in the layout of Polar Sensor Logger's
accelerometer export::

    Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]
    2024-05-01T09:30:00.083;599634123416789000;-1000;3;12
    2024-05-01T09:30:00.123;599634123456789000;-998;2;11

* ``Phone timestamp``: the sample's time on the recording's clock (the same clock as the
  RR file's timestamps: spaced by the strap's timestamps, each frame's last sample at its
  arrival less the smallest delivery latency seen), ISO 8601 local time without an
  offset, milliseconds truncated, as Polar Sensor Logger writes it;
* ``sensor timestamp [ns]``: the strap's own timestamp of the sample;
* ``X [mg]`` ``Y [mg]`` ``Z [mg]``: acceleration in milli-g (whole numbers as the strap
  sends them; up to 3 decimals when the strap's frames are scaled).

One line per sample, flushed frame by frame. The file is created when the first samples
arrive, so a strap without an accelerometer leaves none.

Every RR interval the strap sent is a row, also those sent while it reported no skin
contact (the file is the raw recording; analysis decides what to trust).

Every row is flushed as it is written, so stopping with Ctrl-C leaves a complete file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from kindpulse.daemon.cli import positive_seconds
from kindpulse.errors import UsageError
from kindpulse.types import Beat, Gap, Movement

from .pmd import AccSamples
from .source import BeatSource

logger = logging.getLogger(__name__)

__all__ = [
    "ACC_HEADER",
    "CSV_HEADER",
    "RecordSummary",
    "SampleSource",
    "add_ble_commands",
    "cmd_record",
    "cmd_scan",
    "default_motion_path",
    "format_mg",
    "format_phone_time",
    "format_rr_ms",
    "format_timestamp",
    "record",
]

CSV_HEADER = "timestamp,rr_ms"
ACC_HEADER = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]"


@dataclass(slots=True)
class RecordSummary:
    """What :func:`record` wrote: RR rows, gap lines, accelerometer samples (and their
    file, once created), and why it stopped (``"duration"``, ``"source ended"``,
    ``"interrupted"``, or ``""`` while running)."""

    path: Path
    beats: int = 0
    gaps: int = 0
    stopped_by: str = ""
    acc_samples: int = 0
    motion_path: Path | None = None


@runtime_checkable
class SampleSource(Protocol):
    """A source that can also yield raw accelerometer samples (the BLE source)."""

    def stream_with_samples(self) -> AsyncIterator[Beat | Gap | Movement | AccSamples]: ...


def default_motion_path(rr_path: str | Path) -> Path:
    """Where the accelerometer samples of a recording go: ``walk.csv`` -> ``walk.acc.txt``
    in the same folder."""
    path = Path(rr_path)
    return path.with_name(f"{path.stem}.acc.txt")


def format_phone_time(t: float) -> str:
    """``t`` (POSIX seconds) as ISO 8601 local time, milliseconds truncated, as Polar Sensor
    Logger writes it, with the UTC offset after it (``2024-05-01T09:30:00.123+02:00``) so
    a recording across a change of daylight saving time reads back in order."""
    return datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds")


def format_mg(value: float) -> str:
    """An acceleration in mg: a whole number as such, else up to 3 decimals."""
    if value == int(value):
        return str(int(value))
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_timestamp(t: float) -> str:
    """``t`` (POSIX seconds) as ISO 8601 local time with UTC offset, milliseconds
    truncated: ``2024-05-01T09:30:00.123+02:00``."""
    local = datetime.fromtimestamp(t, tz=timezone.utc).astimezone()
    return local.isoformat(timespec="milliseconds")


def format_rr_ms(rr_ms: float) -> str:
    """An RR interval in ms with 4 decimals (see the module docstring for the rounding)."""
    return f"{rr_ms:.4f}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _MotionWriter:
    """The accelerometer file, created on the first samples."""

    def __init__(self, path: Path, summary: RecordSummary) -> None:
        self.path = path
        self.summary = summary
        self.out: IO[str] | None = None
        self.failed = False

    def write(self, samples: AccSamples) -> None:
        if self.failed:
            return
        if self.out is None:
            try:
                self.out = self.path.open("x", encoding="utf-8", newline="")
            except OSError as exc:
                self.failed = True
                logger.warning(
                    "cannot create %s (%s): the accelerometer is not recorded",
                    self.path,
                    exc.strerror or exc,
                )
                return
            self.out.write(ACC_HEADER + "\n")
            self.summary.motion_path = self.path
        lines = [
            f"{format_phone_time(t)};{ns};{format_mg(x)};{format_mg(y)};{format_mg(z)}\n"
            for t, ns, x, y, z in zip(
                samples.t,
                samples.sensor_ns,
                samples.x_mg,
                samples.y_mg,
                samples.z_mg,
                strict=True,
            )
        ]
        try:
            self.out.write("".join(lines))
            self.out.flush()
        except OSError as exc:  # a full disk: the beats go on being recorded
            self.failed = True
            logger.warning(
                "cannot write %s (%s): the accelerometer is no longer recorded",
                self.path,
                exc.strerror or exc,
            )
            self.close()
            return
        self.summary.acc_samples += len(lines)

    def close(self) -> None:
        if self.out is not None:
            out, self.out = self.out, None
            with contextlib.suppress(OSError):
                out.close()


async def record(
    source: BeatSource,
    out_path: str | Path,
    duration_s: float | None = None,
    clock: Callable[[], float] = time.time,
    *,
    summary: RecordSummary | None = None,
    motion_out: str | Path | None = None,
) -> RecordSummary:
    """Write the source's beats to a new CSV file until ``duration_s`` or cancellation.

    ``duration_s`` (seconds, None = until cancelled or the source ends) counts on
    ``clock`` from the arrival of the first beat. ``clock`` is the wall clock the source
    stamps beats with (seconds since the epoch). The file must not exist yet (a
    recording is never overwritten). Each row is flushed when written; on cancellation
    (Ctrl-C) the file is closed intact and the source closed. ``record`` owns the
    source: it is closed on return. ``summary`` (optional) is updated as rows are
    written, so a caller still has the counts after a cancellation.

    ``motion_out``: where the raw accelerometer samples go (layout in the module
    docstring) when the source yields them (a :class:`SampleSource` configured to);
    ``None`` = not recorded. It must not exist yet either. Seconds of movement are not
    written.
    """
    path = Path(out_path)
    result = summary if summary is not None else RecordSummary(path)
    motion = None if motion_out is None else _MotionWriter(Path(motion_out), result)
    if motion is not None and motion.path.exists():
        await source.close()
        raise UsageError(f"{motion.path} already exists: choose another --motion-out")
    try:
        out = path.open("x", encoding="utf-8", newline="")
    except FileExistsError:
        await source.close()
        raise UsageError(f"{path} already exists: choose another file name") from None
    except OSError as exc:
        await source.close()
        raise UsageError(f"cannot create {path}: {exc.strerror or exc}") from None
    stream: AsyncIterator[Beat | Gap | Movement | AccSamples] = (
        source.stream_with_samples() if isinstance(source, SampleSource) else source.stream()
    )
    try:
        with out:
            out.write(CSV_HEADER + "\n")
            out.flush()
            deadline: float | None = None
            while True:
                try:
                    if deadline is None:
                        item = await anext(stream)
                    else:
                        remaining = deadline - clock()
                        if remaining <= 0:
                            result.stopped_by = "duration"
                            break
                        item = await asyncio.wait_for(anext(stream), remaining)
                except StopAsyncIteration:
                    result.stopped_by = "source ended"
                    break
                except asyncio.TimeoutError:
                    result.stopped_by = "duration"
                    break
                if deadline is not None and clock() >= deadline:
                    result.stopped_by = "duration"  # arrived after the end: not recorded
                    break
                if isinstance(item, Movement):
                    continue
                if isinstance(item, AccSamples):
                    if motion is not None:
                        motion.write(item)
                    continue
                if isinstance(item, Gap):
                    out.write(f"# gap: {_one_line(item.reason) or 'stream interrupted'}\n")
                    result.gaps += 1
                else:
                    if deadline is None and duration_s is not None:
                        deadline = clock() + duration_s
                    out.write(f"{format_timestamp(item.t)},{item.rr_ms:.4f}\n")
                    result.beats += 1
                out.flush()
    except (asyncio.CancelledError, KeyboardInterrupt):
        result.stopped_by = "interrupted"
        raise
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
        await source.close()
        if motion is not None:
            motion.close()
        logger.info(
            "recorded %d RR intervals and %d gaps to %s (%s)",
            result.beats,
            result.gaps,
            path,
            result.stopped_by or "stopped",
        )
        if result.motion_path is not None:
            logger.info(
                "recorded %d accelerometer samples to %s", result.acc_samples, result.motion_path
            )
    return result


def cmd_scan(args: argparse.Namespace) -> int:
    """``kindpulse scan [--timeout S]``: list heart-rate devices nearby.

    Prints a table (name, address, RSSI in dBm; strongest first) and returns 0, or one
    line and returns 1 when none was found. Bluetooth problems raise
    :class:`~kindpulse.errors.UnavailableError` (exit 69) with one actionable line.
    """
    from .ble import scan

    timeout: float = args.timeout
    devices = asyncio.run(scan(timeout))
    out = sys.stdout
    if not devices:
        out.write(
            f"No heart-rate strap found in {timeout:g} s. Wear it (moist electrodes wake it "
            "up), make sure no phone app is connected to it, and scan again "
            "(e.g. --timeout 15).\n"
        )
        return 1
    names = [d.name or "(no name)" for d in devices]
    width = max(len("NAME"), *(len(n) for n in names))
    out.write(f"{'NAME':<{width}}  {'ADDRESS':<17}  RSSI\n")
    for name, device in zip(names, devices, strict=True):
        out.write(f"{name:<{width}}  {device.address:<17}  {device.rssi} dBm\n")
    out.write(
        f"\nRecord from one with: kindpulse record --address {devices[0].address} --out rr.csv\n"
    )
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    """``kindpulse record --out FILE [--motion-out FILE] [--duration S]
    [--address A | --name N]``.

    Records RR intervals to a new CSV file (format in the module docstring), and the
    accelerometer of a strap that has one to ``--motion-out`` (default
    ``<stem>.acc.txt`` beside it), until the duration (counted from the first beat) or
    Ctrl-C; returns 0, or 130 after Ctrl-C (the files are complete either way). Progress
    goes to stderr.
    """
    from .ble import BleConfig, BleHeartRateSource

    config = BleConfig(address=args.address, name=args.name, acc_samples=True)
    source = BleHeartRateSource(config, clock=time.time)
    path = Path(args.out)
    motion_path = Path(args.motion_out) if args.motion_out else default_motion_path(path)
    summary = RecordSummary(path)
    duration: float | None = args.duration
    until = f"for {duration:g} s from the first beat" if duration else "until Ctrl-C"
    sys.stderr.write(
        f"kindpulse: recording RR intervals to {path} (and the accelerometer, if the "
        f"strap has one, to {motion_path}) {until}\n"
    )
    code = 0
    try:
        asyncio.run(
            record(source, path, duration, time.time, summary=summary, motion_out=motion_path)
        )
    except KeyboardInterrupt:
        code = 130
    sys.stderr.write(
        f"kindpulse: wrote {summary.beats} RR intervals"
        + (f" and {summary.gaps} gaps" if summary.gaps else "")
        + f" to {path}\n"
    )
    if summary.motion_path is not None:
        sys.stderr.write(
            f"kindpulse: wrote {summary.acc_samples} accelerometer samples to "
            f"{summary.motion_path}\n"
        )
    return code


def add_ble_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``scan`` and ``record`` on the ``kindpulse`` command line.

    Each sub-parser sets ``handler`` (a ``Callable[[argparse.Namespace], int]``).
    """
    s = subparsers.add_parser(
        "scan",
        help="find heart-rate straps nearby",
        description="Scan for devices advertising the Bluetooth Heart Rate Service (0x180D) "
        "and list their name, address and signal strength.",
    )
    s.add_argument(
        "--timeout",
        type=positive_seconds,
        default=5.0,
        metavar="S",
        help="seconds to scan (default 5)",
    )
    s.set_defaults(handler=cmd_scan)

    r = subparsers.add_parser(
        "record",
        help="record RR intervals (and the accelerometer) from a strap to files",
        description="Record the strap's RR intervals to a new CSV file with the columns "
        "timestamp,rr_ms (ISO 8601 local time, milliseconds with 4 decimals); a lost link "
        "is a '# gap: <reason>' line. A strap with an accelerometer (Polar Measurement "
        "Data, e.g. Polar H10) also has its raw samples recorded, in Polar Sensor "
        "Logger's layout 'Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]', "
        "to <FILE stem>.acc.txt beside it or --motion-out. The files are complete at "
        "every moment, so Ctrl-C is a fine way to stop.",
    )
    r.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the CSV file to create (an existing file is never overwritten)",
    )
    r.add_argument(
        "--motion-out",
        default=None,
        metavar="FILE",
        help="where the accelerometer samples go (default: <FILE stem>.acc.txt "
        "beside --out; created only when the strap streams them, never "
        "overwritten)",
    )
    r.add_argument(
        "--duration",
        type=positive_seconds,
        default=None,
        metavar="S",
        help="stop after S seconds, counted from the first beat (default: Ctrl-C)",
    )
    which = r.add_mutually_exclusive_group()
    which.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="the strap's Bluetooth address (see 'kindpulse scan')",
    )
    which.add_argument(
        "--name",
        default=None,
        metavar="NAME",
        help="the strap's advertised name, or its beginning (e.g. 'Polar H10')",
    )
    r.set_defaults(handler=cmd_record)
