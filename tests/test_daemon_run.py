"""`kindpulse run` as a real process: the simulated wearer through the whole pipeline,
signals, sd_notify datagrams on a real socket, exit codes, private files."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import DATA

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))


def kp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KINDPULSE, *args], capture_output=True, text=True, timeout=120, env=env)


def test_a_simulated_day_runs_to_the_end_and_notices_the_stress(tmp_path: Path) -> None:
    state = tmp_path / "state"
    p = kp(
        "run",
        "--source",
        "sim",
        "--scenario",
        "stress",
        "--speed",
        "3000",
        "--until-end",
        "--start",
        "2026-11-24T14:00:00",
        "--state-dir",
        str(state),
    )
    assert p.returncode == 0, p.stderr
    # What it noticed is in the log, where review finds it.
    review = kp("review", "--day", "2026-11-24", "--format", "json", "--state-dir", str(state))
    assert review.returncode == 0, review.stderr
    doc = json.loads(review.stdout)
    assert doc["summary"]["episodes"] == 1 and doc["summary"]["wear_s"] > 50 * 60
    assert doc["episodes"][0]["explanation"].startswith("For about")
    assert "sustained strain noticed" in p.stderr
    assert "Traceback" not in p.stderr
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for f in state.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    doc = json.loads((state / "status.json").read_text())
    assert doc["running"] is False and doc["beats"] > 3000
    assert doc["last_episode"]["explanation"].startswith("For about")
    # The prompt for it (whatever became of it: no one is there to answer) and the next
    # possible one, after the 45 minute cooldown on the simulated clock.
    assert doc["last_prompt"]["at"] == doc["last_episode"]["confirmed"]
    assert doc["last_prompt"]["outcome"] in ("failed", "timed_out", "dismissed")
    if doc["last_prompt"]["outcome"] == "failed":
        # No notification server here: a prompt no one could see holds nothing back.
        assert doc["next_prompt_holds"] == [] and doc["prompts_today"] == 0
    else:
        assert doc["next_prompt_holds"] == ["cooldown"] and doc["prompts_today"] == 1
        gap = datetime.fromisoformat(doc["next_prompt"]) - datetime.fromisoformat(
            doc["last_prompt"]["at"]
        )
        assert gap == timedelta(minutes=45)
    assert json.loads((state / "baseline.json").read_text())["ready"] is True
    st = kp("status", "--state-dir", str(state), "--json")
    assert json.loads(st.stdout)["running"] is False
    text = kp("status", "--state-dir", str(state))
    assert text.returncode == 3 and "not running" in text.stdout
    assert "last prompt: 2026-11-24 14:" in text.stdout
    assert "next prompt" not in text.stdout  # only a running daemon can promise one


def _notify_socket(tmp_path: Path) -> tuple[socket.socket, str]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.settimeout(0.2)
    return sock, path


def _read_until(sock: socket.socket, want: str, timeout: float) -> list[str]:
    seen: list[str] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
        if any(want in m for m in seen):
            return seen
    raise AssertionError(f"no {want!r} within {timeout} s; got {seen}")


def test_ready_status_watchdog_and_a_prompt_stop_on_sigterm(tmp_path: Path) -> None:
    sock, path = _notify_socket(tmp_path)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="10000000")
    proc = subprocess.Popen(
        [
            KINDPULSE,
            "run",
            "--source",
            "sim",
            "--scenario",
            "calm",
            "--speed",
            "1",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        msgs = _read_until(sock, "READY=1", 10)
        msgs += _read_until(sock, "WATCHDOG=1", 10)
        assert any(m.startswith("STATUS=") or "\nSTATUS=" in m for m in msgs)
        running = kp("status", "--state-dir", str(tmp_path / "state"), "--json")
        assert json.loads(running.stdout)["running"] is True
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, proc.stderr.read() if proc.stderr else ""
    assert took < 2.0, took
    assert any("STOPPING=1" in m for m in _read_until(sock, "STOPPING=1", 2))
    doc = json.loads((tmp_path / "state" / "status.json").read_text())
    assert doc["running"] is False


def test_sighup_with_an_invalid_config_keeps_the_old_one(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sensor]\nsource = "sim"\nscenario = "calm"\n')
    sock, path = _notify_socket(tmp_path)
    proc = subprocess.Popen(
        [KINDPULSE, "run", "--config", str(cfg), "--state-dir", str(tmp_path / "s")],
        env=dict(os.environ, NOTIFY_SOCKET=path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _read_until(sock, "READY=1", 10)
        # A valid new config is taken ...
        cfg.write_text('[sensor]\nsource = "sim"\nscenario = "calm"\n[prompts]\ndaily_cap = 2\n')
        proc.send_signal(signal.SIGHUP)
        _read_until(sock, "RELOADING=1", 5)
        _read_until(sock, "READY=1", 5)
        # ... an invalid one is refused.
        cfg.write_text("[detector]\nwindow_s = true\n")
        proc.send_signal(signal.SIGHUP)
        msgs = _read_until(sock, "RELOADING=1", 5)
        msgs += _read_until(sock, "READY=1", 5)
        assert proc.poll() is None  # still running
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        err = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "configuration reloaded" in err
    assert "reload refused" in err and "window_s = true" in err
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--source", "replay"], 64, "--source replay needs --replay FILE"),
        (["--source", "replay", "--replay", "nope.txt"], 66, "no such file"),
        (["--source", "sim", "--scenario", "no_such_scenario"], 64, "no_such_scenario"),
    ],
)
def test_bad_input_is_one_line_with_its_exit_code(
    tmp_path: Path, args: list[str], code: int, fragment: str
) -> None:
    p = kp("run", *args, "--state-dir", str(tmp_path / "s"), "--until-end")
    assert p.returncode == code, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in p.stderr


def test_bad_config_and_bad_replay_data(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[detector]\nsustain_mins = 3\n")
    p = kp("run", "--config", str(cfg), "--state-dir", str(tmp_path / "s"))
    assert p.returncode == 78 and "did you mean sustain_min?" in p.stderr
    bad = tmp_path / "rr.txt"
    bad.write_text("800\nabc\n")
    p = kp(
        "run",
        "--source",
        "replay",
        "--replay",
        str(bad),
        "--until-end",
        "--state-dir",
        str(tmp_path / "s"),
    )
    assert p.returncode == 65 and ":2: 'abc' is not a number" in p.stderr


def test_replay_of_a_recording_runs_through(tmp_path: Path) -> None:
    p = kp(
        "run",
        "--source",
        "replay",
        "--replay",
        str(DATA / "nsrdb_60min.txt"),
        "--speed",
        "5000",
        "--start",
        "2026-03-02T09:00:00+01:00",
        "--until-end",
        "--state-dir",
        str(tmp_path / "s"),
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "s" / "status.json").read_text())
    assert doc["beats"] == 4684
    assert doc["last_beat"].startswith("2026-03-02T")
    assert "sustained strain noticed" not in p.stderr
    # An RR file has no accelerometer: status says so, and the log's minutes have no
    # movement (not known, never 0).
    assert doc["movement"] is None
    text = kp("status", "--state-dir", str(tmp_path / "s")).stdout
    assert "movement:    no accelerometer data" in text
    db = sqlite3.connect(tmp_path / "s" / "kindpulse.sqlite3")
    assert db.execute("SELECT count(*), count(movement_mg) FROM windows").fetchone()[1] == 0
    db.close()


def test_beats_without_skin_contact_make_their_windows_unknown() -> None:
    import numpy as np

    from kindpulse.daemon.run import Pipeline
    from kindpulse.detector import DetectorConfig, State
    from kindpulse.types import Beat

    rng = np.random.default_rng(4)
    pipe = Pipeline(DetectorConfig(), None)
    t = 1_700_000_000.0
    for k in range(3000):  # about 50 minutes at 60 bpm; contact lost for ten of them
        rr = 1000.0 + 40.0 * np.sin(k / 2.2) + float(rng.normal(0, 15))
        t += rr / 1000.0
        pipe.feed(Beat(t, rr, contact=not 1500 <= k < 2100))
    pipe.finish()
    lost = [s for s in pipe.detector.scores if 1560 <= s.end_s <= 2100]
    assert lost and all(s.state is State.UNKNOWN for s in lost)
    assert any(s.state is not State.UNKNOWN for s in pipe.detector.scores if s.end_s > 2300)


def test_a_fast_replay_still_lets_the_loop_write_status_and_stop(tmp_path: Path) -> None:
    # At a high speed the source is always behind schedule; the loop must still get turns:
    # the status is written and SIGTERM is honoured while beats are still streaming.
    import contextlib

    from kindpulse.sensors.simulator import load_scenario, simulate

    total = simulate(load_scenario("ordinary_day"), 0).rr_ms.size
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [
            KINDPULSE,
            "run",
            "--source",
            "sim",
            "--scenario",
            "ordinary_day",
            "--speed",
            "100000",
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        beats = 0
        while time.monotonic() < deadline and beats == 0:
            time.sleep(0.1)
            with contextlib.suppress(OSError, ValueError, KeyError):
                beats = json.loads((state / "status.json").read_text())["beats"]
        assert 0 < beats < total  # written while beats were still streaming
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - t0 < 2.0
        done = json.loads((state / "status.json").read_text())["beats"]
        assert done < total  # it stopped mid-stream
    finally:
        if proc.poll() is None:
            proc.kill()


def test_pause_and_resume_reach_the_running_daemon_through_the_log(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert kp("pause", "--state-dir", str(state)).returncode == 0  # before it even starts
    proc = subprocess.Popen(
        [KINDPULSE, "run", "--source", "sim", "--scenario", "calm", "--state-dir", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def status() -> dict:  # type: ignore[type-arg]
        return json.loads(kp("status", "--state-dir", str(state), "--json").stdout)["status"]

    def wait_for(check: object, timeout: float = 10.0) -> dict:  # type: ignore[type-arg]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            doc = status()
            if doc and doc.get("running") and check(doc):  # type: ignore[operator]
                return doc
            time.sleep(0.3)
        raise AssertionError(f"not seen within {timeout} s: {status()}")

    try:
        wait_for(lambda d: d["paused"] == "until resumed")  # held across the (re)start
        assert kp("resume", "--state-dir", str(state)).returncode == 0
        wait_for(lambda d: d["paused"] is None)
        p = kp("pause", "1h30m", "--state-dir", str(state))
        assert p.returncode == 0 and "paused until" in p.stdout
        doc = wait_for(lambda d: d["paused"] not in (None, "until resumed"))
        assert doc["next_prompt_held_by"] == "paused"
        pause_end = datetime.fromisoformat(doc["paused"])
        assert datetime.fromisoformat(doc["next_prompt"]) >= pause_end - timedelta(seconds=1)
        text = kp("status", "--state-dir", str(state)).stdout
        assert "prompts:     paused until " in text and "(prompts are paused" in text
        assert "last prompt: none yet" in text
        assert kp("thresholds", "reset", "--state-dir", str(state)).returncode == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    bad = kp("pause", "soon", "--state-dir", str(state))
    assert bad.returncode == 64 and "expected a duration" in bad.stderr


def test_a_short_watchdog_is_pinged_at_least_twice_per_period(tmp_path: Path) -> None:
    # WatchdogSec=1: WATCHDOG=1 at least every half second (sd_watchdog_enabled(3)), not only
    # on the two-second status tick.
    sock, path = _notify_socket(tmp_path)
    state = str(tmp_path / "state")
    proc = subprocess.Popen(
        [KINDPULSE, "run", "--source", "sim", "--scenario", "calm", "--state-dir", state],
        env=dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _read_until(sock, "READY=1", 10)
        t0 = time.monotonic()
        pings: list[float] = []
        while len(pings) < 6 and time.monotonic() - t0 < 30:
            with contextlib.suppress(TimeoutError):
                if "WATCHDOG=1" in sock.recv(4096).decode():
                    pings.append(time.monotonic())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert len(pings) == 6
    # Five intervals of half a second each, with room for a busy machine; on a two-second
    # tick they would take ten.
    assert pings[-1] - pings[0] < 6.0


def test_the_log_gets_gaps_their_true_length_baselines_hourly_and_device_events(
    tmp_path: Path,
) -> None:
    """A simulated day with two dropouts (45 s at minute 70, 20 s at minute 160): each gap
    in the log runs from the last beat before it to where the next beat's interval began."""
    state = tmp_path / "state"
    p = kp(
        "run",
        "--source",
        "sim",
        "--scenario",
        "confounders",
        "--speed",
        "3000",
        "--until-end",
        "--start",
        "2026-11-24T10:00:00",
        "--state-dir",
        str(state),
    )
    assert p.returncode == 0, p.stderr
    start = datetime.fromisoformat("2026-11-24T10:00:00").astimezone().timestamp()
    db = sqlite3.connect(state / "kindpulse.sqlite3")
    gaps = db.execute("SELECT start_ms, end_ms, reason FROM gaps ORDER BY start_ms").fetchall()
    assert len(gaps) == 2, gaps
    for (a, b, reason), (at_min, secs) in zip(gaps, [(70, 45), (160, 20)], strict=True):
        assert (b - a) / 1000 == pytest.approx(secs, abs=2.5), (a, b, reason)
        assert a / 1000 == pytest.approx(start + 60 * at_min, abs=3.0)
    # The baseline over time: a row an hour of source time, and one as soon as it is learnt.
    rows = db.execute("SELECT t_ms, ready, hr_bpm FROM baselines ORDER BY t_ms").fetchall()
    assert 3 <= len(rows) <= 5 and rows[-1][1] == 1 and 40 < rows[-1][2] < 100
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)  # learnt once, then kept
    assert all(b[0] - a[0] >= 3_600_000 for a, b in itertools.pairwise(rows) if a[1] == b[1])
    events = [k for (k,) in db.execute("SELECT kind FROM device_events ORDER BY t_ms")]
    assert events[0] == "connected"
    db.close()
    review = json.loads(
        kp("review", "--day", "2026-11-24", "--format", "json", "--state-dir", str(state)).stdout
    )
    assert review["quality"]["gaps"] == 2
    assert review["quality"]["gap_s"] == pytest.approx(65.0, abs=5.0)
    assert review["baseline"][0]["date"] == "2026-11-24"


