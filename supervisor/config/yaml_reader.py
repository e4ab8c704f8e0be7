"""The configuration file as read: YAML nodes with their lines, typed getters, ConfigError.

`Doc` composes the YAML node tree (keeping every node's line) and `Map` reads one mapping
of it with the key path that errors name, e.g. `connectors[1].max_current_a`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_T = TypeVar("_T")


class ConfigError(Exception):
    """A configuration mistake, located by file, line (1-based) and key path."""

    def __init__(self, path: str, line: int | None, key: str, message: str) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.message = message
        where = [path] if path else []
        if line is not None:
            where.append(str(line))
        parts = [":".join(where)] if where else []
        super().__init__(": ".join([*parts, *([key] if key else []), message]))


@dataclass(frozen=True)
class Range:
    """Allowed numbers: from ``low`` (excluded when ``low_open``) up to ``high``."""

    low: float
    high: float | None = None
    low_open: bool = False

    def holds(self, x: float) -> bool:
        above = x > self.low if self.low_open else x >= self.low
        return math.isfinite(x) and above and (self.high is None or x <= self.high)

    def text(self) -> str:
        if self.high is not None and not self.low_open:
            return f"from {num(self.low)} to {num(self.high)}"
        low = f"greater than {num(self.low)}" if self.low_open else f"at least {num(self.low)}"
        return low if self.high is None else f"{low} and at most {num(self.high)}"


def num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


POSITIVE = Range(0, low_open=True)
INTERVAL = Range(0.05, 3600)


class Doc:
    """One composed YAML document: turns scalar nodes into values and marks into errors."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        try:
            self._loader = yaml.SafeLoader(text)
            self.root = self._loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "unreadable"
            raise ConfigError(source, line, "", f"invalid YAML: {problem}") from None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            char = exc.character
            shown = f"#x{char:04x}" if isinstance(char, int) else repr(char)
            message = f"invalid YAML: character {shown} is not allowed ({exc.reason})"
            raise ConfigError(source, line, "", message) from None

    def close(self) -> None:
        self._loader.dispose()

    def error(self, node: Node | None, key: str, message: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else None
        return ConfigError(self.source, line, key, message)

    def value(self, node: Node, key: str) -> object:
        """The Python value of a scalar node; collections come back as the node itself."""
        if not isinstance(node, ScalarNode):
            return node
        try:
            return self._loader.construct_object(node)
        except yaml.MarkedYAMLError as exc:
            raise self.error(node, key, f"cannot read this value: {exc.problem}") from None


def got(node: Node, value: object) -> str:
    if isinstance(node, MappingNode):
        return "a map"
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return str(node.value) or "null"


class Map:
    """A YAML mapping at ``path`` whose keys must all be in ``allowed``, each at most once."""

    def __init__(self, doc: Doc, node: Node | None, path: str, allowed: tuple[str, ...]) -> None:
        self.doc, self.path = doc, path
        self.node: Node | None = node
        self.entries: dict[str, Node] = {}
        if node is None or (isinstance(node, ScalarNode) and doc.value(node, path) is None):
            return
        if not isinstance(node, MappingNode):
            raise doc.error(node, path, f"must be a map with keys {', '.join(allowed)}; got {got(node, '')}")
        for key_node, value_node in node.value:
            self._add(key_node, value_node, allowed)

    def _add(self, key_node: Node, value_node: Node, allowed: tuple[str, ...]) -> None:
        name = str(key_node.value) if isinstance(key_node, ScalarNode) else got(key_node, "")
        if name not in allowed:
            message = f"unknown key {name!r}; allowed: {', '.join(allowed)}"
            raise self.doc.error(key_node, self.key(name), message)
        if name in self.entries:
            first = self.entries[name].start_mark.line + 1
            raise self.doc.error(key_node, self.key(name), f"duplicate key {name!r} (first on line {first})")
        self.entries[name] = value_node

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, message: str) -> ConfigError:
        """An error about key ``name``, on its line (or the map's when it is absent)."""
        return self.doc.error(self.entries.get(name, self.node), self.key(name), message)

    def require(self, name: str) -> Node:
        if name not in self.entries:
            raise self.doc.error(self.node, self.key(name), f"missing required key {name!r}")
        return self.entries[name]

    def section(self, name: str, allowed: tuple[str, ...]) -> Map:
        return Map(self.doc, self.entries.get(name), self.key(name), allowed)

    def number(self, name: str, default: float, allowed: Range) -> float:
        if name not in self.entries:
            return default
        node = self.entries[name]
        value = self.doc.value(node, self.key(name))
        if isinstance(value, int | float) and not isinstance(value, bool) and allowed.holds(value):
            return float(value)
        message = f"must be a number {allowed.text()}, got {got(node, value)}"
        raise self.doc.error(node, self.key(name), message)

    def integer(self, name: str, default: int, allowed: Range) -> int:
        value = self._typed(name, default, int, f"a whole number {allowed.text()}")
        if not allowed.holds(value):
            message = f"must be a whole number {allowed.text()}, got {value}"
            raise self.fail(name, message)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._typed(name, default, bool, "true or false")
        node = self.entries.get(name)
        if isinstance(node, ScalarNode) and node.value.lower() not in ("true", "false"):
            raise self.doc.error(node, self.key(name), f"must be true or false, got {node.value!r}")
        return value

    def string(self, name: str, default: str) -> str:
        return self._typed(name, default, str, "a string")

    def _typed(self, name: str, default: _T, kind: type[_T], what: str) -> _T:
        if name not in self.entries:
            return default
        node = self.entries[name]
        value = self.doc.value(node, self.key(name))
        if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            return value
        raise self.doc.error(node, self.key(name), f"must be {what}, got {got(node, value)}")
