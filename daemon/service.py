"""``kindpulse service install|uninstall|status``: run kindpulse as a systemd user service.

* ``service install``: write the user unit to ``$XDG_CONFIG_HOME/systemd/user/kindpulse.service``
  (default ``~/.config/systemd/user``, mode 0644) with ``ExecStart=`` set to the absolute path
  of this installation's ``kindpulse``; then, when a user manager is reachable,
  ``systemctl --user daemon-reload`` and ``systemctl --user enable --now kindpulse.service``.
  Without a manager (an SSH session, a container) it prints the commands to run instead.
* ``service uninstall``: ``disable --now``, remove the file, ``daemon-reload``.
* ``service status``: ``systemctl --user status kindpulse.service``.

``--dry-run`` prints the unit and the commands and changes nothing. The unit text is
:data:`UNIT_TEMPLATE`, kept identical to ``systemd/kindpulse.service`` by a test, so no data
file has to be packaged. Errors raise :class:`~kindpulse.errors.KindpulseError` subclasses:
69 (EX_UNAVAILABLE) when ``systemctl`` fails, 73 (EX_CANTCREAT) when the unit file cannot be
written or removed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from kindpulse.config.commands import CannotCreateError
from kindpulse.errors import UnavailableError

__all__ = [
    "UNIT_NAME",
    "UNIT_TEMPLATE",
    "add_service_commands",
    "exec_command",
    "render_unit",
    "unit_path",
]

UNIT_NAME = "kindpulse.service"

#: The user unit, identical to ``systemd/kindpulse.service`` (tests/test_systemd_unit.py).
UNIT_TEMPLATE = """\
# kindpulse as a systemd USER service (see systemd/README.md).
# `kindpulse service install` writes this file to ~/.config/systemd/user/ with ExecStart
# pointing at the absolute path of the installed kindpulse executable.

[Unit]
Description=kindpulse: notices sustained stress and offers a self-compassion break

[Service]
Type=notify
NotifyAccess=main
ExecStart=%h/.local/bin/kindpulse run
ExecReload=kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
# 78 (EX_CONFIG): a broken configuration does not heal by restarting.
RestartPreventExitStatus=78
WatchdogSec=60
TimeoutStopSec=10
# Files the daemon creates (stress log, state) are readable by their owner only.
UMask=0077

# Sandboxing that a user manager can apply without user namespaces (seccomp, prctl).
NoNewPrivileges=yes
# D-Bus (BlueZ, notifications) and sd_notify only: no inet socket at all.
RestrictAddressFamilies=AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
# Left out on purpose (systemd/README.md): ProtectSystem=, PrivateTmp= and the other
# mount-namespace options need unprivileged user namespaces in a user manager and make the
# unit fail (226/NAMESPACE) where those are restricted; ProtectHome= would hide the
# config and the log; StateDirectory= is ~/.config in a systemd 252 user manager.

[Install]
WantedBy=default.target
"""

_TIMEOUT_S = 30.0


def unit_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/systemd/user``, the user manager's unit folder (systemd.unit(5))."""
    env = os.environ if environ is None else environ
    config_home = env.get("XDG_CONFIG_HOME") or ""
    base = Path(config_home) if os.path.isabs(config_home) else Path.home() / ".config"
    return base / "systemd" / "user"


