"""`kindpulse break`: the guided break in a terminal, run as a real process (pipes and a
real pseudo-terminal), sped up; its timeline and breathing on a fake clock."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kindpulse.breaks import VARIANTS, guided_steps
from kindpulse.daemon.guided import (
    INTRO,
    STOPPED,
    TerminalBreak,
    breath_phase,
    breath_row,
    variant_for_today,
)

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))


def kp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KINDPULSE, *args], capture_output=True, text=True, timeout=120)


def breaks(state: Path) -> list[tuple[int, int, object]]:
    with sqlite3.connect(state / "kindpulse.sqlite3") as db:
        return list(db.execute("SELECT start_ms, end_ms, prompt_id FROM breaks"))


def test_a_fast_break_shows_the_three_steps_and_the_thanks_and_is_logged(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    p = kp("break", "--variant", "1", "--speed", "60", "--state-dir", str(state))
    assert p.returncode == 0, p.stderr
    v = VARIANTS[0]
    out = p.stdout
    for text in (v.mindfulness, v.humanity, v.kindness, "Thank you for taking this moment"):
        assert text in out.replace("\n  ", " "), text
    # In order: the three steps, the breathing, then the thanks at the end.
    order = [out.index(v.title), out.index("You are not alone"), out.index("Be kind to yourself")]
    assert order == sorted(order) and out.rstrip().endswith("for yourself.")
    # Not a terminal: plain breathing lines at the same pace (six breaths in a minute).
    assert out.count("Breathe in…") == 6 and out.count("breathe out…") == 6
    assert "\x1b" not in out and "\r" not in out
    assert not re.search(r"\d", out), "a break shows no figures"
    assert p.stderr == ""
    rows = breaks(state)
    assert len(rows) == 1 and rows[0][2] is None  # a break of its own, no prompt
    assert rows[0][1] > rows[0][0]


def test_own_phrases_from_the_config_and_no_log(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[prompts]\nreplace_builtin = true\n"
        'phrases_mindfulness = ["This is a tender moment."]\n'
        'phrases_humanity = ["Everyone has evenings like this."]\n'
        'phrases_kindness = ["May I go gently."]\n'
    )
    state = tmp_path / "state"
    p = kp("break", "--speed", "100", "--no-log", "--config", str(cfg), "--state-dir", str(state))
    assert p.returncode == 0, p.stderr
    for text in ("This is a tender moment.", "Everyone has evenings like", "May I go gently."):
        assert text in p.stdout
    assert not state.exists()  # --no-log: the log is not even opened


def test_a_log_that_cannot_be_written_does_not_spoil_the_break(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    p = kp("break", "--speed", "100", "--state-dir", str(not_a_dir / "state"))
    assert p.returncode == 0 and "Thank you" in p.stdout
    assert p.stderr.startswith("kindpulse: the break is not kept in the log: ")
    assert len(p.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--pace", "1"), "--pace 1: expected 4 to 20 seconds a breath"),
        (("--variant", "99"), "--variant 99: expected 1 to 14"),
        (("--speed", "0"), "--speed 0: expected a positive number"),
        (("--pace", "slow"), "'slow' is not a number"),
    ],
)
def test_bad_options_are_one_line_and_exit_64(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    p = kp("break", *args, "--state-dir", str(tmp_path))
    assert p.returncode == 64 and message in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def _read_until(fd: int, want: bytes, timeout: float) -> bytes:
    buf = b""
    end = time.monotonic() + timeout
    while want not in buf and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    assert want in buf, buf[-500:]
    return buf


def _read_all(fd: int, proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    buf = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the pty's other side closed
                break
            if not chunk:
                break
            buf += chunk
        elif proc.poll() is not None:
            break
    return buf


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_ends_the_break_gently_and_keeps_what_was_taken(
    tmp_path: Path, sig: signal.Signals
) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [KINDPULSE, "break", "--variant", "2", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        head = _read_until(proc.stdout.fileno(), VARIANTS[1].title.encode(), 30)
        proc.send_signal(sig)
        rest = _read_all(proc.stdout.fileno(), proc, 30)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    out = (head + rest).decode()
    assert STOPPED in out and "Thank you for" in out
    assert "You are not alone" not in out  # it really stopped at the first step
    assert "Traceback" not in proc.stderr.read().decode()
    assert len(breaks(state)) == 1


def test_on_a_terminal_the_breath_is_drawn_in_place_and_the_cursor_comes_back(
    tmp_path: Path,
) -> None:
    """A real pseudo-terminal: frames redrawn with carriage returns, the cursor hidden
    while it runs and shown again, at the end and after Ctrl-C."""
    for interrupt in (False, True):
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [KINDPULSE, "break", "--speed", "1" if interrupt else "30", "--no-log"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "TERM": "xterm"},
        )
        os.close(slave)
        try:
            if interrupt:
                head = _read_until(master, "●●●".encode(), 30)  # the breath fills
                proc.send_signal(signal.SIGINT)
            else:
                head = b""
            out = (head + _read_all(master, proc, 60)).decode()
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(master)
        assert out.startswith("\x1b[?25l") and out.endswith("\x1b[?25h"), out[-200:]
        assert out.count("\r\x1b[K  breathe in ") >= 2
        assert "breathe out" in out or interrupt
        assert "Breathe in…" not in out  # the plain lines are for pipes
        if interrupt:
            assert STOPPED in out and "You are not alone" not in out
        else:
            assert "\x1b[KThank you\r\n" in out and STOPPED not in out


def test_no_animation_on_a_terminal_writes_plain_lines(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [KINDPULSE, "break", "--speed", "60", "--no-log", "--no-animation", "--pace", "12"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(slave)
    try:
        out = _read_all(master, proc, 60).decode()
        assert proc.wait(timeout=30) == 0
    finally:
        os.close(master)
    assert "\x1b" not in out and out.count("Breathe in…") == 5  # twelve-second breaths


# -- the timeline on a fake clock ---------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        assert s >= 0
        self.slept.append(s)
        self.t += s


@pytest.mark.parametrize(("pace", "total", "breaths"), [(10.0, 60.0, 6), (8.0, 64.0, 8)])
def test_the_break_lasts_whole_breaths_about_a_minute(
    pace: float, total: float, breaths: int
) -> None:
    clock = FakeClock()
    out = io.StringIO()
    run = TerminalBreak(guided_steps(0), out, pace_s=pace, clock=clock, sleep=clock.sleep)
    assert run.run() is True
    assert clock.t - 1000.0 == pytest.approx(total)
    text = out.getvalue()
    assert text.startswith(INTRO) and text.count("Breathe in…") == breaths
    # The in-breath and out-breath lines alternate, evenly spaced.
    kinds = [e[2] for e in run.events() if e[2] in ("in", "out")]
    assert kinds == ["in", "out"] * breaths


def test_speed_divides_every_wait_and_the_animation_draws_frames() -> None:
    clock = FakeClock()
    out = io.StringIO()
    run = TerminalBreak(
        guided_steps(3), out, animate=True, speed=4.0, clock=clock, sleep=clock.sleep
    )
    assert run.run() is True
    assert clock.t - 1000.0 == pytest.approx(15.0)
    assert max(clock.slept) <= 0.1 + 1e-9  # frames every tenth of a second
    text = out.getvalue()
    assert text.count("breathe in ") > 20 and text.endswith("\x1b[?25h")


def test_breath_phase_and_row() -> None:
    assert breath_phase(0.0, 10.0) == (True, 0.0)
    inhaling, full = breath_phase(5.0, 10.0)
    assert not inhaling and full == pytest.approx(1.0)
    assert breath_phase(2.5, 10.0)[1] == pytest.approx(0.5)
    assert breath_phase(7.5, 10.0) == (False, pytest.approx(0.5))
    assert breath_phase(10.0, 10.0) == (True, 0.0)
    empty, full_row = breath_row(True, 0.0), breath_row(False, 1.0)
    assert empty.count("●") == 1 and full_row.count("●") == 25
    assert len(empty) == len(full_row) and not re.search(r"\d", empty + full_row)


def test_breaks_on_one_day_do_not_repeat_their_words() -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)
    chosen = [variant_for_today(now, k, len(VARIANTS)) for k in range(len(VARIANTS))]
    assert sorted(chosen) == list(range(len(VARIANTS)))
    assert variant_for_today(now, len(VARIANTS), len(VARIANTS)) == chosen[0]


@pytest.mark.parametrize("pace", [4.0, 7.5, 10.0, 20.0])
def test_every_step_begins_with_a_breath(pace: float) -> None:
    for variant in range(len(VARIANTS)):
        brk = TerminalBreak(guided_steps(variant), io.StringIO(), pace_s=pace)
        events = brk.events()
        steps = [t for t, _o, kind, _a, _b in events if kind in ("step", "thanks")]
        assert len(steps) == len(guided_steps(variant))
        assert all(abs(t / pace - round(t / pace)) < 1e-9 for t in steps), steps
        assert steps == sorted(steps) and steps[-1] == brk.total_s
