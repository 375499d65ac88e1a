"""The service under a REAL ``systemd --user`` manager (TESTING.md, systemd).

As root, ``tests/systemd_ns.sh`` runs a private user manager in its own mount namespace
(``unshare --mount``), with its runtime, config and home folders in a temporary folder; the
test talks to it with the real ``systemctl --user`` and installs kindpulse with the real
``kindpulse service install`` (this installation's ExecStart, daemon-reload, enable --now).
The daemon reads its config from ``$XDG_CONFIG_HOME/kindpulse/config.toml`` like a user's
would: the simulator as its source, the log and status in the temporary folder.

One drop-in is added for the test, because there is no journal here: stdout/stderr go to a
file, no core files, and ``RestartSec=1`` to keep the test short. The watchdog test adds a
second drop-in with a short ``WatchdogSec=`` and the test-only hook
``KINDPULSE_TEST_BLOCK_LOOP_AFTER_S`` (daemon/run.py) that really blocks the event loop.

``systemd-analyze verify`` of the unit ``service install`` writes is in
tests/test_systemd_unit.py (test_rendered_unit_verifies_clean).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import need_program, require_integration

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
HELPER = HERE / "systemd_ns.sh"
KINDPULSE = str(Path(os.path.abspath(sys.executable)).with_name("kindpulse"))
UNIT = "kindpulse.service"
#: Generous: the machine may be busy; each wait returns as soon as its condition holds.
WAIT_S = 30.0

GOOD_CONFIG = """\
[sensor]
source = "sim"

[storage]
state_dir = "{state}"
"""


def _need_root_and_namespaces() -> None:
    for program, package in (("unshare", "util-linux"), ("systemctl", "systemd")):
        need_program(program, package)
    if not any(Path(p).is_file() for p in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd")):
        message = "needs /lib/systemd/systemd (Debian package systemd)"
        if require_integration():
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() != 0:
        message = "needs root: a private mount namespace for a systemd user manager"
        if require_integration():
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Manager:
    """A running private user manager and the environment to talk to it."""

    base: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path
    #: What the last ``kindpulse service install`` printed.
    install_output: str = ""

    @property
    def config_home(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"])

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def daemon_log(self) -> Path:
        return self.base / "daemon.log"

    @property
    def manager_log(self) -> Path:
        """The manager's own log (tests/systemd_ns.sh binds it over /dev/kmsg)."""
        return self.base / "manager.kmsg"

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(argv),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} exited {done.returncode}: {done.stderr}{self.logs()}")
        return done

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", "--user", *args, check=check)

    def show(self, *props: str) -> dict[str, str]:
        out = self.systemctl("show", UNIT, "-p", ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_for(
        self, what: str, check: Callable[[dict[str, str]], bool], *props: str
    ) -> dict[str, str]:
        """Poll ``systemctl --user show`` until ``check`` holds (or fail, saying what)."""
        end = time.monotonic() + WAIT_S
        seen = self.show(*props)
        while not check(seen):
            if time.monotonic() > end:
                raise AssertionError(f"not {what} within {WAIT_S} s: {seen}{self.logs()}")
            time.sleep(0.1)
            seen = self.show(*props)
        return seen

    def status_doc(self) -> dict[str, Any]:
        """What ``kindpulse status --json`` says (the config tells it where the state is)."""
        done = self.run(KINDPULSE, "status", "--json")
        doc: dict[str, Any] = json.loads(done.stdout)
        return doc

    def logs(self) -> str:
        parts = []
        named = (("manager", self.manager_log), ("output", self.log), ("daemon", self.daemon_log))
        for name, path in named:
            with contextlib.suppress(OSError):
                parts.append(f"\n--- {name} log:\n" + path.read_text(errors="replace")[-3000:])
        return "".join(parts)

    def write_config(self, text: str) -> None:
        path = self.config_home / "kindpulse" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def drop_in(self, name: str, text: str | None) -> None:
        """Write (or with None remove) ``kindpulse.service.d/NAME.conf``; daemon-reload."""
        folder = self.config_home / "systemd" / "user" / f"{UNIT}.d"
        path = folder / f"{name}.conf"
        if text is None:
            path.unlink(missing_ok=True)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text("[Service]\n" + text, encoding="utf-8")
        self.systemctl("daemon-reload")


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    _need_root_and_namespaces()
    base = tmp_path_factory.mktemp("usermgr")
    log = base / "manager.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(base / "home"),
        "XDG_RUNTIME_DIR": str(base / "runtime"),
        "XDG_CONFIG_HOME": str(base / "config"),
        "XDG_STATE_HOME": str(base / "home" / ".local" / "state"),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", str(HELPER), str(base)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    m = Manager(base, env, proc, log)
    try:
        end = time.monotonic() + WAIT_S
        while m.systemctl("show-environment", check=False).returncode != 0:
            if proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"the user manager did not come up{m.logs()}")
            time.sleep(0.1)
        yield m
    finally:
        m.systemctl("stop", UNIT, check=False)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # stops its units, then exits
            try:
                proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=WAIT_S)


