"""A car that draws less than offered gives its share back after 10 s (pure, injected time)."""

from __future__ import annotations

import pytest

from supervisor.energy.draw import BELOW_FOR_S, DrawWatch, cap_for, watch


def run(readings: list[tuple[float, float, float]]) -> DrawWatch:
    """Feed (time, offered, drawn) readings in order; the watch after the last."""
    state = DrawWatch()
    for now, offered_a, drawn_a in readings:
        state = watch(state, offered_a, drawn_a, now)
    return state


def test_a_car_drawing_8_a_of_10_is_offered_9_after_10_s_not_before() -> None:
    assert run([(0.0, 10, 8), (9.9, 10, 8)]).cap_a is None
    assert run([(0.0, 10, 8), (BELOW_FOR_S, 10, 8)]).cap_a == 9.0


def test_the_cap_is_stable_while_the_car_draws_the_same_and_lifted_when_it_wants_more() -> None:
    capped = run([(0.0, 10, 8), (10.0, 10, 8)])
    assert watch(capped, 9.0, 8.0, 100.0).cap_a == 9.0
    assert watch(capped, 9.0, 8.8, 101.0) == DrawWatch()


def test_a_car_that_draws_near_its_offer_or_recovers_in_time_keeps_its_share() -> None:
    assert run([(0.0, 10, 9), (20.0, 10, 9)]).cap_a is None
    assert run([(0.0, 10, 5), (5.0, 10, 10), (12.0, 10, 5)]).cap_a is None


def test_a_car_that_tapers_further_is_capped_lower() -> None:
    state = run([(0.0, 20, 12), (10.0, 20, 12), (20.0, 13, 9), (30.0, 13, 9)])
    assert state.cap_a == 10.0


@pytest.mark.parametrize(("drawn_a", "cap_a"), [(0.0, 6.0), (4.2, 6.0), (8.0, 9.0), (12.34, 13.4)])
def test_the_cap_is_the_draw_plus_1_a_never_below_6(drawn_a: float, cap_a: float) -> None:
    assert cap_for(drawn_a) == cap_a
