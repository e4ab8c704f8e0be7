"""A simulated day of eight 32 A connectors behind 63 A, on a virtual clock.

    python bench/energy_day.py [--runs 5] [--connectors 8] [--grid-a 63] [--step-s 1]

The pure allocation (`supervisor.energy.allocation`) and the rule for cars that draw less
(`supervisor.energy.draw`) run every `step_s` of virtual time against a car model: cars
arrive through the day (more in the morning and the evening), plug into a free connector
(or are turned away when all are taken), are authorized at once and leave after their
stay, full or not. A car draws what it is offered, up to its own maximum, on its own
phases, tapering above 80 % state of charge. Printed per run and as median / p99 over
the runs: energy delivered, the peak of the sum of limits per grid phase (never above the
grid limit), the peak of measured current per phase, and how long cars waited between
authorization and their first current.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from dataclasses import dataclass, field

from drivers.sim.car import taper_factor
from supervisor.energy.allocation import GRID_PHASES, MIN_CURRENT_A, EvseInput, StationInput, allocate
from supervisor.energy.draw import DrawWatch, watch
from supervisor.energy.settings import PHASE_ROTATIONS, grid_phases

DAY_S = 86_400
VOLTAGE_V = 230.0


@dataclass
class Car:
    capacity_wh: float
    soc: float
    target_soc: float
    max_current_a: float
    phases: int
    leaves_at_s: float
    authorized_at_s: float
    started_at_s: float | None = None

    def draw_a(self, offered_a: float) -> float:
        if self.soc >= self.target_soc or offered_a < MIN_CURRENT_A:
            return 0.0
        return min(offered_a, self.max_current_a) * taper_factor(self.soc)


@dataclass
class Day:
    """One run's totals."""

    energy_wh: float = 0.0
    peak_limit_a: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GRID_PHASES, 0.0))
    peak_drawn_a: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GRID_PHASES, 0.0))
    waits_s: list[float] = field(default_factory=list)
    cars: int = 0
    turned_away: int = 0


def arrival_rate_per_s(t_s: float) -> float:
    """Cars per second: a morning and an evening peak over a low night (about 40 cars a day)."""
    hour = t_s / 3600
    bumps = math.exp(-(((hour - 8.5) / 1.5) ** 2)) + 0.8 * math.exp(-(((hour - 18) / 2) ** 2))
    return (0.2 + 3.5 * bumps) / 3600


def new_car(rng: random.Random, now_s: float) -> Car:
    return Car(
        capacity_wh=rng.choice((40_000, 60_000, 77_000, 90_000)),
        soc=rng.uniform(0.1, 0.6),
        target_soc=rng.choice((0.8, 0.9, 1.0)),
        max_current_a=rng.choice((16.0, 32.0, 32.0, 11.0)),
        phases=rng.choice((3, 3, 3, 1)),
        leaves_at_s=now_s + rng.uniform(0.5, 5) * 3600,
        authorized_at_s=now_s,
    )


def run_day(seed: int, connectors: int, grid_a: float, step_s: float) -> Day:
    rng = random.Random(seed)
    rotations = [PHASE_ROTATIONS[(2 * i) % len(PHASE_ROTATIONS)] for i in range(connectors)]
    phases = [grid_phases(rotation, 3) for rotation in rotations]
    cars: list[Car | None] = [None] * connectors
    watches = [DrawWatch()] * connectors
    offered = [0.0] * connectors
    day, station = Day(), StationInput(fuse_a=grid_a)
    for tick in range(int(DAY_S / step_s)):
        now_s = tick * step_s
        _arrivals(rng, cars, day, now_s, step_s)
        evses = [_input(i, phases[i], cars[i], watches[i]) for i in range(connectors)]
        allocation = allocate(station, evses)
        offered = [e.allocated_a or 0.0 for e in allocation.evses]
        _record_limits(day, allocation.phase_sums_a())
        drawn = _charge(day, cars, offered, rotations, now_s, step_s)
        watches = [
            watch(watches[i], offered[i], drawn[i], now_s) if offered[i] else DrawWatch()
            for i in range(connectors)
        ]
    return day


