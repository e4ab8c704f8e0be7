"""station.grid and connectors[].phase_rotation in the configuration file."""

from __future__ import annotations

import pytest

from supervisor.config import ConfigError, parse_config
from supervisor.energy import GridSettings

STATION = """
station:
  grid: {grid}
connectors:
  - evse_id: A
    phase_rotation: {rotation}
  - evse_id: B
"""


def test_the_grid_and_the_rotations_are_read_with_their_defaults() -> None:
    settings = parse_config(
        STATION.format(grid="{max_current_a: 63, phases: 3, update_interval_s: 2}", rotation="STR")
    )
    assert settings.grid == GridSettings(max_current_a=63.0, phases=3, update_interval_s=2.0)
    assert [c.phase_rotation for c in settings.connectors] == ["STR", "RST"]
    assert parse_config("connectors: [{evse_id: A}]").grid == GridSettings()  # no station limit


@pytest.mark.parametrize(
    ("grid", "rotation", "key", "words"),
    [
        ("{max_current_a: -5}", "RST", "station.grid.max_current_a", "from 0 to 10000"),
        ("{max_current_a: 63A}", "RST", "station.grid.max_current_a", "must be a number"),
        ("{phases: 2}", "RST", "station.grid.phases", "must be 1 or 3"),
        ("{update_interval_s: 0}", "RST", "station.grid.update_interval_s", "from 0.05"),
        ("{fuse: 63}", "RST", "station.grid.fuse", "unknown key"),
        ("{}", "RSS", "connectors[0].phase_rotation", "must be one of RST, RTS"),
        ("{}", "12", "connectors[0].phase_rotation", "must be a string"),
    ],
)
def test_a_wrong_grid_value_names_the_key_the_line_and_what_is_allowed(
    grid: str, rotation: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(STATION.format(grid=grid, rotation=rotation), "station.yaml")
    assert refused.value.key == key
    assert refused.value.line is not None
    assert words in refused.value.message
