"""Configuration: TOML loading, validation, and the documented defaults."""
