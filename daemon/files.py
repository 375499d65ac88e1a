"""Files kindpulse writes for its owner alone: created 0600 under a temporary name and put in
place only once complete, so a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from kindpulse.config.commands import CannotCreateError

__all__ = ["write_private", "write_private_file"]


def _write(path: Path, pieces: Iterable[bytes]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            for piece in pieces:
                f.write(piece)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_private(path: Path, text: str) -> None:
    """``text`` (UTF-8) to ``path``, atomically, 0600; an OSError is raised as it is (the
    daemon's own state files: the caller decides what a failure means)."""
    _write(Path(path), [text.encode("utf-8")])


def write_private_file(path: Path | str, pieces: Iterable[bytes]) -> None:
    """A file the user asked for (an export, a plot): as :func:`write_private`, and a
    failure is one line, exit 73 (:class:`~kindpulse.config.commands.CannotCreateError`)."""
    target = Path(path)
    try:
        _write(target, pieces)
    except OSError as e:
        raise CannotCreateError(f"{target}: cannot be written ({e.strerror})") from None