def test_a_simulated_day_logs_each_minutes_movement_and_the_review_tells_it(
    tmp_path: Path,
) -> None:
    """``run --source sim``: the simulated wearer's movement reaches every minute row of the
    log (walks and stairs moving, desk and calm still), the status file and the review."""
    state = tmp_path / "state"
    p = kp(
        "run",
        "--source",
        "sim",
        "--scenario",
        "confounders",
        "--speed",
        "3000",
        "--until-end",
        "--start",
        "2026-11-24T10:00:00",
        "--state-dir",
        str(state),
    )
    assert p.returncode == 0, p.stderr
    start = datetime.fromisoformat("2026-11-24T10:00:00").astimezone().timestamp()
    db = sqlite3.connect(state / "kindpulse.sqlite3")
    rows = db.execute("SELECT t_ms, movement_mg FROM windows ORDER BY t_ms").fetchall()
    db.close()
    by_min = {round((t / 1000 - start) / 60): mg for t, mg in rows}
    assert len(rows) > 150 and sum(mg is None for _t, mg in rows) <= 2  # (the dropout)
    walk = [by_min[m] for m in range(124, 133)] + [by_min[m] for m in range(177, 181)]
    desk = [by_min[m] for m in (*range(20, 28), *range(160, 175))]
    assert all(mg is not None and 120 <= mg <= 250 for mg in walk), walk
    assert all(mg is not None and mg < 10 for mg in desk), desk
    assert by_min[101] is not None and by_min[101] >= 200  # the stairs
    doc = json.loads((state / "status.json").read_text())
    assert doc["movement"]["state"] == "still" and doc["movement"]["mg"] < 10
    assert doc["movement"]["at"].startswith("2026-11-24T13:1")
    review = kp("review", "--day", "2026-11-24", "--format", "json", "--state-dir", str(state))
    s = json.loads(review.stdout)["summary"]
    # 10 + 5 min of walking and 2 of stairs; a minute either side where half was moving.
    assert 15 * 60 <= s["moving_s"] <= 20 * 60, s["moving_s"]
    text = kp("review", "--day", "2026-11-24", "--state-dir", str(state)).stdout
    assert "You were up and moving for 1" in text and "motion sensor" in text


