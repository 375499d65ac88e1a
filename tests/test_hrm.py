"""Heart Rate Measurement frames (HRS v1.0 section 3.1): table tests, back-dating, fuzzing.

The fuzz test builds frames from known field values with an encoder of its own (not the
parser) and checks the parser against those values; hypothesis picks the structure
(flags, number of RR values, truncation, trailing byte) and a seed, and a seeded numpy
generator fills in the values in bulk.
"""

from __future__ import annotations

import itertools
import logging
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kindpulse.sensors.hrm import (
    RR_UNIT_MS,
    HrmFrame,
    ParseStats,
    backdate,
    encode_rr_ms,
    parse_hrm,
)
from kindpulse.types import Beat


def frame(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr.replace(" ", ""))


# (hex, hr, contact, energy, rr raw 1/1024 s)
WELL_FORMED = [
    # the example of TESTING.md: contact supported+detected, RR 1024 and 1029
    ("16 3c 00 04 05 04", 60, True, None, (1024, 1029)),
    ("00 50", 80, None, None, ()),  # uint8 HR only, no contact support
    ("01 2c 01", 300, None, None, ()),  # uint16 HR
    ("01 48 00", 72, None, None, ()),  # uint16 HR, small value
    ("08 48 e8 03", 72, None, 1000, ()),  # energy expended
    ("19 48 00 10 00 00 04", 72, None, 16, (1024,)),  # uint16 HR + energy + RR
    ("1f 48 00 ff ff 01 00 ff ff", 72, True, 65535, (1, 65535)),  # all fields, extremes
    ("10 3c 00 00", 60, None, None, (0,)),  # RR 0 is carried as sent
    ("14 3c 00 04", 60, False, None, (1024,)),  # contact supported, not detected
    ("12 3c 00 04", 60, None, None, (1024,)),  # "detected" without "supported": unknown
    ("04 3c", 60, False, None, ()),
    ("06 3c", 60, True, None, ()),
    ("02 3c", 60, None, None, ()),
    ("00 3c 99 99", 60, None, None, ()),  # bytes after HR without RR flag: ignored
    ("10 3c" + " 00 04" * 9, 60, None, None, (1024,) * 9),  # 9 RR: a full 20-byte payload
]


@pytest.mark.parametrize(("hexstr", "hr", "contact", "energy", "rr_raw"), WELL_FORMED)
def test_well_formed_frames(
    hexstr: str, hr: int, contact: bool | None, energy: int | None, rr_raw: tuple[int, ...]
) -> None:
    stats = ParseStats()
    parsed = parse_hrm(frame(hexstr), stats)
    assert parsed == HrmFrame(hr, contact, energy, tuple(v * 1000 / 1024 for v in rr_raw))
    assert stats == ParseStats(frames=1, dropped_short=0, odd_trailing=0)


def test_the_documented_example_exactly() -> None:
    parsed = parse_hrm(frame("16 3c 00 04 05 04"))
    assert parsed is not None
    assert parsed.hr_bpm == 60
    assert parsed.contact is True
    assert parsed.energy_kj is None
    assert parsed.rr_ms == (1000.0, 1004.8828125)


def test_rr_conversion_is_exact_for_every_raw_value() -> None:
    raw = np.arange(65536)
    frames = [bytes([0x10, 60]) + int(v).to_bytes(2, "little") for v in raw]
    got = np.array([parse_hrm(f).rr_ms[0] for f in frames])  # type: ignore[union-attr]
    # exact: the same doubles as the rational raw * 125 / 128, and as raw * 1000 / 1024
    assert np.array_equal(got, raw * 125 / 128)
    assert np.array_equal(got, raw * 1000 / 1024)
    assert RR_UNIT_MS == 0.9765625
    assert encode_rr_ms(got.tolist()) == raw.tolist()
    # rounded to the 4 decimals `kindpulse record` writes, the raw value still comes back
    assert encode_rr_ms([float(f"{v:.4f}") for v in got]) == raw.tolist()


