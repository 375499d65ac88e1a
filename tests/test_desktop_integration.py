"""The real daemon prompting on a real desktop: ``kindpulse run`` with the simulated wearer,
desktop-notifier, a private session bus, Xvfb and dunst (tests/desktop.py).

The person at the screen is played through ``dunstctl``: a click (the default action), the
actions menu (``dunstctl context`` + tests/picker), a close. Each test then reads what the
daemon wrote to its log. A screenshot of a real prompt is kept in ``$KINDPULSE_ARTIFACTS``
(default: the test's tmp dir), and docs/images/prompt.png is one of them, cropped.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .desktop import Desktop, running_desktop, wait_until
from .fakescreensaver import ThreadedScreenSaver

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))
DIGIT = re.compile(r"\d")

#: A weekday afternoon: outside the default quiet hours.
START = "2026-11-24T14:00:00"

#: Replay speed: the scenarios below take 25 to 51 minutes of source time, ten to thirty
#: seconds here.
SPEED = 200.0


def scenario(*stress_min: float, calm_end: float = 5) -> str:
    """A simulated wearer: a calm opening long enough to learn the usual
    (``bootstrap_min`` is ten minutes in :data:`CONFIG`), then each stretch of strain of
    ``stress_min`` minutes followed by calm (six minutes between two, ``calm_end`` at the
    end; 0: the scenario ends in the middle of the strain)."""
    parts = [
        'name = "stretches"\ndescription = "calm, then strain and calm"\n',
        "[person]\nhr_bpm = 66\nrmssd_ms = 42\n",
        '[[segment]]\nkind = "calm"\nminutes = 12\n',
    ]
    for i, minutes in enumerate(stress_min):
        parts.append(
            f'[[segment]]\nkind = "stress"\nminutes = {minutes}\n'
            "hr_delta_bpm = 14\nrmssd_factor = 0.5\nonset_min = 1\n"
        )
        calm = calm_end if i == len(stress_min) - 1 else 6
        if calm > 0:
            parts.append(f'[[segment]]\nkind = "calm"\nminutes = {calm}\n')
    return "\n".join(parts)


#: One stretch of strain, confirmed after about four minutes, over about five later.
ONE_STRETCH = scenario(8)

#: Two stretches, the second about thirteen minutes after the first is confirmed.
TWO_STRETCHES = scenario(8, 8)

#: For the deferral tests: the stretch lasts about seventeen minutes after it is
#: confirmed, ten seconds at speed 100, so that the test has ample time to free the
#: desktop (the daemon looks again every two seconds) before the stretch is over, even on
#: a busy machine.
LONG_STRETCH = scenario(20)
LONG_THEN_SHORT = scenario(20, 8)

#: Ends ten minutes into a stretch of strain: the run ends (or the source falls silent)
#: while the stretch is still going on.
ENDS_IN_STRAIN = scenario(10, calm_end=0)

CONFIG = """
[detector]
bootstrap_min = 10.0

