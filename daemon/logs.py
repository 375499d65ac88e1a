"""Logging to stderr, journald-friendly.

Under systemd (``JOURNAL_STREAM`` set) lines carry no timestamp (the journal adds one) and
start with a ``<N>`` syslog priority prefix so the journal records each line's level.
"""

from __future__ import annotations

import logging
import os
import sys

_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prio = _PRIORITY.get(record.levelno, 6)
        return f"<{prio}>{super().format(record)}"


def setup_logging(level: int | str = logging.WARNING) -> None:
    """Send kindpulse's log lines to stderr, once."""
    root = logging.getLogger("kindpulse")
    root.setLevel(level)
    if any(getattr(h, "_kindpulse", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._kindpulse = True  # type: ignore[attr-defined]
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root.addHandler(handler)
