"""The YAML the station ships: the default station, examples and device models.

The repository keeps them in its top-level `config/` folder (data only, never an importable
package); a wheel installs that folder as `supervisor/defaults/`. An editable install or a
source checkout reads the repository's folder directly.
"""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path

_INSTALLED = "defaults"
_REPOSITORY = Path(__file__).resolve().parents[2] / "config"


def shipped(*parts: str) -> Traversable:
    """The shipped file or folder at `parts` under `config/` (e.g. `"examples", "eight-connectors.yaml"`)."""
    installed = importlib.resources.files("supervisor").joinpath(_INSTALLED)
    root: Traversable = installed if installed.is_dir() else _REPOSITORY
    return root.joinpath(*parts)
