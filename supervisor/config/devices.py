"""Device models (YAML, one file per model) and the Modbus devices a connector names.

A model is shipped under `config/devices/NAME.yaml` or given by a path (relative to the
station's file). Every mistake in it is a ConfigError naming the model file, the line and
the key, as for the station's own file.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from drivers.base import BoardCapabilities
from drivers.modbus import (
    FUNCTIONS,
    TYPES,
    VALUES,
    WORDS,
    DeviceModel,
    ModbusDevice,
    Register,
    board_capabilities,
    parse_endpoint,
)
from drivers.modbus.model import Function, Kind, RegisterType, ValueSpec, WordOrder
from supervisor.config.settings import StationSettings
from supervisor.config.shipped import shipped
from supervisor.config.yaml_reader import POSITIVE, ConfigError, Doc, Map, Range, got, num

MODEL_KEYS = ("model", "description", "unit", "word_order", "connector_offset", "max_gap", "board", "meter")
REGISTER_KEYS = (
    "address",
    "register",
    "function",
    "type",
    "count",
    "words",
    "word_order",
    "scale",
    "values",
    "invalid",
)
BOARD_KEYS = (
    "driver",
    "model",
    "endpoint",
    "unit",
    "connector",
    "timeout_s",
    "poll_interval_s",
    "telemetry_interval_s",
)
METER_KEYS = ("driver", "model", "endpoint", "unit", "connector", "timeout_s", "interval_s")
MODBUS_ONLY = ("model", "endpoint", "unit", "connector", "timeout_s", "poll_interval_s")
_WORD_ORDERS = ("big", "little")
_ADDRESS = Range(0, 65535)


def shipped_models() -> list[str]:
    folder = shipped("devices")
    return sorted(item.name.removesuffix(".yaml") for item in folder.iterdir() if item.name.endswith(".yaml"))


def modbus_device(section: Map, kind: Kind, config_dir: Path | None) -> ModbusDevice:
    """The Modbus device a connector's `board` or `meter` section names (driver: modbus)."""
    model = _model(section, kind, config_dir)
    endpoint_text = section.string("endpoint", "")
    section.require("endpoint")
    try:
        endpoint = parse_endpoint(endpoint_text)
    except ValueError as exc:
        raise section.fail("endpoint", str(exc)) from None
    return ModbusDevice(
        kind=kind,
        model=model,
        endpoint=endpoint,
        unit=section.integer("unit", model.unit, Range(0, 255)),
        connector=section.integer("connector", 1, Range(0, 64)),
        timeout_s=section.number("timeout_s", 0.5, Range(0.01, 30)),
        poll_interval_s=section.number("poll_interval_s", 0.1, Range(0.01, 60)),
    )


def refuse_modbus_keys(section: Map) -> None:
    """A sim driver takes none of the Modbus keys."""
    for name in MODBUS_ONLY:
        if name in section.entries:
            raise section.fail(name, f"only with driver: modbus (the sim driver has no {name})")


