"""The one exception root of kindpulse and the exit codes the CLI maps it to."""

from __future__ import annotations

# sysexits.h codes, documented in the README.
EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70
EX_CONFIG = 78


class KindpulseError(Exception):
    """Root of every error kindpulse raises on purpose.

    ``str(error)`` is one clear line for the person (what, where, what was expected);
    ``exit_code`` is what the CLI exits with.
    """

    exit_code: int = EX_SOFTWARE


class InputDataError(KindpulseError):
    """A recording or other input file is not usable (exit 65, EX_DATAERR)."""

    exit_code = EX_DATAERR


class NoInputError(KindpulseError):
    """An input file does not exist or cannot be opened (exit 66, EX_NOINPUT)."""

    exit_code = EX_NOINPUT


class UsageError(KindpulseError):
    """A command-line argument is not valid (exit 64, EX_USAGE)."""

    exit_code = EX_USAGE


class ConfigError(KindpulseError):
    """The configuration is not valid (exit 78, EX_CONFIG)."""

    exit_code = EX_CONFIG


class UnavailableError(KindpulseError):
    """A dependency (adapter, bus, service) is not available (exit 69, EX_UNAVAILABLE)."""

    exit_code = EX_UNAVAILABLE
