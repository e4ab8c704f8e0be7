"""The workers of a process-isolated station (`status`'s `workers`), as `evsectl status` and `top` show them.

    workers_table(status["workers"])   # a rich Table: id, pid, evses, state, restarts, RSS, CPU, last exit
    page_workers(workers, visible)     # the workers of the connectors on `top`'s page
    rows_fitting(rows, workers)        # connector rows that leave room for their workers' table
    apply_event(workers, value)        # a worker's supervision event (crashed, restarted, gave_up)

A thread-isolated station has no workers (an empty list): nothing is shown for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich import box
from rich.table import Column, Table

COLUMNS = ("worker", "pid", "evses", "state", "restarts", "rss MiB", "cpu %", "last exit")
TABLE_CHROME_LINES = 4  # the table's edges, its head and the rule under it


def workers_table(workers: Iterable[dict[str, Any]]) -> Table:
    table = Table(*(Column(name, no_wrap=True) for name in COLUMNS), box=box.SIMPLE_HEAD, pad_edge=False)
    for worker in workers:
        cells = worker_cells(worker)
        table.add_row(*(cells[name] for name in COLUMNS))
    return table


def worker_cells(worker: dict[str, Any]) -> dict[str, str]:
    rss = worker.get("rss_bytes")
    cpu = worker.get("cpu_percent")
    return {
        "worker": str(worker.get("id", "?")),
        "pid": "-" if worker.get("pid") is None else str(worker["pid"]),
        "evses": evse_ranges(int(i) for i in worker.get("evses") or []),
        "state": str(worker.get("state", "?")),
        "restarts": str(worker.get("restarts", 0)),
        "rss MiB": "-" if not isinstance(rss, int | float) else f"{rss / 2**20:.1f}",
        "cpu %": "-" if not isinstance(cpu, int | float) else f"{cpu:.1f}",
        "last exit": str(worker.get("last_exit") or "-"),
    }


def evse_ranges(indexes: Iterable[int]) -> str:
    """Connector indexes as ranges: 1-125, or 1,3,5-7."""
    spans: list[list[int]] = []
    for index in sorted(indexes):
        if spans and index == spans[-1][1] + 1:
            spans[-1][1] = index
        else:
            spans.append([index, index])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in spans) or "-"


def page_workers(workers: Iterable[dict[str, Any]], visible: Iterable[int]) -> list[dict[str, Any]]:
    """The workers that run at least one of the `visible` connectors (`top` shows those)."""
    shown = set(visible)
    return [w for w in workers if shown.intersection(int(i) for i in w.get("evses") or [])]


def rows_fitting(rows: int, workers: list[dict[str, Any]]) -> int:
    """Of `rows` free lines, how many connector rows leave room for the workers table of their page."""
    if not workers:
        return rows
    per_worker = max(len(w.get("evses") or []) for w in workers) or 1
    room = rows - TABLE_CHROME_LINES
    return max(1, (room - 1) * per_worker // (per_worker + 1))  # a page spans at most rows/per + 1 workers


def apply_event(workers: list[dict[str, Any]], value: dict[str, Any]) -> None:
    """A `station/supervision` event of `"actor": "worker"` applied to its worker's row."""
    worker = next((w for w in workers if w.get("id") == value.get("worker")), None)
    if worker is None:
        return
    event = value.get("event")
    if event in ("crashed", "hung"):
        worker.update(state="restarting", pid=None, last_exit=value.get("reason"))
    elif event == "restarted":
        worker.update(state="running", restarts=value.get("restarts", worker.get("restarts")))
    elif event == "gave_up":
        worker.update(state="gave_up", pid=None)
