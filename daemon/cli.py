"""The ``kindpulse`` command line: ``main(argv)`` returns an exit code.

Exit codes (sysexits): 0 done, 64 bad usage, 65 bad input data, 66 input file missing,
69 a needed service or device unavailable, 70 internal error, 73 cannot create a file,
78 configuration error.
A user error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from kindpulse import __version__
from kindpulse.errors import EX_USAGE, InputDataError, KindpulseError, NoInputError

if TYPE_CHECKING:
    from kindpulse.analysis import Detection
    from kindpulse.detector import DetectorConfig
    from kindpulse.hrv import Series
    from kindpulse.sensors.motionfile import AlignedMotion

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 64."""

    def error(self, message: str) -> NoReturn:
        self.exit(EX_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def positive_seconds(text: str) -> float:
    """argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or, when ``command`` is given, only what that command needs (so a
    command imports only its own module)."""
    parser = _Parser(
        prog="kindpulse",
        description="Notice sustained stress from a heart-rate strap and offer a kind break.",
    )
    parser.add_argument("--version", action="version", version=f"kindpulse {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    a = sub.add_parser(
        "analyze",
        help="windowed HRV of a recorded RR file",
        description="Windowed HRV metrics of an RR recording (README: RR files, Metrics).",
    )
    a.add_argument("file", help="RR recording (one interval per line, or CSV with a header)")
    a.add_argument(
        "--window",
        type=positive_seconds,
        default=300.0,
        metavar="SECONDS",
        help="window length in seconds (default 300)",
    )
    a.add_argument(
        "--step",
        type=positive_seconds,
        default=60.0,
        metavar="SECONDS",
        help="step between window ends in seconds (default 60)",
    )
    a.add_argument(
        "--no-correct",
        action="store_true",
        help="analyse the raw series as read: no artifact correction, no limits",
    )
    a.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="output format (default table)",
    )
    a.add_argument(
        "--episodes",
        action="store_true",
        help="also detect sustained stress (and activity) episodes",
    )
    a.add_argument(
        "--baseline",
        metavar="FILE",
        help="start from this saved baseline (JSON) instead of a fresh one",
    )
    a.add_argument("--config", metavar="FILE", help="apply this config's [detector] section")
    a.add_argument(
        "--motion",
        metavar="ACC_FILE",
        help="the strap's accelerometer recording of the same time (Polar Sensor Logger "
        "export or timestamp,x_mg,y_mg,z_mg): movement goes into detection and into each "
        "state; implies --episodes; FILE needs date-time timestamps",
    )
    a.set_defaults(handler=_cmd_analyze)

    r = sub.add_parser(
        "run",
        help="run the daemon (what the systemd service starts)",
        description="Listen to the strap (or a replay or the simulator) and notice sustained "
        "strain. Every flag has a key in the config file's [sensor] section.",
    )
    r.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $KINDPULSE_CONFIG or ~/.config/kindpulse/config.toml)",
    )
    r.add_argument("--source", choices=("ble", "replay", "sim"), help="where beats come from")
    r.add_argument("--replay", metavar="FILE", help="recording to replay (--source replay)")
    r.add_argument("--start", metavar="ISO8601", help="wall-clock time of a replay's first beat")
    r.add_argument("--scenario", metavar="NAME|FILE", help="simulator scenario (--source sim)")
    r.add_argument("--speed", type=float, metavar="X", help="replay/sim speed-up (positive)")
    r.add_argument("--state-dir", metavar="DIR", help="where the log and status live")
    r.add_argument(
        "--until-end", action="store_true", help="exit 0 when a replay or scenario is finished"
    )
    r.set_defaults(handler=_lazy("kindpulse.daemon.run", "cmd_run"))
    st = sub.add_parser("status", help="what the running daemon is doing")
    st.add_argument("--state-dir", metavar="DIR", help="where the daemon keeps its status")
    st.add_argument("--json", action="store_true", help="machine-readable")
    st.set_defaults(handler=_lazy("kindpulse.daemon.run", "cmd_status"))

    _add_optional_commands(sub, command)
    return parser


def _lazy(module: str, name: str) -> Handler:
    """A handler imported only when its command runs."""

    def handler(args: argparse.Namespace) -> int:
        import importlib

        fn: Handler = getattr(importlib.import_module(module), name)
        return fn(args)

    return handler


#: Commands that live with their own modules: (module, function adding them, their names).
#: Only the module of the command being run is imported, so heavy imports stay with it.
OPTIONAL_COMMANDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("kindpulse.sensors.record", "add_ble_commands", ("scan", "record")),
    ("kindpulse.sensors.simulator", "add_simulate_command", ("simulate",)),
    ("kindpulse.config.commands", "add_config_commands", ("config",)),
    ("kindpulse.daemon.service", "add_service_commands", ("service",)),
    ("kindpulse.daemon.review", "add_store_commands", ("import", "review", "export", "forget")),
    ("kindpulse.daemon.demo", "add_demo_command", ("demo",)),
    ("kindpulse.daemon.guided", "add_break_command", ("break",)),
    ("kindpulse.daemon.reflect", "add_reflect_command", ("reflect",)),
    ("kindpulse.daemon.control", "add_control_commands", ("pause", "resume", "thresholds")),
)


def _add_optional_commands(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    command: str | None = None,
) -> None:
    """Add the commands of :data:`OPTIONAL_COMMANDS`: all of them, or when ``command`` is
    one of theirs, only its module's; none for ``analyze`` (defined here, and run on long
    files where half a second of other commands' imports is worth saving)."""
    import importlib

    if command == "analyze":
        return
    known = {name for _m, _f, names in OPTIONAL_COMMANDS for name in names}
    for module, function, names in OPTIONAL_COMMANDS:
        if command in known and command not in names:
            continue
        getattr(importlib.import_module(module), function)(sub)


