"""`watch()` against the real station: after a gap, the session events it hid come back."""

from __future__ import annotations

import pathlib

from supervisor.client import Watch
from tests.live import WAIT_S, LiveStation, live_settings


def test_a_resync_replays_the_session_events_a_gap_hid(tmp_path: pathlib.Path) -> None:
    live = LiveStation(live_settings(tmp_path))
    try:
        client = live.client(timeout_s=WAIT_S, retries=0)
        watch = Watch(client, "evse/1/")
        started = watch.start()
        assert started and all(payload["snapshot"] for _, payload in started)
        mark = watch.marks["evse/1"]
        assert client.sim_plug_in(1) is True  # SessionStarted, AuthRequired
        live.subscriber.wait_event(1, "AuthRequired")
        gap = {
            "epoch": watch.sequencer.epoch,
            "source": "evse/1",
            "seq": 10**9,
        }  # as a lost publication shows
        items = watch.resync(gap)
        replayed = [(topic, payload) for topic, payload in items if payload.get("replayed")]
        assert [topic for topic, _ in replayed] == ["evse/1/session_events"] * 2
        assert [p["value"]["event"] for _, p in replayed] == ["SessionStarted", "AuthRequired"]
        assert [p["event_seq"] for _, p in replayed] == [mark + 1, mark + 2]
        assert items[len(replayed) :] and all(p.get("snapshot") for _, p in items[len(replayed) :])
        seen_live = {"epoch": gap["epoch"], "source": "evse/1", "seq": 5, "event_seq": mark + 2}
        assert watch.accept("evse/1/session_events", seen_live) is False  # already replayed
        assert watch.accept("evse/1/session_events", {**seen_live, "event_seq": mark + 3}) is True
        assert watch.accept("evse/1/limits", {"epoch": gap["epoch"], "source": "evse/1", "seq": 6}) is True
    finally:
        live.close()
