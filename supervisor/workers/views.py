"""What the root tells of its connectors: each serving worker's own view, the last heartbeat's
for a worker that does not answer, and Faulted for a given-up one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actors.settings import ConnectorSettings
from supervisor.workers.gather import ask_all
from supervisor.workers.process import Worker


def evses(workers: Sequence[Worker], timeout_s: float) -> list[dict[str, Any]]:
    """`status`'s connector entries, each with its `worker`: asked of the serving workers at once."""
    serving = [w for w in workers if w.state == "running"]
    answers = ask_all([w.plan.command_endpoint for w in serving], "status", timeout_s)
    entries: dict[int, dict[str, Any]] = {}
    for worker, answer in zip(serving, answers, strict=True):
        for entry in answer["evses"] if isinstance(answer, dict) else []:
            entries[int(entry["index"])] = {**entry, "worker": worker.plan.id}
    for worker in workers:
        for settings in worker.plan.connectors:
            if settings.index not in entries:
                entries[settings.index] = absent(worker, settings)
    return [entries[index] for index in sorted(entries)]


def absent(worker: Worker, settings: ConnectorSettings) -> dict[str, Any]:
    """A connector whose worker does not answer: what its last heartbeat said."""
    last = next((s for s in worker.summary if s.get("index") == settings.index), {})
    given_up = worker.state == "gave_up"
    return {
        "index": settings.index,
        "evse_id": settings.evse_id,
        "state": "Faulted" if given_up else last.get("state", "Unavailable"),
        "supervisor": {
            "state": "gave_up" if given_up else "restarting",
            "restarts": last.get("restarts", 0),
            "failures": last.get("failures", 0),
            "actors": [],
        },
        "worker": worker.plan.id,
    }


def summaries(workers: Sequence[Worker]) -> list[dict[str, Any]]:
    """Per connector: index, state, restarts, failures (the heartbeat, `evsectl top`, the watchdog)."""
    found: list[dict[str, Any]] = []
    for worker in workers:
        known = {s.get("index"): s for s in worker.summary}
        for settings in worker.plan.connectors:
            entry = known.get(settings.index)
            if entry is None or worker.state != "running":
                view = absent(worker, settings)
                supervision = view["supervisor"]
                entry = {
                    "index": settings.index,
                    "state": view["state"],
                    "restarts": supervision["restarts"],
                    "failures": supervision["failures"],
                }
            found.append(entry)
    return found


def figures(workers: Sequence[Worker]) -> list[dict[str, Any]]:
    """Per connector: index, evse_id, state, journal_writes, journal_write_failures (the metrics)."""
    found: list[dict[str, Any]] = []
    for worker in workers:
        known = {f.get("index"): f for f in worker.figures}
        for settings in worker.plan.connectors:
            last = known.get(settings.index, {"journal_writes": 0, "journal_write_failures": 0})
            state = last.get("state") if worker.state == "running" else None
            found.append(
                {
                    **last,
                    "index": settings.index,
                    "evse_id": settings.evse_id,
                    "state": state or absent(worker, settings)["state"],
                }
            )
    return found
