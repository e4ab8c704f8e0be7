"""`evsectl call` by the command table, its help, and completion scripts made from the table."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess

import pytest

from supervisor.api.commands import COMMANDS
from supervisor.client.completion import SUBCOMMANDS
from supervisor.client.options import parser
from tests.supervisor.client.stations import StationProcess, evsectl


def test_values_take_the_tables_types_a_digit_only_token_stays_a_string(station: StationProcess) -> None:
    assert evsectl(*station.flags(), "call", "1", "sim_plug_in", "soc=0.5", "phases=1").returncode == 0
    done = evsectl(*station.flags(), "call", "1", "authorize", "auth_token=1234")
    assert (done.returncode, done.stdout.strip()) == (0, "true"), done.stderr
    limit = evsectl(*station.flags(), "call", "1", "set_local_max_current", "max_current=16")
    assert (limit.returncode, limit.stdout.strip()) == (0, "Success"), limit.stderr
    switch = evsectl(
        *station.flags(), "--json", "call", "2", "switch_three_phases_while_charging", "three_phases=false"
    )
    assert switch.returncode == 0 and json.loads(switch.stdout) == "Error_NotCharging"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["call", "1", "reserve_now"], "missing reservation_id, auth_token, expiry_date"),
        (["call", "1", "authorise", "auth_token=1"], "did you mean 'authorize'?"),
        (["call", "1", "authorize", "auth_tokn=1"], "did you mean 'auth_token'?"),
        (["call", "1", "set_local_max_current", "max_current=lots"], "must be a finite number, got 'lots'"),
        (["call", "1", "sim_plug_in", "phases=3.0"], "must be an integer"),
        (["call", "-", "enable"], "connector command"),
        (["call", "1", "ping"], "station command"),
    ],
)
def test_a_wrong_call_is_a_usage_error_that_says_what_to_do(argv: list[str], said: str) -> None:
    done = evsectl("--endpoint", "tcp://127.0.0.1:9", *argv)  # refused before anything is sent
    assert done.returncode == 2 and said in done.stderr, done.stderr


def test_call_help_and_help_command_come_from_the_table() -> None:
    listed = evsectl("call", "--help")
    assert listed.returncode == 0
    assert all(f" {name}" in listed.stdout for name in COMMANDS)
    one = evsectl("help", "authorize")
    assert one.returncode == 0 and "auth_token: str" in one.stdout
    assert evsectl("help", "authorise").returncode == 2


def complete(line: str) -> list[str]:
    """What bash completes for `line` (ending where the cursor is) with evsectl's script."""
    script = evsectl("completion", "bash").stdout
    program = f"""{script}
COMP_LINE='{line}'; COMP_POINT={len(line)}
_evsectl; printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completion_is_valid_and_completes_from_the_table() -> None:
    script = evsectl("completion", "bash").stdout
    checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert complete("evsectl st") == ["status"]
    assert complete("evsectl --json call 1 auth") == ["authorize"]
    assert "EmergencyStop" in complete("evsectl call 1 cancel_charging reason=")  # after bash's = break
    assert complete("evsectl call 1 cancel_charging reason=Emer") == ["EmergencyStop"]
    every = ["status", "list", "call", "watch", "help", "top", "restart", "reload", "logs", "completion"]
    assert complete("evsectl ") == every
    assert complete("evsectl call 1 authorize pa") == ["parent_id="]


@pytest.mark.skipif(
    shutil.which("zsh") is None, reason="zsh is not installed here: its script is not checked"
)
def test_zsh_completion_is_valid() -> None:
    script = evsectl("completion", "zsh").stdout
    checked = subprocess.run(["zsh", "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "sim_plug_in)" in script and "compdef _evsectl evsectl" in script


def test_completion_knows_every_subcommand() -> None:
    subparsers = next(a for a in parser("")._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(SUBCOMMANDS) == sorted(subparsers.choices)