def _arrivals(rng: random.Random, cars: list[Car | None], day: Day, now_s: float, step_s: float) -> None:
    for i, car in enumerate(cars):
        if car is not None and now_s >= car.leaves_at_s:
            if car.started_at_s is None:
                day.waits_s.append(now_s - car.authorized_at_s)
            cars[i] = None
    if rng.random() < arrival_rate_per_s(now_s) * step_s:
        day.cars += 1
        free = [i for i, car in enumerate(cars) if car is None]
        if free:
            cars[rng.choice(free)] = new_car(rng, now_s)
        else:
            day.turned_away += 1


def _input(index: int, phases: tuple[str, ...], car: Car | None, draw: DrawWatch) -> EvseInput:
    if car is None:
        return EvseInput(index, phases)
    return EvseInput(
        index,
        phases,
        authorized=True,
        authorized_at=car.authorized_at_s,
        max_current_a=32.0,
        draw_cap_a=draw.cap_a,
    )


def _record_limits(day: Day, sums_a: dict[str, float]) -> None:
    for phase, total_a in sums_a.items():
        day.peak_limit_a[phase] = max(day.peak_limit_a[phase], total_a)


def _charge(
    day: Day, cars: list[Car | None], offered: list[float], rotations: list[str], now_s: float, step_s: float
) -> list[float]:
    drawn = [0.0] * len(cars)
    per_phase = dict.fromkeys(GRID_PHASES, 0.0)
    for i, car in enumerate(cars):
        if car is None:
            continue
        drawn[i] = car.draw_a(offered[i])
        if drawn[i] > 0 and car.started_at_s is None:
            car.started_at_s = now_s
            day.waits_s.append(now_s - car.authorized_at_s)
        for phase in grid_phases(rotations[i], car.phases):
            per_phase[phase] += drawn[i]
        energy_wh = drawn[i] * VOLTAGE_V * car.phases * step_s / 3600
        car.soc = min(1.0, car.soc + energy_wh / car.capacity_wh)
        day.energy_wh += energy_wh
    for phase, total_a in per_phase.items():
        day.peak_drawn_a[phase] = max(day.peak_drawn_a[phase], total_a)
    return drawn


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--connectors", type=int, default=8)
    parser.add_argument("--grid-a", type=float, default=63.0)
    parser.add_argument("--step-s", type=float, default=1.0)
    options = parser.parse_args()
    days = []
    for seed in range(options.runs):
        started = time.perf_counter()
        day = run_day(seed, options.connectors, options.grid_a, options.step_s)
        took_s = time.perf_counter() - started
        days.append(day)
        waited = [w for w in day.waits_s if w > 0]
        print(
            f"run {seed}: {day.cars} cars ({day.turned_away} turned away), {day.energy_wh / 1000:.1f} kWh, "
            f"peak limits {_phases(day.peak_limit_a)} A, peak drawn {_phases(day.peak_drawn_a)} A, "
            f"{len(waited)} cars waited (median {_median(waited) / 60:.1f} min, "
            f"max {max(waited, default=0) / 60:.1f} min); {took_s:.1f} s of CPU for the day"
        )
    energy = [d.energy_wh / 1000 for d in days]
    peaks = [max(d.peak_limit_a.values()) for d in days]
    waits = [w for d in days for w in d.waits_s]
    print(
        f"over {len(days)} days, {options.connectors} connectors behind {options.grid_a:g} A: "
        f"energy median {statistics.median(energy):.1f} kWh (p99 {p99(energy):.1f}); "
        f"peak of limits on any phase median {statistics.median(peaks):.1f} A, max {max(peaks):.1f} A "
        f"(limit {options.grid_a:g} A); wait before the first current "
        f"median {statistics.median(waits) / 60:.2f} min, p99 {p99(waits) / 60:.1f} min; "
        f"cars that waited at all {sum(w > 0 for w in waits)} of {len(waits)}"
    )


def _phases(values: dict[str, float]) -> str:
    return "/".join(f"{values[p]:.1f}" for p in GRID_PHASES)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


if __name__ == "__main__":
    main()
