"""``kindpulse break``: the self-compassion break in a terminal, any time.

The same break the daemon offers after a stretch of strain (:func:`kindpulse.breaks.guided_steps`:
name the moment, common humanity, self-kindness with a hand on the heart, slow breathing,
then a thank-you), paced over about a minute, with slow breathing guided all along at
``--pace`` seconds a breath (default ten: in for five, out for five, about six breaths a
minute).

On a terminal a small row of dots grows on the in-breath and shrinks on the out-breath,
redrawn in place; the cursor is hidden while it runs and always shown again. When output is
not a terminal (a pipe, a file, a screen reader's plain stream) or with ``--no-animation``,
the breathing is written as plain lines, "Breathe in…" and "breathe out…", at the same
pace. The words hold no figures. Ctrl-C ends the break gently at any moment (exit 0).

The break is kept in the log as a break row (start and end, no prompt) unless ``--no-log``;
the log failing never spoils the break: it is said in one line and the exit is still 0.
``--speed`` runs the whole thing faster (for tests and a quick look).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import signal
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from kindpulse.errors import KindpulseError, UsageError

if TYPE_CHECKING:
    from kindpulse.breaks import Variant
    from kindpulse.config.schema import Config
    from kindpulse.daemon.store import Store

__all__ = [
    "DEFAULT_PACE_S",
    "TerminalBreak",
    "add_break_command",
    "breath_phase",
    "breath_row",
    "cmd_break",
    "variant_for_today",
]

#: Seconds for one slow breath, in and out (about six breaths a minute).
DEFAULT_PACE_S = 10.0
#: The slowest and quickest pace offered: slow breathing, never hurried.
PACE_RANGE_S = (4.0, 20.0)
#: Wall-clock seconds between two frames of the breathing row.
FRAME_S = 0.1

INTRO = "A self-compassion break, about a minute long. Ctrl-C ends it whenever you like."
STOPPED = "Stopping here is fine. Thank you for the moments you gave yourself."

_HIDE_CURSOR = "\x1b[?25l"
_SHOW_CURSOR = "\x1b[?25h"
_CLEAR_LINE = "\r\x1b[K"


def breath_phase(t_s: float, pace_s: float) -> tuple[bool, float]:
    """Where a paced breath is at ``t_s`` seconds: (breathing in, fullness 0..1).

    The first half of each ``pace_s`` is the in-breath, the second the out-breath;
    fullness follows a half cosine, so it starts and ends gently, as a breath does.
    """
    half = pace_s / 2.0
    pos = t_s % pace_s
    inhaling = pos < half
    x = pos / half if inhaling else (pos - half) / half
    eased = (1.0 - math.cos(math.pi * min(max(x, 0.0), 1.0))) / 2.0
    return inhaling, eased if inhaling else 1.0 - eased


def breath_row(inhaling: bool, fullness: float, half_width: int = 12) -> str:
    """One frame of the breathing animation: a row of dots whose middle fills as the
    breath fills."""
    k = round(fullness * half_width)
    label = "breathe in " if inhaling else "breathe out"
    dots = "·" * (half_width - k) + "●" * (2 * k + 1) + "·" * (half_width - k)
    return f"  {label}  {dots}"


@dataclass
class TerminalBreak:
    """The break as a timeline on one text stream.

    ``steps`` are :func:`kindpulse.breaks.guided_steps` (offset s, title, body); the last is
    the thank-you, which comes at the end of the last whole breath. ``clock`` and ``sleep``
    are wall-clock seconds; ``speed`` divides every wait.
    """

    steps: Sequence[tuple[float, str, str]]
    out: TextIO
    pace_s: float = DEFAULT_PACE_S
    animate: bool = False
    speed: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _frame: str = field(default="", init=False, repr=False)

    @property
    def total_s(self) -> float:
        """Length of the break: the steps' minute, rounded up to whole breaths."""
        end = self.steps[-1][0]
        return math.ceil(end / self.pace_s - 1e-9) * self.pace_s

    def events(self) -> list[tuple[float, int, str, str, str]]:
        """(time s, order, kind, title, body), in order; kind is step, in, out or thanks."""
        ev: list[tuple[float, int, str, str, str]] = []
        for offset, title, body in self.steps[:-1]:
            # Each step begins with a breath, never in the middle of one.
            at = min(math.ceil(offset / self.pace_s - 1e-9) * self.pace_s, self.total_s)
            ev.append((at, 0, "step", title, body))
        if not self.animate:
            breaths = round(self.total_s / self.pace_s)
            for k in range(breaths):
                ev.append((k * self.pace_s, 1, "in", "", ""))
                ev.append((k * self.pace_s + self.pace_s / 2.0, 1, "out", "", ""))
        _, title, body = self.steps[-1]
        ev.append((self.total_s, 2, "thanks", title, body))
        ev.sort(key=lambda e: (e[0], e[1]))
        return ev

    def run(self) -> bool:
        """Show the break; True when it ran to the thank-you, False after Ctrl-C."""
        start = self.clock()
        try:
            if self.animate:
                self._write(_HIDE_CURSOR)
            self._write(INTRO + "\n\n")
            for at, _, kind, title, body in self.events():
                self._wait_until(at, start)
                if kind == "in":
                    self._write("    Breathe in…\n")
                elif kind == "out":
                    self._write("    breathe out…\n")
                else:
                    self._step(title, body)
            return True
        except KeyboardInterrupt:
            if self.animate:
                self._write(_CLEAR_LINE)
            self._write(f"\n{STOPPED}\n")
            return False
        finally:
            if self.animate:
                self._write(_CLEAR_LINE + _SHOW_CURSOR)

    def _elapsed(self, start: float) -> float:
        return (self.clock() - start) * self.speed

    def _wait_until(self, at: float, start: float) -> None:
        while True:
            e = self._elapsed(start)
            if e >= at:
                return
            if self.animate:
                frame = breath_row(*breath_phase(e, self.pace_s))
                if frame != self._frame:
                    self._write(_CLEAR_LINE + frame)
                    self._frame = frame
                self.sleep(min(FRAME_S, (at - e) / self.speed))
            else:
                self.sleep((at - e) / self.speed)

    def _step(self, title: str, body: str) -> None:
        self._frame = ""  # the row is cleared: draw it again after the text
        width = max(40, min(76, shutil.get_terminal_size((80, 24)).columns - 4))
        lines = textwrap.wrap(body, width=width) or [""]
        text = title + "\n" + "".join(f"  {line}\n" for line in lines) + "\n"
        self._write((_CLEAR_LINE if self.animate else "") + text)

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