def _cmd_analyze(args: argparse.Namespace) -> int:
    from kindpulse.hrv import COLUMNS, metrics_for_windows, prepare, window_ends
    from kindpulse.sensors.rrfile import read_rr_file

    rec = read_rr_file(args.file)
    motion = None
    if args.motion is not None:
        from kindpulse.sensors.motionfile import load_motion

        # Movement matters only to detection: --motion implies --episodes.
        args.episodes = True
        motion = load_motion(args.motion, rec.start, rec.t_ms, args.file)
    progress = _Progress(sys.stderr, enabled=rec.rr_ms.size > 200_000)
    progress.stage("correcting" if not args.no_correct else "preparing")
    series = prepare(rec.rr_ms, rec.t_ms, correct=not args.no_correct)
    ends = (
        window_ends(float(series.t_ms[-1]), args.window, args.step)
        if series.t_ms.size
        else window_ends(0.0, args.window, args.step)
    )
    table = metrics_for_windows(
        series, ends, args.window, progress=lambda d, t: progress.update("windows", d, t)
    )
    progress.done()
    found = _detect(series, args, motion) if args.episodes else None
    out = sys.stdout
    if args.format == "json":
        doc: dict[str, object] = {"windows": list(table.rows())}
        if found is not None:
            doc.update(found.to_json())
            if motion is not None:
                _with_movement(doc, found, motion)
        json.dump(doc, out, allow_nan=False)
        out.write("\n")
    elif args.format == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(COLUMNS)
        for row in table.rows():
            w.writerow(["" if row[c] is None else repr(row[c]) for c in COLUMNS])
    else:
        _write_table(out, list(table.rows()), COLUMNS)
        if found is not None:
            out.write("\n" + found.describe())
        if found is not None and motion is not None:
            scored = [sc.end_s for sc in found.scores]
            moving = motion.window_movement(scored, found.config.window_s)
            out.write(motion.describe(moving) + "\n")
    return 0


def _with_movement(doc: dict[str, object], found: Detection, motion: AlignedMotion) -> None:
    """Each state's window movement (``movement_mg``, null where unknown) and the
    ``motion`` summary, as the detector saw them (the same window rule)."""
    ends = [sc.end_s for sc in found.scores]
    moving = motion.window_movement(ends, found.config.window_s)
    states = doc["states"]
    assert isinstance(states, list)
    for state, mg in zip(states, moving, strict=True):
        state["movement_mg"] = mg
    doc["motion"] = motion.summary(moving)


def _detect(
    series: Series, args: argparse.Namespace, motion: AlignedMotion | None = None
) -> Detection:
    from kindpulse.analysis import detect
    from kindpulse.detector import BaselineTracker

    cfg = _detector_config(args.config)
    baseline = None
    if args.baseline:
        try:
            doc = json.loads(Path(args.baseline).read_text(encoding="utf-8"))
            baseline = BaselineTracker.from_dict(doc)
        except OSError as e:
            raise NoInputError(f"{args.baseline}: cannot be read ({e.strerror})") from None
        except (ValueError, KeyError, TypeError) as e:
            raise InputDataError(f"{args.baseline}: not a kindpulse baseline ({e})") from None
    return detect(series, cfg, baseline, motion=None if motion is None else motion.track)


def _detector_config(path: str | None) -> DetectorConfig:
    from kindpulse.detector import DetectorConfig

    if path is None:
        return DetectorConfig()
    from kindpulse.config.loader import load_config

    return DetectorConfig.from_mapping(dataclasses.asdict(load_config(Path(path)).detector))


_TABLE_FMT = {
    "end_s": "{:.0f}",
    "n_beats": "{:d}",
    "mean_rr": "{:.1f}",
    "mean_hr": "{:.1f}",
    "rmssd": "{:.1f}",
    "ln_rmssd": "{:.2f}",
    "sdnn": "{:.1f}",
    "pnn50": "{:.1f}",
    "sd1": "{:.1f}",
    "sd2": "{:.1f}",
    "baevsky_si": "{:.0f}",
    "lf": "{:.0f}",
    "hf": "{:.0f}",
    "lf_hf": "{:.2f}",
    "artifact_pct": "{:.1f}",
}


def _write_table(
    out: TextIO, rows: list[dict[str, float | int | None]], cols: Sequence[str]
) -> None:
    if not rows:
        out.write("No complete window: the recording is shorter than one window.\n")
        return
    cells = [[("—" if r[c] is None else _TABLE_FMT[c].format(r[c])) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[k]) for row in cells)) for k, c in enumerate(cols)]
    out.write("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)) + "\n")
    for row in cells:
        out.write("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + "\n")


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self._s = stream
        self._on = enabled and stream.isatty()

    def stage(self, name: str) -> None:
        if self._on:
            self._s.write(f"\r{name}…\x1b[K")
            self._s.flush()

    def update(self, name: str, done: int, total: int) -> None:
        if self._on and total:
            filled = int(30 * done / total)
            self._s.write(f"\r{name} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}\x1b[K")
            self._s.flush()

    def done(self) -> None:
        if self._on:
            self._s.write("\r\x1b[K")
            self._s.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    from kindpulse.daemon.logs import setup_logging

    setup_logging("DEBUG" if args.verbose > 1 else ("INFO" if args.verbose else "WARNING"))
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EX_USAGE
    try:
        return handler(args)
    except KindpulseError as e:
        sys.stderr.write(f"kindpulse: {e}\n")
        return e.exit_code
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