@pytest.fixture
def service(manager: Manager) -> Iterator[Manager]:
    """kindpulse installed with the real ``service install``, with a good config; removed
    afterwards with ``service uninstall``."""
    shutil.rmtree(manager.state, ignore_errors=True)
    manager.daemon_log.unlink(missing_ok=True)
    manager.write_config(GOOD_CONFIG.format(state=manager.state))
    log = manager.daemon_log
    manager.drop_in(
        "test",
        f"StandardOutput=append:{log}\nStandardError=append:{log}\nLimitCORE=0\nRestartSec=1\n",
    )
    done = manager.run(KINDPULSE, "service", "install")
    manager.install_output = done.stdout
    try:
        yield manager
    finally:
        manager.drop_in("watchdog", None)
        manager.run(KINDPULSE, "service", "uninstall", check=False)
        manager.drop_in("test", None)
        manager.systemctl("reset-failed", check=False)


def _beats_in_log(state: Path) -> int:
    """Beats the daemon has written to its SQLite log (read-only, beside the daemon)."""
    db = sqlite3.connect(f"file:{state / 'kindpulse.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        return int(db.execute("SELECT coalesce(sum(n), 0) FROM beats").fetchone()[0])
    finally:
        db.close()


def _wait_status(m: Manager, what: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    end = time.monotonic() + WAIT_S
    doc = m.status_doc()
    while not (doc["status"] and check(doc)):
        if time.monotonic() > end:
            raise AssertionError(f"status not {what} within {WAIT_S} s: {doc}{m.logs()}")
        time.sleep(0.2)
        doc = m.status_doc()
    return doc


def test_install_status_reload_and_stop(service: Manager) -> None:
    m = service
    out = m.install_output
    unit_file = m.config_home / "systemd" / "user" / UNIT
    assert f"wrote {unit_file}" in out
    assert "systemctl --user enable --now kindpulse.service" in out
    assert f"\nExecStart={Path(KINDPULSE).resolve()} run\n" in unit_file.read_text()

    # Type=notify: `enable --now` returned once READY=1 came; the STATUS= line is shown.
    shown = m.show("ActiveState", "SubState", "StatusText", "MainPID", "UnitFileState")
    assert shown["ActiveState"] == "active" and shown["SubState"] == "running", m.logs()
    assert shown["UnitFileState"] == "enabled"
    assert shown["StatusText"].startswith("simulated ordinary days ")
    # The line follows the daemon: the simulated strap is connected a moment after READY.
    m.wait_for(
        "showing the connected source",
        lambda s: s["StatusText"].startswith("simulated ordinary days connected · "),
        "StatusText",
    )
    pid = shown["MainPID"]
    # The sandboxing is really applied by the manager.
    proc_status = Path(f"/proc/{pid}/status").read_text()
    assert "NoNewPrivs:\t1" in proc_status and "Seccomp:\t2" in proc_status

    service_status = m.run(KINDPULSE, "service", "status")
    assert "Active: active (running)" in service_status.stdout
    assert 'Status: "simulated ordinary days connected' in service_status.stdout

    # `kindpulse status` finds the daemon through the same config file.
    doc = _wait_status(m, "streaming", lambda d: d["status"]["beats"] > 0)
    assert doc["running"] is True and doc["status"]["pid"] == int(pid)
    text = m.run(KINDPULSE, "status").stdout
    assert "device:      simulated ordinary days (connected)" in text
    assert "last beat:   " in text and " s ago" in text
    assert "next prompt: " in text and "last prompt: none yet" in text

    # Reload: ExecReload sends SIGHUP; the daemon says RELOADING=1, reads the new config,
    # then READY=1; the same process carries on with the new limits.
    assert doc["status"]["daily_cap"] == 4
    m.write_config(GOOD_CONFIG.format(state=m.state) + "\n[prompts]\ndaily_cap = 2\n")
    m.systemctl("reload", UNIT)
    doc = _wait_status(m, "reloaded", lambda d: d["status"]["reloaded"] is not None)
    assert doc["status"]["daily_cap"] == 2
    after = m.wait_for(
        "active again",
        lambda s: s["ActiveState"] == "active",
        "ActiveState",
        "MainPID",
        "NRestarts",
    )
    assert after["MainPID"] == pid and after["NRestarts"] == "0"
    assert "configuration reloaded" in m.daemon_log.read_text()
    if Path("/dev/kmsg").exists():  # the manager's log (tests/systemd_ns.sh)
        assert "Reloaded kindpulse.service" in m.manager_log.read_text(), m.logs()

    # Stop: within TimeoutStopSec, a clean exit, every beat in the log.
    running = m.status_doc()["status"]["beats"]
    t0 = time.monotonic()
    m.systemctl("stop", UNIT)
    took = time.monotonic() - t0
    stopped = m.show("ActiveState", "Result")
    assert stopped == {"ActiveState": "inactive", "Result": "success"}, m.logs()
    assert took < 10.0  # TimeoutStopSec=10: it was not killed for lingering
    # It shut down by itself (a killed daemon writes no "stopped" status) with the beats
    # that were still batched in memory flushed to the log.
    final = json.loads((m.state / "status.json").read_text())
    assert final["running"] is False and final["beats"] >= running > 0
    assert _beats_in_log(m.state) == final["beats"]
    assert m.status_doc()["running"] is False
    assert "Traceback" not in m.daemon_log.read_text()


def test_watchdog_kills_a_blocked_loop_and_systemd_restarts_it(service: Manager) -> None:
    m = service
    first = m.show("InvocationID", "MainPID", "NRestarts")
    assert first["NRestarts"] == "0"
    # A short watchdog and the test-only hook: the event loop blocks 4 s after start.
    m.drop_in("watchdog", "WatchdogSec=5\nEnvironment=KINDPULSE_TEST_BLOCK_LOOP_AFTER_S=4\n")
    m.systemctl("restart", UNIT)
    blocked = m.show("InvocationID", "MainPID", "WatchdogUSec")
    assert blocked["WatchdogUSec"] == "5s" and blocked["InvocationID"] != first["InvocationID"]
    # Blocked: no more WATCHDOG=1; the manager kills it (SIGABRT) with Result=watchdog, ...
    killed = m.wait_for(
        "killed by the watchdog",
        lambda s: s["Result"] == "watchdog",
        "Result",
        "ActiveState",
        "SubState",
    )
    assert killed["ActiveState"] in ("activating", "deactivating", "failed"), killed
    # ... and Restart=on-failure brings it back: a new process, a new invocation.
    back = m.wait_for(
        "restarted",
        lambda s: s["ActiveState"] == "active" and s["NRestarts"] != "0",
        "ActiveState",
        "NRestarts",
        "MainPID",
        "InvocationID",
    )
    assert back["MainPID"] != blocked["MainPID"]
    assert back["InvocationID"] != blocked["InvocationID"]
    assert int(back["NRestarts"]) >= 1
    log = m.daemon_log.read_text()
    assert "test hook: blocking the event loop now" in log
    if Path("/dev/kmsg").exists():  # the manager's log, when it has somewhere to go
        assert "kindpulse.service: Watchdog timeout" in m.manager_log.read_text(), m.logs()


def test_a_bad_config_exits_78_and_is_not_restarted(service: Manager) -> None:
    m = service
    m.write_config("[detector]\nwindow_s = true\n")
    done = m.systemctl("restart", UNIT, check=False)
    assert done.returncode != 0  # the start job failed
    failed = m.show("ActiveState", "Result", "ExecMainStatus", "NRestarts")
    assert failed["ActiveState"] == "failed", m.logs()
    assert failed["Result"] == "exit-code" and failed["ExecMainStatus"] == "78"
    # RestartPreventExitStatus=78: well past RestartSec (1 s here), still failed, no restart.
    time.sleep(3.0)
    assert m.show("ActiveState", "Result", "ExecMainStatus", "NRestarts") == failed
    assert failed["NRestarts"] == "0"
    lines = [ln for ln in m.daemon_log.read_text().splitlines() if "window_s" in ln]
    assert len(lines) == 1 and "Traceback" not in m.daemon_log.read_text()
