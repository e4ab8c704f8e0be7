"""The failure plan as a table: restart type, death, strategy, intensity → stop, restart, give up."""

from __future__ import annotations

import pytest

from supervisor.tree.lease import FailureKind
from supervisor.tree.plan import ChildView, Death, FailurePlan, plan_failure, restarts
from supervisor.tree.specs import ChildState, RestartType, Strategy

ROLES = ("hardware", "meter", "reservation", "session")


def children(
    failed: str,
    restart: RestartType = "permanent",
    others: dict[str, tuple[RestartType, ChildState]] | None = None,
) -> list[ChildView]:
    """Four children, all running permanent ones but the failed one (already out) and `others`."""
    views = []
    for role in ROLES:
        if role == failed:
            views.append(ChildView(role, restart, "stopped"))
        else:
            kind, state = (others or {}).get(role, ("permanent", "running"))
            views.append(ChildView(role, kind, state))
    return views


@pytest.mark.parametrize(
    ("restart", "death", "expected"),
    [
        ("permanent", "crashed", True),
        ("permanent", "hung", True),
        ("permanent", "exited", True),
        ("transient", "crashed", True),
        ("transient", "hung", True),
        ("transient", "exited", False),
        ("temporary", "crashed", False),
        ("temporary", "hung", False),
        ("temporary", "exited", False),
    ],
)
def test_which_deaths_restart(restart: RestartType, death: Death, expected: bool) -> None:
    assert restarts(restart, death) is expected


@pytest.mark.parametrize(
    ("strategy", "failed", "stop", "restart"),
    [
        ("one_for_one", "meter", (), ("meter",)),
        ("one_for_one", "hardware", (), ("hardware",)),
        ("one_for_all", "meter", ("session", "reservation", "hardware"), ROLES),
        ("one_for_all", "session", ("reservation", "meter", "hardware"), ROLES),
        ("rest_for_one", "meter", ("session", "reservation"), ("meter", "reservation", "session")),
        ("rest_for_one", "hardware", ("session", "reservation", "meter"), ROLES),
        ("rest_for_one", "session", (), ("session",)),
    ],
)
def test_the_strategy_names_the_siblings_stopped_and_restarted(
    strategy: Strategy, failed: str, stop: tuple[str, ...], restart: tuple[str, ...]
) -> None:
    plan = plan_failure(strategy, children(failed), failed, "crashed", 0, 5)
    assert plan == FailurePlan(
        "crashed", keep_reason=True, counted=True, give_up=False, stop=stop, restart=restart
    )


@pytest.mark.parametrize(
    ("restart", "death", "event", "keep_reason", "counted"),
    [
        ("permanent", "crashed", "crashed", True, True),
        ("permanent", "hung", "hung", True, True),
        ("permanent", "exited", "crashed", False, True),  # an exit of a permanent child is news
        ("transient", "exited", None, False, False),  # a transient child may end quietly
        ("temporary", "crashed", "crashed", True, False),
        ("temporary", "hung", "hung", True, False),
        ("temporary", "exited", None, False, False),
    ],
)
def test_the_death_decides_the_event_the_reason_and_the_count(
    restart: RestartType, death: Death, event: str | None, keep_reason: bool, counted: bool
) -> None:
    plan = plan_failure("rest_for_one", children("meter", restart), "meter", death, 0, 5)
    assert (plan.event, plan.keep_reason, plan.counted, plan.give_up) == (event, keep_reason, counted, False)
    if not counted:
        assert (plan.stop, plan.restart) == ((), ())


@pytest.mark.parametrize(
    ("recent", "intensity", "give_up"),
    [(0, 0, True), (0, 1, False), (4, 5, False), (5, 5, True), (9, 5, True)],
)
def test_one_failure_more_than_the_intensity_gives_up(recent: int, intensity: int, give_up: bool) -> None:
    plan = plan_failure("rest_for_one", children("hardware"), "hardware", "crashed", recent, intensity)
    assert plan.give_up is give_up
    assert plan.counted
    if give_up:
        assert (plan.stop, plan.restart) == ((), ())  # giving up stops everyone instead


def test_a_failure_that_is_not_restarted_never_gives_up() -> None:
    plan = plan_failure("one_for_all", children("meter", "temporary"), "meter", "crashed", 9, 0)
    assert not plan.give_up and plan.stop == () and plan.restart == ()


def test_siblings_stopped_by_an_operator_stay_stopped_and_temporary_ones_are_not_restarted() -> None:
    others: dict[str, tuple[RestartType, ChildState]] = {
        "reservation": ("permanent", "stopped"),
        "session": ("temporary", "running"),
    }
    plan = plan_failure("rest_for_one", children("meter", others=others), "meter", "hung", 0, 5)
    assert plan.stop == ("session",)
    assert plan.restart == ("meter",)


def test_a_sibling_already_waiting_for_its_restart_is_restarted_again_not_stopped() -> None:
    others: dict[str, tuple[RestartType, ChildState]] = {"session": ("permanent", "restarting")}
    plan = plan_failure("rest_for_one", children("meter", others=others), "meter", "crashed", 0, 5)
    assert plan.stop == ("reservation",)
    assert plan.restart == ("meter", "reservation", "session")


@pytest.mark.parametrize(
    ("kind", "recent", "counted", "give_up"),
    [
        ("counted", 5, True, True),
        ("uncounted", 5, False, False),  # a device briefly away: restarted, whatever the intensity
        ("uncounted", 500, False, False),
        ("fatal", 0, False, True),  # a device lost for good: given up at once
    ],
)
def test_the_failure_kind_decides_the_count_and_giving_up(
    kind: FailureKind, recent: int, counted: bool, give_up: bool
) -> None:
    plan = plan_failure("rest_for_one", children("hardware"), "hardware", "crashed", recent, 5, kind)
    assert (plan.counted, plan.give_up) == (counted, give_up)
    assert plan.restart == (() if give_up else ROLES)
