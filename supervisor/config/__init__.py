"""The station's configuration: YAML read with lines and key paths, validated into settings."""

from supervisor.config.loader import (
    DEFAULT_CONFIG_NAME,
    apply_overrides,
    describe,
    load_config,
    parse_config,
)
from supervisor.config.settings import ApiSettings, SimSettings, StationSettings
from supervisor.config.yaml_reader import ConfigError

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "ApiSettings",
    "ConfigError",
    "SimSettings",
    "StationSettings",
    "apply_overrides",
    "describe",
    "load_config",
    "parse_config",
]
