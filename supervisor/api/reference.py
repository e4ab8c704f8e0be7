"""The wire reference of the commands, generated from the command table.

    python -m supervisor.api.reference > docs/commands.md
    python -m supervisor.api.reference --json > supervisor/client/commands.json

The Markdown is the reference a client in any language is written from; the JSON (the
`list_commands` result) is what the Python client and `evsectl help` read. A test fails
when either checked-in file is not what this prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from supervisor.api.commands import COMMANDS, Arg, Command, describe, list_commands

_INTRO = """\
# Commands

Generated from the command table (`supervisor/api/commands.py`) by
`python -m supervisor.api.reference`; do not edit by hand. The envelope, the error codes
and the publications are in [wire.md](wire.md).

A request names the command in `cmd`, a connector in `evse` (its 1-based index or its
`evse_id`) for connector commands, and the arguments by name in `args`. Unknown, missing
or mistyped arguments are answered `bad_args`, never given a silent default.
"""
_SECTIONS: tuple[tuple[str, Callable[[Command], bool]], ...] = (
    ("Station commands", lambda c: c.scope == "station"),
    ("Connector commands", lambda c: c.scope == "evse" and c.only is None),
    ("Simulation commands (a simulated board only, else `forbidden`)", lambda c: c.only == "sim"),
    ("Chaos commands (with `chaos: true` or `--chaos` only, else `forbidden`)", lambda c: c.only == "chaos"),
)


def markdown() -> str:
    parts = [_INTRO]
    for title, belongs in _SECTIONS:
        parts.append(f"\n## {title}\n")
        parts.extend(_command(command) for command in COMMANDS.values() if belongs(command))
    return "".join(parts)


def _command(command: Command) -> str:
    lines = [f"\n### `{command.name}`\n", f"\n{command.doc}\n\n"]
    if command.args:
        lines.append("| argument | type | doc |\n|---|---|---|\n")
        lines.extend(f"| `{name}` | {_arg_type(arg)} | {arg.doc} |\n" for name, arg in command.args.items())
        lines.append("\n")
    else:
        lines.append("No arguments.\n\n")
    result = f"`{command.result}`"
    if command.result_enum is not None:
        result += ": " + ", ".join(f"`{value}`" for value in command.result_enum)
    lines.append(f"Result: {result}.\n")
    return "".join(lines)


def _arg_type(arg: Arg) -> str:
    words = describe(arg).replace("|", "\\|")
    return f"{words} (optional)" if arg.optional else words


def reference_json() -> str:
    return json.dumps(list_commands(), indent=1, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supervisor.api.reference", description=__doc__)
    parser.add_argument("--json", action="store_true", help="the list_commands JSON instead of Markdown")
    options = parser.parse_args(argv)
    sys.stdout.write(reference_json() if options.json else markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
