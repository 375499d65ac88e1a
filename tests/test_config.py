"""The configuration file: schema, loading, messages, and the ``config`` commands.

Each file in ``data/bad_configs/`` starts with ``# expect: LINE: MESSAGE``: loading it must
fail with exactly one line ``FILE:LINE: MESSAGE...``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import stat
import subprocess
import sys
import typing
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from kindpulse.config import commands
from kindpulse.config.commands import add_config_commands
from kindpulse.config.loader import (
    ENV_VAR,
    config_path,
    default_config,
    load_config,
    loads_config,
)
from kindpulse.config.schema import (
    KEYS,
    SECTION_TYPES,
    SECTIONS,
    Config,
    Kind,
    render_default_toml,
)
from kindpulse.errors import ConfigError, KindpulseError

from .conftest import DATA

BAD = sorted((DATA / "bad_configs").glob("*.toml"))
DEFAULT_TOML = Path(commands.__file__).with_name("default.toml")
KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the real ~/.config or a $KINDPULSE_CONFIG from outside."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


def expectation(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: ...'"
    return first.removeprefix("# expect: ")


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``kindpulse config ...`` in-process, with the CLI's error handling."""
    parser = argparse.ArgumentParser(prog="kindpulse")
    add_config_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except KindpulseError as e:
        sys.stderr.write(f"kindpulse: {e}\n")
        code = e.exit_code
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- the schema ------------------------------------------------------------------------------


def test_there_are_enough_bad_configs() -> None:
    assert len(BAD) >= 30


def test_dataclasses_mirror_the_table() -> None:
    python_type = {
        Kind.BOOL: bool,
        Kind.INT: int,
        Kind.FLOAT: float,
        Kind.STR: str,
        Kind.TIME: time,
        Kind.DATETIME: datetime | None,
        Kind.STR_LIST: tuple[str, ...],
        Kind.PATH: Path | None,
    }
    assert tuple(SECTION_TYPES) == SECTIONS
    assert [f.name for f in dataclasses.fields(Config)][: len(SECTIONS)] == list(SECTIONS)
    for section, cls in SECTION_TYPES.items():
        rows = [k for k in KEYS if k.section == section]
        assert [f.name for f in dataclasses.fields(cls)] == [k.name for k in rows], section
        hints = typing.get_type_hints(cls)
        for k in rows:
            if k.kind is Kind.ENUM:
                assert typing.get_args(hints[k.name]) == k.choices, k.path
                assert k.default in k.choices
            else:
                assert hints[k.name] == python_type[k.kind], k.path


def test_every_key_is_documented_and_its_default_is_valid() -> None:
    assert len({k.path for k in KEYS}) == len(KEYS)
    for k in KEYS:
        assert k.doc and "\n" not in k.doc, k.path
        if k.kind in (Kind.INT, Kind.FLOAT):
            assert k.unit, k.path
            assert type(k.default) is (int if k.kind is Kind.INT else float), k.path
            assert k.low is not None and k.high is not None
            assert k.low <= k.default <= k.high, k.path


def test_the_detector_section_feeds_the_detector() -> None:
    from kindpulse.detector import DetectorConfig

    cfg = loads_config("[detector]\nwindow_s = 90\nsustain_min = 4\n")
    det = DetectorConfig.from_mapping(dataclasses.asdict(cfg.detector))
    assert det.window_s == 90.0 and det.sustain_min == 4.0
    # Every [detector] key is a detector setting with the same default.
    detector_defaults = dataclasses.asdict(DetectorConfig())
    for name, value in dataclasses.asdict(default_config().detector).items():
        assert detector_defaults[name] == value, name


# -- the default file ------------------------------------------------------------------------


def test_default_toml_on_disk_is_the_rendered_one() -> None:
    assert DEFAULT_TOML.read_text(encoding="utf-8") == render_default_toml(), (
        "config/default.toml is out of date: regenerate it from render_default_toml() "
        "(see config/schema.py)"
    )


def test_default_toml_lists_every_key_in_order_and_loads_as_defaults() -> None:
    text = render_default_toml()
    keys = re.findall(r"^# ([a-z_]+) = ", text, flags=re.M)
    assert keys == [k.name for k in KEYS]
    assert re.findall(r"^\[([a-z_]+)\]$", text, flags=re.M) == list(SECTIONS)
    cfg = load_config(DEFAULT_TOML)
    assert cfg == default_config()
    assert set(cfg.sources.values()) == {"default"}
    assert all(len(line) <= 100 for line in text.splitlines())


