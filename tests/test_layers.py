"""Imports point one way: drivers ← supervisor.tree ← actors ← the rest of supervisor.

`drivers/` knows nothing of ours (a driver may speak its device's transport); the generic
supervision layer (`supervisor.tree`) knows pykka alone; `actors/` knows the drivers'
contracts and the supervision layer, never the outside world (ZeroMQ, MessagePack, YAML,
psutil) nor the rest of `supervisor/`. The client and evsectl speak the wire, never the
station's insides.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUTSIDE_WORLD = {"zmq", "msgpack", "yaml", "psutil", "rich", "sqlite3", "websockets", "ocpp", "pymodbus"}
SUPERVISOR_ABOVE_TREE = {
    "supervisor.station",
    "supervisor.config",
    "supervisor.api",
    "supervisor.client",
    "supervisor.cli",
    "supervisor.energy",
}
FORBIDDEN: dict[str, set[str]] = {
    "drivers": {"actors", "supervisor", "pykka"} | OUTSIDE_WORLD,
    "supervisor/tree": {"actors", "drivers"} | SUPERVISOR_ABOVE_TREE | OUTSIDE_WORLD,
    "actors": SUPERVISOR_ABOVE_TREE | OUTSIDE_WORLD,
    "supervisor/client": {"actors", "drivers", "supervisor.station", "supervisor.tree", "supervisor.cli"},
}
# A driver speaks its device's transport: Modbus, or the plant process's ZeroMQ and MessagePack.
TRANSPORTS: dict[str, set[str]] = {"drivers/modbus": {"pymodbus"}, "drivers/sim": {"zmq", "msgpack"}}
EXCLUSIVE = {"pymodbus"}  # spoken by its driver alone (ZeroMQ is also the API's)
PRODUCT = ("drivers", "actors", "supervisor")


def imported_modules(path: pathlib.Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def offending(modules: set[str], forbidden: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


def forbidden_for(layer: str, path: pathlib.Path) -> set[str]:
    allowed = set().union(*(t for folder, t in TRANSPORTS.items() if path.is_relative_to(ROOT / folder)))
    return FORBIDDEN[layer] - allowed


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    offences = {
        str(path.relative_to(ROOT)): offending(imported_modules(path), forbidden_for(layer, path))
        for path in (ROOT / layer).rglob("*.py")
    }
    assert {name: found for name, found in offences.items() if found} == {}


@pytest.mark.parametrize(
    ("folder", "transport"), sorted((f, m) for f, t in TRANSPORTS.items() for m in t & EXCLUSIVE)
)
def test_only_its_driver_speaks_a_transport(folder: str, transport: str) -> None:
    speakers = {
        str(path.relative_to(ROOT))
        for top in PRODUCT
        for path in (ROOT / top).rglob("*.py")
        if offending(imported_modules(path), {transport})
    }
    assert speakers and all(pathlib.Path(s).is_relative_to(folder) for s in speakers), speakers


def test_the_rule_catches_an_offence() -> None:
    assert offending({"supervisor.station.bus", "supervisor.tree"}, FORBIDDEN["actors"]) == [
        "supervisor.station.bus"
    ]
    assert offending({"supervisor.treehouse"}, {"supervisor.tree"}) == []