[prompts]
timeout_s = {timeout_s}
snooze_min = {snooze_min}
cooldown_min = {cooldown_min}
"""


def artifacts_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get("KINDPULSE_ARTIFACTS") or tmp_path / "artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desktop]:
    with running_desktop(tmp_path / "desktop") as d:
        yield d


class Run:
    """``kindpulse -v run --source sim ... --until-end`` on the test desktop."""

    def __init__(
        self,
        env: dict[str, str],
        tmp_path: Path,
        scenario: str = ONE_STRETCH,
        *,
        speed: float = SPEED,
        timeout_s: float = 60.0,
        snooze_min: float = 30.0,
        cooldown_min: float = 45.0,
        until_end: bool = True,
    ) -> None:
        self.state = tmp_path / "state"
        scenario_file = tmp_path / "scenario.toml"
        scenario_file.write_text(scenario)
        config = tmp_path / "config.toml"
        config.write_text(
            CONFIG.format(timeout_s=timeout_s, snooze_min=snooze_min, cooldown_min=cooldown_min)
        )
        self.stderr_path = tmp_path / "daemon.log"
        env = dict(env)
        env.pop("JOURNAL_STREAM", None)
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [
                    KINDPULSE,
                    "-v",
                    "run",
                    "--config",
                    str(config),
                    "--source",
                    "sim",
                    "--scenario",
                    str(scenario_file),
                    "--speed",
                    f"{speed:g}",
                    "--start",
                    START,
                    *(["--until-end"] if until_end else []),
                    "--state-dir",
                    str(self.state),
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    @property
    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait(self, timeout: float = 180.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"kindpulse run did not finish:\n{self.log[-3000:]}") from None

    def wait_shown(self, desk: Desktop, n: int = 1, timeout: float = 120.0) -> None:
        """Until dunst displays ``n`` notifications; fails at once if the daemon exits."""

        def shown() -> bool:
            if self.proc.poll() is not None and desk.count("displayed") < n:
                raise AssertionError(f"kindpulse run exited early:\n{self.log[-3000:]}")
            return desk.count("displayed") >= n

        wait_until(shown, timeout, f"{n} prompt(s) on screen")

    def wait_logged(self, text: str, count: int = 1, timeout: float = 90.0) -> None:
        """Until ``text`` has appeared ``count`` times in the daemon's log; fails at once if
        the daemon exits first."""

        def logged() -> bool:
            if self.log.count(text) >= count:
                return True
            if self.proc.poll() is not None:
                raise AssertionError(f"kindpulse run exited first:\n{self.log[-3000:]}")
            return False

        wait_until(logged, timeout, f"{text!r} in the daemon's log")

    def status(self) -> dict[str, Any]:
        """The status file the daemon rewrites every couple of seconds."""
        try:
            doc: dict[str, Any] = json.loads((self.state / "status.json").read_text())
        except (OSError, ValueError):  # not written yet, or being replaced
            return {}
        return doc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(f"file:{self.state / 'kindpulse.sqlite3'}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for r in started:
        r.stop()


MENU_LINE = re.compile(r"^#(?P<label>.*) \((?P<summary>.*)\) \[(?P<nid>\d+),(?P<key>[^\]]*)\]$")


def menu(lines: list[str]) -> list[tuple[str, str, str]]:
    """The actions menu dunst offered, as (label, notification summary, action key)."""
    out = []
    for line in lines:
        m = MENU_LINE.match(line)
        assert m is not None, line
        out.append((m["label"], m["summary"], m["key"]))
    return out


def outcomes(run: Run) -> list[str]:
    return [r[0] for r in run.rows("SELECT outcome FROM prompts ORDER BY t_ms, id")]


def quiet(run: Run) -> list[str]:
    return [r[0] for r in run.rows("SELECT reason FROM quiet_moments ORDER BY t_ms")]


def crop_to_notification(image: Any, margin: int = 12) -> Any:
    """The notification and a margin of screen around it (the rest of the screen is the
    bare black root window)."""
    box = image.convert("L").point(lambda v: 255 if v > 8 else 0).getbbox()
    assert box is not None, "nothing on screen"
    left, top, right, bottom = box
    return image.crop(
        (
            max(0, left - margin),
            max(0, top - margin),
            min(image.width, right + margin),
            min(image.height, bottom + margin),
        )
    )


@pytest.mark.integration
def test_a_prompt_on_screen_offers_three_actions_and_a_click_takes_the_break(
    desk: Desktop, tmp_path: Path, runs: list[Run]
) -> None:
    run = Run(desk.env, tmp_path)
    runs.append(run)
    run.wait_shown(desk)

    # What the person sees, kept as an artifact (docs/images/prompt.png is one of these).
    shot = desk.screenshot()
    out = artifacts_dir(tmp_path)
    shot.save(out / "prompt-screen.png")
    cropped = crop_to_notification(shot)
    cropped.save(out / "prompt.png")
    assert 200 < cropped.width < shot.width and 60 < cropped.height < shot.height / 2

    offered = menu(desk.choose(""))  # open the menu, choose nothing
    labels = [label for label, _, key in offered if key != "default"]
    assert sorted(labels) == sorted(["Take a break", "Snooze 30 min", "I'm okay"])
    for word in ("break", "snooze", "okay"):
        assert any(word in label.lower() for label in labels), word
    assert "default" in [key for _, _, key in offered]  # a click on the body
    summary = offered[0][1]
    assert summary and not DIGIT.search(summary)
    assert desk.count("displayed") == 1  # choosing nothing leaves it there

    desk.click()
    assert run.wait() == 0, run.log[-3000:]
    assert outcomes(run) == ["break"]
    assert len(run.rows("SELECT start_ms, end_ms FROM breaks")) == 1
    # The guided break went to the same screen: its steps, ending with a thank-you.
    desk.ctl("close-all")  # into dunst's history, where they can be read
    history = desk.history()
    assert {h["appname"] for h in history} == {"kindpulse"}
    assert "Thank you" in [h["summary"] for h in history]
    assert len(history) >= 4
    assert "Traceback" not in run.log


@pytest.mark.integration
def test_take_a_break_from_the_menu_runs_the_guided_break(
    desk: Desktop, tmp_path: Path, runs: list[Run]
) -> None:
    run = Run(desk.env, tmp_path)
    runs.append(run)
    run.wait_shown(desk)
    chosen = desk.choose("Take a break")
    assert any("Take a break" in line for line in chosen)
    assert run.wait() == 0, run.log[-3000:]
    assert outcomes(run) == ["break"]
    assert len(run.rows("SELECT id FROM breaks")) == 1
    desk.ctl("close-all")
    assert "Thank you" in [h["summary"] for h in desk.history()]


@pytest.mark.integration
def test_snooze_holds_off_the_next_prompt_for_its_duration(
    desk: Desktop, tmp_path: Path, runs: list[Run]
) -> None:
    # The second stretch comes about fourteen minutes after the first prompt: within the
    # snooze, and with no cooldown, so only the snooze holds it back.
    run = Run(desk.env, tmp_path, TWO_STRETCHES, snooze_min=30, cooldown_min=0)
    runs.append(run)
    run.wait_shown(desk)
    desk.choose("Snooze")
    assert run.wait() == 0, run.log[-3000:]
    assert outcomes(run) == ["snooze"]
    ((t_ms, until_ms),) = run.rows("SELECT t_ms, until_ms FROM controls WHERE kind = 'snooze'")
    assert until_ms - t_ms == 30 * 60 * 1000
    assert quiet(run) == ["snoozed"]
    assert run.rows("SELECT COUNT(*) FROM breaks") == [(0,)]
    assert run.rows("SELECT COUNT(*) FROM episodes WHERE kind = 'stress'") == [(2,)]


@pytest.mark.integration
def test_im_okay_moves_the_threshold_and_is_logged(
    desk: Desktop, tmp_path: Path, runs: list[Run]
) -> None:
    run = Run(desk.env, tmp_path)
    runs.append(run)
    run.wait_shown(desk)
    desk.choose("okay")
    assert run.wait() == 0, run.log[-3000:]
    assert outcomes(run) == ["okay"]
    assert run.rows("SELECT threshold_shift, reason FROM adaptations") == [(0.25, "I'm okay")]
    assert run.rows("SELECT COUNT(*) FROM breaks") == [(0,)]


@pytest.mark.integration
def test_closing_a_prompt_is_logged_as_dismissed_and_the_next_stretch_is_offered(
    desk: Desktop, tmp_path: Path, runs: list[Run]
) -> None:
    run = Run(desk.env, tmp_path, TWO_STRETCHES, cooldown_min=0)
    runs.append(run)
    run.wait_shown(desk)
    desk.close()
    wait_until(lambda: desk.count("history") == 1, 10, "the closed prompt in dunst's history")
    run.wait_shown(desk)  # the second stretch: without a snooze it is offered
    desk.close()
    assert run.wait() == 0, run.log[-3000:]
    assert outcomes(run) == ["dismissed", "dismissed"]
    history = desk.history()
    assert len(history) == 2
    for h in history:
        assert h["appname"] == "kindpulse"
        assert h["summary"] and h["body"]
        assert not DIGIT.search(h["summary"] + h["body"])
        assert h["timeout"] == 60 * 1_000_000  # the configured timeout_s, in microseconds


@pytest.mark.integration
def test_an_unanswered_prompt_times_out_and_is_not_sent_again(
    desk: Desktop, tmp_path: Path, runs: list[Run]
) -> None:
    run = Run(desk.env, tmp_path, timeout_s=5)
    runs.append(run)
    run.wait_shown(desk)
    wait_until(lambda: desk.count("displayed") == 0, 30, "the prompt expiring on screen")
    assert run.wait() == 0, run.log[-3000:]
    assert outcomes(run) == ["timed_out"]
    ((h,),) = [desk.history()]
    assert h["appname"] == "kindpulse" and h["timeout"] == 5 * 1_000_000


@pytest.mark.integration
def test_paused_notifications_defer_the_prompt_and_never_for_ever(
    desk: Desktop, tmp_path: Path, runs: list[Run]
) -> None:
    desk.set_paused(True)
    run = Run(desk.env, tmp_path, LONG_THEN_SHORT, speed=100, cooldown_min=0)
    runs.append(run)

    # First stretch: deferred while paused; nothing sent, nothing queued in dunst.
    run.wait_logged("deferred (notifications paused)")
    assert desk.count("displayed") == 0 and desk.count("waiting") == 0
    desk.set_paused(False)
    run.wait_shown(desk, timeout=30)  # shown once the desktop is free, same stretch
    desk.close()

    # Second stretch: paused all along; dropped when the stretch ends, never shown.
    desk.set_paused(True)
    run.wait_logged("deferred (notifications paused)", 2)
    run.wait_logged("dropped: deferred_too_long")
    assert run.wait() == 0, run.log[-3000:]
    desk.set_paused(False)
    time.sleep(0.5)
    assert desk.count("displayed") == 0 and desk.count("waiting") == 0
    assert outcomes(run) == ["dismissed"]  # the prompts table holds prompts that were sent
    assert quiet(run) == ["deferred_too_long"]
    assert len(desk.history()) == 1
    (first, second) = run.rows(
        "SELECT start_ms, confirmed_ms, end_ms FROM episodes"
        " WHERE kind = 'stress' ORDER BY start_ms"
    )
    ((shown_ms, for_ms),) = run.rows("SELECT t_ms, episode_start_ms FROM prompts")
    assert for_ms == first[0] and first[1] < shown_ms < first[2]  # later, within its stretch
    ((quiet_ms, quiet_for_ms),) = run.rows("SELECT t_ms, episode_start_ms FROM quiet_moments")
    assert quiet_for_ms == second[0] and quiet_ms >= second[1]


@pytest.mark.integration
def test_a_deferred_prompt_is_dropped_when_the_run_ends(
    desk: Desktop, tmp_path: Path, runs: list[Run]
) -> None:
    # The replay ends in the middle of the strain: the daemon does not wait for the desktop
    # (it would otherwise hold the deferral until its drain gives up and cancels it).
    desk.set_paused(True)
    run = Run(desk.env, tmp_path, ENDS_IN_STRAIN)
    runs.append(run)
    run.wait_logged("deferred (notifications paused)")
    assert run.wait() == 0, run.log[-3000:]
    assert "dropped: deferred_too_long" in run.log
    assert outcomes(run) == []
    assert quiet(run) == ["deferred_too_long"]
    assert desk.count("displayed") == 0 and desk.count("waiting") == 0


@pytest.mark.integration
def test_a_deferred_prompt_is_dropped_when_the_source_falls_silent(
    desk: Desktop, tmp_path: Path, runs: list[Run]
) -> None:
    # Without --until-end the daemon keeps running after the scenario, as with a strap gone
    # quiet: the source's clock stands still, so the policy's limit (an hour of source time)
    # would never come; the same hour of wall-clock time at the run's speed (nine seconds at
    # 400) ends the deferral.
    desk.set_paused(True)
    run = Run(desk.env, tmp_path, ENDS_IN_STRAIN, speed=400, until_end=False)
    runs.append(run)
    run.wait_logged("deferred (notifications paused)")
    run.wait_logged("dropped: deferred_too_long", timeout=60)
    assert run.status().get("in_episode") is True  # the stretch itself never ended
    run.proc.terminate()
    assert run.wait(30) == 0, run.log[-3000:]
    assert outcomes(run) == []
    assert quiet(run) == ["deferred_too_long"]
    assert desk.count("displayed") == 0


@pytest.mark.integration
def test_a_locked_screen_defers_the_prompt_until_it_is_unlocked(
    desk: Desktop, tmp_path: Path, runs: list[Run]
) -> None:
    locker = ThreadedScreenSaver(desk.bus.address)  # the desktop's locker, faked
    try:
        locker.lock()
        run = Run(desk.env, tmp_path, LONG_STRETCH, speed=100)
        runs.append(run)
        run.wait_logged("deferred (screen locked)")
        assert desk.count("displayed") == 0 and desk.count("waiting") == 0
        wait_until(lambda: run.status().get("prompt_deferred") == "screen locked", 10, "status")
        asked = locker.asked
        locker.unlock()
        run.wait_shown(desk, timeout=30)
        assert locker.asked > asked  # it asked again, and found the screen unlocked
        desk.click()
        assert run.wait() == 0, run.log[-3000:]
    finally:
        locker.stop()
    assert outcomes(run) == ["break"]
    assert quiet(run) == []


@pytest.mark.integration
def test_the_busy_probe_reads_dunst_paused(desk: Desktop) -> None:
    import asyncio

    from kindpulse.daemon.notifier import DesktopNotifier

    async def probe() -> bool | None:
        notifier = DesktopNotifier()
        try:
            return await notifier.busy()
        finally:
            await notifier.aclose()

    env = {"DBUS_SESSION_BUS_ADDRESS": desk.bus.address}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        assert asyncio.run(probe()) is False
        desk.set_paused(True)
        assert asyncio.run(probe()) is True
        desk.set_paused(False)
        assert asyncio.run(probe()) is False


@pytest.mark.integration
def test_no_notification_server_the_run_completes_and_prompts_are_logged_failed(
    tmp_path: Path, runs: list[Run]
) -> None:
    from .conftest import need_program
    from .fakenotify import SessionBus

    need_program("dbus-daemon", "dbus-daemon")
    bus = SessionBus.start(tmp_path)
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "NOTIFY_SOCKET")}
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.address  # a bus and nothing on it
        run = Run(env, tmp_path, TWO_STRETCHES, cooldown_min=0)
        runs.append(run)
        assert run.wait() == 0, run.log[-3000:]
    finally:
        bus.stop()
    assert outcomes(run) == ["failed", "failed"]
    log = run.log
    assert "Traceback" not in log
    warnings = [
        line
        for line in log.splitlines()
        if " WARNING " in line and "sustained strain noticed" not in line
    ]
    assert len(warnings) == 1, warnings
    assert "kindpulse.daemon.notifier" in warnings[0] and "not available" in warnings[0]