def test_default_toml_uncommented_gives_the_defaults_from_the_file(tmp_path: Path) -> None:
    text = re.sub(r"^# ([a-z_]+ = )", r"\1", render_default_toml(), flags=re.M)
    f = write(tmp_path / "all.toml", text)
    cfg = load_config(f)
    assert cfg == default_config()
    lines = text.splitlines()
    for k in KEYS:
        src = cfg.sources[k.path]
        assert src.startswith(f"{f}:"), src
        assert lines[int(src.rsplit(":", 1)[1]) - 1].startswith(f"{k.name} = ")


# -- bad files -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_is_one_line_naming_file_line_and_key(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"{path}:")
    assert re.match(r"\d+: ", message.removeprefix(f"{path}:")), message
    assert message.removeprefix(f"{path}:").startswith(expectation(path)), message
    assert info.value.__suppress_context__ or info.value.__cause__ is None
    assert info.value.exit_code == 78


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_config_check_of_a_bad_file_exits_78_with_one_line(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run("config", "check", str(path), capsys=capsys)
    assert code == 78
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"kindpulse: {path}:{expectation(path)}")


def test_type_errors_name_the_type_that_was_given() -> None:
    def message(text: str) -> str:
        with pytest.raises(ConfigError) as info:
            loads_config(text, "c.toml")
        return str(info.value)

    assert message("[sensor]\nspeed = true").endswith("(multiple of real time; got a boolean)")
    assert message("[prompts]\nreplace_builtin = 0").endswith(
        "(got a whole number; write true or false)"
    )
    assert "got a list" in message('[sensor]\nname = ["Polar"]')
    assert "got a table" in message("[sensor]\nspeed = { x = 1 }")
    assert message("[detector]\nwindow_s = 10000").startswith(
        "c.toml:2: [detector] window_s = 10000: expected a number from 10 to 600 (seconds)"
    )


def test_a_missing_named_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: no such configuration file$"):
        load_config(missing)
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(ConfigError, match=r"nope\.toml: no such configuration file \(named by"):
        load_config()
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_an_unreadable_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write(tmp_path / "c.toml", "")
    f.chmod(0)
    if os.geteuid() == 0:  # root reads every file: make this one fail as it would for a user

        def denied(self: Path) -> bytes:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ConfigError, match=r"c\.toml: cannot be read \(Permission denied\)$"):
        load_config(f)


# -- good files ------------------------------------------------------------------------------


def test_no_file_at_the_default_place_means_all_defaults(tmp_path: Path) -> None:
    assert config_path() == (tmp_path / "xdg-config" / "kindpulse" / "config.toml", False)
    cfg = load_config()
    assert cfg == default_config() and cfg.path is None
    assert cfg.sources == {k.path: "default" for k in KEYS}
    for k in KEYS:
        assert cfg.value(k.section, k.name) == k.default


def test_defaults() -> None:
    cfg = default_config()
    assert cfg.sensor.source == "ble" and cfg.sensor.replay is None and cfg.sensor.start is None
    assert cfg.sensor.speed == 1.0 and cfg.sensor.backoff_max_s == 60.0
    assert cfg.detector.window_s == 60.0 and cfg.detector.step_s == 15.0
    assert cfg.prompts.daily_cap == 4 and cfg.prompts.show_numbers is False
    assert cfg.prompts.reflection_time == time(18, 0)
    assert cfg.quiet_hours.start == time(21, 0) and cfg.quiet_hours.end == time(8, 0)
    assert cfg.storage.state_dir is None and cfg.storage.windows_days == 365
    assert cfg.logging.level == "info"


