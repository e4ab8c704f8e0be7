"""One connector of real actors on the real simulator, driven by a fake clock and explicit ticks.

It is assembled as the station assembles its connectors (`supervisor.station.assembly`),
its actors on a `Team` instead of under a supervisor.
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass
from typing import Any

import jsonschema

from actors.messages import Tick
from actors.settings import ConnectorSettings
from drivers.clock import FakeClock
from supervisor.station.assembly import ROLES, Team, assemble
from supervisor.tree import Ping, SupervisionSettings, answer

SCHEMA_PATH = pathlib.Path(__file__).resolve().parents[2] / "shared" / "schemas" / "evse_manager.schema.json"
if not SCHEMA_PATH.exists():  # a checkout with shared/ beside it, or the copy the tests keep
    SCHEMA_PATH = pathlib.Path(__file__).resolve().parent / "data" / "evse_manager.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
DEVICE_LOSS_S = SupervisionSettings().device_loss_s
VARIABLE_TYPES = {
    "session_events": "SessionEvents",
    "limits": "Limits",
    "telemetry": "Telemetry",
    "powermeter": "Powermeter",
    "evse_id": "EvseId",
}


def validate(type_name: str, value: Any) -> None:
    """Validate a payload against the contract's JSON Schema."""
    jsonschema.validate(value, {"$ref": f"#/$defs/{type_name}", "$defs": SCHEMA["$defs"]})


@dataclass
class Publication:
    variable: str
    value: Any
    event_seq: int | None


class Recorder:
    """A Publisher that keeps every publication, each validated against the schema."""

    def __init__(self) -> None:
        self.publications: list[Publication] = []

    def publish(self, variable: str, value: Any, *, event_seq: int | None = None) -> None:
        validate(VARIABLE_TYPES[variable], value)
        self.publications.append(Publication(variable, value, event_seq))

    def values(self, variable: str) -> list[Any]:
        return [p.value for p in self.publications if p.variable == variable]


class Rig:
    """A connector as the station assembles it, its four actors on a team; `settle()` lets it react."""

    def __init__(self, **overrides: Any) -> None:
        self.clock = FakeClock()
        self.settings = ConnectorSettings(index=1, evse_id="DE*TST*E1*1", **overrides)
        self.recorder = Recorder()
        parts = assemble(self.settings, self.recorder, self.clock, device_loss_s=DEVICE_LOSS_S)
        self.plant, self.state = parts.plant, parts.state
        self.car = self.plant.controls
        self.roster = Team(parts.ctx)
        self.roster.start()
        self.settle()

    def tick(self, seconds: float = 0.0) -> None:
        """Advance the clock, tick every actor, and wait until each has handled it."""
        self.clock.advance(seconds)
        for role, _ in ROLES:
            self.roster.tell(role, Tick())
        for role, _ in ROLES:
            self.roster.ask(role, Ping(), 5.0)
        self.roster.ask("session", Ping(), 5.0)  # what the others told it meanwhile

    def settle(self, rounds: int = 4) -> None:
        """Tick until the car, the board and the actors agree (a few control cycles)."""
        for _ in range(rounds):
            self.tick()

    def ask(self, message: object) -> Any:
        """Ask the session actor, let the connector react, then its answer (also one it gives later)."""
        result = self.roster.ask("session", message, 10.0)
        self.settle()
        return answer(result, 10.0)

    def events(self) -> list[str]:
        return [value["event"] for value in self.recorder.values("session_events")]

    def event_values(self, name: str) -> list[dict[str, Any]]:
        return [v for v in self.recorder.values("session_events") if v["event"] == name]

    def mark(self) -> int:
        """How many session events were published so far (to slice `events()` later)."""
        return len(self.events())

    def since(self, mark: int) -> list[str]:
        return self.events()[mark:]

    def energy_wh(self) -> float:
        return self.plant.meter.reading().energy_import_wh

    def stop(self) -> None:
        self.roster.stop()
