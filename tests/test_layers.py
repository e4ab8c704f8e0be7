"""Imports point one way: drivers ← actors ← supervisor; only supervisor knows the outside world."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUTSIDE_WORLD = {"zmq", "msgpack", "yaml", "psutil", "rich"}
FORBIDDEN = {
    "drivers": {"actors", "supervisor", "pykka"} | OUTSIDE_WORLD,
    "actors": {"supervisor"} | OUTSIDE_WORLD,
}


def imported_roots(path: pathlib.Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    offences = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[layer])
        for path in (ROOT / layer).rglob("*.py")
    }
    assert {name: roots for name, roots in offences.items() if roots} == {}
