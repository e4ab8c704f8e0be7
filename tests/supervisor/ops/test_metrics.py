"""The metrics endpoint scraped over HTTP and parsed with prometheus_client's own parser."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from supervisor.client import ApiError
from tests.supervisor.ops.conftest import OpsStation

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(address: str) -> Samples:
    with urllib.request.urlopen(f"{address}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_a_scrape_shows_connectors_requests_restarts_and_the_process(ops_station: OpsStation) -> None:
    address = ops_station.metrics.serve("http://127.0.0.1:0")
    client, subscriber = ops_station.client, ops_station.subscriber
    assert client.sim_plug_in(1) is True
    assert client.authorize(1, "CARD") is True
    subscriber.wait_event(1, "ChargingResumed")
    subscriber.wait_for("evse/1/powermeter", lambda v: v["power_W"]["total"] > 0)
    assert client.chaos_kill(2, "session") is True
    subscriber.wait_for("station/supervision", lambda v: v["event"] == "restarted" and v["evse"] == 2)
    try:
        client.call("sim_fault", 1, kind="nonsense")
    except ApiError as exc:
        assert exc.code == "bad_args"
    samples = scrape(address)
    e1 = {"evse": "1", "evse_id": "DE*OPS*E1"}
    assert value(samples, "evse_state", state="Charging", **e1) == 1
    assert value(samples, "evse_state", state="Idle", evse="2", evse_id="DE*OPS*E2") == 1
    assert value(samples, "evse_sessions_total", **e1) == 1
    assert value(samples, "evse_power_watts", **e1) > 0
    assert value(samples, "evse_current_amperes", phase="L1", **e1) > 0
    assert value(samples, "evse_energy_import_watt_hours", **e1) >= 0
    assert value(samples, "evse_restarts_total", role="session", evse="2", evse_id="DE*OPS*E2") == 1
    assert value(samples, "api_request_duration_seconds_count", command="authorize", code="ok") == 1
    assert value(samples, "api_request_duration_seconds_count", command="sim_fault", code="bad_args") == 1
    assert value(samples, "station_publications_total", variable="session_events") >= 4
    assert value(samples, "evse_journal_writes_total", **e1) >= 4  # each session event at least
    assert value(samples, "evse_journal_write_failures_total", **e1) == 0
    assert value(samples, "process_resident_memory_bytes") > 0
    assert value(samples, "process_open_fds") > 0
    assert value(samples, "process_threads") > 4
    assert value(samples, "process_cpu_seconds_total") > 0
