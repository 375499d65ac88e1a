"""``kindpulse pause``, ``resume`` and ``thresholds reset``: written to the log, where the
running daemon picks them up within a few seconds (and a daemon started later finds
them), so no socket is needed and they hold across restarts."""

from __future__ import annotations

import argparse
import re
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kindpulse.errors import UsageError

if TYPE_CHECKING:
    from kindpulse.daemon.store import Store

_PART = re.compile(r"(\d+(?:\.\d+)?)([hm])")


def parse_duration(text: str) -> float:
    """Seconds from ``90`` (minutes), ``30m``, ``2h`` or ``1h30m``."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t) * 60.0
    if not t or _PART.sub("", t):
        raise UsageError(f"{text!r}: expected a duration like 30m, 2h or 1h30m")
    return sum(float(n) * (3600.0 if unit == "h" else 60.0) for n, unit in _PART.findall(t))


def _store(args: argparse.Namespace) -> Store:
    from kindpulse.daemon.run import default_state_dir
    from kindpulse.daemon.store import Store

    return Store.open(Path(args.state_dir) if args.state_dir else default_state_dir())


def cmd_pause(args: argparse.Namespace) -> int:
    now = time.time()
    until = None if args.duration is None else now + parse_duration(args.duration)
    store = _store(args)
    try:
        store.add_control("pause", until, at_epoch_s=now)
    finally:
        store.close()
    if until is None:
        print("Prompts are paused until you resume them (kindpulse resume).")
    else:
        print(f"Prompts are paused until {datetime.fromtimestamp(until).strftime('%H:%M')}.")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        store.add_control("resume", None, at_epoch_s=time.time())
    finally:
        store.close()
    print("Prompts are back on.")
    return 0


def cmd_thresholds(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        store.add_control("threshold_reset", None, at_epoch_s=time.time())
    finally:
        store.close()
    print("The stress threshold is back to its starting point.")
    return 0


def add_control_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("pause", help="no prompts for a while (or until resume)")
    p.add_argument("duration", nargs="?", help="30m, 2h, 1h30m or minutes; none: until resume")
    p.add_argument("--state-dir", metavar="DIR", help="where the log lives")
    p.set_defaults(handler=cmd_pause)
    r = subparsers.add_parser("resume", help="prompts back on (ends a pause or a snooze)")
    r.add_argument("--state-dir", metavar="DIR", help="where the log lives")
    r.set_defaults(handler=cmd_resume)
    t = subparsers.add_parser("thresholds", help="the stress threshold that feedback adapts")
    t.add_argument("action", choices=("reset",), help="reset: back to the starting point")
    t.add_argument("--state-dir", metavar="DIR", help="where the log lives")
    t.set_defaults(handler=cmd_thresholds)