def _model(section: Map, kind: Kind, config_dir: Path | None) -> DeviceModel:
    name = section.string("model", "")
    section.require("model")
    path = _model_path(name, config_dir)
    if path is None:
        known = ", ".join(shipped_models())
        raise section.fail(
            "model", f"unknown model {name!r}: shipped models are {known}, or give a file path"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise section.fail("model", f"cannot read the model file {path}: {exc.strerror or exc}") from None
    model = parse_model(text, str(path), name)
    if not model.registers(kind):
        raise section.fail("model", f"model {name!r} ({path}) has no {kind} registers")
    return model


def load_model(name: str, config_dir: Path | None = None) -> DeviceModel:
    """A shipped model by its name, or a model file by its path; ConfigError when it is not right."""
    path = _model_path(name, config_dir)
    if path is None:
        raise ConfigError(
            "", None, "model", f"unknown model {name!r}: shipped models are {', '.join(shipped_models())}"
        )
    return parse_model(path.read_text(encoding="utf-8"), str(path), name)


def _model_path(name: str, config_dir: Path | None) -> Path | None:
    if "/" in name or name.endswith((".yaml", ".yml")):
        path = Path(name)
        return path if path.is_absolute() or config_dir is None else config_dir / path
    if name not in shipped_models():
        return None
    return Path(str(shipped("devices", f"{name}.yaml")))


def parse_model(text: str, source: str, name: str) -> DeviceModel:
    """Validate a model file's text; `source` names it in errors."""
    doc = Doc(text, source)
    try:
        if not isinstance(doc.root, MappingNode):
            raise ConfigError(
                source, 1, "", f"a device model must be a map with keys {', '.join(MODEL_KEYS)}"
            )
        top = Map(doc, doc.root, "", MODEL_KEYS)
        word_order = _choice(top, "word_order", "big", _WORD_ORDERS)
        model = DeviceModel(
            name=top.string("model", Path(name).stem),
            source=source,
            unit=top.integer("unit", 1, Range(0, 255)),
            connector_offset=top.integer("connector_offset", 0, Range(0, 10000)),
            max_gap=top.integer("max_gap", 0, Range(0, 100)),
            board=_registers(top.section("board", tuple(VALUES["board"])), "board", word_order),
            meter=_registers(top.section("meter", tuple(VALUES["meter"])), "meter", word_order),
        )
        if not model.board and not model.meter:
            raise top.fail("board", "a device model needs a board or a meter section")
        return model
    finally:
        doc.close()


def _registers(section: Map, kind: Kind, word_order: str) -> dict[str, Register]:
    if not section.entries:
        return {}
    specs = VALUES[kind]
    for value, spec in specs.items():
        if spec.required and value not in section.entries:
            raise section.fail(value, f"missing {value} ({spec.doc}): the {kind} contract needs it")
    return {
        value: _register(section.section(value, REGISTER_KEYS), value, specs[value], word_order)
        for value in section.entries
    }


def _register(reg: Map, value: str, spec: ValueSpec, default_order: str) -> Register:
    function = _choice(reg, "function", "holding", FUNCTIONS)
    kind = cast(RegisterType, _choice(reg, "type", "uint16", TYPES))
    if spec.written and (function != "holding" or kind not in ("uint16", "int16")):
        raise reg.fail("type", f"{value} is written: it must be a holding register of type uint16 or int16")
    count = reg.integer("count", spec.count, Range(1, 125))
    if count != spec.count:
        raise reg.fail("count", f"{value} has {spec.count} item(s), got count {count}")
    words = reg.integer("words", WORDS[kind], Range(1, 125)) if kind == "ascii" else WORDS[kind]
    if "words" in reg.entries and kind != "ascii":
        raise reg.fail("words", f"only for type ascii; {kind} has {WORDS[kind]} word(s)")
    address = reg.integer("address", 0, _ADDRESS)
    reg.require("address")
    if address + count * words > 65536:
        raise reg.fail("address", f"{value} runs past the last address 65535")
    return Register(
        name=value,
        address=address,
        function=cast(Function, function),
        type=kind,
        count=count,
        words=words,
        word_order=cast(WordOrder, _choice(reg, "word_order", default_order, _WORD_ORDERS)),
        scale=reg.number("scale", 1.0, POSITIVE),
        codes=_codes(reg, value, spec),
        invalid=_invalid(reg),
    )


def _codes(reg: Map, value: str, spec: ValueSpec) -> tuple[tuple[int | str, str], ...]:
    node = reg.entries.get("values")
    if not spec.codes:
        if node is not None:
            raise reg.fail("values", f"{value} is a number, not a code: it takes no values map")
        return ()
    if not isinstance(node, MappingNode) or not node.value:
        message = (
            f"{value} is a code: give values, a map from each raw value to one of {', '.join(spec.codes)}"
        )
        raise reg.fail("values", message)
    codes: list[tuple[int | str, str]] = []
    for key_node, meaning_node in node.value:
        raw, meaning = (
            reg.doc.value(key_node, reg.key("values")),
            reg.doc.value(meaning_node, reg.key("values")),
        )
        if not isinstance(raw, int | str) or isinstance(raw, bool) or meaning not in spec.codes:
            shown = f"{got(key_node, raw)}: {got(meaning_node, meaning)}"
            message = f"{shown} must map a raw value to one of {', '.join(spec.codes)}"
            raise reg.doc.error(key_node, reg.key("values"), message)
        codes.append((raw, str(meaning)))
    return tuple(codes)


def _invalid(reg: Map) -> tuple[int, ...]:
    node = reg.entries.get("invalid")
    if node is None:
        return ()
    items = node.value if isinstance(node, SequenceNode) else None
    values = [reg.doc.value(item, reg.key("invalid")) for item in items or []]
    if items is None or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise reg.fail("invalid", f"must be a list of whole numbers (raw values), got {_shown(node)}")
    return tuple(int(v) for v in values)  # type: ignore[call-overload]


def _choice(section: Map, name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = section.string(name, default)
    if value not in allowed:
        raise section.fail(name, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _shown(node: Node) -> str:
    return repr(node.value) if isinstance(node, ScalarNode) else got(node, "")


# --- a connector's devices ---------------------------------------------------------------------


def device_of(section: Map, driver: str, kind: Kind) -> ModbusDevice | None:
    """The Modbus device of a `board` or `meter` section; None for the sim driver."""
    if driver != "modbus":
        refuse_modbus_keys(section)
        return None
    if kind == "meter" and "poll_interval_s" in section.entries:
        raise section.fail("poll_interval_s", "a meter is read every interval_s")
    source = section.doc.source
    return modbus_device(section, kind, None if source.startswith("<") else Path(source).parent)


def capabilities(board: ModbusDevice | None, max_current_a: float, phases: int) -> BoardCapabilities:
    """What the connector's board can do: the simulator everything, a Modbus controller its model's part."""
    if board is None:
        return BoardCapabilities(max_current_a, phases, phase_switching=True, lock=True)
    return board_capabilities(board, max_current_a, phases)


def capable(c: Map, name: str, default: bool, has: bool) -> bool:
    """A boolean key for a capability: absent, it follows the board; true on a board without it is refused."""
    value = c.boolean(name, default and has)
    if value and not has:
        raise c.fail(
            name, f"the board cannot do this ({name} is not among its capabilities): set {name}: false"
        )
    return value


def check_ping_timeout(sup: Map, settings: StationSettings) -> None:
    """A slow bus must never look like a hung actor: ping_timeout_s exceeds every driver call."""
    ping_timeout_s = settings.supervision.ping_timeout_s
    for c in settings.connectors:
        for device in (c.board_device, c.meter_device):
            if device is not None and device.longest_call_s() >= ping_timeout_s:
                message = (
                    f"must exceed the longest driver call: connector {c.index} {device.kind} "
                    f"({device.model.name}) makes up to {device.requests_per_call()} requests of "
                    f"timeout_s {num(device.timeout_s)} = {num(device.longest_call_s())} s, "
                    f"got {num(ping_timeout_s)}"
                )
                raise sup.fail("ping_timeout_s", message)


def describe_device(driver: str, device: ModbusDevice | None) -> str:
    if device is None:
        return driver
    return f"{device.model.name} at {device.endpoint} unit {device.unit} (timeout {num(device.timeout_s)} s)"
