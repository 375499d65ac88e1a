"""Every configuration key in one declarative table, the typed dataclasses the loader fills,
and the commented default file rendered from the table.

:data:`KEYS` is the single source of truth: section, key, type, default, unit, range or
choices and a one-line description. The loader validates against it, ``config show`` lists
it and :func:`render_default_toml` writes ``default.toml`` from it (a test keeps the file
on disk equal to the rendered text, and the dataclasses' fields equal to the table).

Types are strict: each key has exactly one type. ``true`` is not a number and ``1`` is not a
boolean; a whole number is accepted where a decimal is expected (``60`` for ``60.0``), never
the reverse (``4.0`` is not a count). Durations are plain numbers whose unit is in the key's
name: ``_s`` seconds, ``_min`` minutes, ``_days`` days.

Regenerate ``config/default.toml`` after changing the table by writing the output of
``python -c 'from kindpulse.config import render_default_toml as r; print(r(), end="")'``
to it (run from outside the repository root, whose ``kindpulse/`` folder would shadow the
installed package).
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import Enum
from pathlib import Path
from typing import Literal

__all__ = [
    "KEYS",
    "SECTIONS",
    "SECTION_DOCS",
    "SECTION_TYPES",
    "Config",
    "DetectorSection",
    "Key",
    "Kind",
    "LogLevel",
    "LoggingSection",
    "PromptsSection",
    "QuietHoursSection",
    "SensorSection",
    "Source",
    "StorageSection",
    "format_value",
    "key",
    "render_default_toml",
]


class Kind(Enum):
    """The one type of a key, as written in TOML, and what the loader turns it into."""

    BOOL = "bool"  # true / false -> bool
    INT = "int"  # a whole number -> int
    FLOAT = "float"  # a number (whole numbers accepted) -> float
    STR = "str"  # a string -> str
    TIME = "time"  # "HH:MM" (24-hour) -> datetime.time
    DATETIME = "datetime"  # ISO 8601 date and time, "" = none -> datetime | None
    ENUM = "enum"  # one of a few strings -> str (a Literal type)
    STR_LIST = "str_list"  # a list of non-blank strings -> tuple[str, ...]
    PATH = "path"  # a path string, "" = none -> Path | None


@dataclass(frozen=True, slots=True)
class Key:
    """One row of the table.

    ``default`` is the value in its Python form (what the :class:`Config` attribute holds).
    ``unit`` is a human word (``"seconds"``), shown in messages and the default file.
    ``low``/``high`` bound numbers, inclusive unless ``low_exclusive``.
    ``pattern``/``pattern_doc`` restrict a non-empty string (an empty one is always allowed).
    """

    section: str
    name: str
    kind: Kind
    default: object
    doc: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_exclusive: bool = False
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    pattern_doc: str = ""

    @property
    def path(self) -> str:
        """``section.name``, the key of :attr:`Config.sources`."""
        return f"{self.section}.{self.name}"

    @property
    def label(self) -> str:
        """``[section] name``, how messages name the key."""
        return f"[{self.section}] {self.name}"

    def range_text(self) -> str:
        """``from 10 to 600``, ``greater than 0 and at most 10000``, or ``""``."""
        lo = None if self.low is None else format_number(self.low)
        hi = None if self.high is None else format_number(self.high)
        if lo is not None and hi is not None:
            if self.low_exclusive:
                return f"greater than {lo} and at most {hi}"
            return f"from {lo} to {hi}"
        if lo is not None:
            return f"greater than {lo}" if self.low_exclusive else f"at least {lo}"
        if hi is not None:
            return f"at most {hi}"
        return ""

    def expected(self) -> str:
        """What a valid value looks like, for messages: ``a number from 10 to 600``."""
        rng = self.range_text()
        if self.kind is Kind.BOOL:
            return "true or false"
        if self.kind is Kind.INT:
            return f"a whole number {rng}".rstrip()
        if self.kind is Kind.FLOAT:
            return f"a number {rng}".rstrip()
        if self.kind is Kind.STR:
            return f'{self.pattern_doc} or ""' if self.pattern else "a string"
        if self.kind is Kind.TIME:
            return 'a time of day "HH:MM" from "00:00" to "23:59"'
        if self.kind is Kind.DATETIME:
            return 'an ISO 8601 date and time such as "2024-05-01T09:00:00", or ""'
        if self.kind is Kind.ENUM:
            return "one of " + ", ".join(json.dumps(c) for c in self.choices)
        if self.kind is Kind.STR_LIST:
            return "a list of strings"
        return 'a path in quotes, or ""'

    def constraint_text(self) -> str:
        """The line under the description in the default file: unit, type, range."""
        rng = self.range_text()
        if self.kind is Kind.FLOAT:
            return f"{self.unit[0].upper()}{self.unit[1:]}, {rng}."
        if self.kind is Kind.INT:
            return f"{self.unit[0].upper()}{self.unit[1:]}, a whole number {rng}."
        text = self.expected()
        return f"{text[0].upper()}{text[1:]}."


Source = Literal["ble", "replay", "sim"]
LogLevel = Literal["debug", "info", "warning", "error"]

S, MIN, DAYS, Z = "seconds", "minutes", "days", "robust standard deviations"

SECTION_DOCS: dict[str, str] = {
    "sensor": "Where heartbeats come from: the strap, a recording, or the simulator.",
    "detector": (
        "Sustained-stress detection. Stress means ln RMSSD clearly below your personal "
        "baseline AND heart rate above it over a whole span, judged in spreads that calm spans "
        "of your own show (not population norms); movement from the strap's accelerometer "
        "is never stress (docs/detection.md)."
    ),
    "prompts": (
        "Self-compassion break prompts: mindfulness, common humanity, self-kindness. "
        "Boundaries first: cooldown, daily cap, snooze, quiet hours."
    ),
    "quiet_hours": "No prompts during these hours (local time). Episodes are still logged.",
    "storage": "The private stress log on this machine (directory 0700, files 0600).",
    "logging": "Diagnostics on stderr (the journal when run as a systemd service).",
}

SECTIONS: tuple[str, ...] = tuple(SECTION_DOCS)

_MAC = r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}"

KEYS: tuple[Key, ...] = (
    # [sensor]
    Key("sensor", "source", Kind.ENUM, "ble",
        '"ble": the heart-rate strap over Bluetooth; "replay": a recorded RR file (see '
        'replay); "sim": the built-in simulated wearer (see scenario).',
        choices=("ble", "replay", "sim")),
    Key("sensor", "address", Kind.STR, "",
        "The strap's Bluetooth address (see 'kindpulse scan'); wins over name. "
        '"" = any strap.',
        pattern=_MAC, pattern_doc='a Bluetooth address such as "AA:BB:CC:DD:EE:FF"'),
    Key("sensor", "name", Kind.STR, "",
        'The strap\'s advertised name or its beginning, such as "Polar H10"; used when '
        'address is "". "" = the first device offering the Heart Rate Service.'),
    Key("sensor", "replay", Kind.PATH, None,
        'The RR recording played when source = "replay". A relative path starts at this '
        "file's folder; ~ is your home folder."),
    Key("sensor", "start", Kind.DATETIME, None,
        "Wall-clock time of the replayed recording's first beat (local time unless it "
        'carries an offset); "" = when the replay starts. A file with a timestamp column '
        "keeps its own times."),
    Key("sensor", "scenario", Kind.STR, "",
        'Simulator scenario when source = "sim": a built-in name or a scenario file. "" = '
        "the built-in endless ordinary day."),
    Key("sensor", "speed", Kind.FLOAT, 1.0,
        "Playback speed of replay and sim as a multiple of real time (60 = an hour a "
        "minute).",
        unit="multiple of real time", low=0, high=10000, low_exclusive=True),
    Key("sensor", "backoff_initial_s", Kind.FLOAT, 0.5,
        "Wait before the first reconnection attempt after the strap is lost; doubles with "
        "each failed attempt.",
        unit=S, low=0.1, high=60),
    Key("sensor", "backoff_max_s", Kind.FLOAT, 60.0,
        "The longest wait between reconnection attempts.",
        unit=S, low=1, high=3600),
    Key("sensor", "watchdog_s", Kind.FLOAT, 30.0,
        "Reconnect when no beat arrived for this long while connected.",
        unit=S, low=5, high=3600),
    Key("sensor", "battery_interval_s", Kind.FLOAT, 900.0,
        "How often the strap's battery level is read.",
        unit=S, low=60, high=86400),
    Key("sensor", "accelerometer", Kind.BOOL, True,
        "Use the strap's accelerometer when it has one (Polar Measurement Data, e.g. "
        "Polar H10): one movement value a second beside the heartbeats."),
    # [detector]
    Key("detector", "window_s", Kind.FLOAT, 60.0,
        "Length of each scoring window: HRV is computed over this much time of beats.",
        unit=S, low=10, high=600),
    Key("detector", "step_s", Kind.FLOAT, 15.0,
        "Time between the ends of successive scoring windows (at most window_s).",
        unit=S, low=1, high=300),
    Key("detector", "bootstrap_min", Kind.FLOAT, 20.0,
        "Good, calm data needed to learn a first personal baseline; no stress is called "
        "before.",
        unit=MIN, low=5, high=240),
    Key("detector", "baseline_days", Kind.FLOAT, 14.0,
        "The baseline follows your calm, good windows of this many recent days.",
        unit=DAYS, low=1, high=90),
    Key("detector", "stress_z_ln_rmssd", Kind.FLOAT, -3.0,
        "A stretch of strain needs the median ln RMSSD of the sustain span at or below this "
        "many span spreads from your usual (negative = below) ...",
        unit=Z, low=-6, high=0),
    Key("detector", "stress_z_hr", Kind.FLOAT, 1.0,
        "... and its median heart rate at or above this many span spreads above it ...",
        unit=Z, low=0, high=6),
    Key("detector", "min_ln_rmssd_drop", Kind.FLOAT, 0.45,
        "... and ln RMSSD at least this much below your usual (0.45 is RMSSD x0.64) ...",
        unit="natural-log units", low=0, high=3),
    Key("detector", "min_hr_rise_bpm", Kind.FLOAT, 4.0,
        "... and heart rate at least this much above it.",
        unit="beats per minute", low=0, high=60),
    Key("detector", "elevated_z", Kind.FLOAT, 0.75,
        'Either metric of a window this far from your usual marks it "elevated".',
        unit=Z, low=0, high=6),
    Key("detector", "active_hr_delta_bpm", Kind.FLOAT, 45.0,
        "Without movement data: a heart-rate rise this large is taken for exercise. Lower "
        "catches long walks, higher catches stress with a large rise (docs/detection.md).",
        unit="beats per minute", low=10, high=120),
    Key("detector", "recovery_min", Kind.FLOAT, 15.0,
        "After movement, raised readings count as its recovery (not stress) for at most "
        "this long.",
        unit=MIN, low=0, high=120),
    Key("detector", "moving_mg", Kind.FLOAT, 20.0,
        "With the strap's accelerometer: a window whose movement reaches this is moving "
        "(never stress); below it you are still.",
        unit="milli-g", low=1, high=1000),
    Key("detector", "seated_input_s", Kind.FLOAT, 60.0,
        "Keyboard or mouse input at most this long ago means you are seated (used once the "
        "desktop's input idle time is read; the daemon does not read it yet).",
        unit=S, low=0, high=3600),
    Key("detector", "max_artifact_pct", Kind.FLOAT, 15.0,
        'A window with more corrected beats than this is "unknown" (poor signal).',
        unit="percent of the window's beats", low=0, high=100),
    Key("detector", "min_coverage", Kind.FLOAT, 0.4,
        'A window whose beats cover less than this share of it is "unknown" (gaps, lost '
        "contact).",
        unit="fraction of the window", low=0, high=1),
    Key("detector", "sustain_min", Kind.FLOAT, 8.0,
        "Strain is judged over a span this long before a stretch is confirmed.",
        unit=MIN, low=1, high=120),
    Key("detector", "sustain_fraction", Kind.FLOAT, 0.6,
        "The share of the span that must be scorable (known, not moving, not recovering).",
        unit="fraction", low=0.1, high=1),
    Key("detector", "end_min", Kind.FLOAT, 2.0,
        "A stretch ends after this long without strain.",
        unit=MIN, low=0.5, high=60),
    Key("detector", "max_unknown_gap_min", Kind.FLOAT, 3.0,
        "A stretch also ends when the signal stays unknown for longer than this.",
        unit=MIN, low=0, high=60),
    # [prompts]
    Key("prompts", "cooldown_min", Kind.FLOAT, 45.0,
        "At least this long between two break prompts.",
        unit=MIN, low=0, high=1440),
    Key("prompts", "daily_cap", Kind.INT, 4,
        "At most this many break prompts a day; 0 = none (episodes are still logged).",
        unit="prompts per day", low=0, high=48),
    Key("prompts", "snooze_min", Kind.FLOAT, 30.0,
        "How long snoozing a prompt holds off the next one.",
        unit=MIN, low=1, high=1440),
    Key("prompts", "show_numbers", Kind.BOOL, False,
        "Show heart rate and HRV figures in prompts. Off: a prompt offers kindness, not a "
        "score."),
    Key("prompts", "timeout_s", Kind.FLOAT, 120.0,
        "How long a prompt stays on screen.",
        unit=S, low=5, high=3600),
    Key("prompts", "phrases_mindfulness", Kind.STR_LIST, (),
        'Your own phrases for step 1, naming the moment ("This is a moment of strain."); '
        "added to the built-in ones."),
    Key("prompts", "phrases_humanity", Kind.STR_LIST, (),
        'Your own phrases for step 2, common humanity ("Others feel this too.").'),
    Key("prompts", "phrases_kindness", Kind.STR_LIST, (),
        'Your own phrases for step 3, self-kindness ("May I be kind to myself.").'),
    Key("prompts", "replace_builtin", Kind.BOOL, False,
        "Use only your own phrases; each of the three lists then needs at least one."),
    Key("prompts", "evening_reflection", Kind.BOOL, False,
        "Offer a short end-of-day reflection at reflection_time (outside quiet hours)."),
    Key("prompts", "reflection_time", Kind.TIME, time(18, 0),
        "When the evening reflection is offered (local time, 24-hour)."),
    Key("prompts", "max_threshold_shift", Kind.FLOAT, 1.0,
        "How far your answers to prompts may raise the stress thresholds; 0 = never.",
        unit=Z, low=0, high=3),
    # [quiet_hours]
    Key("quiet_hours", "start", Kind.TIME, time(21, 0),
        "Quiet hours begin (local time, 24-hour); a start later than end spans midnight."),
    Key("quiet_hours", "end", Kind.TIME, time(8, 0),
        "Quiet hours end; must differ from start (use enabled = false to switch them off)."),
    Key("quiet_hours", "enabled", Kind.BOOL, True,
        "Keep quiet hours."),
    # [storage]
    Key("storage", "state_dir", Kind.PATH, None,
        'Folder of the stress log; "" = the XDG state folder (~/.local/state/kindpulse). '
        "A relative path starts at this file's folder."),
    Key("storage", "beats_days", Kind.INT, 30,
        "Raw beats are kept this long.",
        unit=DAYS, low=1, high=3650),
    Key("storage", "windows_days", Kind.INT, 365,
        "Window metrics and episodes (what 'kindpulse review' reads) are kept this long.",
        unit=DAYS, low=1, high=36500),
    # [logging]
    Key("logging", "level", Kind.ENUM, "info",
        "How much the daemon writes to stderr (the journal under systemd).",
        choices=("debug", "info", "warning", "error")),
)

_BY_PATH: dict[tuple[str, str], Key] = {(k.section, k.name): k for k in KEYS}


def key(section: str, name: str) -> Key:
    """The table row of ``[section] name`` (KeyError if there is none)."""
    return _BY_PATH[(section, name)]


# -- the typed result -----------------------------------------------------------------------
# Field names, order and types mirror KEYS (tests/test_config.py checks it); the loader
# builds them from the table, so they carry no defaults of their own: use
# ``kindpulse.config.loader.default_config()`` for a Config of defaults.


@dataclass(frozen=True, slots=True)
class SensorSection:
    """``[sensor]``: times in seconds; ``replay``/``start`` None when unset."""

    source: Source
    address: str
    name: str
    replay: Path | None
    start: datetime | None
    scenario: str
    speed: float
    backoff_initial_s: float
    backoff_max_s: float
    watchdog_s: float
    battery_interval_s: float
    accelerometer: bool


@dataclass(frozen=True, slots=True)
class DetectorSection:
    """``[detector]``: the fields of :class:`kindpulse.detector.DetectorConfig` it sets."""

    window_s: float
    step_s: float
    bootstrap_min: float
    baseline_days: float
    stress_z_ln_rmssd: float
    stress_z_hr: float
    min_ln_rmssd_drop: float
    min_hr_rise_bpm: float
    elevated_z: float
    active_hr_delta_bpm: float
    recovery_min: float
    moving_mg: float
    seated_input_s: float
    max_artifact_pct: float
    min_coverage: float
    sustain_min: float
    sustain_fraction: float
    end_min: float
    max_unknown_gap_min: float


@dataclass(frozen=True, slots=True)
class PromptsSection:
    """``[prompts]``: the boundaries of break prompts and the user's own phrases."""

    cooldown_min: float
    daily_cap: int
    snooze_min: float
    show_numbers: bool
    timeout_s: float
    phrases_mindfulness: tuple[str, ...]
    phrases_humanity: tuple[str, ...]
    phrases_kindness: tuple[str, ...]
    replace_builtin: bool
    evening_reflection: bool
    reflection_time: time
    max_threshold_shift: float


