"""``kindpulse demo``: the real daemon loop against a simulated wearer, in under a minute.

The same ``run`` code, with the built-in ``demo`` scenario (calm, a sustained stretch of
strain, calm again, an exercise bout that is rightly not called strain), sped up, with its
log in a temporary directory and the clock set to a weekday morning so quiet hours do not
apply. Prompts go to the desktop when a notification server answers, else to the terminal;
with no one there to press a button, the demo takes the break after a moment so the guided
break is shown too. It ends with the review that ``kindpulse review`` reads from the demo's
own log.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from kindpulse.daemon.notifier import DesktopNotifier, Notifier, Outcome, Prompt, TerminalNotifier


class FallbackNotifier:
    """The desktop first; the terminal from the first prompt the desktop could not show."""

    def __init__(self, primary: Notifier, fallback: Notifier) -> None:
        self.primary = primary
        self.fallback = fallback
        self.use_fallback = False

    async def prompt(self, prompt: Prompt) -> Outcome:
        if not self.use_fallback:
            outcome = await self.primary.prompt(prompt)
            if outcome is not Outcome.FAILED:
                return outcome
            self.use_fallback = True
        return await self.fallback.prompt(prompt)

    async def show(self, title: str, body: str, timeout_s: float = 15.0) -> bool:
        if not self.use_fallback and await self.primary.show(title, body, timeout_s):
            return True
        return await self.fallback.show(title, body, timeout_s)


class _Pretty(TerminalNotifier):
    """Terminal output that reads like a notification."""

    def _write(self, text: str) -> None:
        lines = text.rstrip("\n").splitlines()
        out = sys.stdout
        out.write("\n  ┌ " + lines[0] + "\n")
        for line in lines[1:]:
            out.write("  │ " + line + "\n")
        out.write("  └\n")
        out.flush()


def cmd_demo(args: argparse.Namespace) -> int:
    from kindpulse.config.loader import default_config
    from kindpulse.daemon.logs import setup_logging
    from kindpulse.daemon.review import Period, build_review, render_text
    from kindpulse.daemon.run import Daemon, RunOptions
    from kindpulse.daemon.sdnotify import Notifier as ServiceNotifier
    from kindpulse.daemon.store import Store

    setup_logging("INFO" if args.verbose else "WARNING")
    if not args.verbose:
        # Without a desktop the prompts go to the terminal; no need to warn about it here.
        logging.getLogger("kindpulse.daemon.notifier").setLevel(logging.ERROR)
    state = Path(tempfile.mkdtemp(prefix="kindpulse-demo-"))
    now = datetime.now().astimezone()
    morning = now.replace(hour=10, minute=0, second=0, microsecond=0)
    while morning.weekday() >= 5:  # a weekday
        morning -= timedelta(days=1)
    base = default_config()
    # The demo's calm opening is about 12 minutes: learn the usual from its first 10 (a
    # calibration rest; the daemon's default is 20 minutes of good data).
    config = dataclasses.replace(
        base, detector=dataclasses.replace(base.detector, bootstrap_min=10.0)
    )
    opts = RunOptions(
        source="sim",
        replay=None,
        start=morning,
        scenario="demo",
        speed=args.speed,
        state_dir=state,
        until_end=True,
        answer_after_s=args.answer_after,
    )
    print(
        "kindpulse demo: a simulated morning (about 47 minutes of a wearer's heartbeats) "
        f"played {args.speed:g}x faster through the real daemon.\n"
        "Calm (kindpulse learns this wearer's usual), then a stretch of sustained strain, "
        "calm again, then exercise.\n"
    )
    sys.stdout.flush()
    ui = FallbackNotifier(DesktopNotifier(), _Pretty())
    daemon = Daemon(
        config,
        opts,
        notifier=ServiceNotifier.from_env(),
        reload_config=lambda: config,
        ui=ui,
    )
    rc = asyncio.run(daemon.run())
    store = Store.open(state)
    try:
        day = morning.date()
        start = datetime(day.year, day.month, day.day).astimezone().timestamp()
        doc = build_review(store, Period(start, start + 86400.0, (day,)))
    finally:
        store.close()
    print("\nReview\n")
    print(render_text(doc))
    print(f"The demo's own log is in {state} (try: kindpulse review --state-dir {state}).")
    return rc


def add_demo_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = subparsers.add_parser(
        "demo", help="watch kindpulse work on a simulated wearer, in under a minute"
    )
    d.add_argument("--speed", type=float, default=100.0, help="speed-up (default 100)")
    d.add_argument(
        "--answer-after",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="with no one there, take the break after this long (default 3)",
    )
    d.set_defaults(handler=cmd_demo)
