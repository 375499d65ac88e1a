"""Read the TOML configuration file, validate it against :data:`~.schema.KEYS`, and build
the typed :class:`~.schema.Config`.

Which file: an explicit path, else ``$KINDPULSE_CONFIG``, else
``platformdirs.user_config_path("kindpulse") / "config.toml"``
(``~/.config/kindpulse/config.toml``). Only the last may be missing (then every key has its
default); a missing file that was named explicitly or by the environment variable is an
error.

Every problem is a :class:`~kindpulse.errors.ConfigError` of one line that names the file,
the line, the whole key and what was expected::

    c.toml:7: [detector] window_s = true: expected a number from 10 to 600 (seconds; got a boolean)
    c.toml:9: unknown key [detector] sustain_mins; did you mean sustain_min?
    c.toml:3: not valid TOML: Expected '=' after a key in a key/value pair (at line 3, column 7)

Only the first problem in the file (by line) is reported: fix it and check again. Checks
that involve two keys run once every key is valid on its own, and report at the line of
the key the file sets:

* ``[sensor] backoff_initial_s <= backoff_max_s``;
* ``[detector] step_s <= window_s``, and ``sustain_min`` spans at least one ``step_s``;
* ``[sensor] source = "replay"`` needs ``[sensor] replay``;
* ``[quiet_hours] start != end`` while enabled: equal times could mean "never quiet" or
  "always quiet", so they are refused (``enabled = false`` switches quiet hours off);
* ``[prompts] evening_reflection`` must not fall inside quiet hours (it would never show);
* ``[prompts] replace_builtin = true`` needs a phrase in each of the three lists.

Relative paths (``replay``, ``state_dir``) start at the configuration file's folder, so
the file means the same whatever the daemon's working directory; ``~`` is expanded.

``tomllib`` reports no positions for values, so the line of a key is found by scanning the
text for its table header and then ``key =`` (dotted keys, quoted keys and inline tables
are understood; a key inside an inline table is reported at the table's line).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NoReturn

from kindpulse.errors import ConfigError

from .schema import (
    KEYS,
    SECTION_TYPES,
    SECTIONS,
    Config,
    Key,
    Kind,
    format_number,
    format_value,
    key,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "ENV_VAR",
    "Config",
    "config_path",
    "default_config",
    "default_config_path",
    "load_config",
    "loads_config",
]

#: Environment variable naming the configuration file.
ENV_VAR = "KINDPULSE_CONFIG"
#: Longest value text quoted in a message.
_MAX_VALUE_CHARS = 60

logger = logging.getLogger(__name__)

#: Keys an earlier version knew: a file that still sets them loads, with a warning.
RETIRED_KEYS: dict[tuple[str, str], str] = {
    ("detector", "movement_hr_delta_bpm"): (
        "movement comes from the strap's accelerometer now, not from the shape of a "
        "heart-rate rise; see docs/detection.md"
    ),
    ("detector", "movement_ratio"): (
        "movement comes from the strap's accelerometer now, not from the shape of a "
        "heart-rate rise; see docs/detection.md"
    ),
}


def default_config_path() -> Path:
    """``~/.config/kindpulse/config.toml`` (XDG, through platformdirs)."""
    import platformdirs

    return platformdirs.user_config_path("kindpulse") / "config.toml"


def config_path(path: Path | str | None = None) -> tuple[Path, bool]:
    """The file to read and whether it was named (``path`` or ``$KINDPULSE_CONFIG``) rather
    than the default location. A named file must exist; the default one may be missing."""
    if path is not None and str(path) != "":
        return Path(path).expanduser(), True
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser(), True
    return default_config_path(), False


def default_config() -> Config:
    """Every key at its default; every source ``"default"``."""
    values = {k.path: k.default for k in KEYS}
    return _build(values, {k.path: "default" for k in KEYS}, None)


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate the configuration (see the module docstring for which file).

    Raises :class:`~kindpulse.errors.ConfigError` (exit 78) with one line for a named file
    that is missing or unreadable, text that is not UTF-8 or not TOML, and the first
    invalid key or combination of keys.
    """
    file, named = config_path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        if not named:
            return default_config()
        how = "" if path is not None and str(path) != "" else f" (named by ${ENV_VAR})"
        raise ConfigError(f"{file}: no such configuration file{how}") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a directory, expected a TOML file") from None
    except OSError as e:
        raise ConfigError(f"{file}: cannot be read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"{file}:{line}: not valid UTF-8 (byte {data[e.start]:#04x}); TOML files are UTF-8"
        ) from None
    return loads_config(text, str(file), base_dir=file.parent, path=file)


def loads_config(
    text: str,
    filename: str = "<config>",
    base_dir: Path | None = None,
    path: Path | None = None,
) -> Config:
    """Validate TOML ``text``; ``filename`` names it in messages and sources, ``base_dir``
    is where relative paths start (default: the current directory)."""
    text = text.removeprefix("\ufeff")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(_toml_error(text, filename, str(e))) from None
    lines = _KeyLines(text)
    checker = _Checker(filename, lines, base_dir if base_dir is not None else Path.cwd())
    values, sources = checker.check(doc)
    return _build(values, sources, path)


def _build(values: Mapping[str, object], sources: dict[str, str], path: Path | None) -> Config:
    sections: dict[str, Any] = {}
    for section in SECTIONS:
        cls = SECTION_TYPES[section]
        names = [f.name for f in dataclasses.fields(cls)]
        sections[section] = cls(**{n: values[f"{section}.{n}"] for n in names})
    return Config(**sections, sources=sources, path=path)


# -- broken TOML ----------------------------------------------------------------------------

_AT_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _toml_error(text: str, filename: str, message: str) -> str:
    m = _AT_LINE.search(message)
    n_lines = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
    line = int(m.group(1)) if m else n_lines
    if "Cannot overwrite" in message:
        dup = _KeyLines(text).duplicate
        if dup is not None and (m is None or dup[2] <= line):
            name, first, again = dup
            return (
                f"{filename}:{again}: not valid TOML: {name} is set twice, first on line "
                f"{first} ({message.split(' (at ')[0]})"
            )
    return f"{filename}:{line}: not valid TOML: {message}"


# -- where each key is -----------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"((?:[^"\\]|\\.)*)"')
_LITERAL = re.compile(r"'([^']*)'")


def _unescape(s: str) -> str:
    try:
        return str(tomllib.loads(f'k = "{s}"')["k"])
    except tomllib.TOMLDecodeError:
        return s


def _parse_key(s: str, i: int) -> tuple[tuple[str, ...], int] | None:
    """A (dotted) TOML key at ``s[i:]``: its parts and the index after it."""
    parts: list[str] = []
    while True:
        while i < len(s) and s[i] in " \t":
            i += 1
        m = _BARE.match(s, i)
        if m:
            parts.append(m.group(0))
        else:
            m = _BASIC.match(s, i)
            if m:
                parts.append(_unescape(m.group(1)))
            else:
                m = _LITERAL.match(s, i)
                if not m:
                    return None
                parts.append(m.group(1))
        i = m.end()
        while i < len(s) and s[i] in " \t":
            i += 1
        if i < len(s) and s[i] == ".":
            i += 1
            continue
        return tuple(parts), i


class _KeyLines:
    """Line numbers of the table headers and keys of (valid) TOML text, found by scanning:
    ``line(("detector", "window_s"))`` is the first line that sets it."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        #: The first key path set twice: (``[section] key``, first line, second line).
        self.duplicate: tuple[str, int, int] | None = None
        table: tuple[str, ...] = ()
        in_string: str | None = None  # the closing delimiter of a multi-line string
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            stripped = line.lstrip()
            if stripped.startswith("["):
                double = stripped.startswith("[[")
                parsed = _parse_key(stripped, 2 if double else 1)
                if parsed is not None:
                    table = parsed[0]
                    self._lines.setdefault(table, number)
                continue
            parsed = _parse_key(line, 0)
            if parsed is None:
                continue
            parts, after = parsed
            if not line[after:].startswith("="):
                continue
            full = table + parts
            if full in self._lines and self.duplicate is None:
                self.duplicate = (_label(full), self._lines[full], number)
            self._lines.setdefault(full, number)
            for n in range(len(table) + 1, len(full)):
                self._lines.setdefault(full[:n], number)
            rest = line[after + 1 :]
            for delim in ('"""', "'''"):
                if rest.count(delim) % 2 == 1:
                    in_string = delim
                    break

    def line(self, path: tuple[str, ...]) -> int | None:
        """The line of ``path``, else of its nearest enclosing table or key."""
        for n in range(len(path), 0, -1):
            if path[:n] in self._lines:
                return self._lines[path[:n]]
        return None


def _label(path: tuple[str, ...]) -> str:
    if len(path) == 1:
        return f"[{path[0]}]"
    return f"[{path[0]}] " + ".".join(path[1:])


# -- validation -----------------------------------------------------------------------------


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    return type(value).__name__


def _shown(value: object) -> str:
    text = format_value(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1] + "…"
    return text


_NUMBER_TEXT = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*([A-Za-z%]*)\s*")
_HHMM = re.compile(r"(\d{1,2}):(\d{2})")


class _Invalid(Exception):
    """A value does not fit its key: the parenthetical detail (may be empty)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


def _convert(k: Key, value: object, base_dir: Path) -> object:
    """The Python value of a TOML value for key ``k``; raises :class:`_Invalid`."""
    got = f"got {_type_name(value)}"
    if k.kind is Kind.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            raise _Invalid(f"{got}; write true or false without quotes")
        if isinstance(value, int):
            raise _Invalid(f"{got}; write true or false")
        raise _Invalid(got)
    if k.kind in (Kind.INT, Kind.FLOAT):
        unit = [k.unit] if k.unit else []
        if isinstance(value, bool):
            raise _Invalid("; ".join([*unit, got]))
        if isinstance(value, str):
            hint = "write the number without quotes"
            m = _NUMBER_TEXT.fullmatch(value)
            if m and m.group(4):
                hint += " or unit"
            raise _Invalid("; ".join([*unit, f"{got}; {hint}" if m else got]))
        if k.kind is Kind.INT and isinstance(value, float):
            raise _Invalid("; ".join([*unit, got]))
        if not isinstance(value, (int, float)):
            raise _Invalid("; ".join([*unit, got]))
        number: float = value if k.kind is Kind.INT else float(value)
        if not math.isfinite(number):
            raise _Invalid("; ".join(unit))
        if k.low is not None and (number < k.low or (k.low_exclusive and number == k.low)):
            raise _Invalid("; ".join(unit))
        if k.high is not None and number > k.high:
            raise _Invalid("; ".join(unit))
        return number
    if k.kind is Kind.STR:
        if not isinstance(value, str):
            _wrong_not_string(value, got)
        if k.pattern and value and not re.fullmatch(k.pattern, value):
            raise _Invalid()
        return value
    if k.kind is Kind.ENUM:
        if not isinstance(value, str):
            raise _Invalid(got)
        if value in k.choices:
            return value
        word = value.strip().lower()
        prefixed = [c for c in k.choices if word and (word.startswith(c) or c.startswith(word))]
        near = (
            next((c for c in k.choices if c == word), None)
            or (prefixed[0] if len(prefixed) == 1 else None)
            or next(iter(difflib.get_close_matches(word, k.choices, n=1, cutoff=0.6)), None)
        )
        raise _Invalid(f'did you mean "{near}"?' if near else "")
    if k.kind is Kind.TIME:
        return _time(value, got)
    if k.kind is Kind.DATETIME:
        return _datetime(value, got)
    if k.kind is Kind.STR_LIST:
        if isinstance(value, str):
            raise _Invalid(f"{got}; write it as a list: [{format_value(value)}]")
        if not isinstance(value, list):
            raise _Invalid(got)
        for n, item in enumerate(value, start=1):
            if not isinstance(item, str):
                raise _Invalid(f"item {n} is {_type_name(item)}")
            if not item.strip():
                raise _Invalid(f"item {n} is blank")
        return tuple(value)
    # Kind.PATH
    if not isinstance(value, str):
        _wrong_not_string(value, got)
    if "\0" in value:
        raise _Invalid("it holds a NUL character")
    if value == "":
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else base_dir / p


def _wrong_not_string(value: object, got: str) -> NoReturn:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        raise _Invalid(f"{got}; one value only, without the brackets")
    raise _Invalid(got)


def _time(value: object, got: str) -> time:
    if isinstance(value, time) and not isinstance(value, datetime):
        # A TOML local time (21:00:00): accepted when it is a whole minute.
        if value.second == 0 and value.microsecond == 0:
            return value
        raise _Invalid("whole minutes only")
    if not isinstance(value, str):
        raise _Invalid(got)
    m = _HHMM.fullmatch(value.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise _Invalid("24-hour clock, local time")
    return time(int(m.group(1)), int(m.group(2)))


def _datetime(value: object, got: str) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        raise _Invalid(f"{got}; add the time of day, such as 2024-05-01T09:00:00")
    if not isinstance(value, str):
        raise _Invalid(got)
    text = value.strip()
    if text == "":
        return None
    if len(text) <= 10:  # a date alone
        raise _Invalid("add the time of day")
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        raise _Invalid() from None


class _Checker:
    def __init__(self, filename: str, lines: _KeyLines, base_dir: Path) -> None:
        self.filename = filename
        self.lines = lines
        self.base_dir = base_dir
        self.problems: list[tuple[int, int, str]] = []  # (line, order, message)
        self.raw: dict[str, object] = {}  # "section.key" -> the value as the file wrote it

    def _where(self, path: tuple[str, ...]) -> int:
        line = self.lines.line(path)
        return line if line is not None else 1

    def _problem(self, path: tuple[str, ...], message: str) -> None:
        line = self._where(path)
        self.problems.append((line, len(self.problems), f"{self.filename}:{line}: {message}"))

    def _first(self) -> None:
        if self.problems:
            raise ConfigError(min(self.problems)[2])

    def check(self, doc: dict[str, Any]) -> tuple[dict[str, object], dict[str, str]]:
        values: dict[str, object] = {k.path: k.default for k in KEYS}
        sources: dict[str, str] = {k.path: "default" for k in KEYS}
        for name, table in doc.items():
            if name not in SECTIONS:
                self._unknown_top(name, table)
                continue
            if not isinstance(table, dict):
                what = "a list of tables" if isinstance(table, list) else _type_name(table)
                self._problem(
                    (name,),
                    f"[{name}] = {_shown(table)}: expected a table, a [{name}] header with "
                    f"keys under it (got {what})",
                )
                continue
            for name_in, value in table.items():
                self._check_key(name, name_in, value, values, sources)
        self._first()
        self._cross(values)
        self._first()
        return values, sources

    def _unknown_top(self, name: str, value: object) -> None:
        if not isinstance(value, dict):
            owners = [k for k in KEYS if k.name == name]
            hint = (
                f"; did you mean {owners[0].label}?"
                if owners
                else ("; keys belong under a section header such as [sensor]")
            )
            self._problem((name,), f"key {name} is outside any section{hint}")
            return
        near = difflib.get_close_matches(name, SECTIONS, n=1, cutoff=0.6)
        hint = (
            f"; did you mean [{near[0]}]?"
            if near
            else " (known sections: " + ", ".join(f"[{s}]" for s in SECTIONS) + ")"
        )
        self._problem((name,), f"unknown section [{name}]{hint}")

    def _check_key(
        self,
        section: str,
        name: str,
        value: object,
        values: dict[str, object],
        sources: dict[str, str],
    ) -> None:
        path = (section, name)
        if path in RETIRED_KEYS:
            logger.warning(
                "%s:%d: [%s] %s is no longer used (%s); it is ignored",
                self.filename,
                self._where(path),
                section,
                name,
                RETIRED_KEYS[path],
            )
            return
        try:
            k = key(section, name)
        except KeyError:
            self._problem(path, f"unknown key [{section}] {name}{self._suggest(section, name)}")
            return
        self.raw[k.path] = value
        try:
            values[k.path] = _convert(k, value, self.base_dir)
        except _Invalid as e:
            detail = f" ({e.detail})" if e.detail else ""
            self._problem(path, f"{k.label} = {_shown(value)}: expected {k.expected()}{detail}")
            return
        sources[k.path] = f"{self.filename}:{self._where(path)}"

    def _suggest(self, section: str, name: str) -> str:
        names = [k.name for k in KEYS if k.section == section]
        near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        if near:
            return f"; did you mean {near[0]}?"
        elsewhere = [k for k in KEYS if k.name == name]
        if elsewhere:
            return f"; it belongs in [{elsewhere[0].section}]"
        near_all = difflib.get_close_matches(name, [k.name for k in KEYS], n=1, cutoff=0.75)
        if near_all:
            other = next(k for k in KEYS if k.name == near_all[0])
            return f"; did you mean {other.label}?"
        return f" (keys of [{section}]: {', '.join(names)})"

    # -- checks across keys ------------------------------------------------------------------

    def _set(self, k: Key) -> bool:
        """Whether the file sets ``k`` (else it has its default)."""
        return k.path in self.raw

    def _v(self, k: Key, values: Mapping[str, object]) -> str:
        """``k``'s value for a message: as the file wrote it, else its default."""
        return _shown(self.raw.get(k.path, values[k.path]))

    def _pair(
        self,
        values: Mapping[str, object],
        a: Key,
        b: Key,
        ok: Callable[[Any, Any], bool],
        a_needs: str,
        b_needs: str,
        why: str,
    ) -> None:
        """Report a broken relation between ``a`` and ``b`` at ``a``'s line when the file
        sets ``a`` (``a_needs`` describes what ``a`` needed), else at ``b``'s."""
        va, vb = values[a.path], values[b.path]
        if ok(va, vb):
            return
        if self._set(a):
            subject, needs = a, a_needs
        else:
            subject, needs = b, b_needs
        shown = self._v(subject, values)
        self._problem(
            (subject.section, subject.name),
            f"{subject.label} = {shown}: expected {needs} ({why})",
        )

    def _cross(self, v: Mapping[str, object]) -> None:
        ini, mx = key("sensor", "backoff_initial_s"), key("sensor", "backoff_max_s")
        self._pair(
            v,
            ini,
            mx,
            lambda a, b: a <= b,
            f"at most {mx.label} = {self._v(mx, v)}",
            f"at least {ini.label} = {self._v(ini, v)}",
            "the first wait cannot exceed the longest",
        )
        step, win = key("detector", "step_s"), key("detector", "window_s")
        self._pair(
            v,
            step,
            win,
            lambda a, b: a <= b,
            f"at most {win.label} = {self._v(win, v)}",
            f"at least {step.label} = {self._v(step, v)}",
            "windows further apart than their length would leave beats unscored",
        )
        sus = key("detector", "sustain_min")
        step_s, sus_min = float(v[step.path]), float(v[sus.path])  # type: ignore[arg-type]
        self._pair(
            v,
            sus,
            step,
            lambda a, b: a * 60.0 >= b,
            f"at least {format_number(step_s / 60.0)} minutes, one {step.label} = "
            f"{format_number(step_s)}",
            f"at most {format_number(sus_min * 60.0)} seconds, the span of {sus.label} = "
            f"{format_number(sus_min)}",
            "the sustained span must hold at least one scoring step",
        )
        src, rep = key("sensor", "source"), key("sensor", "replay")
        if v[src.path] == "replay" and v[rep.path] is None:
            if self._set(rep):
                self._problem(
                    ("sensor", "replay"),
                    f'{rep.label} = "": expected the recording to play '
                    f'(because {src.label} = "replay")',
                )
            else:
                self._problem(
                    ("sensor", "source"),
                    f'{src.label} = "replay": expected {rep.label} = "FILE" as well '
                    "(the recording to play)",
                )
        qs, qe, qon = (key("quiet_hours", n) for n in ("start", "end", "enabled"))
        if v[qon.path] and v[qs.path] == v[qe.path]:
            subject = qe if self._set(qe) else qs
            other = qs if subject is qe else qe
            self._problem(
                (subject.section, subject.name),
                f"{subject.label} = {self._v(subject, v)}: expected a time other than "
                f"{other.label} (equal times are ambiguous; to switch quiet hours off set "
                f"{qon.label} = false)",
            )
        self._reflection(v)
        self._own_phrases(v)

    def _reflection(self, v: Mapping[str, object]) -> None:
        on, at = key("prompts", "evening_reflection"), key("prompts", "reflection_time")
        qs, qe, qon = (key("quiet_hours", n) for n in ("start", "end", "enabled"))
        start, end, t = v[qs.path], v[qe.path], v[at.path]
        assert isinstance(start, time) and isinstance(end, time) and isinstance(t, time)
        inside = start <= t < end if start <= end else (t >= start or t < end)
        if not (v[on.path] and v[qon.path] and inside):
            return
        subject = next((k for k in (at, on, qs, qe) if self._set(k)), on)
        span = f"{start:%H:%M}–{end:%H:%M}"
        if subject is at:
            needs = f"a time outside quiet hours {span}"
        else:
            needs = f"{at.label} = {self._v(at, v)} outside quiet hours {span}"
        self._problem(
            (subject.section, subject.name),
            f"{subject.label} = {self._v(subject, v)}: expected {needs} "
            "(the evening reflection would never be offered)",
        )

    def _own_phrases(self, v: Mapping[str, object]) -> None:
        rep = key("prompts", "replace_builtin")
        if not v[rep.path]:
            return
        for name in ("phrases_mindfulness", "phrases_humanity", "phrases_kindness"):
            lst = key("prompts", name)
            if not v[lst.path]:
                self._problem(
                    ("prompts", "replace_builtin"),
                    f"{rep.label} = true: expected at least one phrase in {lst.label} "
                    "(without the built-in phrases that step would have none)",
                )
                return
