"""The accelerometer over BLE (Polar Measurement Data) with the real bleak.

As in ``test_ble_integration.py``: the unmodified bleak over a private dbus-daemon, against
the fake BlueZ (``tests/fakebluez.py``) whose strap serves the PMD service with a scripted
accelerometer signal in real time. Everything waits for items or events with a deadline.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kindpulse.motion import movement_per_second
from kindpulse.sensors.ble import BleHeartRateSource
from kindpulse.sensors.motionfile import read_motion_file
from kindpulse.sensors.pmd import AccSamples
from kindpulse.sensors.record import ACC_HEADER, CSV_HEADER, RecordSummary, record
from kindpulse.types import Beat, Gap, Movement

from .fakebluez import FakeControl, hrm_frame, motion_script
from .test_ble_integration import (
    KINDPULSE,
    STRAP,
    STRAP_NAME,
    Bluez,
    Collector,
    _start,
    fast,
    messages,
    open_fds,
    run,
)

#: 8 G over 16 bits, G per count: what a Polar strap's start response gives as factor.
FACTOR = 8 / 32768
MG_PER_COUNT = FACTOR * 1000
PMD_START_25HZ_8G_16BIT = "0202000119000101100002010800"



@pytest.fixture
def bluez(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bluez]:
    yield from _start(tmp_path, monkeypatch)


def collect(source: BleHeartRateSource) -> Collector:
    """Everything the source yields, raw accelerometer samples included."""
    return Collector(source, source.stream_with_samples())


async def pmd_strap(fake: FakeControl, **pmd: Any) -> None:
    """A Polar strap: heart rate every 0.2 s and an accelerometer playing 4 s still, 4 s
    walking (gravity on -x, as a strap worn upside down), delta-compressed frames in
    counts of 8 G / 16 bits, notifications late by up to 50 ms."""
    await fake.add_device(STRAP, STRAP_NAME, -58)
    await fake.set_pump(STRAP, 0.2, [hrm_frame([1024])])
    settings: dict[str, Any] = {"frame_type": 0x80, "factor": FACTOR, "jitter": 0.05}
    settings.update(pmd)
    mg_per_count = MG_PER_COUNT if settings["frame_type"] == 0x80 else 1.0
    script = motion_script(
        [("still", 4), ("walk", 4)], gravity_axis=0, gravity_sign=-1, mg_per_count=mg_per_count
    )
    await fake.set_pmd(STRAP, script, **settings)


def classify(values: list[float]) -> tuple[list[float], list[float], list[float]]:
    still = [v for v in values if v < 10]
    walking = [v for v in values if 130 <= v <= 170]
    other = [v for v in values if not (v < 10 or 130 <= v <= 170)]
    return still, walking, other


integration = pytest.mark.integration


@integration
def test_movement_follows_the_script_and_heart_rate_does_not_wait(bluez: Bluez) -> None:
    async def main() -> tuple[list[Movement], list[AccSamples], float]:
        async with await FakeControl.connect() as fake:
            await pmd_strap(fake)
            source = BleHeartRateSource(fast(acc_samples=True))
            got = collect(source)
            await got.wait_for(Movement, 17, timeout=30)
            # heart rate subscribed before the accelerometer was asked anything
            kinds = [(k, d) for _t, k, d in fake.events]
            hr_sub = kinds.index(("StartNotify", "00002a37-0000-1000-8000-00805f9b34fb"))
            assert hr_sub < kinds.index(("PmdSettings", STRAP))
            assert [d for k, d in kinds if k == "PmdStart"] == [PMD_START_25HZ_8G_16BIT]
            motion = source.motion_status
            assert motion.streaming and motion.rate_hz == 25 and motion.range_g == 8
            assert motion.starts == 1 and motion.dropped == 0 and motion.late == 0
            assert len(got.of(Beat)) >= 30  # beats went on all along
            now = time.time()
            closing = time.monotonic()
            await source.close()
            await got.task
            assert time.monotonic() - closing < 2.0
            await fake.wait_for("PmdStop")  # close() stopped the accelerometer
            await fake.wait_for("StopNotify", 3)  # data, control point, heart rate
            return got.of(Movement), got.of(AccSamples), now

    movements, frames, now = run(main(), timeout=60)
    ends = [m.t for m in movements]
    assert all(e == math.floor(e) for e in ends)  # whole seconds of the source clock
    assert np.all(np.diff(ends) == 1.0), ends
    assert now - 3.0 < ends[-1] <= now + 1.0  # on the source clock (wall time)
    values = [m.mg for m in movements[1:]]  # the first second may be partial
    still, walking, other = classify(values)
    print(
        f"\n[pmd] {len(values)} s of movement: still {np.median(still):.1f} mg (n={len(still)}), "
        f"walking {np.median(walking):.1f} mg (n={len(walking)}), transitions {other}"
    )
    assert len(still) >= 5 and len(walking) >= 5
    assert np.median(still) == pytest.approx(3.0, abs=1.5)
    assert np.median(walking) == pytest.approx(150.0, rel=0.05)
    assert len(other) <= 5 and max(values) < 250  # only the seconds that span a change
    # the Movement items are exactly kindpulse.motion over the samples as placed
    t = np.concatenate([f.t for f in frames])
    xyz = np.concatenate([np.column_stack([f.x_mg, f.y_mg, f.z_mg]) for f in frames])
    assert np.all(np.diff(t) > 0)
    spacing = np.diff(np.concatenate([f.sensor_ns for f in frames]))
    assert np.all(np.abs(spacing - 40_000_000) <= 1)  # the strap's own 25 Hz
    # gravity on -x, in mg, whatever the strap's counts
    assert np.median(xyz[:, 0]) == pytest.approx(-1000.0, abs=5)
    batch_ends, batch_mg = movement_per_second(t, xyz[:, 0], xyz[:, 1], xyz[:, 2])
    live = {m.t: m.mg for m in movements}
    common = [e for e in batch_ends.tolist() if e in live]
    assert len(common) >= len(movements) - 1
    for e, v in zip(batch_ends.tolist(), batch_mg.tolist(), strict=True):
        if e in live and e != movements[0].t:
            assert live[e] == pytest.approx(v, rel=1e-9)


@integration
def test_straps_without_pmd_or_with_it_switched_off_stream_beats_as_before(
    bluez: Bluez,
) -> None:
    async def main() -> None:
        async with await FakeControl.connect() as fake:
            await fake.add_device(STRAP, STRAP_NAME, -58)  # no PMD service
            await fake.set_pump(STRAP, 0.05, [hrm_frame([1024, 1029])])
            source = BleHeartRateSource(fast())
            got = collect(source)
            await got.wait_for(Beat, 40)
            assert got.of(Movement) == [] and source.motion_status.starts == 0
            assert fake.count("WriteValue") == 0 and fake.count("PmdSettings") == 0
            await source.close()
            await got.task

            # a PMD strap with the accelerometer switched off in the configuration
            await fake.call("ForgetDevice", "s", STRAP)
            other = "A0:9E:1A:65:43:21"
            await fake.add_device(other, "Polar H10 87654321", -58)
            await fake.set_pump(other, 0.05, [hrm_frame([1024])])
            await fake.set_pmd(other, motion_script([("walk", 2)]), frame_type=0x01)
            source = BleHeartRateSource(fast(address=other, accelerometer=False))
            got = collect(source)
            await got.wait_for(Beat, 40)
            assert got.of(Movement) == [] and fake.count("PmdSettings") == 0
            await source.close()
            await got.task

    run(main())


@integration
@pytest.mark.parametrize("use_start_notify", [True, False], ids=["StartNotify", "AcquireNotify"])
def test_accelerometer_restarted_after_a_reconnect(bluez: Bluez, use_start_notify: bool) -> None:
    async def main() -> float:
        async with await FakeControl.connect() as fake:
            # uncompressed int16 frames in mg, the type bleakheart documents for the H10
            await pmd_strap(fake, frame_type=0x01, factor=0.0)
            source = BleHeartRateSource(fast(use_start_notify=use_start_notify))
            got = collect(source)
            await got.wait_for(Movement, 3)
            await fake.drop_link(STRAP, advertising=True)
            await got.wait_for(Gap, 1)
            gap_at = len(got.items)
            await got.wait_for(Movement, 1, since=gap_at)
            back = time.monotonic() - await fake.wait_for("Disconnected")
            await got.wait_for(Movement, 3, since=gap_at)
            # The fake reports its calls on another connection, which may trail the data.
            await fake.wait_for("PmdStart", 2)
            await fake.wait_for("PmdStopped", 1)
            assert fake.count("PmdStart") == 2 and fake.count("PmdStopped") == 1
            assert source.motion_status.starts == 2 and source.motion_status.streaming
            gap = got.of(Gap)[0]
            after = got.of(Movement, since=gap_at)
            assert all(m.t > gap.t for m in after)
            assert all(0 < m.mg < 250 for m in after)
            await source.close()
            await got.task
            return back

    back = run(main(), timeout=60)
    print(f"\n[pmd] first second of movement {back:.2f} s after the link was lost and back")
    assert back < 10.0


@integration
def test_reconnecting_a_pmd_strap_leaks_no_tasks_or_fds(bluez: Bluez) -> None:
    cycles = 20

    async def main() -> tuple[list[int], list[int], tuple[int, int]]:
        async with await FakeControl.connect() as fake:
            await fake.call("SetAdvertInterval", "d", 0.02)
            await pmd_strap(fake, per_frame=5, jitter=0.0)
            source = BleHeartRateSource(
                fast(backoff_initial_s=0.01, backoff_max_s=0.05, acc_samples=True)
            )
            got = collect(source)

            async def one_cycle() -> None:
                gaps = len(got.of(Gap))
                starts = source.motion_status.starts
                await fake.drop_link(STRAP, advertising=True)
                await got.wait_for(Gap, gaps + 1)
                await got.wait(lambda: source.motion_status.starts > starts, "a restart")
                mark = len(got.items)
                await got.wait_for(AccSamples, 1, since=mark)

            await got.wait_for(Movement, 1)
            for _ in range(2):  # warm-up
                await one_cycle()
            base = (open_fds(), len(asyncio.all_tasks()))
            fds, tasks = [], []
            for _ in range(cycles):
                await one_cycle()
                fds.append(open_fds())
                tasks.append(len(asyncio.all_tasks()))
            assert source.motion_status.starts == cycles + 3
            assert source.motion_status.start_failures == 0
            await source.close()
            await got.task
            return fds, tasks, base

    fds, tasks, (base_fds, base_tasks) = run(main(), timeout=90)
    print(
        f"\n[pmd] {cycles} reconnects: fds {base_fds} -> max {max(fds)}, "
        f"tasks {base_tasks} -> max {max(tasks)}"
    )
    assert max(fds) - base_fds <= 2 and max(tasks) - base_tasks <= 2


@integration
def test_a_refused_accelerometer_start_is_reported_once_and_beats_flow(
    bluez: Bluez, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kindpulse")

    async def main() -> None:
        async with await FakeControl.connect() as fake:
            await pmd_strap(fake, start_error=8)  # INVALID_SAMPLE_RATE
            source = BleHeartRateSource(fast())
            got = collect(source)
            await fake.wait_for("PmdStart")
            await got.wait_for(Beat, 10)
            await fake.drop_link(STRAP, advertising=True)
            await got.wait_for(Gap, 1)
            mark = len(got.items)
            await fake.wait_for("PmdStart", 2)
            await got.wait_for(Beat, 10, since=mark)
            assert got.of(Movement) == []
            await got.wait(lambda: source.motion_status.start_failures == 2, "two failures")
            assert source.motion_status.starts == 0 and not source.motion_status.streaming
            await source.close()
            await got.task

    run(main(), timeout=60)
    reports = messages(caplog, "could not start the accelerometer")
    assert [r.levelno for r in reports] == [logging.WARNING, logging.DEBUG]
    text = reports[0].getMessage()
    assert "INVALID_SAMPLE_RATE" in text and "heart rate goes on" in text and "\n" not in text


def read_acc_file(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Header fields, phone times (epoch s), sensor ns and x, y, z mg of an .acc.txt."""
    lines = path.read_text().splitlines()
    rows = [line.split(";") for line in lines[1:]]
    phone = np.array([datetime.fromisoformat(r[0]).timestamp() for r in rows])
    sensor = np.array([int(r[1]) for r in rows])
    xyz = np.array([[float(v) for v in r[2:]] for r in rows])
    return lines[0].split(";"), phone, sensor, xyz


