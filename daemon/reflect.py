"""``kindpulse reflect``: the end-of-day reflection, and the daemon's evening invitation.

The Self-Compassion Practice pattern ends the day with a few quiet minutes: name one
moment you fell short of your own standard, then say what you would say to a friend who
told you the same — and let those words be for you too. ``kindpulse reflect`` asks the two
questions, reads the answers from standard input (a terminal, or a pipe for scripts and
tests) and keeps them in the log; ``kindpulse reflect --list`` reads them back.

How a reflection is kept: one row of the log's ``reflections`` table, ``text`` holding JSON
``{"answers": [{"question": "...", "answer": "..."}, ...]}`` with the question asked, in
order; a skipped question (an empty answer) is left out, and when every question is
skipped nothing is kept. :func:`reflection_entries` reads them back as plain pairs (a
row that is not such JSON comes back as one pair with an empty question).

The evening invitation (``[prompts] evening_reflection``, off by default): the running
daemon asks :class:`ReflectionInviter` on every tick; the decision is
:func:`kindpulse.reflection.decide_invitation` (once a day, at or after
``reflection_time``, within two hours, not in quiet hours, not while paused or snoozed,
not when a reflection was already written that day). The invitation is a plain
notification; it is logged at INFO, and the day of the last one is kept in
``reflection.json`` in the state directory so a restart does not invite twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kindpulse.errors import UsageError
from kindpulse.reflection import InviteReason, decide_invitation, reflection_day

if TYPE_CHECKING:
    from kindpulse.config.schema import Config
    from kindpulse.daemon.notifier import Notifier
    from kindpulse.daemon.store import Store
    from kindpulse.policy import PromptPolicy

__all__ = [
    "INVITATION_BODY",
    "INVITATION_TITLE",
    "QUESTIONS",
    "ReflectionInviter",
    "add_reflect_command",
    "cmd_reflect",
    "decode_reflection",
    "encode_reflection",
    "reflection_entries",
]

log = logging.getLogger(__name__)

QUESTIONS: tuple[str, ...] = (
    "Think of one moment today when you fell short of your own standard. What happened?",
    "If a good friend told you this had happened to them, what would you say to them?",
)

INTRO = (
    "An evening pause. Take a few quiet minutes to look back on today with kindness. "
    "There are two questions and no right answers; write as much or as little as you like. "
    "An empty answer skips a question, and Ctrl-D leaves without keeping anything."
)
READ_AGAIN = (
    "Now read what you would say to your friend once more, slowly, and let those words be "
    "for you too."
)
THANKS = "Thank you for taking this time. What you wrote is kept on this machine only."
NOTHING_KEPT = "Nothing to keep this time, and that is fine. Thank you for pausing."
LEFT = "Leaving the reflection here; nothing was kept. You can come back to it whenever you like."

INVITATION_TITLE = "An evening pause"
INVITATION_BODY = (
    "If you like, take five quiet minutes to look back on today with kindness: "
    "run kindpulse reflect."
)

#: The file in the state directory that remembers the day of the last invitation.
INVITED_FILE = "reflection.json"


# -- the stored form ---------------------------------------------------------------------


def encode_reflection(answers: list[tuple[str, str]]) -> str:
    """The ``reflections.text`` of one reflection: JSON of its (question, answer) pairs."""
    return json.dumps(
        {"answers": [{"question": q, "answer": a} for q, a in answers]}, ensure_ascii=False
    )


def decode_reflection(text: str) -> list[tuple[str, str]]:
    """(question, answer) pairs of a stored reflection; text that is not the JSON form
    :func:`encode_reflection` writes is one pair with an empty question."""
    try:
        doc = json.loads(text)
        pairs = [(str(a["question"]), str(a["answer"])) for a in doc["answers"]]
    except (ValueError, TypeError, KeyError):
        return [("", text)]
    return pairs


def reflection_entries(
    store: Store, t0_epoch_s: float, t1_epoch_s: float
) -> list[tuple[float, list[tuple[str, str]]]]:
    """The reflections kept from ``t0`` to before ``t1`` (epoch s), oldest first: each is
    (epoch seconds, [(question, answer), ...])."""
    rows = store.query(
        "SELECT t_ms, text FROM reflections WHERE t_ms >= ? AND t_ms < ? ORDER BY t_ms",
        (round(t0_epoch_s * 1000.0), round(t1_epoch_s * 1000.0)),
    )
    return [(t_ms / 1000.0, decode_reflection(text)) for t_ms, text in rows]


# -- the command -------------------------------------------------------------------------


def _state_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "state_dir", None):
        return Path(args.state_dir)
    from kindpulse.config.loader import load_config
    from kindpulse.daemon.run import default_state_dir

    return load_config(getattr(args, "config", None)).storage.state_dir or default_state_dir()


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, width=76, initial_indent=indent, subsequent_indent=indent)


def _since(text: str | None) -> float:
    """``--since``: a date (its local midnight), today, yesterday, or an ISO 8601
    date-time; None: the beginning."""
    if text is None:
        return 0.0
    s = text.strip()
    today = datetime.now().astimezone().date()
    named = {"today": today, "yesterday": today - timedelta(days=1)}
    try:
        if s.lower() in named or len(s) <= 10:
            d = named.get(s.lower()) or date.fromisoformat(s)
            return datetime.combine(d, dtime(0)).astimezone().timestamp()
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r}: expected a date like 2026-01-05 or an ISO 8601 date-time"
        ) from None
    return (dt if dt.tzinfo is not None else dt.astimezone()).timestamp()


def _list(args: argparse.Namespace) -> int:
    from kindpulse.daemon.store import Store

    t0 = _since(args.since)
    store = Store.open(_state_dir(args))
    try:
        entries = reflection_entries(store, t0, time.time() + 86400.0 * 366)
    finally:
        store.close()
    out = sys.stdout
    if args.json:
        doc = {
            "reflections": [
                {
                    "at": datetime.fromtimestamp(t, tz=timezone.utc)
                    .astimezone()
                    .isoformat(timespec="seconds"),
                    "answers": [{"question": q, "answer": a} for q, a in pairs],
                }
                for t, pairs in entries
            ]
        }
        json.dump(doc, out, ensure_ascii=False)
        out.write("\n")
        return 0
    if not entries:
        out.write("No reflections kept yet.\n" if args.since is None else "None since then.\n")
        return 0
    for i, (t, pairs) in enumerate(entries):
        when = datetime.fromtimestamp(t, tz=timezone.utc).astimezone()
        out.write(("\n" if i else "") + when.strftime("%A %d %B %Y, %H:%M") + "\n")
        for q, a in pairs:
            if q:
                out.write(_wrap(q, "  ") + "\n")
            out.write(_wrap(a, "    ") + "\n")
    return 0


def _ask(question: str) -> str:
    sys.stdout.write("\n" + _wrap(question) + "\n")
    sys.stdout.flush()
    return input("> ").strip()


def cmd_reflect(args: argparse.Namespace) -> int:
    """``kindpulse reflect``: ask, keep, thank; or ``--list`` what was kept."""
    if args.list:
        return _list(args)
    if args.since is not None or args.json:
        raise UsageError("--since and --json go with --list")
    from kindpulse.daemon.store import Store

    # Open the log first: if it cannot be written, say so before anyone writes anything.
    store = Store.open(_state_dir(args))
    try:
        out = sys.stdout
        out.write(_wrap(INTRO) + "\n")
        answers: list[tuple[str, str]] = []
        try:
            for q in QUESTIONS:
                a = _ask(q)
                if a:
                    answers.append((q, a))
        except (EOFError, KeyboardInterrupt):
            out.write("\n\n" + _wrap(LEFT) + "\n")
            return 0
        if not answers:
            out.write("\n" + _wrap(NOTHING_KEPT) + "\n")
            return 0
        store.add_reflection(time.time(), encode_reflection(answers))
        if any(q == QUESTIONS[-1] for q, _ in answers):
            out.write("\n" + _wrap(READ_AGAIN) + "\n")
        out.write("\n" + _wrap(THANKS) + "\n")
        return 0
    finally:
        store.close()


def add_reflect_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    r = subparsers.add_parser(
        "reflect",
        help="a few quiet minutes to look back on today with kindness",
        description="Two questions: one moment today when you fell short of your own "
        "standard, and what you would say to a friend who told you the same. Answers are "
        "read from standard input (one line each; an empty one skips; Ctrl-D leaves "
        "without keeping anything) and kept in the log on this machine.",
    )
    r.add_argument("--list", action="store_true", help="show the reflections kept")
    r.add_argument("--since", metavar="DATE|ISO8601", help="with --list: from this day on")
    r.add_argument("--json", action="store_true", help="with --list: machine-readable")
    r.add_argument("--config", metavar="FILE", help="config file (for [storage] state_dir)")
    r.add_argument("--state-dir", metavar="DIR", help="where the log lives")
    r.set_defaults(handler=cmd_reflect)


# -- the daemon's evening invitation -----------------------------------------------------


class ReflectionInviter:
    """Sends the evening invitation from the run loop (see the module docstring).

    ``clock`` gives the source's time in epoch seconds (None before there is one): the
    replay's or simulator's clock under ``--speed``, the real clock for a strap.
    ``policy`` is the care side's prompt policy, for quiet hours, pause and snooze.
    """

    def __init__(
        self,
        config: Config,
        *,
        store: Store,
        notifier: Notifier,
        policy: PromptPolicy,
        clock: Callable[[], float | None],
        state_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.notifier = notifier
        self.policy = policy
        self.clock = clock
        self.state_dir = state_dir if state_dir is not None else store.path.parent
        self.last_invited = self._load()
        self.invitations = 0
        self._last_reason: InviteReason | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    def reconfigure(self, config: Config) -> None:
        """A reloaded configuration: switched on or off, a new time."""
        self.config = config

    def tick(self) -> bool:
        """Send the invitation if it is due now; True when it was sent."""
        p = self.config.prompts
        if not p.evening_reflection:
            return False
        t = self.clock()
        if t is None:
            return False
        now = datetime.fromtimestamp(t, tz=timezone.utc).astimezone()
        held = self.policy.is_paused(now) or self.policy.is_snoozed(now)
        reason = decide_invitation(
            now,
            enabled=True,
            reflection_time=p.reflection_time,
            last_invited=self.last_invited,
            in_quiet_hours=self.policy.config.in_quiet_hours,
            held=held,
        )
        day = reflection_day(now, p.reflection_time)
        if reason is InviteReason.INVITE and self._reflected_on(day, t):
            reason = InviteReason.ALREADY_REFLECTED
            self.last_invited = day
        if reason is not self._last_reason:
            log.debug("evening reflection: %s", reason.value)
            self._last_reason = reason
        if reason is not InviteReason.INVITE or self.tasks:
            return False
        task = asyncio.get_running_loop().create_task(self._send(day, p.timeout_s))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return True

    async def _send(self, day: date, timeout_s: float) -> None:
        """Send the invitation, unless the desktop is busy (screen locked, notifications
        paused): then it waits, and a later tick within the evening's window asks again."""
        from kindpulse.daemon.notifier import BusyProbe

        if isinstance(self.notifier, BusyProbe):
            try:
                busy = await self.notifier.busy()
            except Exception as e:  # a probe that fails cannot tell: invite as usual
                log.debug("busy probe failed: %s", e)
                busy = None
            if busy is True:
                why = getattr(self.notifier, "busy_reason", None) or "desktop busy"
                if self._last_reason is not InviteReason.HELD:
                    log.info("evening reflection waits (%s)", why)
                self._last_reason = InviteReason.HELD
                return
        self.last_invited = day
        self._save()
        self.invitations += 1
        log.info("evening reflection offered (the evening of %s)", day.isoformat())
        await self.notifier.show(INVITATION_TITLE, INVITATION_BODY, timeout_s=timeout_s)

    def _reflected_on(self, day: date, now_epoch_s: float) -> bool:
        start = datetime.combine(day, dtime(0)).astimezone().timestamp()
        return bool(reflection_entries(self.store, start, now_epoch_s + 1.0))

    def _load(self) -> date | None:
        path = self.state_dir / INVITED_FILE
        try:
            return date.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["last_invited"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("%s: not usable (%s); starting afresh", path, e)
            return None

    def _save(self) -> None:
        from kindpulse.daemon.files import write_private

        day = self.last_invited.isoformat() if self.last_invited else None
        try:
            write_private(self.state_dir / INVITED_FILE, json.dumps({"last_invited": day}) + "\n")
        except OSError as e:
            log.warning("the day of the evening invitation was not saved: %s", e)
