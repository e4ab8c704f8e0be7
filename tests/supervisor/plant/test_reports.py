"""The plant's report schedule (pure): every interval per subscription, spread, kept by the keep-alive."""

from __future__ import annotations

import pytest

from supervisor.plant.reports import PEER_FORGOTTEN_S, PEER_SILENT_S, ReportSchedule

LINK, OTHER = b"link", b"other"


def due_over(
    schedule: ReportSchedule, start_s: float, end_s: float, step_s: float = 0.05
) -> list[tuple[float, str]]:
    seen = []
    now_s = start_s
    while now_s <= end_s:
        seen += [(now_s, f"{evse}/{kind}") for _, evse, kind in schedule.due(now_s)]
        schedule.heard(LINK, now_s)
        now_s = round(now_s + step_s, 6)
    return seen


def test_each_subscription_is_due_once_an_interval() -> None:
    schedule = ReportSchedule()
    schedule.subscribe(LINK, "E1", "board", 1.0, 0.0)
    schedule.subscribe(LINK, "E1", "meter", 0.5, 0.0)
    seen = due_over(schedule, 0.0, 10.0)
    assert sum(1 for _, what in seen if what == "E1/board") in (10, 11)
    assert sum(1 for _, what in seen if what == "E1/meter") in (20, 21)


def test_subscribing_again_with_the_same_interval_keeps_the_rhythm() -> None:
    schedule = ReportSchedule()
    for _ in range(5):
        schedule.subscribe(LINK, "E1", "board", 1.0, 0.0)
    assert len(schedule) == 1
    assert sum(1 for _ in due_over(schedule, 0.0, 5.0)) in (5, 6)


def test_connectors_subscribed_at_once_report_spread_over_the_interval() -> None:
    schedule = ReportSchedule()
    for index in range(100):
        schedule.subscribe(LINK, f"XX*E1*{index}", "meter", 1.0, 0.0)
    seen = due_over(schedule, 0.0, 1.0)
    assert len({what for _, what in seen}) == 100
    per_turn = max(sum(1 for when, _ in seen if when == turn) for turn, _ in seen)
    assert per_turn <= 20  # not all in one turn


def test_a_silent_link_gets_nothing_and_is_forgotten_later() -> None:
    schedule = ReportSchedule()
    schedule.subscribe(LINK, "E1", "board", 1.0, 0.0)
    schedule.subscribe(OTHER, "E1", "board", 1.0, 0.0)
    late_s = PEER_SILENT_S + 1.0
    assert schedule.due(late_s) == []  # both silent since they subscribed
    schedule.heard(LINK, late_s)
    assert {key[0] for key in schedule.due(late_s + 1.0)} == {LINK}
    forgotten_s = PEER_FORGOTTEN_S + 10.0
    schedule.heard(LINK, forgotten_s)
    assert {key[0] for key in schedule.due(forgotten_s)} == {LINK}
    assert len(schedule) == 1  # OTHER's subscription is gone


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="board, meter"):
        ReportSchedule().subscribe(LINK, "E1", "weather", 1.0, 0.0)