@integration
def test_record_writes_the_accelerometer_beside_the_rr_file(bluez: Bluez, tmp_path: Path) -> None:
    out = tmp_path / "walk.csv"
    acc = tmp_path / "walk.acc.txt"

    async def main() -> RecordSummary:
        async with await FakeControl.connect() as fake:
            await pmd_strap(fake)
            source = BleHeartRateSource(fast(acc_samples=True))
            return await record(source, out, duration_s=9.0, motion_out=acc)

    summary = run(main(), timeout=60)
    assert summary.motion_path == acc and summary.acc_samples >= 150
    assert out.read_text().splitlines()[0] == CSV_HEADER and summary.beats >= 30
    header, phone, sensor, xyz = read_acc_file(acc)
    assert (
        ";".join(header)
        == ACC_HEADER
        == ("Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]")
    )
    first = acc.read_text().splitlines()[1].split(";")[0]
    # Local time with milliseconds and the UTC offset, e.g. 2026-12-02T14:03:05.123+01:00.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", first), first
    assert len(phone) == summary.acc_samples
    assert np.all(np.abs(np.diff(sensor) - 40_000_000) <= 1)
    assert np.all(np.diff(phone) >= 0) and np.all(np.diff(phone) < 0.06)
    # the values are the script's, in mg (counts of 8 G / 16 bits, scaled by the factor)
    assert np.median(xyz[:, 0]) == pytest.approx(-1000.0, abs=5)
    # kindpulse.motion gives back still and walking from the file
    _ends, mg = movement_per_second(phone, xyz[:, 0], xyz[:, 1], xyz[:, 2])
    still, walking, other = classify(mg[1:-1].tolist())
    print(
        f"\n[pmd] record: {summary.acc_samples} samples; from the file: still "
        f"{np.median(still):.1f} mg (n={len(still)}), walking {np.median(walking):.1f} mg "
        f"(n={len(walking)})"
    )
    assert len(still) >= 2 and len(walking) >= 2 and len(other) <= 3
    assert np.median(walking) == pytest.approx(150.0, rel=0.05)
    # the project's reader of accelerometer files takes it as Polar Sensor Logger's layout
    # and puts the samples where they were recorded (it fits a line under the phone times,
    # which are cut to the millisecond: within a few ms)
    read = read_motion_file(acc)
    assert read.layout == "polar" and read.rate_hz == pytest.approx(25.0, rel=1e-3)
    assert read.drift_ppm is not None and abs(read.drift_ppm) < 50
    assert np.abs(read.t0_epoch_s + read.t_s - phone).max() < 0.010
    assert np.array_equal(read.x_mg, xyz[:, 0]) and np.array_equal(read.z_mg, xyz[:, 2])


@integration
def test_kindpulse_record_cli_names_the_acc_file_after_the_rr_file(
    bluez: Bluez, tmp_path: Path
) -> None:
    async def start_strap() -> None:
        async with await FakeControl.connect() as fake:
            await pmd_strap(fake)

    run(start_strap())
    out = tmp_path / "session.csv"
    p = subprocess.run(
        [KINDPULSE, "record", "--out", str(out), "--duration", "2", "--address", STRAP],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    acc = tmp_path / "session.acc.txt"
    assert acc.exists(), p.stderr
    assert f"accelerometer samples to {acc}" in p.stderr
    lines = acc.read_text().splitlines()
    assert lines[0] == ACC_HEADER and len(lines) > 10
    # never overwritten: the same RR name again is refused before anything is written
    again = subprocess.run(
        [
            KINDPULSE,
            "record",
            "--out",
            str(tmp_path / "new.csv"),
            "--motion-out",
            str(acc),
            "--address",
            STRAP,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 64 and "already exists" in again.stderr
    assert acc.read_text().splitlines() == lines
    assert not (tmp_path / "new.csv").exists()
