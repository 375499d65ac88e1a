"""``kindpulse config check|show|init|path``: the configuration file from the command line.

* ``config check [FILE]``: validate; prints ``FILE: ok`` (exit 0), or the first problem as
  one line (exit 78, EX_CONFIG).
* ``config show [--config FILE]``: every effective value and where it came from, one line
  per key: ``[section] key = value    # default`` or ``# FILE:LINE``.
* ``config init [--config FILE]``: write the commented default configuration, creating its
  folder 0700 and the file 0600. It never overwrites: an existing file is exit 73
  (EX_CANTCREAT, "cannot create the output file") — the file is there and valid or not,
  so 78 would misreport it; the same code when the folder or file cannot be created.
* ``config path``: the file the other commands (and the daemon) would read.

Without a FILE, the file is ``$KINDPULSE_CONFIG`` if set, else
``~/.config/kindpulse/config.toml``. Handlers return an exit code and raise
:class:`~kindpulse.errors.KindpulseError` subclasses for errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kindpulse.errors import KindpulseError

from .loader import config_path, load_config
from .schema import KEYS, format_value, render_default_toml

__all__ = ["EX_CANTCREAT", "CannotCreateError", "add_config_commands"]

#: sysexits.h: a (user) output file cannot be created.
EX_CANTCREAT = 73


class CannotCreateError(KindpulseError):
    """An output file exists already or cannot be created (exit 73, EX_CANTCREAT)."""

    exit_code = EX_CANTCREAT


def add_config_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``config`` and its actions; each action's parser sets ``handler``."""
    c = subparsers.add_parser(
        "config",
        help="check, show, write or locate the configuration file",
        description="The one configuration file: ~/.config/kindpulse/config.toml, or "
        "$KINDPULSE_CONFIG when set. Every key, with its default, unit and range, is in the "
        "file 'kindpulse config init' writes.",
    )
    actions = c.add_subparsers(dest="config_action", metavar="ACTION", required=True)

    check = actions.add_parser(
        "check",
        help="validate a configuration file",
        description="Validate the configuration file: 'FILE: ok' and exit 0, or its first "
        "problem as one line 'FILE:LINE: ...' and exit 78.",
    )
    check.add_argument("file", nargs="?", metavar="FILE",
                       help="the file to check (default: the one 'config path' names)")
    check.set_defaults(handler=cmd_check)

    show = actions.add_parser(
        "show",
        help="list every effective value and where it came from",
        description="One line per key: '[section] key = value    # default' or "
        "'# FILE:LINE' for a value the file sets.",
    )
    show.add_argument("--config", metavar="FILE", help="read this file instead")
    show.set_defaults(handler=cmd_show)

    init = actions.add_parser(
        "init",
        help="write the commented default configuration",
        description="Write the commented default configuration (every key, its default, "
        "unit and meaning), folder 0700, file 0600. An existing file is never overwritten "
        "(exit 73).",
    )
    init.add_argument("--config", metavar="FILE", help="write this file instead")
    init.set_defaults(handler=cmd_init)

    path = actions.add_parser(
        "path",
        help="print the configuration file's path",
        description="Print the path of the configuration file kindpulse reads "
        "($KINDPULSE_CONFIG, else ~/.config/kindpulse/config.toml), whether or not it exists.",
    )
    path.set_defaults(handler=cmd_path)


def cmd_check(args: argparse.Namespace) -> int:
    file, _ = config_path(args.file)
    cfg = load_config(args.file)
    if cfg.path is None:
        sys.stdout.write(f"{file}: ok (no such file: every key has its default)\n")
    else:
        sys.stdout.write(f"{file}: ok\n")
    return 0


def show_lines(cfg_path: str | None = None) -> list[str]:
    """The lines of ``config show`` for the file ``cfg_path`` (None: the usual one)."""
    cfg = load_config(cfg_path)
    items = [
        (f"[{k.section}] {k.name} = {format_value(cfg.value(k.section, k.name))}",
         cfg.sources[k.path])
        for k in KEYS
    ]
    width = max(len(text) for text, _ in items)
    return [f"{text.ljust(width)}    # {source}" for text, source in items]


def cmd_show(args: argparse.Namespace) -> int:
    sys.stdout.write("".join(line + "\n" for line in show_lines(args.config)))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    file, _ = config_path(args.config)
    write_default_config(file)
    sys.stdout.write(f"{file}: written; see 'kindpulse config show'\n")
    return 0


def write_default_config(file: Path) -> None:
    """Create ``file`` holding the commented defaults: missing folders 0700, the file 0600.

    Never overwrites (:class:`CannotCreateError`, exit 73); folders that exist keep their
    modes.
    """
    if file.exists() or file.is_symlink():
        raise CannotCreateError(f"{file}: already exists; not overwritten (remove it first, "
                                "or use --config FILE for another file)")
    missing = []
    parent = file.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        for folder in reversed(missing):
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)  # whatever the umask
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise CannotCreateError(f"{file}: already exists; not overwritten") from None
    except OSError as e:
        where = e.filename or file
        raise CannotCreateError(f"{where}: cannot be created ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask
            out.write(render_default_toml())
    except OSError as e:
        file.unlink(missing_ok=True)
        raise CannotCreateError(f"{file}: cannot be written ({e.strerror or e})") from None


def cmd_path(args: argparse.Namespace) -> int:
    file, _ = config_path(None)
    sys.stdout.write(f"{file}\n")
    return 0
