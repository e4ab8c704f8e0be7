"""Invariants checked after the chaos, the figures of the run, and the report printed from them."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

from chaos_kill import ROLES, Blow
from chaos_load import EventCollector, Tally
from chaos_watch import Watcher

SHOWN_VIOLATIONS = 10


def session_violations(evse: int, events: list[dict[str, Any]]) -> list[str]:
    """Event numbers contiguous from 1; per session uuid one start, at most one finish, in order."""
    found: list[str] = []
    seqs = [int(e["event_seq"]) for e in events]
    if seqs and seqs != list(range(1, len(seqs) + 1)):
        found.append(f"evse {evse}: event_seq not contiguous from 1 (first {seqs[0]}, {len(seqs)} events)")
    started: set[str] = set()
    finished: set[str] = set()
    open_uuid: str | None = None
    for entry in events:
        value, seq = entry["value"], entry["event_seq"]
        uuid, name = str(value.get("uuid", "")), str(value["event"])
        where = f"evse {evse} event {seq} {name} of session {uuid[:8]}"
        if name == "SessionStarted":
            if uuid in started:
                found.append(f"{where}: a second SessionStarted")
            if open_uuid is not None:
                found.append(f"{where}: started while session {open_uuid[:8]} was still open")
            started.add(uuid)
            open_uuid = uuid
        elif uuid and uuid not in started:
            found.append(f"{where}: before its SessionStarted")
        elif uuid in finished:
            found.append(f"{where}: after its SessionFinished")
        if name == "SessionFinished" and uuid:
            finished.add(uuid)
            open_uuid = None if open_uuid == uuid else open_uuid
    if open_uuid is not None:
        found.append(f"evse {evse}: session {open_uuid[:8]} never finished (the car was unplugged)")
    return found


def double_executions(evse: int, events: list[dict[str, Any]]) -> list[str]:
    """A reservation id started twice: a `reserve_now` run twice (every one the clients send has its own)."""
    starts: dict[Any, list[str]] = {}
    for entry in events:
        value = entry["value"]
        if value["event"] == "ReservationStart" and "reservation_start" in value:
            when = (
                time.strftime("%H:%M:%S", time.localtime(float(entry["ts"])))
                + f"{float(entry['ts']) % 1:.3f}"[1:]
            )
            where = f"event {entry['event_seq']} at {when}"
            starts.setdefault(value["reservation_start"].get("reservation_id"), []).append(where)
    return [
        f"evse {evse}: reservation {rid} started {len(seen)} times ({', '.join(seen)}): a double execution"
        for rid, seen in starts.items()
        if len(seen) > 1
    ]


def lost_sessions(logs: dict[int, list[dict[str, Any]]], plugged: int) -> dict[str, int]:
    """Sessions started and never finished (every car is unplugged at the end), and plug-ins
    answered ok beyond the sessions started (a plug-in whose session never appeared)."""
    started: set[str] = set()
    finished: set[str] = set()
    for events in logs.values():
        for entry in events:
            name, uuid = str(entry["value"]["event"]), str(entry["value"].get("uuid", ""))
            if name == "SessionStarted":
                started.add(uuid)
            elif name == "SessionFinished":
                finished.add(uuid)
    return {
        "never_finished": len(started - finished),
        "plugs_without_session": max(0, plugged - len(started)),
    }


def _unpublished(watcher: Watcher, logs: dict[int, list[dict[str, Any]]]) -> Iterator[tuple[int, int, str]]:
    """(evse, event_seq, event) of the logged events never published since the subscription."""
    for evse, events in logs.items():
        published = watcher.events.get(evse, {})
        first_seen = min(published) if published else math.inf
        for entry in events:
            seq = int(entry["event_seq"])
            if seq >= first_seen and seq not in published:
                yield evse, seq, str(entry["value"]["event"])


def publication_violations(watcher: Watcher, logs: dict[int, list[dict[str, Any]]]) -> list[str]:
    """Every published session event is the logged one of its number; none missing (but as its
    worker died: `lost_at_crashes`); no seq gap."""
    found = [
        f"evse {evse}: event {seq} {name} logged, never published"
        for evse, seq, name in _unpublished(watcher, logs)
        if not watcher.lost_at_a_crash(evse, seq)
    ]
    for evse, events in logs.items():
        published = watcher.events.get(evse, {})
        for entry in events:
            seq = int(entry["event_seq"])
            if seq in published and published[seq] != entry["value"]:
                found.append(
                    f"evse {evse}: event {seq} published as {published[seq]}, logged {entry['value']}"
                )
        logged = {int(entry["event_seq"]) for entry in events}
        found.extend(
            f"evse {evse}: event {seq} published, not logged" for seq in published if seq not in logged
        )
    found.extend(f"publication gap: {gap}" for gap in watcher.seq_gaps)
    found.extend(watcher.energy_violations)
    found.extend(f"connector given up: {event}" for event in watcher.given_up)
    if len(watcher.epochs) > 1:
        found.append(f"the station's epoch changed: {sorted(watcher.epochs)}")
    return found


def lost_at_crashes(watcher: Watcher, logs: dict[int, list[dict[str, Any]]]) -> int:
    """Logged events whose publication was lost as their worker died (allowed; get_events has them)."""
    return sum(1 for evse, seq, _ in _unpublished(watcher, logs) if watcher.lost_at_a_crash(evse, seq))


def all_violations(watcher: Watcher, pager: EventCollector, tallies: list[Tally]) -> list[str]:
    """Of the event logs, the publications, and every request (answered once, with its own id)."""
    found = list(pager.problems)
    for evse, events in pager.events.items():
        found.extend(session_violations(evse, events))
        found.extend(double_executions(evse, events))
    found.extend(publication_violations(watcher, pager.events))
    for tally in tallies:
        found.extend(f"stray reply: {stray}" for stray in tally.strays)
        if tally.outcomes["unanswered"]:
            found.append(f"{tally.outcomes['unanswered']} requests unanswered after every retry")
        if tally.sent != sum(tally.outcomes.values()):
            found.append(f"{tally.sent} requests sent, {sum(tally.outcomes.values())} outcomes counted")
    return found


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms_stats(values: Sequence[float | None]) -> dict[str, Any]:
    known = [v * 1000 for v in values if v is not None]
    return {
        "count": len(known),
        "missing": len(values) - len(known),
        "p50_ms": percentile(known, 50),
        "p99_ms": percentile(known, 99),
        "max_ms": max(known) if known else None,
    }


def blow_figures(blows: list[Blow]) -> dict[str, Any]:
    kills = [b for b in blows if b.kind == "kill"]
    hangs = [b for b in blows if b.kind == "hang"]
    workers = [b for b in blows if b.kind == "worker"]
    return {
        "worker_kills_measured": len(workers),
        "worker_recovery": ms_stats([b.recovered_s for b in workers]),
        "worker_failure_seen": ms_stats([b.detected_s for b in workers]),
        "worker_restart_seen": ms_stats([b.restarted_s for b in workers]),
        "kills_measured": len(kills),
        "recovery": ms_stats([b.recovered_s for b in kills]),
        "restart_seen": ms_stats([b.restarted_s for b in kills]),
        "hangs_measured": len(hangs),
        "hang_detect": ms_stats([b.detected_s for b in hangs]),
        "hang_serve_again": ms_stats([b.recovered_s for b in hangs]),
        "recovery_by_role": {r: ms_stats([b.recovered_s for b in kills if b.role == r]) for r in ROLES},
        "hang_restart_seen_by_role": {
            r: ms_stats([b.restarted_s for b in hangs if b.role == r]) for r in ROLES
        },
        "hang_serve_again_by_role": {
            r: ms_stats([b.recovered_s for b in hangs if b.role == r]) for r in ROLES
        },
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _stats_line(label: str, stats: dict[str, Any]) -> str:
    missing = f", {stats['missing']} never" if stats["missing"] else ""
    return (f"  {label:<34} p50 {_ms(stats['p50_ms'])} ms  p99 {_ms(stats['p99_ms'])} ms  "
            f"max {_ms(stats['max_ms'])} ms  (n={stats['count']}{missing})")  # fmt: skip


def _outcomes(tally: dict[str, Any]) -> str:
    outcomes = tally["outcomes"]
    errors = ", ".join(
        f"{code} {n}" for code, n in sorted(outcomes.items()) if code not in ("ok", "unanswered")
    )
    return (f"sent {tally['sent']}, ok {outcomes.get('ok', 0)}, errors: {errors or 'none'}, "
            f"unanswered {outcomes.get('unanswered', 0)}, resends {tally['resends']}, "
            f"stray replies {tally['strays']}")  # fmt: skip


def format_report(r: dict[str, Any]) -> str:
    """The report as printed: a readable table of the figures in `r` (the --json document)."""
    res = r["resources"]
    lines = [
        "=" * 100,
        f"chaos run: {r['duration_s']:.0f} s, isolation {r['isolation']}, kill rate {r['kill_rate']}/s, "
        f"hang rate {r['hang_rate']}/s ({r['hang_s']} s each), worker kill rate {r['worker_kill_rate']}/s, "
        f"{r['connectors']} connectors, {r['clients']} command clients, "
        f"time_scale {r['time_scale']}, seed {r['seed']}",
        "supervision limits: " + ", ".join(f"{k} {v}" for k, v in r["limits"].items()),
        f"kills sent {r['kills_sent']} (refused: {r['kills_refused'] or 'none'}), "
        f"hangs sent {r['hangs_sent']}, worker kills done {r['worker_kills_sent']}, "
        f"schedule late by at most {r['killer_late_s'] * 1000:.0f} ms",
        f"restarts: {r['restarts_status']} (status, all actors, chaos phase), workers "
        f"{r['worker_restarts_status']}; supervision events {r['supervision_events']} "
        f"(of workers: {r['worker_supervision_events'] or 'none'})",
        *_worker_lines(r),
        "recovery after a kill:",
        _stats_line("kill → next ok reply", r["blows"]["recovery"]),
        _stats_line("kill → session restart seen", r["blows"]["restart_seen"]),
        *[
            _stats_line(f"  {role} killed → ok", stats)
            for role, stats in r["blows"]["recovery_by_role"].items()
        ],
        f"hangs ({r['blows']['hangs_measured']}):",
        _stats_line("hang → hung event (detect)", r["blows"]["hang_detect"]),
        _stats_line("hang → next ok reply (serve again)", r["blows"]["hang_serve_again"]),
        *[
            _stats_line(f"  {role} hung → restart seen", stats)
            for role, stats in r["blows"]["hang_restart_seen_by_role"].items()
        ],
        *[
            _stats_line(f"  {role} hung → ok", stats)
            for role, stats in r["blows"]["hang_serve_again_by_role"].items()
        ],
        "requests:",
        f"  command clients: {_outcomes(r['requests']['clients'])}",
        f"  car drivers:     {_outcomes(r['requests']['cars'])}",
        f"  chaos + probes:  {_outcomes(r['requests']['chaos'])}",
        f"  event pager:     {_outcomes(r['requests']['pager'])}",
        f"  all:             {_outcomes(r['requests']['all'])}",
        *[f"    {n} times {error}" for error, n in r["requests"]["all"].get("errors", {}).items()],
        f"sessions: cars plugged {r['sessions']['plugged']}, unplugged {r['sessions']['unplugged']}; "
        f"in the event logs (warm-up included): started {r['sessions']['started']}, "
        f"finished {r['sessions']['finished']}",
        f"lost sessions: {sum(r['lost_sessions'].values())} ({r['lost_sessions']}); "
        f"double executions: {r['double_executions']}",
        f"events logged (whole run) per connector: {r['events_logged']}",
        f"publications seen {r['publications']}, powermeter {r['powermeter']}; session events logged but "
        f"not published as their worker died (durability.md allows it): {r['publications_lost_at_crashes']}",
        f"seq gaps left by a worker's death (announced, one number each): {r.get('crash_gaps', 0)}",
        f"invariant violations: {len(r['violations'])}",
        *[f"  - {v}" for v in r["violations"][:SHOWN_VIOLATIONS]],
        f"warm-up {r['warmup_s']:.0f} s; fresh station ({res['fresh']['processes']} processes, the plant "
        f"not counted): threads {res['fresh']['threads']}, fds "
        f"{res['fresh']['fds']}, RSS {res['fresh']['rss_bytes'] / 2**20:.1f} MiB",
        f"processes {res['start']['processes']} → {res['end']['processes']}, "
        f"threads {res['start']['threads']} → {res['end']['threads']}, fds {res['start']['fds']} → "
        f"{res['end']['fds']}, RSS {res['start']['rss_bytes'] / 2**20:.1f} → "
        f"{res['end']['rss_bytes'] / 2**20:.1f} MiB ({r['rss_growth_pct']:+.1f} %), "
        f"settled in {r['settle_s']:.1f} s",
        f"station log: {r['station_log']}",
        f"station stop (SIGTERM): exit code {r['exit_code']} in {r['exit_s']:.2f} s",
        "targets:",
        *[f"  [{'met' if met else 'MISSED'}] {name}" for name, met in r["targets"].items()],
        "=" * 100,
    ]
    return "\n".join(lines)


def _worker_lines(r: dict[str, Any]) -> list[str]:
    if not r["blows"]["worker_kills_measured"]:
        return []
    return [
        "recovery after a worker kill (SIGKILL):",
        _stats_line("worker kill → answers again", r["blows"]["worker_recovery"]),
        _stats_line("worker kill → crashed seen", r["blows"]["worker_failure_seen"]),
        _stats_line("worker kill → restarted seen", r["blows"]["worker_restart_seen"]),
    ]


def targets(r: dict[str, Any]) -> dict[str, bool]:
    res, blows = r["resources"], r["blows"]
    found = {
        "0 invariant violations": not r["violations"],
        "0 unanswered requests": r["requests"]["all"]["outcomes"].get("unanswered", 0) == 0,
        "0 lost sessions": sum(r["lost_sessions"].values()) == 0,
        "0 double executions": r["double_executions"] == 0,
        "no connector given up": r["supervision_events"].get("gave_up", 0) == 0,
        "threads back to the start count": res["end"]["threads"] <= res["start"]["threads"],
        "fds back to the start count": res["end"]["fds"] <= res["start"]["fds"],
        "RSS growth under 10 %": r["rss_growth_pct"] < 10.0,
    }
    if blows["kills_measured"] or not blows["worker_kills_measured"]:
        found.update(_within(blows["recovery"], "recovery", 20.0, 100.0))
    if r["worker_kill_rate"] > 0:
        found.update(_within(blows["worker_recovery"], "worker kill → answers again", 100.0, 300.0))
    found["station exits 0 within 5 s of SIGTERM"] = r["exit_code"] == 0 and r["exit_s"] <= 5.0
    return found


def _within(stats: dict[str, Any], label: str, p50_ms: float, p99_ms: float) -> dict[str, bool]:
    """p50 and p99 at most these, none missing."""
    p50, p99, none_missing = stats["p50_ms"], stats["p99_ms"], stats["missing"] == 0
    return {
        f"{label} p50 ≤ {p50_ms:g} ms": p50 is not None and p50 <= p50_ms and none_missing,
        f"{label} p99 ≤ {p99_ms:g} ms": p99 is not None and p99 <= p99_ms and none_missing,
    }