def test_status_shows_the_movement_a_running_daemon_last_saw(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [
            KINDPULSE,
            "run",
            "--source",
            "sim",
            "--scenario",
            "exercise",
            "--speed",
            "60",
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = kp("status", "--state-dir", str(state)).stdout
            line = next((x for x in out.splitlines() if x.startswith("movement:")), "")
            seen.append(line)
            if line.startswith("movement:    moving ("):
                break
            time.sleep(0.3)
        doc = json.loads(kp("status", "--state-dir", str(state), "--json").stdout)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    # Still at first (a calm start), then moving once the bout begins, with mg and time.
    assert any(x.startswith("movement:    still (") for x in seen), seen
    assert re.fullmatch(r"movement:    moving \(\d+ mg, \d\d:\d\d today\)", seen[-1]), seen
    assert doc["running"] is True
    assert doc["status"]["movement"]["state"] in ("moving", "still")
    assert doc["status"]["movement"]["moving_mg"] > 0


def _sim_run(state: Path, start: datetime, answer: str) -> Any:
    """The real run loop over the ``stress`` scenario (20 min calm, 15 min strain, 20 min
    calm) from ``start``, sped up 3000 times, every prompt answered ``answer``."""
    import asyncio

    from kindpulse.config.loader import default_config
    from kindpulse.daemon.notifier import Outcome, RecordingNotifier
    from kindpulse.daemon.run import Daemon, RunOptions
    from kindpulse.daemon.sdnotify import Notifier as ServiceNotifier

    cfg = default_config()
    ui = RecordingNotifier(default=Outcome(answer))
    opts = RunOptions(
        source="sim",
        replay=None,
        start=start.astimezone(),
        scenario="stress",
        speed=3000.0,
        state_dir=state,
        until_end=True,
    )
    daemon = Daemon(
        cfg, opts, notifier=ServiceNotifier.from_env({}), reload_config=lambda: cfg, ui=ui
    )
    assert asyncio.run(asyncio.wait_for(daemon.run(), 120)) == 0
    return daemon, ui


def test_a_restart_keeps_the_cooldown_the_cap_and_the_learnt_threshold(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first, ui = _sim_run(state, datetime(2026, 11, 24, 14, 0), "okay")
    assert len(ui.prompts) == 1
    assert first.pipeline.detector.cfg.threshold_shift == 0.25
    # Restarted half an hour later: the shift learnt from "I'm okay" holds, and the next
    # stretch falls in the cooldown of the prompt before the restart.
    second, ui = _sim_run(state, datetime(2026, 11, 24, 14, 30), "break")
    assert second.pipeline.detector.cfg.threshold_shift == 0.25
    assert ui.prompts == []
    db = sqlite3.connect(state / "kindpulse.sqlite3")
    assert [r for (r,) in db.execute("SELECT reason FROM quiet_moments")] == ["cooldown"]
    db.close()
    # `kindpulse thresholds reset` between runs: the next run starts from no shift.
    assert kp("thresholds", "reset", "--state-dir", str(state)).returncode == 0
    third, _ = _sim_run(state, datetime(2026, 11, 24, 17, 0), "break")
    assert third.pipeline.detector.cfg.threshold_shift == 0.0


def test_an_undelivered_prompt_does_not_hold_back_the_next(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _, ui = _sim_run(state, datetime(2026, 11, 24, 14, 0), "failed")
    assert len(ui.prompts) == 1
    _, ui = _sim_run(state, datetime(2026, 11, 24, 14, 30), "break")
    assert len(ui.prompts) == 1  # no cooldown from a prompt no one could see


def _inet_inodes() -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        inodes.update(line.split()[9] for line in lines if len(line.split()) > 9)
    return inodes


def test_the_daemon_opens_no_inet_socket(tmp_path: Path) -> None:
    """Every socket the running daemon holds, sampled through a whole simulated run with a
    prompt, is a Unix socket: none is in the kernel's TCP, UDP or raw tables."""
    sock, path = _notify_socket(tmp_path)  # so the daemon holds a (Unix) socket to see
    p = subprocess.Popen(
        [
            KINDPULSE,
            "run",
            "--source",
            "sim",
            "--scenario",
            "stress",
            "--speed",
            "300",
            "--until-end",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, NOTIFY_SOCKET=path),
    )
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    try:
        while p.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                for fd in Path(f"/proc/{p.pid}/fd").iterdir():
                    with contextlib.suppress(OSError):
                        target = os.readlink(fd)
                        if target.startswith("socket:["):
                            seen.add(target[8:-1])
            assert not seen & _inet_inodes(), "the daemon holds an inet socket"
            time.sleep(0.05)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)
    sock.close()
    assert p.returncode == 0
    assert seen, "no socket of the daemon was seen: the sampling does not work"
    assert seen & _inet_inodes() == set()
    assert (tmp_path / "state" / "kindpulse.sqlite3").exists()


def test_each_scored_window_gets_the_movement_of_its_seconds() -> None:
    """Movement items beside the beats, some before the first beat: every window is scored
    with the median of its own seconds (on the session's axis, where the first beat's
    interval began), and minute rows carry it; the kept seconds reach far enough back for
    windows scored after artifact correction's hold-back."""
    import numpy as np

    from kindpulse.daemon.run import MOTION_KEEP_S, Pipeline
    from kindpulse.detector import DetectorConfig
    from kindpulse.types import Beat, Movement

    def mg(session_s: float) -> float:  # moving in the 20th to 30th minute, else still
        return 200.0 + session_s / 100.0 if 1200 < session_s <= 1800 else 3.0 + (session_s % 5)

    rng = np.random.default_rng(2)
    pipe = Pipeline(DetectorConfig(), None)
    t0 = 1_700_000_000.0  # where the first beat's interval begins: the session's zero
    for s in range(-30, 1):  # the accelerometer starts half a minute before the beats
        pipe.feed(Movement(t0 + s, mg(s)))
    t, next_second = t0, 1
    for k in range(2700):  # about 45 minutes at 60 bpm
        rr = 1000.0 + 40.0 * np.sin(k / 2.2) + float(rng.normal(0, 15))
        t += rr / 1000.0
        while t0 + next_second <= t:
            pipe.feed(Movement(t0 + next_second, mg(next_second)))
            next_second += 1
        pipe.feed(Beat(t, rr))
        if k == 0:
            early = pipe.motion.window_movement(0.0, 31.0)
    pipe.finish()
    assert pipe.origin == pytest.approx(t0) and pipe.movements == 31 + next_second - 1
    # The minute rows carry the movement each window was scored with.
    scored = [(end, m) for end, _row, _state, m in pipe.minutes]
    assert len(scored) >= 40
    for end, got in scored:
        secs = [mg(s) for s in range(int(end) - 59, int(end) + 1)]
        assert got == pytest.approx(float(np.median(secs))), end
    moving = [end for end, got in scored if got is not None and got >= 20.0]
    assert moving == [60.0 * m for m in range(21, 31)]
    # The seconds before the first beat moved onto the session's axis, before its zero.
    assert early == pytest.approx(float(np.median([mg(s) for s in range(-30, 1)])))
    # Windows are scored minutes behind the newest second: well within what is kept.
    assert 60.0 < pipe.motion_lag_s < MOTION_KEEP_S / 3, pipe.motion_lag_s


def test_without_movement_windows_have_none() -> None:
    import numpy as np

    from kindpulse.daemon.run import Pipeline
    from kindpulse.detector import DetectorConfig
    from kindpulse.types import Beat

    pipe = Pipeline(DetectorConfig(), None)
    t = 1_700_000_000.0
    for k in range(600):
        rr = 1000.0 + 30.0 * np.sin(k / 2.0)
        t += rr / 1000.0
        pipe.feed(Beat(t, rr))
    pipe.finish()
    assert pipe.minutes and all(m is None for *_rest, m in pipe.minutes)
    assert pipe.movement_now() is None
