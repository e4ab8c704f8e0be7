"""Logging configured in one place: text and JSON lines, the connector named, tracebacks once."""

from __future__ import annotations

import io
import json
import logging
import pathlib
from collections.abc import Iterator

import pytest

from supervisor.api.commands import LOG_LINES_KEPT
from supervisor.ops import about, configure_logging, parse_level
from supervisor.ops.logs import RING_LINES, LogRing, LogSetup

log = logging.getLogger("evse_supervisor.test")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _fail(message: str) -> None:
    raise RuntimeError(message)


def _log_failure(logger: logging.Logger, message: str) -> None:
    try:
        _fail(message)
    except RuntimeError:
        logger.exception("it failed")


def test_a_text_line_names_the_connector(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", "text", stream=out)
    log.info("SessionStarted", extra=about(2, "DE*PNX*E2"))
    log.info("station line")
    first, second = out.getvalue().splitlines()
    assert first.endswith("INFO evse_supervisor.test: evse 2 (DE*PNX*E2): SessionStarted")
    assert second.endswith("INFO evse_supervisor.test: station line")


def test_a_json_line_carries_the_fields(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    log.warning("board error %s", "RCD", extra=about(1, "DE*PNX*E1", error="RCD"))
    record = json.loads(out.getvalue())
    assert record["message"] == "board error RCD" and record["level"] == "WARNING"
    assert (record["evse"], record["evse_id"], record["error"]) == (1, "DE*PNX*E1", "RCD")
    assert "about" not in record and record["logger"] == "evse_supervisor.test"


def test_a_failure_shows_its_traceback_once_and_only_at_debug(restore_logging: None) -> None:
    out = io.StringIO()
    setup = configure_logging("INFO", "text", stream=out)
    pykka_log = logging.getLogger("pykka")
    for _ in range(3):
        _log_failure(pykka_log, "dead actor")
        _log_failure(log, "our own")
    text = out.getvalue()
    assert "Traceback" not in text and "dead actor" not in text
    assert text.count("it failed: RuntimeError: our own") == 3
    setup.set_level("DEBUG")  # as a reload does: the next one shows its traceback, once
    out.seek(0)
    out.truncate(0)
    for _ in range(3):
        _log_failure(pykka_log, "dead actor")
    assert out.getvalue().count("Traceback") == 1


def test_a_new_failure_at_debug_shows_one_traceback(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "text", stream=out)
    for _ in range(5):
        _log_failure(logging.getLogger("pykka"), "dead actor")
    assert out.getvalue().count("Traceback") == 1
    assert " DEBUG pykka: it failed" in out.getvalue()


def test_the_log_file_is_reopened_after_it_was_moved(restore_logging: None, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "station.log"
    setup: LogSetup = configure_logging("INFO", "text", file=path)
    log.info("before")
    path.rename(tmp_path / "station.log.1")
    setup.reopen()
    log.info("after")
    setup.close()
    assert "before" in (tmp_path / "station.log.1").read_text()
    assert "after" in path.read_text() and "before" not in path.read_text()


@pytest.mark.parametrize("text", ["LOUD", "", "info2"])
def test_a_bad_level_names_the_allowed_ones(text: str) -> None:
    with pytest.raises(ValueError, match="DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        parse_level(text)


def test_a_level_in_any_case() -> None:
    assert parse_level("debug") == logging.DEBUG


def test_the_ring_keeps_the_recent_lines_as_the_text_log_shows_them(restore_logging: None) -> None:
    logs = configure_logging("INFO", "json", stream=io.StringIO())
    log.info("first", extra=about(1, "DE*PNX*E1"))
    log.debug("not at INFO")
    log.warning("second")
    newest = logs.ring.read()
    assert [line["seq"] for line in newest["lines"]] == [1, 2] and newest["last_seq"] == 2
    first, second = newest["lines"]
    assert first["text"].endswith("INFO evse_supervisor.test: evse 1 (DE*PNX*E1): first")  # text, not JSON
    assert (second["level"], second["logger"]) == ("WARNING", "evse_supervisor.test")
    assert logs.ring.read(lines=1)["lines"] == [second]
    assert logs.ring.read(since=1)["lines"] == [second]
    assert logs.ring.read(since=2) == {"lines": [], "last_seq": 2, "missed": 0}


def test_the_ring_is_bounded_and_a_follower_hears_what_it_missed() -> None:
    ring = LogRing(capacity=3)
    ring.setFormatter(logging.Formatter("%(message)s"))
    for n in range(1, 6):
        ring.handle(logging.makeLogRecord({"msg": f"line {n}", "levelname": "INFO", "name": "x"}))
    assert [line["text"] for line in ring.read()["lines"]] == ["line 3", "line 4", "line 5"]
    behind = ring.read(since=1, lines=2)
    assert [line["seq"] for line in behind["lines"]] == [3, 4] and behind["missed"] == 1
    assert ring.read(since=9) == {"lines": [], "last_seq": 5, "missed": 0}  # a station started again
    assert RING_LINES == LOG_LINES_KEPT  # what the command table says the station keeps