def test_overrides_and_their_sources(tmp_path: Path) -> None:
    f = write(
        tmp_path / "conf" / "c.toml",
        """\
# my settings
[sensor]
source = "replay"
replay = "rec/monday.csv"
start = "2024-05-01T09:00:00Z"
speed = 60

[detector]
window_s = 90          # a whole number where a decimal is expected
"sustain_min" = 4.5

[prompts]
daily_cap = 2
phrases_kindness = [
    "May I be kind to myself.",
    "May I give myself the compassion I need.",
]
reflection_time = 17:30:00

[quiet_hours]
start = "22:00"
end = "7:30"

[storage]
state_dir = "~/kp-state"

[logging]
level = "debug"
""",
    )
    cfg = load_config(f)
    assert cfg.path == f
    assert cfg.sensor.source == "replay"
    assert cfg.sensor.replay == tmp_path / "conf" / "rec" / "monday.csv"  # next to the file
    assert cfg.sensor.start == datetime(2024, 5, 1, 9, tzinfo=timezone.utc)
    assert cfg.sensor.speed == 60.0 and type(cfg.sensor.speed) is float
    assert cfg.detector.window_s == 90.0 and type(cfg.detector.window_s) is float
    assert cfg.detector.sustain_min == 4.5
    assert cfg.prompts.daily_cap == 2 and type(cfg.prompts.daily_cap) is int
    assert cfg.prompts.phrases_kindness == (
        "May I be kind to myself.",
        "May I give myself the compassion I need.",
    )
    assert cfg.prompts.reflection_time == time(17, 30)
    assert cfg.quiet_hours.start == time(22, 0) and cfg.quiet_hours.end == time(7, 30)
    assert cfg.storage.state_dir == Path.home() / "kp-state"
    assert cfg.logging.level == "debug"
    src = cfg.sources
    assert src["sensor.source"] == f"{f}:3" and src["sensor.speed"] == f"{f}:6"
    assert src["detector.window_s"] == f"{f}:9" and src["detector.sustain_min"] == f"{f}:10"
    assert src["prompts.phrases_kindness"] == f"{f}:14"
    assert src["prompts.reflection_time"] == f"{f}:18"
    assert src["logging.level"] == f"{f}:28"
    assert src["detector.step_s"] == "default" and src["prompts.cooldown_min"] == "default"
    assert cfg != default_config()


def test_datetimes_times_and_paths_in_their_other_spellings(tmp_path: Path) -> None:
    cfg = loads_config(
        "[sensor]\nstart = 2024-05-01T09:00:00+02:00\nreplay = '/data/rec.txt'\n"
        '[quiet_hours]\nstart = "06:00"\nend = "05:59"\n',
        base_dir=tmp_path,
    )
    assert cfg.sensor.start == datetime(2024, 5, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    assert cfg.sensor.replay == Path("/data/rec.txt")
    local = loads_config('[sensor]\nstart = "2024-05-01 09:00"\nreplay = ""')
    assert local.sensor.start == datetime(2024, 5, 1, 9) and local.sensor.replay is None


def test_quiet_hours_may_be_equal_when_switched_off() -> None:
    cfg = loads_config('[quiet_hours]\nstart = "22:00"\nend = "22:00"\nenabled = false\n')
    assert cfg.quiet_hours.enabled is False
    assert not cfg.quiet_hours.contains(time(22, 0))


def test_quiet_hours_span_midnight() -> None:
    q = default_config().quiet_hours
    assert q.contains(time(21, 0)) and q.contains(time(23, 59)) and q.contains(time(7, 59))
    assert not q.contains(time(8, 0)) and not q.contains(time(12, 0))
    day = loads_config('[quiet_hours]\nstart = "12:00"\nend = "13:00"').quiet_hours
    assert day.contains(time(12, 30)) and not day.contains(time(13, 0))


def test_replace_builtin_with_all_three_lists_is_fine() -> None:
    cfg = loads_config(
        '[prompts]\nreplace_builtin = true\nphrases_mindfulness = ["a"]\n'
        'phrases_humanity = ["b"]\nphrases_kindness = ["c"]\n'
    )
    assert cfg.prompts.replace_builtin and cfg.prompts.phrases_humanity == ("b",)


def test_checks_across_keys_set_in_an_inline_table() -> None:
    with pytest.raises(ConfigError) as info:
        loads_config(
            '\nprompts = { evening_reflection = true, reflection_time = "23:00" }', "c.toml"
        )
    assert str(info.value).startswith('c.toml:2: [prompts] reflection_time = "23:00": expected')


def test_enum_suggestions() -> None:
    for written, meant in [("simulator", "sim"), ("Replay", "replay"), ("warn", "warning")]:
        section, name = ("logging", "level") if meant == "warning" else ("sensor", "source")
        with pytest.raises(ConfigError, match=f'did you mean "{meant}"'):
            loads_config(f'[{section}]\n{name} = "{written}"')


def test_evening_reflection_outside_quiet_hours_is_fine() -> None:
    cfg = loads_config("[prompts]\nevening_reflection = true\n")
    assert cfg.prompts.evening_reflection and cfg.prompts.reflection_time == time(18, 0)


def test_empty_file_comments_and_a_byte_order_mark(tmp_path: Path) -> None:
    assert load_config(write(tmp_path / "empty.toml", "")) == default_config()
    f = tmp_path / "bom.toml"
    f.write_bytes(b'\xef\xbb\xbf# saved by an editor\n[logging]\nlevel = "error"\n')
    cfg = load_config(f)
    assert cfg.logging.level == "error" and cfg.sources["logging.level"] == f"{f}:3"


def test_environment_variable_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = write(tmp_path / "env.toml", "[prompts]\ndaily_cap = 1\n")
    explicit = write(tmp_path / "explicit.toml", "[prompts]\ndaily_cap = 2\n")
    monkeypatch.setenv(ENV_VAR, str(env_file))
    assert config_path() == (env_file, True)
    assert load_config().prompts.daily_cap == 1
    assert load_config(explicit).prompts.daily_cap == 2  # an explicit path wins
    monkeypatch.setenv(ENV_VAR, "")
    assert config_path()[1] is False  # empty = unset


def test_config_is_frozen() -> None:
    cfg = default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.detector.window_s = 30.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.prompts = cfg.prompts  # type: ignore[misc]


# -- commands --------------------------------------------------------------------------------


def test_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path / "c.toml", "[prompts]\ndaily_cap = 2\n")
    assert run("config", "check", str(f), capsys=capsys) == (0, f"{f}: ok\n", "")
    default = tmp_path / "xdg-config" / "kindpulse" / "config.toml"
    code, out, err = run("config", "check", capsys=capsys)
    assert code == 0 and out.startswith(f"{default}: ok") and err == ""


