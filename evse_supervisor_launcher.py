"""The console scripts' entry points: make sure `supervisor` is evse-supervisor's before using it.

supervisord's import name is also `supervisor`. When another distribution's package is
the one Python finds (installed over ours, or earlier on `sys.path`), both commands say so
in one line and exit 1, instead of failing with a traceback deep inside an import.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import cast

EX_USAGE_ENV = 1
_ADVICE = (
    "install evse-supervisor in a virtual environment of its own "
    "(python3 -m venv .venv && .venv/bin/pip install evse-supervisor) or with pipx"
)


def station() -> int:
    """`evse-supervisor`: the station's command line."""
    return _run("evse-supervisor", "supervisor.cli.main")


def evsectl() -> int:
    """`evsectl`: the operator's client."""
    return _run("evsectl", "supervisor.client.evsectl")


def foreign_supervisor() -> str | None:
    """Why the importable `supervisor` package is not evse-supervisor's, or None when it is."""
    try:
        package = importlib.import_module("supervisor")
    except ImportError as exc:
        return f"the package 'supervisor' cannot be imported ({exc})"
    if getattr(package, "DISTRIBUTION", None) == "evse-supervisor":
        return None
    where = getattr(package, "__file__", None) or ", ".join(getattr(package, "__path__", []))
    return (
        f"the package 'supervisor' found at {where} is another distribution's (supervisord's has that name)"
    )


def _run(program: str, module_name: str) -> int:
    problem = foreign_supervisor()
    main: Callable[[], int] | None = None
    if problem is None:
        try:
            main = cast(Callable[[], int], importlib.import_module(module_name).main)
        except ImportError as exc:
            problem = f"evse-supervisor's package 'supervisor' is incomplete or mixed with another ({exc})"
    if main is None:
        print(f"{program}: {problem}; {_ADVICE}", file=sys.stderr)
        return EX_USAGE_ENV
    return main()