# -- choosing the words ------------------------------------------------------------------


def _midnight(day: datetime) -> float:
    return datetime.combine(day.date(), dtime(0)).astimezone().timestamp()


def variant_for_today(now: datetime, taken_today: int, count: int) -> int:
    """The variant index the ``taken_today + 1``-th break of ``now``'s day uses: today's
    order (:func:`kindpulse.breaks.choose_variant`, seeded by the day as the daemon does),
    so breaks on one day do not repeat their words until every variant has been used."""
    from kindpulse.breaks import choose_variant

    day = now.toordinal()
    used: set[int] = set()
    for _ in range(taken_today % count):
        used.add(choose_variant(day, used, rng_seed=day, count=count))
    return choose_variant(day, used, rng_seed=day, count=count)


def _variants(config: Config) -> tuple[Variant, ...]:
    from kindpulse.breaks import build_variants

    p = config.prompts
    return build_variants(
        p.phrases_mindfulness, p.phrases_humanity, p.phrases_kindness, p.replace_builtin
    )


def state_dir_for(args: argparse.Namespace, config: Config) -> Path:
    """``--state-dir``, else ``[storage] state_dir``, else the XDG state folder."""
    if getattr(args, "state_dir", None):
        return Path(args.state_dir)
    from kindpulse.daemon.run import default_state_dir

    return config.storage.state_dir or default_state_dir()


def _open(state: Path) -> Store | None:
    from kindpulse.daemon.store import Store

    try:
        return Store.open(state)
    except KindpulseError as e:
        sys.stderr.write(f"kindpulse: the break is not kept in the log: {e}\n")
        return None


def _taken_today(store: Store, now: datetime) -> int:
    return len(store.breaks_between(_midnight(now), now.timestamp() + 1.0))


# -- the command -------------------------------------------------------------------------


def cmd_break(args: argparse.Namespace) -> int:
    from kindpulse.breaks import guided_steps
    from kindpulse.config.loader import load_config

    if not (math.isfinite(args.speed) and args.speed > 0):
        raise UsageError(f"--speed {args.speed:g}: expected a positive number")
    lo, hi = PACE_RANGE_S
    if not (math.isfinite(args.pace) and lo <= args.pace <= hi):
        raise UsageError(f"--pace {args.pace:g}: expected {lo:g} to {hi:g} seconds a breath")
    config = load_config(args.config)
    variants = _variants(config)
    if args.variant is not None and not 1 <= args.variant <= len(variants):
        raise UsageError(f"--variant {args.variant}: expected 1 to {len(variants)}")
    state = state_dir_for(args, config)
    now = datetime.now().astimezone()
    store = None if args.no_log else _open(state)
    try:
        if args.variant is not None:
            index = args.variant - 1
        else:
            taken = 0 if store is None else _taken_today(store, now)
            index = variant_for_today(now, taken, len(variants))
        out = sys.stdout
        animate = not args.no_animation and out.isatty() and _terminal_can_redraw()
        run = TerminalBreak(
            guided_steps(index, variants=variants),
            out,
            pace_s=args.pace,
            animate=animate,
            speed=args.speed,
        )
        started = time.time()
        with _terminate_as_interrupt():
            run.run()
        if store is not None:
            store.add_break(started, time.time())
    finally:
        if store is not None:
            store.close()
    return 0


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (the terminal closing) end the break as Ctrl-C does, so the
    cursor comes back and what was taken is kept."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _terminal_can_redraw() -> bool:
    import os

    return os.environ.get("TERM", "") not in ("", "dumb")


def _speed(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def add_break_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    b = subparsers.add_parser(
        "break",
        help="a self-compassion break in this terminal, any time",
        description="The self-compassion break the daemon offers, here and now: name the "
        "moment, remember others feel it too, be kind to yourself, breathe slowly; about a "
        "minute, with paced breathing. Ctrl-C ends it whenever you like.",
    )
    b.add_argument(
        "--variant",
        type=int,
        metavar="N",
        help="which wording (1 = the first built-in one; default: today's next)",
    )
    b.add_argument(
        "--pace",
        type=_speed,
        default=DEFAULT_PACE_S,
        metavar="SECONDS",
        help="seconds for one breath in and out (default 10: in for five, out for five)",
    )
    b.add_argument(
        "--no-animation",
        action="store_true",
        help="plain lines instead of the breathing animation (also when not a terminal)",
    )
    b.add_argument("--no-log", action="store_true", help="do not keep this break in the log")
    b.add_argument(
        "--speed", type=_speed, default=1.0, metavar="X", help="run X times faster (a quick look)"
    )
    b.add_argument("--config", metavar="FILE", help="config file (your own phrases)")
    b.add_argument("--state-dir", metavar="DIR", help="where the log lives")
    b.set_defaults(handler=cmd_break)