@dataclass(frozen=True, slots=True)
class QuietHoursSection:
    """``[quiet_hours]``: local times; ``start > end`` spans midnight."""

    start: time
    end: time
    enabled: bool

    def contains(self, t: time) -> bool:
        """Whether ``t`` (local time of day) is inside quiet hours (start inclusive)."""
        if not self.enabled:
            return False
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True, slots=True)
class StorageSection:
    """``[storage]``: ``state_dir`` None = the XDG state directory; retention in days."""

    state_dir: Path | None
    beats_days: int
    windows_days: int


@dataclass(frozen=True, slots=True)
class LoggingSection:
    """``[logging]``."""

    level: LogLevel


SECTION_TYPES: dict[str, type] = {
    "sensor": SensorSection,
    "detector": DetectorSection,
    "prompts": PromptsSection,
    "quiet_hours": QuietHoursSection,
    "storage": StorageSection,
    "logging": LoggingSection,
}


@dataclass(frozen=True, slots=True)
class Config:
    """The effective configuration: one frozen section per table.

    ``sources`` maps every ``"section.key"`` to where its value came from: ``"default"`` or
    ``"FILE:LINE"``. ``path`` is the file that was read (None: no file, all defaults).
    Neither takes part in equality.
    """

    sensor: SensorSection
    detector: DetectorSection
    prompts: PromptsSection
    quiet_hours: QuietHoursSection
    storage: StorageSection
    logging: LoggingSection
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    path: Path | None = field(default=None, compare=False)

    def value(self, section: str, name: str) -> object:
        """The effective value of ``[section] name``."""
        return getattr(getattr(self, section), name)


