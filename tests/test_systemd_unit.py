"""The systemd user unit and ``kindpulse service``: real systemd-analyze, no user manager.

TESTING.md (systemd): ``systemd-analyze verify --user`` needs ``XDG_RUNTIME_DIR`` to be a
0700 folder and only warns (exit 0) on unknown keys or bad values, so any output on stderr
is a failure here. ``service install`` is exercised with ``XDG_CONFIG_HOME`` in a temporary
folder and an empty ``XDG_RUNTIME_DIR``, so no user manager can be reached even on a desktop.
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kindpulse.config.commands import CannotCreateError
from kindpulse.daemon import service
from kindpulse.daemon.service import UNIT_TEMPLATE, add_service_commands, render_unit
from kindpulse.errors import UnavailableError

from .conftest import need_program

UNIT_FILE = Path(__file__).resolve().parent.parent / "systemd" / "kindpulse.service"
VENV_KINDPULSE = Path(os.path.abspath(sys.executable)).parent / "kindpulse"


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No reachable user manager; the user's config folder is ``tmp_path/config``."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    return tmp_path / "config"


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kindpulse")
    add_service_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


def _analyze(
    tmp_path: Path, *args: str, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    exe = need_program("systemd-analyze", "systemd")
    runtime = tmp_path / "analyze-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, env=env, timeout=30, check=False
    )


def test_template_is_the_unit_file() -> None:
    assert UNIT_FILE.read_text(encoding="utf-8") == UNIT_TEMPLATE


@pytest.mark.integration
def test_rendered_unit_verifies_clean(tmp_path: Path) -> None:
    assert VENV_KINDPULSE.is_file()
    unit = tmp_path / "kindpulse.service"
    unit.write_text(render_unit([str(VENV_KINDPULSE)]), encoding="utf-8")
    done = _analyze(tmp_path, "verify", "--user", str(unit))
    assert done.stderr == ""
    assert done.returncode == 0


@pytest.mark.integration
def test_shipped_unit_verifies_clean_with_home_install(tmp_path: Path) -> None:
    """The file as shipped: ``%h/.local/bin/kindpulse`` (a pipx or ``pip --user`` install)."""
    home = tmp_path / "home"
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "kindpulse").symlink_to(VENV_KINDPULSE)
    done = _analyze(tmp_path, "verify", "--user", str(UNIT_FILE), home=home)
    assert done.stderr == ""
    assert done.returncode == 0


@pytest.mark.integration
def test_verify_catches_a_bad_key(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key is a warning on stderr (exit 0)."""
    unit = tmp_path / "kindpulse.service"
    text = render_unit([str(VENV_KINDPULSE)]).replace("WatchdogSec=", "WatchDogSec=")
    unit.write_text(text, encoding="utf-8")
    assert "WatchDogSec" in _analyze(tmp_path, "verify", "--user", str(unit)).stderr


@pytest.mark.integration
def test_security_exposure_does_not_regress(tmp_path: Path) -> None:
    done = _analyze(tmp_path, "security", "--user", "--offline=true", str(UNIT_FILE))
    found = re.search(r"Overall exposure level for kindpulse\.service: ([0-9.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 6.3  # recorded in systemd/README.md


def test_render_unit_sets_exec_start_and_escapes() -> None:
    text = render_unit(["/opt/my apps/kindpulse"])
    assert 'ExecStart="/opt/my apps/kindpulse" run\n' in text
    assert "ExecStart=/a%%b/kind$$pulse run\n" in render_unit(["/a%b/kind$pulse"])
    assert text.count("ExecStart=") == 1
    rest = [ln for ln in text.splitlines() if not ln.startswith("ExecStart=")]
    assert rest == [ln for ln in UNIT_TEMPLATE.splitlines() if not ln.startswith("ExecStart=")]


def test_exec_command_is_this_installation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(VENV_KINDPULSE), "service", "install"])
    assert service.exec_command() == [str(VENV_KINDPULSE.resolve())]
    monkeypatch.setattr(sys, "argv", ["pytest"])
    command = service.exec_command()
    assert Path(command[0]).is_absolute()
    assert os.access(command[0], os.X_OK)


def test_install_dry_run_changes_nothing(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run_cli(["service", "install", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"# {isolated / 'systemd' / 'user' / 'kindpulse.service'} (mode 0644)" in out
    assert render_unit(service.exec_command()) in out
    assert "  systemctl --user daemon-reload\n" in out
    assert "  systemctl --user enable --now kindpulse.service\n" in out
    assert not isolated.exists()


def test_install_without_manager_writes_unit_and_prints_commands(
    isolated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", [str(VENV_KINDPULSE), "service", "install"])
    assert _run_cli(["service", "install"]) == 0
    unit = isolated / "systemd" / "user" / "kindpulse.service"
    text = unit.read_text(encoding="utf-8")
    assert f"\nExecStart={VENV_KINDPULSE.resolve()} run\n" in text
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    out = capsys.readouterr().out
    assert "No systemd user manager is reachable" in out
    assert out.endswith(
        "  systemctl --user daemon-reload\n  systemctl --user enable --now kindpulse.service\n"
    )

    with pytest.raises(UnavailableError, match="the unit is installed"):
        _run_cli(["service", "status"])

    assert _run_cli(["service", "uninstall"]) == 0
    assert not unit.exists()
    assert f"removed {unit}" in capsys.readouterr().out
    with pytest.raises(UnavailableError, match="not installed"):
        _run_cli(["service", "status"])


def test_install_reports_an_unwritable_folder(isolated: Path) -> None:
    isolated.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(CannotCreateError, match="cannot be written") as caught:
        _run_cli(["service", "install"])
    assert caught.value.exit_code == 73
    assert "\n" not in str(caught.value)
