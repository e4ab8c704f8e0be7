"""Cars that draw less than offered give back their share: a pure rule with an injected clock.

A car drawing clearly below what it is offered for `BELOW_FOR_S` is offered what it draws
plus `HEADROOM_A`, never below the 6 A minimum; once it draws up to that cap again the
cap is lifted and it is offered its fair share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from supervisor.energy.allocation import MIN_CURRENT_A

BELOW_FOR_S = 10.0  # how long a car must draw less before its share is given back
BELOW_MARGIN_A = 1.5  # "clearly below": this much under the offer
HEADROOM_A = 1.0  # the cap leaves the car this much above what it draws
RELEASE_MARGIN_A = 0.5  # drawing within this of the cap: the car wants more, lift the cap


@dataclass(frozen=True)
class DrawWatch:
    """One connector's watch: since when its car draws less, and the cap it was given."""

    below_since: float | None = None
    cap_a: float | None = None


def watch(previous: DrawWatch, offered_a: float, drawn_a: float, now: float) -> DrawWatch:
    """The watch after a reading of `drawn_a` (per phase, the highest) while `offered_a` is offered."""
    reference_a = previous.cap_a if previous.cap_a is not None else offered_a
    if previous.cap_a is not None and drawn_a >= previous.cap_a - RELEASE_MARGIN_A:
        return DrawWatch()
    if drawn_a >= reference_a - BELOW_MARGIN_A:
        return DrawWatch(None, previous.cap_a)
    since = previous.below_since if previous.below_since is not None else now
    if now - since < BELOW_FOR_S:
        return DrawWatch(since, previous.cap_a)
    return DrawWatch(None, cap_for(drawn_a))


def cap_for(drawn_a: float) -> float:
    """What a car drawing `drawn_a` is offered: its draw plus headroom, at 0.1 A, at least 6 A."""
    return max(MIN_CURRENT_A, math.ceil((drawn_a + HEADROOM_A) * 10 - 1e-6) / 10)
