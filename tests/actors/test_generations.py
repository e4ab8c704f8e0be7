"""A keyed command across actor generations: carried out by one, sent again to the next, run once.

The API sends a command again to the session actor's next generation whenever the one it
went to was replaced before the API had its answer (a hang of a peer restarts the session
actor with it). The generation replaced may have carried the command out all the same: the
next one answers with the reply committed then, and runs nothing.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from actors.messages import Keyed, ReserveNow
from actors.settings import ConnectorSettings
from drivers.clock import FakeClock
from supervisor.journal import ConnectorJournal
from supervisor.station.assembly import ROLES, Parts, Team, assemble
from supervisor.tree import Unavailable
from tests.harness import DEVICE_LOSS_S, Recorder

SETTINGS = ConnectorSettings(index=1, evse_id="DE*TST*E1*1")
KEY = ("client-1", 41)
WITHOUT_RESERVATION = tuple(entry for entry in ROLES if entry[0] != "reservation")


@pytest.fixture(params=["journal", "memory"])
def parts(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Parts]:
    """A connector's parts, its state written through to a real journal or kept in memory only."""
    clock = FakeClock()
    journal = ConnectorJournal(tmp_path / "evse.sqlite3", clock) if request.param == "journal" else None
    yield assemble(SETTINGS, Recorder(), clock, device_loss_s=DEVICE_LOSS_S, journal=journal)
    if journal is not None:
        journal.close()


def reserve_now(parts: Parts) -> Keyed:
    return Keyed(ReserveNow(7, "CARD-7", parts.ctx.clock.time() + 3600.0), KEY)


def reservation_starts(parts: Parts) -> list[int]:
    events = parts.state.events_since(0)["events"]
    return [
        e["value"]["reservation_start"]["reservation_id"]
        for e in events
        if e["value"]["event"] == "ReservationStart"
    ]


def next_generation(parts: Parts) -> Iterator[Team]:
    team = Team(parts.ctx, generation=2)
    team.start()
    yield team
    team.stop()


def test_a_command_the_last_generation_carried_out_is_answered_not_run_again(parts: Parts) -> None:
    """The replaced generation answered, but too late for the API, which sends it again."""
    first = Team(parts.ctx)
    first.start()
    assert first.ask("session", reserve_now(parts), 5.0) == "Accepted"
    first.stop()
    for second in next_generation(parts):
        assert second.ask("session", reserve_now(parts), 5.0) == "Accepted"
    assert reservation_starts(parts) == [7]


def test_a_command_committed_before_its_generation_lost_a_peer_runs_once(parts: Parts) -> None:
    """Committed with its reply, then its peer was gone before the reservation was stored: the next
    generation stores it from the outbox, and the command sent again is answered from the journal."""
    first = Team(parts.ctx, WITHOUT_RESERVATION)
    first.start()
    with pytest.raises(Unavailable, match="no reservation actor"):
        first.ask("session", reserve_now(parts), 5.0)
    first.stop()
    for second in next_generation(parts):
        assert reservation_starts(parts) == [7]  # from the outbox, as the new generation started
        assert second.ask("session", reserve_now(parts), 5.0) == "Accepted"
    assert reservation_starts(parts) == [7]
    assert parts.state.reservation is not None and parts.state.reservation.reservation_id == 7


def test_another_request_still_runs(parts: Parts) -> None:
    first = Team(parts.ctx)
    first.start()
    assert first.ask("session", reserve_now(parts), 5.0) == "Accepted"
    again = Keyed(ReserveNow(8, "CARD-7", parts.ctx.clock.time() + 3600.0), ("client-1", 42))
    assert first.ask("session", again, 5.0) == "Occupied"
    first.stop()
