"""Configuration: TOML loading and validation, the typed result, and the documented defaults.

``load_config()`` reads the one TOML file (``~/.config/kindpulse/config.toml``, or
``$KINDPULSE_CONFIG``, or a named file) into a frozen :class:`Config`; ``config/schema.py``
holds the table of every key; ``default.toml`` is rendered from it.
"""

from .loader import ENV_VAR, config_path, default_config, load_config, loads_config
from .schema import (
    KEYS,
    Config,
    DetectorSection,
    LoggingSection,
    PromptsSection,
    QuietHoursSection,
    SensorSection,
    StorageSection,
    render_default_toml,
)

__all__ = [
    "ENV_VAR",
    "KEYS",
    "Config",
    "DetectorSection",
    "LoggingSection",
    "PromptsSection",
    "QuietHoursSection",
    "SensorSection",
    "StorageSection",
    "config_path",
    "default_config",
    "load_config",
    "loads_config",
    "render_default_toml",
]