@pytest.mark.parametrize(
    ("hexstr", "why"),
    [
        ("", "empty"),
        ("16", "flags only"),
        ("01 3c", "uint16 HR with one byte"),
        ("08 3c", "energy flagged, missing"),
        ("08 3c 01", "energy flagged, one byte"),
        ("09 3c 00 01", "uint16 HR + energy, energy one byte"),
        ("10 3c", "RR flagged, no RR value"),
        ("10 3c 00", "RR flagged, one byte"),
        ("18 3c e8 03 00", "energy + RR flagged, one RR byte"),
    ],
)
def test_short_frames_are_dropped_whole_and_counted(
    hexstr: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    stats = ParseStats()
    with caplog.at_level(logging.DEBUG, logger="kindpulse.sensors.hrm"):
        assert parse_hrm(frame(hexstr), stats) is None, why
    assert stats == ParseStats(frames=1, dropped_short=1, odd_trailing=0)
    assert any("dropped" in r.getMessage() for r in caplog.records)


def test_odd_trailing_byte_is_ignored_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    stats = ParseStats()
    with caplog.at_level(logging.DEBUG, logger="kindpulse.sensors.hrm"):
        parsed = parse_hrm(frame("16 3c 00 04 05 04 07"), stats)
        one = parse_hrm(frame("10 3c 00 04 ff"), stats)
    assert parsed is not None and parsed.rr_ms == (1000.0, 1004.8828125)
    assert one is not None and one.rr_ms == (1000.0,)
    assert stats == ParseStats(frames=2, dropped_short=0, odd_trailing=2)
    assert sum("odd trailing byte" in r.getMessage() for r in caplog.records) == 2


def test_parser_takes_bytes_bytearray_and_memoryview() -> None:
    raw = frame("16 3c 00 04 05 04")
    expected = parse_hrm(raw)
    assert parse_hrm(bytearray(raw)) == expected
    assert parse_hrm(memoryview(raw)) == expected
    assert parse_hrm(memoryview(b"\xff" + raw)[1:]) == expected


def test_parser_never_raises_on_malformed_input_and_keeps_no_state() -> None:
    stats = ParseStats()
    for n in range(0, 40):
        for flags in range(256):
            parse_hrm(bytes([flags]) + bytes(range(n)), stats)
    assert stats.frames == 40 * 256
    # the same frame twice gives the same answer (the plan cache changes nothing)
    assert parse_hrm(frame("16 3c 00 04 05 04")) == parse_hrm(frame("16 3c 00 04 05 04"))


def test_backdate_last_rr_ends_at_arrival() -> None:
    parsed = parse_hrm(frame("16 3c 00 04 05 04"))
    assert parsed is not None
    beats = backdate(parsed, 100.0)
    assert beats == [Beat(100.0 - 1004.8828125 / 1000, 1000.0, True), Beat(100.0, 1004.8828125)]


def test_backdate_many_and_none() -> None:
    rr = (800.0, 900.0, 1000.0, 1100.0)
    beats = backdate(HrmFrame(70, None, None, rr), 50.0)
    assert [b.rr_ms for b in beats] == list(rr)
    assert [b.t for b in beats] == pytest.approx([50.0 - 3.0, 50.0 - 2.1, 50.0 - 1.1, 50.0])
    assert beats[-1].t == 50.0
    assert all(b.contact for b in beats)  # contact not supported: not "no contact"
    assert backdate(HrmFrame(70, True, None, ()), 50.0) == []


def test_backdate_marks_no_contact() -> None:
    parsed = parse_hrm(frame("14 3c 00 04 00 04"))
    assert parsed is not None and parsed.contact is False
    assert [b.contact for b in backdate(parsed, 1.0)] == [False, False]


def test_importing_the_parser_does_not_import_bleak() -> None:
    code = (
        "import sys, kindpulse.sensors.hrm, kindpulse.sensors.source;"
        "assert 'bleak' not in sys.modules, 'bleak imported';"
        "assert 'asyncio' not in sys.modules, 'asyncio imported'"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=60
    )
    assert p.returncode == 0, p.stderr


# -- fuzzing ----------------------------------------------------------------------------

FRAMES_PER_EXAMPLE = 600
FUZZ_EXAMPLES = 200  # 200 x 600 = 120,000 structured frames, plus raw random bytes


def _encode(flags: int, hr: int, energy: int, rr: np.ndarray, odd: int | None) -> bytes:
    out = bytearray([flags])
    out += hr.to_bytes(2, "little") if flags & 0x01 else bytes([hr & 0xFF])
    if flags & 0x08:
        out += energy.to_bytes(2, "little")
    if flags & 0x10:
        out += rr.astype("<u2").tobytes()
    if odd is not None:
        out.append(odd)
    return bytes(out)


@st.composite
def structures(draw: st.DrawFn) -> dict[str, int | bool]:
    return {
        "flags": draw(st.integers(0, 255)),
        "max_rr": draw(st.integers(0, 12)),
        "odd": draw(st.booleans()),
        "truncate_max": draw(st.integers(0, 6)),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def test_fuzz_parser_and_backdate_on_120k_frames() -> None:
    total = [0]

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True)
    @given(structure=structures())
    def check(structure: dict[str, int | bool]) -> None:
        rng = np.random.default_rng(int(structure["seed"]))
        flags = int(structure["flags"])
        hr16 = bool(flags & 0x01)
        header = 1 + (2 if hr16 else 1) + (2 if flags & 0x08 else 0)
        n = FRAMES_PER_EXAMPLE
        hrs = rng.integers(0, 65536 if hr16 else 256, n)
        energies = rng.integers(0, 65536, n)
        counts = rng.integers(0, int(structure["max_rr"]) + 1, n)
        cuts = rng.integers(0, int(structure["truncate_max"]) + 1, n)
        cuts[rng.random(n) < 0.7] = 0  # most frames whole
        odds = rng.integers(0, 256, n)
        rr_all = rng.integers(0, 65536, (n, int(structure["max_rr"]) + 1))
        stats = ParseStats()
        accepted = short = odd_seen = 0
        for i in range(n):
            rr = rr_all[i, : counts[i]] if flags & 0x10 else rr_all[i, :0]
            odd = int(odds[i]) if structure["odd"] and flags & 0x10 else None
            data = _encode(flags, int(hrs[i]), int(energies[i]), rr, odd)
            data = data[: len(data) - int(cuts[i])]
            parsed = parse_hrm(data, stats)
            need = header + (2 if flags & 0x10 else 0)
            if len(data) < need:
                assert parsed is None
                short += 1
                continue
            assert parsed is not None
            accepted += 1
            assert parsed.hr_bpm == int(hrs[i])
            assert parsed.energy_kj == (int(energies[i]) if flags & 0x08 else None)
            assert parsed.contact == (bool(flags & 0x02) if flags & 0x04 else None)
            if flags & 0x10:
                rest = len(data) - header
                assert len(parsed.rr_ms) == rest // 2
                odd_seen += rest % 2
                kept = rr_all[i, : rest // 2]  # truncation only ever removes values
                assert parsed.rr_ms == tuple(float(v) * 1000 / 1024 for v in kept)
            else:
                assert parsed.rr_ms == ()
            beats = backdate(parsed, 1000.0)
            assert len(beats) == len(parsed.rr_ms)
            if beats:
                assert beats[-1].t == 1000.0
                for a, b in itertools.pairwise(beats):
                    assert b.t - a.t == pytest.approx(b.rr_ms / 1000, abs=1e-9)
                assert all(b.contact == (parsed.contact is not False) for b in beats)
        assert stats == ParseStats(frames=n, dropped_short=short, odd_trailing=odd_seen)
        assert accepted + short == n
        total[0] += n

    check()
    assert total[0] >= 100_000, total[0]


def test_fuzz_raw_random_bytes_never_raise() -> None:
    rng = np.random.default_rng(20240501)
    blob = rng.integers(0, 256, 40 * 20_000, dtype=np.uint8).tobytes()
    lengths = rng.integers(0, 40, 20_000)
    stats = ParseStats()
    kept = 0
    for i, n in enumerate(lengths):
        data = blob[i * 40 : i * 40 + int(n)]
        parsed = parse_hrm(data, stats)
        if parsed is not None:
            kept += 1
            assert len(backdate(parsed, 0.0)) == len(parsed.rr_ms)
    assert stats.frames == 20_000
    assert stats.frames == kept + stats.dropped_short