def unit_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``service install`` writes the unit."""
    return unit_dir(environ) / UNIT_NAME


def exec_command() -> list[str]:
    """The command that runs this installation's kindpulse, as absolute paths.

    ``sys.argv[0]`` when it is the ``kindpulse`` script (resolved, so a pipx symlink points
    into its venv), else the ``kindpulse`` script beside this interpreter (the same venv),
    else ``kindpulse`` on ``PATH``, else ``python -m kindpulse.daemon.cli`` with this
    interpreter (never resolved: a venv's python is a symlink that must stay one).
    """
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "kindpulse":
        script = argv0.resolve()
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)]
    beside = Path(os.path.abspath(sys.executable)).parent / "kindpulse"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("kindpulse")
    if found:
        return [str(Path(found).resolve())]
    return [os.path.abspath(sys.executable), "-m", "kindpulse.daemon.cli"]


def _quote(word: str) -> str:
    """One word of a unit's command line, escaped for systemd.service(5) and specifiers."""
    escaped = word.replace("%", "%%").replace("$", "$$")
    if escaped and not any(c in escaped for c in " \t\"'\\;"):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_unit(command: Sequence[str]) -> str:
    """:data:`UNIT_TEMPLATE` with ``ExecStart=COMMAND run``."""
    exec_start = "ExecStart=" + " ".join(_quote(w) for w in [*command, "run"])
    lines = UNIT_TEMPLATE.splitlines(keepends=True)
    out = [exec_start + "\n" if ln.startswith("ExecStart=") else ln for ln in lines]
    return "".join(out)


def manager_reachable(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``systemctl --user show-environment`` answers: a user manager is there."""
    try:
        done = subprocess.run(
            ["systemctl", "--user", "show-environment"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=None if environ is None else dict(environ),
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _systemctl(*args: str) -> list[str]:
    return ["systemctl", "--user", *args]


def _run(command: list[str]) -> None:
    """Run a systemctl command; a failure is one line (exit 69)."""
    print("$ " + " ".join(command))
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UnavailableError(f"'{' '.join(command)}' could not run ({e})") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise UnavailableError(f"'{' '.join(command)}' failed: {reason}")


def _print_commands(intro: str, commands: list[list[str]]) -> None:
    print(intro)
    for command in commands:
        print("  " + " ".join(command))


_NO_MANAGER = "No systemd user manager is reachable from here (systemctl --user failed)"


def cmd_install(args: argparse.Namespace) -> int:
    path = unit_path()
    text = render_unit(exec_command())
    commands = [_systemctl("daemon-reload"), _systemctl("enable", "--now", UNIT_NAME)]
    if args.dry_run:
        print(f"# {path} (mode 0644) would contain:")
        sys.stdout.write(text)
        _print_commands("# and then these commands would run:", commands)
        return 0
    _write_unit(path, text)
    print(f"wrote {path}")
    if manager_reachable():
        for command in commands:
            _run(command)
        print("kindpulse is enabled and started; see 'kindpulse service status'.")
    else:
        _print_commands(f"{_NO_MANAGER}; run these in your desktop session:", commands)
    return 0


def _write_unit(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise CannotCreateError(f"{path}: cannot be written ({e.strerror})") from None


def cmd_uninstall(args: argparse.Namespace) -> int:
    path = unit_path()
    wants = path.parent / "default.target.wants" / UNIT_NAME
    if args.dry_run:
        print(f"# would run: {' '.join(_systemctl('disable', '--now', UNIT_NAME))}")
        print(f"# would remove: {path}")
        print(f"# would run: {' '.join(_systemctl('daemon-reload'))}")
        return 0
    reachable = manager_reachable()
    if reachable:
        try:
            _run(_systemctl("disable", "--now", UNIT_NAME))
        except UnavailableError as e:
            print(f"(ignored) {e}")
    try:
        # What `enable` made; `disable` removed it when a manager was there.
        if wants.is_symlink():
            wants.unlink()
        if path.exists():
            path.unlink()
            print(f"removed {path}")
        else:
            print(f"{path} was not installed")
    except OSError as e:
        raise CannotCreateError(f"{path}: cannot be removed ({e.strerror})") from None
    if reachable:
        _run(_systemctl("daemon-reload"))
    else:
        _print_commands(
            f"{_NO_MANAGER}; if kindpulse still runs, stop it with:",
            [_systemctl("stop", UNIT_NAME), _systemctl("daemon-reload")],
        )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    path = unit_path()
    if not manager_reachable():
        state = "installed" if path.exists() else "not installed"
        raise UnavailableError(f"{_NO_MANAGER}; the unit is {state} ({path})")
    sys.stdout.flush()
    try:
        return subprocess.call(
            _systemctl("status", "--no-pager", UNIT_NAME), stdin=subprocess.DEVNULL
        )
    except OSError as e:
        raise UnavailableError(f"systemctl could not run ({e.strerror})") from None


def add_service_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register ``service`` and its actions; each action's parser sets ``handler``."""
    s = subparsers.add_parser(
        "service",
        help="install, remove or inspect the systemd user service",
        description="Run kindpulse as a systemd user service (systemd/README.md): the unit "
        "goes to $XDG_CONFIG_HOME/systemd/user/kindpulse.service.",
    )
    actions = s.add_subparsers(dest="service_action", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install",
        help="write the user unit, then enable and start it",
        description="Write the user unit with this installation's kindpulse as ExecStart, "
        "then 'systemctl --user daemon-reload' and 'enable --now' when a user manager is "
        "reachable; otherwise print those commands.",
    )
    install.add_argument(
        "--dry-run", action="store_true", help="print the unit and the commands; change nothing"
    )
    install.set_defaults(handler=cmd_install)
    uninstall = actions.add_parser(
        "uninstall",
        help="stop, disable and remove the user unit",
        description="'systemctl --user disable --now', remove the unit file, daemon-reload.",
    )
    uninstall.add_argument(
        "--dry-run", action="store_true", help="print what would be done; change nothing"
    )
    uninstall.set_defaults(handler=cmd_uninstall)
    status = actions.add_parser(
        "status",
        help="systemctl --user status kindpulse.service",
        description="Show the service's state (systemctl --user status), or say that no "
        "user manager is reachable (exit 69).",
    )
    status.set_defaults(handler=cmd_status)
