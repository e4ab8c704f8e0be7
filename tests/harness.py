"""One connector of real actors on the real simulator, driven by a fake clock and explicit ticks."""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass
from typing import Any

import jsonschema

from actors.base import ConnectorActor, ConnectorContext
from actors.hardware import HardwareActor
from actors.messages import Tick
from actors.meter import MeterActor
from actors.peers import Roster
from actors.reservation import ReservationActor
from actors.session import SessionActor
from actors.settings import ConnectorSettings
from actors.state import ConnectorState
from drivers.base import BoardCapabilities
from drivers.clock import FakeClock
from drivers.sim import SimPlant
from supervisor.tree import Lease, Ping, answer

SCHEMA_PATH = pathlib.Path(__file__).resolve().parents[2] / "shared" / "schemas" / "evse_manager.schema.json"
if not SCHEMA_PATH.exists():  # a checkout with shared/ beside it, or the copy the tests keep
    SCHEMA_PATH = pathlib.Path(__file__).resolve().parent / "data" / "evse_manager.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
VARIABLE_TYPES = {
    "session_events": "SessionEvents",
    "limits": "Limits",
    "telemetry": "Telemetry",
    "powermeter": "Powermeter",
    "evse_id": "EvseId",
}
ROLES: tuple[tuple[str, type[ConnectorActor]], ...] = (
    ("hardware", HardwareActor),
    ("meter", MeterActor),
    ("reservation", ReservationActor),
    ("session", SessionActor),
)


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
    """A connector: settings, simulator, state, the four actors; `settle()` lets it react."""

    def __init__(self, **overrides: Any) -> None:
        self.clock = FakeClock()
        self.settings = ConnectorSettings(index=1, evse_id="DE*TST*E1*1", **overrides)
        caps = BoardCapabilities(
            self.settings.max_current_a,
            self.settings.phases,
            self.settings.phase_switching,
            self.settings.lock,
        )
        self.plant = SimPlant(caps, self.clock)
        self.car = self.plant.controls
        self.recorder = Recorder()
        self.state = ConnectorState(self.settings, self.recorder)
        self.roster = Roster()
        self.ctx = ConnectorContext(
            self.settings, self.plant.board, self.plant.meter, self.clock, self.state, self.roster
        )
        self.leases: dict[str, Lease] = {}
        for role, actor_class in ROLES:
            self.start(role, actor_class)
        self.settle()

    def start(self, role: str, actor_class: type[ConnectorActor], generation: int = 1) -> None:
        lease = Lease(role, generation)
        self.leases[role] = lease
        self.roster.refs[role] = actor_class.start(self.ctx, lease)
        self.roster.ask(role, Ping(), 5.0)  # on_start has run

    def tick(self, seconds: float = 0.0) -> None:
        """Advance the clock, tick every actor, and wait until each has handled it."""
        self.clock.advance(seconds)
        for role, _ in ROLES:
            self.roster.tell(role, Tick())
        for role, _ in ROLES:
            self.roster.ask(role, Ping(), 5.0)
        self.roster.ask("session", Ping(), 5.0)

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
        for role, _ in reversed(ROLES):
            ref = self.roster.refs.get(role)
            if ref is not None and ref.is_alive():
                ref.stop(timeout=5)