def test_check_of_a_missing_file_exits_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run("config", "check", str(tmp_path / "x.toml"), capsys=capsys)
    assert code == 78 and out == ""
    assert err == f"kindpulse: {tmp_path / 'x.toml'}: no such configuration file\n"


def test_show_lists_every_key_with_its_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path / "c.toml", '[detector]\nwindow_s = 90\n\n[quiet_hours]\nend = "07:00"\n')
    code, out, err = run("config", "show", "--config", str(f), capsys=capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == len(KEYS)
    pattern = re.compile(r"^\[([a-z_]+)\] ([a-z_]+) = (.+?) {4,}# (default|.+:\d+)$")
    for line, k in zip(lines, KEYS, strict=True):
        m = pattern.match(line)
        assert m and (m[1], m[2]) == (k.section, k.name), line
    assert {line.index("#") for line in lines} == {lines[0].index("#")}  # aligned
    by_key = {line.split(" = ")[0]: line for line in lines}
    assert by_key["[detector] window_s"].endswith(f"# {f}:2")
    assert re.match(r"\[detector\] window_s = 90\.0 +#", by_key["[detector] window_s"])
    assert by_key["[quiet_hours] end"].split("#")[0].rstrip().endswith('= "07:00"')
    assert by_key["[quiet_hours] end"].endswith(f"# {f}:5")
    assert re.match(r'\[sensor\] source = "ble" +# default$', by_key["[sensor] source"])
    assert by_key["[prompts] phrases_kindness"].startswith("[prompts] phrases_kindness = []")
    assert by_key["[sensor] start"].startswith('[sensor] start = ""')


def test_show_of_a_bad_file_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path / "c.toml", "[logging]\nlevel = 1\n")
    code, out, err = run("config", "show", "--config", str(f), capsys=capsys)
    assert code == 78 and out == "" and err.startswith(f"kindpulse: {f}:2: [logging] level = 1")


