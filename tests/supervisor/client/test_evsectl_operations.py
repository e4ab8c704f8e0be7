"""The real evsectl against a real station: failures in status and top, restart, logs, reload."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import zmq

from tests.live import Subscriber
from tests.supervisor.client.stations import StationProcess, evsectl


@pytest.fixture
def publications(station: StationProcess) -> Iterator[Subscriber]:
    """The station's publications from a heartbeat on (so none after it is missed)."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    subscriber = Subscriber(context, station.publish_endpoint)
    subscriber.wait_for("station/heartbeat", lambda value: True)
    yield subscriber
    subscriber.close()
    context.destroy(linger=0)


def restarted(subscriber: Subscriber, evse: int, actor: str, generation: int) -> dict[str, object]:
    def match(value: dict[str, object]) -> bool:
        wanted = (evse, actor, "restarted", generation)
        return (value.get("evse"), value.get("actor"), value.get("event"), value.get("generation")) == wanted

    return subscriber.wait_for("station/supervision", match)["value"]  # type: ignore[no-any-return]


def test_a_failure_that_restarts_its_siblings_counts_once(
    station: StationProcess, publications: Subscriber
) -> None:
    killed = evsectl(*station.flags(), "call", "1", "chaos_kill", "actor=hardware")
    assert killed.returncode == 0, killed.stderr
    restarted(publications, 1, "session", 2)  # rest_for_one: the hardware's failure restarts all four
    supervision = json.loads(evsectl(*station.flags(), "status", "--json").stdout)["evses"][0]["supervisor"]
    assert (supervision["restarts"], supervision["failures"]) == (4, 1)
    hardware = supervision["actors"][0]
    assert (hardware["role"], hardware["failures"], hardware["restarts"]) == ("hardware", 1, 1)
    assert all(actor["failures"] == 0 for actor in supervision["actors"][1:])
    beat = publications.wait_for("station/heartbeat", lambda value: value["evses"][0]["restarts"] == 4)
    assert beat["value"]["evses"][0]["failures"] == 1
    table = evsectl(*station.flags(), "status").stdout
    row = next(line for line in table.splitlines() if "DE*TST*E000001" in line)
    assert row.split("│")[5].strip() == "1" and row.split("│")[6].strip() == "4"  # failures, restarts
    top = evsectl(*station.flags(), "top", "--once", "--width", "80").stdout
    header = next(line for line in top.splitlines() if "failures" in line)
    first = next(line for line in top.splitlines() if line.split()[:1] == ["1"])
    at = header.index("failures")
    assert first[at : at + len("failures")].split() == ["1"]
