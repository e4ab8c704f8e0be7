"""The command table: arguments match what they become, every route is served, the reference is current."""

from __future__ import annotations

import dataclasses
import inspect
import json
import pathlib

import pytest

from drivers.sim import SimControls
from supervisor.api.commands import COMMANDS, Command, check_args, message_of
from supervisor.api.reference import markdown, reference_json
from supervisor.api.station_commands import StationCommands

ROOT = pathlib.Path(__file__).resolve().parents[3]
MESSAGE_ROUTES = ("session", "chaos")


def message_fields(command: Command) -> dict[str, bool]:
    """Field name → optional, of the message (or the simulator control) a command becomes."""
    if command.route == "sim":
        control = getattr(SimControls, command.name.removeprefix("sim_"))
        parameters = list(inspect.signature(control).parameters.values())[1:]
        return {p.name: p.default is not inspect.Parameter.empty for p in parameters}
    assert command.message is not None and dataclasses.is_dataclass(command.message)
    return {
        f.name: f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        for f in dataclasses.fields(command.message)
    }


@pytest.mark.parametrize("name", [c.name for c in COMMANDS.values() if c.route in (*MESSAGE_ROUTES, "sim")])
def test_every_argument_is_a_field_of_what_the_command_becomes(name: str) -> None:
    command = COMMANDS[name]
    args = {arg_name: arg.optional for arg_name, arg in command.args.items()}
    if command.route == "chaos":
        assert args.pop("actor", False) is False  # the address (none: the supervisor), not a field
    assert args == message_fields(command)


def test_routes_name_what_carries_them_out() -> None:
    for command in COMMANDS.values():
        assert (command.message is not None) == (command.route in MESSAGE_ROUTES), command.name
        assert (command.scope == "station") == (command.route in ("socket", "station")), command.name
        assert command.name.startswith("sim_") == (command.route == "sim") == (command.only == "sim")
        chaos_route = command.route in ("chaos", "worker")
        assert command.name.startswith("chaos_") == chaos_route == (command.only == "chaos"), command.name
        assert command.doc and command.doc.endswith("."), command.name
        if command.scope == "station":
            assert callable(getattr(StationCommands, command.name, None)), command.name


def test_a_checked_request_becomes_its_message() -> None:
    reserve = COMMANDS["reserve_now"]
    args = check_args(
        reserve, {"reservation_id": 3, "auth_token": "T", "expiry_date": "2030-01-01T00:00:00Z"}
    )
    message = message_of(reserve, args)
    assert message == reserve.message(3, "T", 1893456000.0)  # type: ignore[misc]
    hang = COMMANDS["chaos_hang"]
    assert message_of(hang, check_args(hang, {"actor": "meter", "seconds": 2})) == hang.message(2)  # type: ignore[misc]


def test_the_checked_in_references_are_current() -> None:
    """Regenerate with `python -m supervisor.api.reference > docs/commands.md` (and `--json`)."""
    assert (ROOT / "docs" / "commands.md").read_text() == markdown()
    assert (ROOT / "supervisor" / "client" / "commands.json").read_text() == reference_json()
    assert [entry["name"] for entry in json.loads(reference_json())] == list(COMMANDS)
