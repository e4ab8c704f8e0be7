"""Pure tests of the wire protocol: decoding, envelope checks, the command table, the error table."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgpack
import pytest

from supervisor.api.cache import ReplyCache
from supervisor.api.commands import COMMANDS, check_args, list_commands, lookup
from supervisor.api.protocol import (
    BadArgs,
    BadRequest,
    Forbidden,
    InvalidRequest,
    UnknownCommand,
    decode_request,
    encode_error,
    encode_exception,
    encode_ok,
    error_code,
    reply_code,
)
from supervisor.client import Sequencer
from supervisor.tree import Unavailable

LIMIT = 65536


def decode(message: Any) -> Any:
    return decode_request(msgpack.packb(message), LIMIT)


def rejected(frame: bytes) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        decode_request(frame, LIMIT)
    return caught.value


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_a_full_request_decodes() -> None:
    request = decode(
        {"v": 1, "id": "a", "cmd": "enable", "evse": 2, "args": {"x": 1}, "client": "c", "timeout_ms": 250}
    )
    assert (request.id, request.cmd, request.evse, request.args) == ("a", "enable", 2, {"x": 1})
    assert (request.client, request.timeout_ms) == ("c", 250)


def test_optional_fields_may_be_left_out() -> None:
    request = decode({"id": 7, "cmd": "ping"})
    assert (request.evse, request.args, request.client, request.timeout_ms) == (None, {}, None, None)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\xc1\xff garbage",
        msgpack.packb([1, 2, 3]),
        msgpack.packb("ping"),
        msgpack.packb({"id": 1}) + b"x",
    ],
)
def test_garbage_is_a_bad_request_without_id(frame: bytes) -> None:
    error = rejected(frame)
    assert isinstance(error.error, BadRequest)
    assert error.request_id is None


@pytest.mark.parametrize(
    ("message", "expected_id", "words"),
    [
        ({"v": 1, "cmd": "ping"}, None, "no id"),
        ({"id": None, "cmd": "ping"}, None, "no id"),
        ({"id": 1.5, "cmd": "ping"}, None, "id must be"),
        ({"id": True, "cmd": "ping"}, None, "id must be"),
        ({"id": 7}, 7, "no cmd"),
        ({"id": 7, "cmd": 3}, 7, "cmd must be a string"),
        ({"id": 7, "cmd": "ping", "v": 2}, 7, "v must be 1"),
        ({"id": 7, "cmd": "ping", "v": True}, 7, "v must be 1"),
        ({"id": 7, "cmd": "ping", "extra": 1}, 7, "unknown request fields 'extra'"),
        ({"id": 7, "cmd": "ping", "evse": [1]}, 7, "evse must be"),
        ({"id": 7, "cmd": "ping", "evse": True}, 7, "evse must be"),
        ({"id": 7, "cmd": "ping", "args": [1]}, 7, "args must be a map"),
        ({"id": 7, "cmd": "ping", "client": 5}, 7, "client must be a string"),
        ({"id": 7, "cmd": "ping", "timeout_ms": 0}, 7, "timeout_ms must be an int > 0"),
        ({"id": 7, "cmd": "ping", "timeout_ms": 1.5}, 7, "timeout_ms must be an int > 0"),
    ],
)
def test_envelope_errors_name_the_field(message: dict[str, Any], expected_id: Any, words: str) -> None:
    error = rejected(msgpack.packb(message))
    assert isinstance(error.error, BadRequest)
    assert error.request_id == expected_id
    assert words in str(error.error)


def test_args_with_non_string_names_are_a_bad_request() -> None:
    frame = msgpack.packb({"id": 1, "cmd": "enable", "args": {1: 2}}, strict_types=False)
    with pytest.raises(InvalidRequest, match="must be strings"):
        decode_request(frame, LIMIT)


def test_a_request_over_the_size_limit_is_refused_before_unpacking() -> None:
    frame = msgpack.packb({"id": 1, "cmd": "ping", "args": {"pad": "x" * 100}})
    with pytest.raises(InvalidRequest, match="over max_message_bytes") as caught:
        decode_request(frame, 50)
    assert caught.value.request_id is None


def test_nesting_is_limited_to_32_levels() -> None:
    deepest_allowed = {"id": 1, "cmd": "enable", "args": {"x": nested(30)}}  # map, map, 30 arrays
    assert decode(deepest_allowed).args == {"x": nested(30)}
    error = rejected(msgpack.packb({"id": 1, "cmd": "enable", "args": {"x": nested(31)}}))
    assert "deeper than 32" in str(error.error)


def test_very_deep_nesting_is_a_bad_request() -> None:
    assert isinstance(rejected(b"\x91" * 5000 + b"\x00").error, BadRequest)


def test_unknown_command_names_the_known_ones() -> None:
    with pytest.raises(UnknownCommand, match="known commands: ping, version"):
        lookup("warp_drive")


def test_list_commands_has_the_wire_shape() -> None:
    listed = {entry["name"]: entry for entry in list_commands()}
    assert set(listed) == set(COMMANDS)
    ping = listed["ping"]
    assert ping == {"name": "ping", "scope": "station", "args": {}, "result": "map", "only": None,
                    "doc": ping["doc"]} and ping["doc"]  # fmt: skip
    reserve = listed["reserve_now"]
    assert reserve["result"] == "ReservationResult" and "Occupied" in reserve["result_enum"]
    assert reserve["args"]["parent_id"] == {"type": "str", "optional": True, "doc": _PARENT_DOC}
    assert reserve["args"]["expiry_date"]["type"] == "date"
    assert (
        listed["sim_fault"]["only"] == "sim" and "relay_weld" in listed["sim_fault"]["args"]["kind"]["enum"]
    )
    seconds = listed["chaos_hang"]["args"]["seconds"]
    assert (seconds["type"], seconds["min"], seconds["max"]) == ("number", 0, 30.0)
    assert listed["cancel_charging"]["args"]["reason"]["enum"][0] == "EmergencyStop"
    assert all(entry["doc"] for entry in listed.values())
    msgpack.packb(list_commands())


_PARENT_DOC = COMMANDS["authorize"].args["parent_id"].doc


def check(name: str, **args: Any) -> dict[str, Any]:
    return check_args(COMMANDS[name], args)


@pytest.mark.parametrize(
    ("name", "args", "words"),
    [
        ("enable", {"surprise": True}, "unknown argument 'surprise'; allowed arguments: none"),
        ("authorize", {"auth_token": "T", "token": "x"}, "allowed arguments: auth_token, parent_id"),
        ("cancel_charging", {}, "missing argument 'reason'"),
        ("cancel_charging", {"reason": "BecauseISaidSo"}, "must be one of EmergencyStop"),
        (
            "set_local_max_current",
            {"max_current": "sixteen"},
            "must be a finite number, got 'sixteen' (string)",
        ),
        ("set_local_max_current", {"max_current": True}, "must be a finite number"),
        ("set_local_max_current", {"max_current": float("nan")}, "must be a finite number"),
        ("switch_three_phases_while_charging", {"three_phases": 1}, "must be true or false"),
        (
            "reserve_now",
            {"reservation_id": 1.0, "auth_token": "T", "expiry_date": "2030-01-01T00:00:00Z"},
            "integer",
        ),
        ("get_events", {"since": -1}, "must be >= 0, got -1"),
        ("sim_plug_in", {"soc": 1.5}, "'soc' must be >= 0 and <= 1, got 1.5"),
        ("sim_plug_in", {"capacity_wh": 0}, "must be > 0"),
        ("sim_plug_in", {"phases": 2}, "must be one of 1, 3"),
        ("sim_plug_in", {"max_current_a": 81}, "<= 80"),
        ("sim_fault", {"kind": "meltdown"}, "must be one of rcd, diode"),
        ("chaos_hang", {"actor": "session", "seconds": 31}, "<= 30"),
        ("chaos_kill", {"actor": "gremlin"}, "one of hardware, meter, reservation, session"),
        ("snapshot", {"prefix": 3}, "must be a string"),
    ],
)
def test_bad_args_say_what_was_given_and_what_is_allowed(name: str, args: dict[str, Any], words: str) -> None:
    with pytest.raises(BadArgs) as caught:
        check(name, **args)
    assert words in str(caught.value)
    assert name in str(caught.value)


@pytest.mark.parametrize(
    "text",
    ["tomorrow", "2030-01-01T00:00:00", "2030-01-01", "2030-01-01T00:00:00+0100", "2030-13-01T00:00:00Z", 5],
)
def test_bad_dates_are_bad_args(text: Any) -> None:
    with pytest.raises(BadArgs, match="expiry_date"):
        check("reserve_now", reservation_id=1, auth_token="T", expiry_date=text)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2030-01-31T12:00:00Z", dt.datetime(2030, 1, 31, 12, tzinfo=dt.UTC)),
        ("2030-01-31t12:00:00.250z", dt.datetime(2030, 1, 31, 12, 0, 0, 250000, tzinfo=dt.UTC)),
        ("2030-01-31T14:00:00+02:00", dt.datetime(2030, 1, 31, 12, tzinfo=dt.UTC)),
        ("2030-01-31T12:00:00.123456789-00:30", dt.datetime(2030, 1, 31, 12, 30, 0, 123456, tzinfo=dt.UTC)),
    ],
)
def test_dates_become_unix_seconds(text: str, moment: dt.datetime) -> None:
    checked = check("reserve_now", reservation_id=1, auth_token="T", expiry_date=text, parent_id="P")
    assert checked == {
        "reservation_id": 1,
        "auth_token": "T",
        "expiry_date": moment.timestamp(),
        "parent_id": "P",
    }


def test_good_args_pass_unchanged() -> None:
    assert check("set_local_max_current", max_current=-1) == {"max_current": -1}
    assert check("set_local_max_current", max_current=13.5) == {"max_current": 13.5}
    assert check("sim_plug_in", phases=1, needs_ventilation=True) == {"phases": 1, "needs_ventilation": True}
    assert check("sim_clear_fault") == {}
    assert check("get_events", since=10**12) == {"since": 10**12}


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (BadRequest("x"), "bad_request"),
        (BadArgs("x"), "bad_args"),
        (Unavailable("x"), "unavailable"),
        (Forbidden("x"), "forbidden"),
        (ValueError("x"), "internal"),  # a station bug, not the client's mistake
        (TimeoutError("x"), "timeout"),
        (KeyError("x"), "internal"),
        (RuntimeError("x"), "internal"),
    ],
)
def test_one_table_maps_exceptions_to_codes(exc: Exception, code: str) -> None:
    assert error_code(exc) == code


def test_internal_errors_point_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    reply = msgpack.unpackb(encode_exception(9, RuntimeError("the bug")))
    assert reply["id"] == 9 and reply["ok"] is False and reply["error"]["code"] == "internal"
    ref = reply["error"]["message"].split()[2].rstrip(":")
    assert "see the station log" in reply["error"]["message"]
    assert any(ref in record.getMessage() and record.exc_info for record in caplog.records)


def test_a_result_that_cannot_be_packed_is_internal(caplog: pytest.LogCaptureFixture) -> None:
    reply = msgpack.unpackb(encode_ok(3, object()))
    assert reply["error"]["code"] == "internal"
    assert msgpack.unpackb(encode_ok(3, [1, "a"])) == {"v": 1, "id": 3, "ok": True, "result": [1, "a"]}


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cache_keeps_young_replies_beyond_capacity() -> None:
    clock = Ticker()
    cache = ReplyCache(capacity=2, ttl_s=60, hard_limit=5, monotonic=clock)
    for n in range(4):
        cache.put(("c", n), b"%d" % n)
    assert [cache.get(("c", n)) for n in range(4)] == [b"0", b"1", b"2", b"3"]
    clock.now = 61
    cache.put(("c", 4), b"4")
    assert len(cache) == 2
    assert cache.get(("c", 0)) is None and cache.get(("c", 4)) == b"4"


def test_cache_is_bounded_by_its_hard_limit() -> None:
    cache = ReplyCache(capacity=2, ttl_s=60, hard_limit=3, monotonic=Ticker())
    for n in range(10):
        cache.put(("c", n), b"")
    assert len(cache) == 3 and cache.get(("c", 9)) == b""


def payload(source: str, seq: int, epoch: str = "E") -> dict[str, Any]:
    return {"epoch": epoch, "source": source, "seq": seq, "value": seq}


def test_sequencer_drops_what_the_snapshot_had_and_resyncs_on_gaps() -> None:
    sequencer = Sequencer("")
    items = sequencer.apply_snapshot({"epoch": "E", "seq": {"evse/1": 5}, "vars": {"evse/1/limits": 1}})
    assert items == [("evse/1/limits", {"value": 1, "snapshot": True, "epoch": "E", "seq": 5})]
    assert sequencer.judge(payload("evse/1", 5)) == "duplicate"
    assert sequencer.judge(payload("evse/1", 6)) == "new"
    assert sequencer.judge(payload("evse/2", 1)) == "new"
    assert sequencer.judge(payload("evse/1", 8)) == "resync"
    assert sequencer.judge(payload("evse/1", 7, epoch="F")) == "resync"


def test_sequencer_ignores_gaps_of_sources_it_sees_only_in_part() -> None:
    sequencer = Sequencer("evse/1/telemetry")
    sequencer.apply_snapshot({"epoch": "E", "seq": {"evse/1": 5}, "vars": {}})
    assert sequencer.judge(payload("evse/1", 9)) == "new"
    whole = Sequencer("evse/1")
    whole.apply_snapshot({"epoch": "E", "seq": {"evse/1": 5}, "vars": {}})
    assert whole.judge(payload("evse/1", 9)) == "resync"


def test_cache_keeps_the_newest_reply_of_a_key_stored_again() -> None:
    clock = Ticker()
    cache = ReplyCache(capacity=2, ttl_s=60, hard_limit=200, monotonic=clock)
    cache.put(("c", 1), b"timeout")
    clock.now = 2.0
    cache.put(("c", 1), b"result")
    assert cache.get(("c", 1)) == b"result"
    clock.now = 61.0  # the first copy is out of time, the second is not
    cache.put(("c", 2), b"2")
    cache.put(("c", 3), b"3")
    assert cache.get(("c", 1)) == b"result"


def test_cache_forgets_old_replies_by_generation_and_keeps_a_steady_size() -> None:
    clock = Ticker()
    cache = ReplyCache(capacity=10, ttl_s=60, hard_limit=100_000, monotonic=clock)
    for n in range(120 * 100):  # 100 replies a second for two minutes
        clock.now = n / 100
        cache.put(("c", n), b"%d" % n)
    assert 6_000 <= len(cache) <= 6_500  # 60 s of replies, give or take a generation of 5 s
    assert cache.get(("c", 12_000 - 6_000)) == b"6000" and cache.get(("c", 12_000 - 6_600)) is None
    assert [cache.get(("c", n)) for n in range(11_990, 12_000)] == [b"%d" % n for n in range(11_990, 12_000)]


@pytest.mark.parametrize("size", [0, 5000])
def test_reply_code_reads_small_and_large_replies(size: int) -> None:
    """A small reply is unpacked whole, a large one streamed past its result: the same codes."""
    assert reply_code(encode_ok(7, "x" * size)) == "ok"
    assert reply_code(encode_ok("an-id", {"ok": False, "padding": "y" * size})) == "ok"
    assert reply_code(encode_error(7, "busy", "z" * size)) == "busy"
    assert reply_code(msgpack.packb({"v": 1, "id": 7, "ok": False, "error": "w" * size})) == "internal"
    assert reply_code(msgpack.packb({"v": 1, "id": 7, "note": "n" * size})) == "internal"
    assert reply_code(b"\xc1" + b"g" * size) == "internal"  # not MessagePack
