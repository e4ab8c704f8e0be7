"""The wire format of docs/wire.md: request decoding, envelope checks, error codes, replies.

Every request error is a class here; `ERROR_CODES` is the one table that turns an
exception into a wire error code.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgpack
import pykka

from supervisor.ocpp.authorization import BadIdTag
from supervisor.tree import Unavailable

logger = logging.getLogger(__name__)

API_VERSION = 1
MAX_DEPTH = 32
TIMEOUT_MESSAGE = "no answer within the deadline; it may still take effect: retry with the same client and id"
_ENVELOPE_FIELDS = frozenset({"v", "id", "cmd", "evse", "args", "client", "timeout_ms"})

RequestId = int | str


class RequestError(Exception):
    """A request the station cannot run; the message tells the client what was wrong."""


class BadRequest(RequestError):
    """Not MessagePack, not a map, a missing or mistyped envelope field, too large, too deep."""


class UnknownCommand(RequestError):
    """No command of that name."""


class UnknownEvse(RequestError):
    """No connector with that index or evse_id."""


class BadArgs(RequestError):
    """A missing, unknown or mistyped argument, an enum value or a date not allowed."""


class Busy(RequestError):
    """The connector's queue is full."""


class Forbidden(RequestError):
    """A simulation or chaos command where it is not enabled."""


ERROR_CODES: dict[type[BaseException], str] = {
    BadRequest: "bad_request",
    UnknownCommand: "unknown_command",
    UnknownEvse: "unknown_evse",
    BadArgs: "bad_args",
    BadIdTag: "bad_args",
    Busy: "busy",
    TimeoutError: "timeout",
    pykka.Timeout: "timeout",
    Unavailable: "unavailable",
    Forbidden: "forbidden",
}


def error_code(exc: BaseException) -> str:
    """The wire code of an exception: the nearest class in ERROR_CODES, else `internal`."""
    for cls in type(exc).__mro__:
        if cls in ERROR_CODES:
            return ERROR_CODES[cls]
    return "internal"


@dataclass(frozen=True)
class Request:
    id: RequestId
    cmd: str
    evse: int | str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    client: str | None = None
    timeout_ms: int | None = None


class InvalidRequest(Exception):
    """A request that failed before it could run: the error and the id, if it was readable."""

    def __init__(self, request_id: RequestId | None, error: RequestError) -> None:
        super().__init__(str(error))
        self.request_id = request_id
        self.error = error


def decode_request(frame: bytes, max_message_bytes: int) -> Request:
    """Decode and check one request frame; raises InvalidRequest."""
    if len(frame) > max_message_bytes:
        raise InvalidRequest(
            None, BadRequest(f"request of {len(frame)} bytes is over max_message_bytes ({max_message_bytes})")
        )
    message = _unpack(frame, max_message_bytes)
    if not isinstance(message, dict):
        raise InvalidRequest(None, BadRequest(f"a request must be a MessagePack map, got {_kind(message)}"))
    request_id = _read_id(message)
    try:
        return _check_envelope(message, request_id)
    except RequestError as exc:
        raise InvalidRequest(request_id, exc) from None


def _unpack(frame: bytes, limit: int) -> Any:
    try:
        message = msgpack.unpackb(
            frame,
            raw=False,
            strict_map_key=False,
            max_bin_len=limit,
            max_str_len=limit,
            max_array_len=limit,
            max_map_len=limit,
            max_ext_len=limit,
        )
    except Exception as exc:  # noqa: BLE001 - msgpack raises many kinds for garbage
        raise InvalidRequest(None, BadRequest(f"not a MessagePack message: {exc}")) from None
    if _deeper_than(message, MAX_DEPTH):
        raise InvalidRequest(None, BadRequest(f"request nested deeper than {MAX_DEPTH} levels"))
    return message


_CONTAINERS = (dict, list, tuple)


def _deeper_than(value: Any, limit: int) -> bool:
    """True when maps and arrays (keys too) nest more than `limit` levels; one level at a time."""
    if isinstance(value, dict) and not any(isinstance(v, _CONTAINERS) for v in (*value, *value.values())):
        return False  # a map of scalars: one level
    level: list[Any] = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for container in level:
            if isinstance(container, dict):
                below.extend(key for key in container if isinstance(key, _CONTAINERS))
                container = container.values()
            below.extend(child for child in container if isinstance(child, _CONTAINERS))
        level = below
    return False


def _read_id(message: dict[Any, Any]) -> RequestId:
    if "id" not in message or message["id"] is None:
        raise InvalidRequest(None, BadRequest("request has no id"))
    request_id = message["id"]
    if not _is_int(request_id) and not isinstance(request_id, str):
        raise InvalidRequest(None, BadRequest(f"id must be an int or a string, got {_kind(request_id)}"))
    return request_id  # type: ignore[no-any-return]


