"""The bus numbers each source's publications in order, from any number of threads at once."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from drivers.clock import FakeClock
from supervisor.station.bus import Bus

SOURCES = 50
PER_SOURCE = 200


def test_many_sources_publishing_at_once_keep_each_seq_gapless_in_sink_order() -> None:
    bus = Bus("epoch-1", FakeClock())
    received: list[tuple[str, dict[str, Any]]] = []
    bus.attach(lambda topic, payload: received.append((topic, payload)))
    start = threading.Barrier(SOURCES)

    def publisher(index: int) -> None:
        start.wait()
        for n in range(PER_SOURCE):
            bus.publish(f"evse/{index}", f"evse/{index}/telemetry", {"n": n})

    threads = [threading.Thread(target=publisher, args=(i,)) for i in range(1, SOURCES + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    by_source: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
    for _, payload in received:
        by_source[payload["source"]].append((payload["seq"], payload["value"]["n"]))
    assert len(by_source) == SOURCES
    for seen in by_source.values():
        assert seen == [(n + 1, n) for n in range(PER_SOURCE)]  # seq gapless, in the sink's order
    snapshot = bus.snapshot("evse/7/")
    assert snapshot["seq"]["evse/7"] == PER_SOURCE
    assert snapshot["vars"] == {"evse/7/telemetry": {"n": PER_SOURCE - 1}}


def test_a_skipped_number_is_a_gap_and_the_snapshot_leaves_out_the_heartbeat() -> None:
    bus = Bus("epoch-1", FakeClock())
    received: list[dict[str, Any]] = []
    bus.attach(lambda topic, payload: received.append(payload))
    bus.publish("station", "station/heartbeat", {"uptime_s": 1})
    bus.skip("evse/1")
    bus.publish("evse/1", "evse/1/limits", {"max_current": 16.0}, event_seq=None)
    bus.publish("evse/1", "evse/1/session_events", {"event": "Enabled"}, event_seq=4)
    assert [(p["source"], p["seq"]) for p in received] == [("station", 1), ("evse/1", 2), ("evse/1", 3)]
    assert "event_seq" not in received[1] and received[2]["event_seq"] == 4
    snapshot = bus.snapshot()
    assert snapshot["seq"] == {"station": 1, "evse/1": 3}
    assert set(snapshot["vars"]) == {"evse/1/limits", "evse/1/session_events"}
