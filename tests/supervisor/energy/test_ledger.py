"""The ledger refuses every raise that would put a phase above the station limit."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.energy.ledger import Ledger

PHASES = {1: ("L1", "L2", "L3"), 2: ("L1", "L2", "L3"), 3: ("L1",), 4: ("L2",)}


def test_raises_fit_or_are_refused_and_claims_take_the_minimum() -> None:
    ledger = Ledger(PHASES, 20.0)
    assert ledger.raise_to(1, 14.0)
    assert ledger.claim_minimum(2) == 6.0
    assert ledger.claim_minimum(3) == 0.0  # L1 holds 20 A already
    assert not ledger.raise_to(2, 7.0)
    ledger.lower_to(1, 10.0)
    assert ledger.raise_to(2, 10.0)
    assert ledger.sums_a() == {"L1": 20.0, "L2": 20.0, "L3": 20.0}
    ledger.release(2)
    assert ledger.granted_a(2) == 0.0


def test_a_lower_limit_refuses_raises_until_decreases_are_recorded() -> None:
    ledger = Ledger(PHASES, 32.0)
    assert ledger.raise_to(1, 32.0)
    ledger.set_limit(16.0)
    assert ledger.claim_minimum(2) == 0.0
    ledger.lower_to(1, 10.0)
    assert ledger.claim_minimum(2) == 6.0


OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["raise", "lower", "claim", "release"]), st.sampled_from(sorted(PHASES)),
              st.floats(0, 40, allow_nan=False)),
    max_size=40,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(OPERATIONS)
def test_property_no_sequence_of_raises_and_claims_exceeds_the_limit(
    ops: list[tuple[str, int, float]],
) -> None:
    ledger = Ledger(PHASES, 25.0)
    for name, index, amount_a in ops:
        if name == "raise":
            ledger.raise_to(index, amount_a)
        elif name == "lower":
            ledger.lower_to(index, amount_a)
        elif name == "claim":
            ledger.claim_minimum(index)
        else:
            ledger.release(index)
        assert all(total <= 25.0 + 1e-6 for total in ledger.sums_a().values())


def test_claims_from_many_threads_at_once_never_exceed_the_limit() -> None:
    ledger = Ledger({i: ("L1",) for i in range(1, 21)}, 31.0)
    start = threading.Barrier(20)
    granted: list[float] = []

    def claim(index: int) -> None:
        start.wait()
        granted.append(ledger.claim_minimum(index))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(1, 21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(granted, reverse=True)[:6] == [6.0] * 5 + [0.0]