def _check_envelope(message: dict[Any, Any], request_id: RequestId) -> Request:
    unknown = (
        []
        if _ENVELOPE_FIELDS.issuperset(message)
        else sorted(repr(key) for key in message if key not in _ENVELOPE_FIELDS)
    )
    if unknown:
        raise BadRequest(
            f"unknown request fields {', '.join(unknown)}; allowed: {', '.join(sorted(_ENVELOPE_FIELDS))}"
        )
    version = message.get("v", API_VERSION)
    if not (_is_int(version) and version == API_VERSION):
        raise BadRequest(f"v must be {API_VERSION} or left out, got {_show(version)}")
    cmd = message.get("cmd")
    if not isinstance(cmd, str):
        raise BadRequest("request has no cmd" if cmd is None else f"cmd must be a string, got {_kind(cmd)}")
    return Request(
        id=request_id,
        cmd=cmd,
        evse=_optional(message, "evse", (int, str), "an int (index) or a string (evse_id)"),
        args=_args(message),
        client=_optional(message, "client", (str,), "a string"),
        timeout_ms=_timeout_ms(message),
    )


def _optional(message: dict[Any, Any], name: str, types: tuple[type, ...], wanted: str) -> Any:
    value = message.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, types):
        raise BadRequest(f"{name} must be {wanted}, got {_kind(value)}")
    return value


def _args(message: dict[Any, Any]) -> dict[str, Any]:
    args = message.get("args")
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise BadRequest(f"args must be a map, got {_kind(args)}")
    if not all(isinstance(key, str) for key in args):
        raise BadRequest("argument names must be strings")
    return args


def _timeout_ms(message: dict[Any, Any]) -> int | None:
    value = message.get("timeout_ms")
    if value is None:
        return None
    if not _is_int(value) or value <= 0:
        raise BadRequest(f"timeout_ms must be an int > 0, got {_show(value)}")
    return int(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    names = {
        dict: "map",
        list: "array",
        str: "string",
        bytes: "binary",
        bool: "bool",
        float: "float",
        int: "int",
    }
    return "nil" if value is None else names.get(type(value), type(value).__name__)


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_local = threading.local()


def _pack(value: Any) -> bytes:
    """Pack with this thread's own packer: `msgpack.packb` would allocate a fresh buffer each time."""
    packer: msgpack.Packer | None = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer()
    try:
        packed: bytes = packer.pack(value)
    except Exception:
        packer.reset()
        raise
    return packed


def encode_ok(request_id: RequestId | None, result: Any) -> bytes:
    """An ok reply; a result that cannot be packed becomes an `internal` error."""
    try:
        return _pack({"v": API_VERSION, "id": request_id, "ok": True, "result": result})
    except Exception as exc:  # noqa: BLE001 - whatever the result held
        return encode_exception(request_id, exc, what="packing a result")


_SMALL_REPLY_BYTES = 512  # unpacked whole: cheaper than an Unpacker's setup


def reply_code(reply: bytes) -> str:
    """The wire code of an encoded reply ("ok" or the error's code), without unpacking a large result."""
    try:
        if len(reply) <= _SMALL_REPLY_BYTES:
            return _code_of(msgpack.unpackb(reply, raw=False, strict_map_key=False))
        return _streamed_code(reply)
    except Exception:  # noqa: BLE001 - a worker's reply that is not MessagePack, say
        return "internal"


def _streamed_code(reply: bytes) -> str:
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(reply)
    for _ in range(unpacker.read_map_header()):
        key = unpacker.unpack()
        if key == "ok":
            if unpacker.unpack() is True:
                return "ok"
        elif key == "error":
            return _error_code(unpacker.unpack())
        else:
            unpacker.skip()
    return "internal"


def _code_of(reply: Any) -> str:
    if not isinstance(reply, dict):
        return "internal"
    return "ok" if reply.get("ok") is True else _error_code(reply.get("error"))


def _error_code(error: Any) -> str:
    return str(error.get("code")) if isinstance(error, dict) else "internal"


def encode_error(request_id: RequestId | None, code: str, message: str) -> bytes:
    return _pack(
        {"v": API_VERSION, "id": request_id, "ok": False, "error": {"code": code, "message": message}}
    )


def encode_exception(request_id: RequestId | None, exc: BaseException, what: str = "a request") -> bytes:
    """An error reply for any exception; `internal` ones are logged with their traceback."""
    code = error_code(exc)
    if code == "timeout":
        return encode_error(request_id, code, TIMEOUT_MESSAGE)
    if code != "internal":
        return encode_error(request_id, code, str(exc) or type(exc).__name__)
    ref = uuid.uuid4().hex[:8]
    logger.error("internal error %s while %s (id %r)", ref, what, request_id, exc_info=exc)
    return encode_error(request_id, code, f"internal error {ref}: see the station log for '{ref}'")


def show(value: Any) -> str:
    """A short repr of a client's value for error messages."""
    return _show(value)


def kind(value: Any) -> str:
    """The MessagePack name of a value's type, for error messages."""
    return _kind(value)