def test_init_writes_the_commented_defaults_0700_0600(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = os.umask(0o022)
    try:
        code, out, err = run("config", "init", capsys=capsys)
    finally:
        os.umask(old)
    f = tmp_path / "xdg-config" / "kindpulse" / "config.toml"
    assert code == 0 and err == "" and out.startswith(f"{f}: written")
    assert f.read_text(encoding="utf-8") == render_default_toml()
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE(f.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(f.parent.parent.stat().st_mode) == 0o700  # created by init too
    assert load_config() == default_config()


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path / "mine" / "c.toml", "[prompts]\ndaily_cap = 1\n")
    os.chmod(f.parent, 0o755)
    code, out, err = run("config", "init", "--config", str(f), capsys=capsys)
    assert code == 73 and out == ""
    assert err == (
        f"kindpulse: {f}: already exists; not overwritten (remove it first, or use --config "
        "FILE for another file)\n"
    )
    assert f.read_text(encoding="utf-8") == "[prompts]\ndaily_cap = 1\n"
    assert stat.S_IMODE(f.parent.stat().st_mode) == 0o755  # an existing folder is left alone
    link = tmp_path / "mine" / "link.toml"
    link.symlink_to(tmp_path / "mine" / "dangling")
    assert run("config", "init", "--config", str(link), capsys=capsys)[0] == 73
    assert not (tmp_path / "mine" / "dangling").exists()


def test_init_into_a_folder_it_cannot_create_exits_73(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = write(tmp_path / "file", "")
    code, _, err = run("config", "init", "--config", str(blocker / "c.toml"), capsys=capsys)
    assert code == 73 and "cannot be created" in err and err.count("\n") == 1


def test_init_with_a_strict_umask_still_gives_0600(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = os.umask(0o277)
    try:
        code, _, _ = run(
            "config", "init", "--config", str(tmp_path / "n" / "c.toml"), capsys=capsys
        )
    finally:
        os.umask(old)
    assert code == 0
    assert stat.S_IMODE((tmp_path / "n" / "c.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "n").stat().st_mode) == 0o700


def test_path_prints_the_file_that_would_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    default = tmp_path / "xdg-config" / "kindpulse" / "config.toml"
    assert run("config", "path", capsys=capsys) == (0, f"{default}\n", "")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "other.toml"))
    assert run("config", "path", capsys=capsys) == (0, f"{tmp_path / 'other.toml'}\n", "")


def test_config_without_an_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run("config", capsys=capsys)
    assert info.value.code == 2  # plain argparse here; the kindpulse parser exits 64


# -- through the installed command -------------------------------------------------------------


def test_analyze_with_a_bad_config_exits_78_with_one_line() -> None:
    bad = DATA / "bad_configs" / "typo_key.toml"
    p = subprocess.run(
        [KINDPULSE, "analyze", str(DATA / "nsrdb_5min.txt"), "--episodes", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 78, p.stderr
    assert p.stderr == f"kindpulse: {bad}:{expectation(bad)}\n"


def test_kindpulse_config_check_when_wired_in(tmp_path: Path) -> None:
    from kindpulse.daemon.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    if "config" not in sub.choices:
        pytest.skip("the 'config' command is not registered in kindpulse.daemon.cli yet")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop(ENV_VAR, None)
    bad = DATA / "bad_configs" / "number_is_true.toml"
    p = subprocess.run(
        [KINDPULSE, "config", "check", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 78 and p.stdout == ""
    assert p.stderr == f"kindpulse: {bad}:{expectation(bad)}\n"
    p = subprocess.run(
        [KINDPULSE, "config", "init"], capture_output=True, text=True, env=env, timeout=60
    )
    assert p.returncode == 0, p.stderr
    p = subprocess.run(
        [KINDPULSE, "config", "check"], capture_output=True, text=True, env=env, timeout=60
    )
    assert (p.returncode, p.stdout) == (0, f"{tmp_path / 'kindpulse' / 'config.toml'}: ok\n")


def test_retired_detector_keys_still_load_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A config written for the earlier movement-from-heart-rate rule keeps loading (the
    daemon must not stop on an upgrade); the keys are named as no longer used."""
    import logging

    with caplog.at_level(logging.WARNING, logger="kindpulse.config.loader"):
        cfg = loads_config(
            "[detector]\nmovement_ratio = 0\nmovement_hr_delta_bpm = 12\nsustain_min = 9\n",
            "old.toml",
        )
    assert cfg.detector.sustain_min == 9.0
    text = caplog.text
    assert "old.toml:2: [detector] movement_ratio is no longer used" in text
    assert "old.toml:3: [detector] movement_hr_delta_bpm is no longer used" in text
    with pytest.raises(ConfigError, match="unknown key"):
        loads_config("[detector]\nmovement_ratios = 0\n", "typo.toml")
