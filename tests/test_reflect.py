"""`kindpulse reflect` as a real process (answers piped in, kept in a real SQLite log, read
back), and the daemon's evening invitation in a simulated evening through the real run
loop, with the recording notifier on the other side."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from datetime import time as dtime
from pathlib import Path

import pytest

from kindpulse.config.loader import default_config
from kindpulse.daemon.notifier import RecordingNotifier
from kindpulse.daemon.reflect import (
    INTRO,
    INVITATION_BODY,
    INVITATION_TITLE,
    LEFT,
    NOTHING_KEPT,
    QUESTIONS,
    ReflectionInviter,
    decode_reflection,
    encode_reflection,
    reflection_entries,
)
from kindpulse.daemon.store import Store
from kindpulse.policy import PolicyConfig, PromptPolicy

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))


def kp(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KINDPULSE, *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def stored(state: Path) -> list[tuple[float, list[tuple[str, str]]]]:
    with Store.open(state) as store:
        return reflection_entries(store, 0.0, time.time() + 60.0)


def test_piped_answers_are_kept_and_listed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    before = time.time()
    p = kp(
        "reflect",
        "--state-dir",
        str(state),
        stdin="I was short with a colleague: ten minutes late, and tired.\n"
        "You were tired and you care about the work; say sorry and let it rest.\n",
    )
    assert p.returncode == 0, p.stderr
    out = p.stdout.replace("\n", " ")
    assert INTRO.split(".")[0] in out and "Thank you for taking this time." in out
    assert "let those words be for you too" in out
    # The prompts themselves hold no figures; the answer may.
    assert not re.search(r"\d", p.stdout)
    entries = stored(state)
    assert len(entries) == 1
    t, pairs = entries[0]
    assert before - 1 <= t <= time.time() + 1
    assert pairs == [
        (QUESTIONS[0], "I was short with a colleague: ten minutes late, and tired."),
        (QUESTIONS[1], "You were tired and you care about the work; say sorry and let it rest."),
    ]
    listed = kp("reflect", "--list", "--state-dir", str(state))
    assert listed.returncode == 0, listed.stderr
    assert "I was short with a colleague" in listed.stdout
    assert "say sorry and let it rest." in listed.stdout
    doc = json.loads(kp("reflect", "--list", "--json", "--state-dir", str(state)).stdout)
    assert [a["answer"] for a in doc["reflections"][0]["answers"]] == [a for _, a in pairs]
    assert datetime.fromisoformat(doc["reflections"][0]["at"]).timestamp() == pytest.approx(
        t, abs=1.0
    )
    tomorrow = datetime.fromtimestamp(time.time() + 86400.0).date().isoformat()
    later = kp("reflect", "--list", "--since", tomorrow, "--state-dir", str(state))
    assert later.returncode == 0 and "colleague" not in later.stdout
    assert (
        "colleague" in kp("reflect", "--list", "--since", "today", "--state-dir", str(state)).stdout
    )


def test_an_empty_answer_skips_its_question(tmp_path: Path) -> None:
    state = tmp_path / "state"
    p = kp("reflect", "--state-dir", str(state), stdin="\nBe as patient with me as with her.\n")
    assert p.returncode == 0, p.stderr
    assert stored(state)[0][1] == [(QUESTIONS[1], "Be as patient with me as with her.")]
    # Both skipped: nothing is kept, and that is said kindly.
    empty = tmp_path / "empty"
    p = kp("reflect", "--state-dir", str(empty), stdin="\n   \n")
    assert p.returncode == 0 and NOTHING_KEPT.split(",")[0] in p.stdout
    assert stored(empty) == []


@pytest.mark.parametrize("stdin", ["", "Only the first answer, then the input ends.\n"])
def test_end_of_input_leaves_without_keeping_anything(tmp_path: Path, stdin: str) -> None:
    state = tmp_path / "state"
    p = kp("reflect", "--state-dir", str(state), stdin=stdin)
    assert p.returncode == 0, p.stderr
    assert "nothing was kept" in p.stdout and p.stderr == ""
    assert stored(state) == []


def test_ctrl_c_leaves_without_keeping_anything(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [KINDPULSE, "reflect", "--state-dir", str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("A first answer that will not be kept.\n")
        proc.stdin.flush()
        seen = ""
        deadline = time.monotonic() + 30
        while "would you say" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert LEFT.split(";")[0] in (seen + out) and "Traceback" not in err
    assert stored(state) == []


def test_usage_errors(tmp_path: Path) -> None:
    p = kp("reflect", "--list", "--since", "someday", "--state-dir", str(tmp_path))
    assert p.returncode == 64 and "--since 'someday'" in p.stderr
    p = kp("reflect", "--since", "today", "--state-dir", str(tmp_path))
    assert p.returncode == 64 and "go with --list" in p.stderr
    assert kp("reflect", "--list", "--state-dir", str(tmp_path)).stdout == (
        "No reflections kept yet.\n"
    )


def test_the_stored_form_and_the_helper_for_review(tmp_path: Path) -> None:
    pairs = [(QUESTIONS[0], 'A "quoted" line\nand a second one: ünïcode')]
    assert decode_reflection(encode_reflection(pairs)) == pairs
    assert decode_reflection("plain words from elsewhere") == [("", "plain words from elsewhere")]
    with Store.open(tmp_path) as store:
        store.add_reflection(1_800_000_000.0, encode_reflection(pairs))
        store.add_reflection(1_800_086_400.0, "plain")
        assert reflection_entries(store, 1_800_000_000.0, 1_800_000_001.0) == [
            (1_800_000_000.0, pairs)
        ]
        assert [t for t, _ in reflection_entries(store, 0.0, 2e9)] == [
            1_800_000_000.0,
            1_800_086_400.0,
        ]


# -- the evening invitation ----------------------------------------------------------------


def _local(day: date, hh: int, mm: int = 0) -> float:
    return datetime.combine(day, dtime(hh, mm)).astimezone().timestamp()


def test_the_inviter_sends_once_remembers_it_across_a_restart_and_respects_holds(
    tmp_path: Path,
) -> None:
    day = date(2026, 11, 24)
    base = default_config()
    on = dataclasses.replace(
        base, prompts=dataclasses.replace(base.prompts, evening_reflection=True)
    )
    now = [_local(day, 17, 0)]

    async def scenario() -> tuple[list[bool], RecordingNotifier, list[bool]]:
        notifier = RecordingNotifier()
        policy = PromptPolicy(PolicyConfig())
        with Store.open(tmp_path) as store:
            inv = ReflectionInviter(
                on, store=store, notifier=notifier, policy=policy, clock=lambda: now[0]
            )
            sent = []
            for hh, mm in ((17, 59), (18, 0), (18, 30), (19, 0)):
                now[0] = _local(day, hh, mm)
                sent.append(inv.tick())
                await asyncio.sleep(0)
            # A restart the same evening: no second invitation.
            again = ReflectionInviter(
                on, store=store, notifier=notifier, policy=policy, clock=lambda: now[0]
            )
            # The next evening: paused until half past six, then written already.
            after = []
            policy.paused(
                datetime.fromtimestamp(_local(day, 12, 0), tz=timezone.utc),
                datetime.fromtimestamp(_local(day.replace(day=25), 18, 30), tz=timezone.utc),
            )
            for hh, mm in ((18, 0), (18, 29)):
                now[0] = _local(day.replace(day=25), hh, mm)
                after.append(again.tick())
            store.add_reflection(_local(day.replace(day=25), 18, 15), encode_reflection([]))
            now[0] = _local(day.replace(day=25), 18, 45)
            after.append(again.tick())
            await asyncio.sleep(0)
            return sent, notifier, after

    sent, notifier, after = asyncio.run(scenario())
    assert sent == [False, True, False, False]
    assert notifier.shown == [(INVITATION_TITLE, INVITATION_BODY)]
    assert after == [False, False, False]  # paused, still paused, then already reflected
    assert not re.search(r"\d", INVITATION_TITLE + INVITATION_BODY)
    assert json.loads((tmp_path / "reflection.json").read_text()) == {"last_invited": "2026-11-24"}
    assert oct((tmp_path / "reflection.json").stat().st_mode & 0o777) == "0o600"


def _sim_evening(
    tmp_path: Path, *, evening: bool, switch_on_by_reload: bool = False
) -> RecordingNotifier:
    """The real run loop over a simulated calm hour from 17:30, sped up 600 times, with the
    evening reflection at 18:00 (the default time)."""
    from kindpulse.daemon.run import Daemon, RunOptions
    from kindpulse.daemon.sdnotify import Notifier as ServiceNotifier

    base = default_config()
    cfg = dataclasses.replace(
        base, prompts=dataclasses.replace(base.prompts, evening_reflection=evening)
    )
    on = dataclasses.replace(
        base, prompts=dataclasses.replace(base.prompts, evening_reflection=True)
    )
    ui = RecordingNotifier()
    opts = RunOptions(
        source="sim",
        replay=None,
        start=datetime(2026, 11, 24, 17, 30).astimezone(),
        scenario="calm",
        speed=600.0,
        state_dir=tmp_path / "state",
        until_end=True,
    )
    daemon = Daemon(
        cfg, opts, notifier=ServiceNotifier.from_env({}), reload_config=lambda: on, ui=ui
    )

    async def main() -> int:
        task = asyncio.create_task(daemon.run())
        if switch_on_by_reload:
            await asyncio.sleep(0.5)  # about 17:35 on the simulated clock
            daemon.reload()
        return await asyncio.wait_for(task, 120)

    assert asyncio.run(main()) == 0
    return ui


@pytest.mark.parametrize(("evening", "reload"), [(True, False), (False, True), (False, False)])
def test_a_simulated_evening_crossing_the_reflection_time(
    tmp_path: Path, evening: bool, reload: bool
) -> None:
    ui = _sim_evening(tmp_path, evening=evening, switch_on_by_reload=reload)
    invitations = [s for s in ui.shown if s[0] == INVITATION_TITLE]
    if evening or reload:
        assert invitations == [(INVITATION_TITLE, INVITATION_BODY)]
    else:
        assert invitations == []  # off by default: none
    # A calm hour: nothing else was said.
    assert ui.prompts == [] and len(ui.shown) == len(invitations)


def test_the_daemon_process_logs_the_invitation_once(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[prompts]\nevening_reflection = true\n")
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    p = subprocess.run(
        [
            KINDPULSE,
            "-v",
            "run",
            "--config",
            str(cfg),
            "--source",
            "sim",
            "--scenario",
            "calm",
            "--speed",
            "600",
            "--until-end",
            "--start",
            "2026-11-24T17:30:00",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("evening reflection offered (the evening of 2026-11-24)") == 1
    assert "Traceback" not in p.stderr


def test_the_invitation_waits_while_the_screen_is_locked(tmp_path: Path) -> None:
    day = date(2026, 11, 24)
    base = default_config()
    on = dataclasses.replace(
        base, prompts=dataclasses.replace(base.prompts, evening_reflection=True)
    )
    now = [_local(day, 18, 0)]

    async def scenario() -> tuple[list[int], RecordingNotifier]:
        notifier = RecordingNotifier(busy_state=True)
        with Store.open(tmp_path) as store:
            inv = ReflectionInviter(
                on, store=store, notifier=notifier, policy=PromptPolicy(PolicyConfig()),
                clock=lambda: now[0],
            )
            shown = []
            for hh, mm, busy in ((18, 0, True), (18, 20, True), (18, 40, False), (19, 0, False)):
                now[0] = _local(day, hh, mm)
                notifier.busy_state = busy
                inv.tick()
                for _ in range(3):
                    await asyncio.sleep(0)
                shown.append(len(notifier.shown))
            return shown, notifier

    shown, notifier = asyncio.run(scenario())
    assert shown == [0, 0, 1, 1]  # deferred while locked, then once, not again
    assert notifier.busy_checks >= 3
