"""The client and evsectl against the command table: one method per command, help from the table."""

from __future__ import annotations

import inspect

import pytest

from supervisor.api.commands import COMMANDS
from supervisor.client import Client, reference
from supervisor.client.evsectl import main

NOT_COMMANDS = {"call", "close", "watch"}


def test_the_client_has_one_method_per_command_with_the_tables_arguments() -> None:
    methods = {name for name, _ in inspect.getmembers(Client, inspect.isfunction) if not name.startswith("_")}
    assert methods - NOT_COMMANDS == set(COMMANDS)
    for command in COMMANDS.values():
        parameters = list(inspect.signature(getattr(Client, command.name)).parameters.values())[1:]
        if command.scope == "evse":
            assert parameters.pop(0).name == "evse", command.name
        optional = {p.name: p.default is not inspect.Parameter.empty for p in parameters}
        assert optional == {name: arg.optional for name, arg in command.args.items()}, command.name


def test_the_clients_reference_is_the_tables() -> None:
    assert list(reference.commands()) == list(COMMANDS)
    assert reference.commands()["cancel_charging"]["args"]["reason"]["enum"][0] == "EmergencyStop"


def test_evsectl_help_names_every_command_with_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["call", "--help"])
    assert done.value.code == 0
    listed = capsys.readouterr().out
    for command in COMMANDS.values():
        assert f" {command.name}" in listed and command.doc in listed
    assert "EVSE cancel_charging reason=EmergencyStop|" in listed


def test_evsectl_help_of_one_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help", "reserve_now"]) == 0
    text = capsys.readouterr().out
    assert "expiry_date=DATE" in text and "[parent_id=STR]" in text and "Occupied" in text
    assert main(["help", "fly"]) == 2  # a usage error
    assert "no command 'fly'" in capsys.readouterr().err