# -- rendering ------------------------------------------------------------------------------


def format_number(x: float) -> str:
    """A number for prose (ranges): ``60`` for 60.0, ``0.5``, ``-1.5``, ``inf``, ``nan``."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def format_value(value: object) -> str:
    """A value as TOML text on one line, for ``config show``, the default file and
    messages: strings quoted (newlines escaped), None as ``""``, times as ``"HH:MM"``."""
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else format_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, time):
        if value.second == 0 and value.microsecond == 0 and value.tzinfo is None:
            return json.dumps(value.strftime("%H:%M"))
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = ", ".join(f"{_toml_key(str(k))} = {format_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    return json.dumps(str(value), ensure_ascii=False)


def _toml_key(name: str) -> str:
    bare = name and all(c.isascii() and (c.isalnum() or c in "-_") for c in name)
    return name if bare else json.dumps(name, ensure_ascii=False)


def _default_text(k: Key) -> str:
    if k.kind is Kind.DATETIME and k.default is None:
        return '""'
    return format_value(k.default)


def _comment(text: str, width: int = 88) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent="# ", subsequent_indent="# ")


def render_default_toml() -> str:
    """The commented default configuration (``config/default.toml``, ``config init``).

    Every key appears in the table's order with its description, type, unit and range,
    commented out with its default value: a key left commented keeps the default, and
    follows it should a later version improve it.
    """
    out = [
        "# kindpulse configuration",
        "#",
        *_comment(
            "Every key is listed with its default value, commented out: a key left out keeps "
            "its default. To change one, remove the '# ' in front of it and edit the value. "
            "Durations are numbers whose unit is in the key's name (_s seconds, _min "
            "minutes, _days days); times of day are \"HH:MM\" strings, local time."
        ),
        "#",
        "#   kindpulse config check   checks this file (the first problem, with its line)",
        "#   kindpulse config show    lists every effective value and where it came from",
    ]
    for section in SECTIONS:
        out += ["", "", f"[{section}]", *_comment(SECTION_DOCS[section])]
        for k in KEYS:
            if k.section != section:
                continue
            out += ["", *_comment(k.doc), *_comment(k.constraint_text())]
            out.append(f"# {k.name} = {_default_text(k)}")
    return "\n".join(out) + "\n"

