"""One connector at run time: its simulator, its state, its four supervised actors.

Its parts are put together in `assembly`. The connector's supervisor restarts actors
rest_for_one (hardware → meter → reservation → session); the `ConnectorState` outlives
them all. When the supervisor gives up, the connector is Faulted: power off first, then
the events, published by a last team of its actors.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pykka

from actors import derived
from actors.base import ASK_TIMEOUT_S
from actors.messages import Disable, Enable, GiveUp, Keyed, Tick
from actors.model import Env, State
from actors.ports import Budget, Journal, ReplyKey, Timer
from actors.settings import ConnectorSettings
from drivers.base import DriverError, PilotSignal
from drivers.clock import Clock
from supervisor.station.assembly import ROLES, Team, assemble, supervise
from supervisor.station.bus import Bus
from supervisor.station.drivers import Simulation
from supervisor.tree import SupervisionEvent, SupervisionSettings, Unavailable, answer

log = logging.getLogger(__name__)

RESTART_REASON = "restart requested"  # the reason of the `restarted` events of a restart on purpose
_ALWAYS_ANSWERED = (Disable, Enable)  # even by a connector that was given up
_WITHOUT_HARDWARE = tuple((role, actor) for role, actor in ROLES if role != "hardware")


class Connector:
    def __init__(
        self,
        settings: ConnectorSettings,
        bus: Bus,
        clock: Clock,
        limits: SupervisionSettings,
        simulation: Simulation,
        on_supervision: Callable[[int, SupervisionEvent], None],
        journal: Journal | None = None,
        on_recovered: Callable[[int, str], None] | None = None,
        budget: Budget | None = None,
        timer: Timer | None = None,
    ) -> None:
        self.settings = settings
        self.index = settings.index
        self._clock = clock
        self.publisher = bus.source(f"evse/{settings.index}")
        parts = assemble(
            settings,
            self.publisher,
            clock,
            device_loss_s=limits.device_loss_s,
            simulation=simulation,
            journal=journal,
            budget=budget,
            timer=timer,
            on_recovered=None
            if on_recovered is None
            else (lambda reason: on_recovered(settings.index, reason)),
        )
        self.plant, self.state, self.ctx = parts.plant, parts.state, parts.ctx
        self._peers = parts.peers
        self.tree = supervise(parts, limits, self._on_supervision_event, lambda name: self.give_up())
        self._on_supervision = on_supervision
        self._started = threading.Event()  # commands that come before the start wait for it

    def _on_supervision_event(self, event: SupervisionEvent) -> None:
        """Publish it; and while the hardware actor is down, the power is off."""
        if event.role == "hardware" and event.event in ("crashed", "hung"):
            self.power_off()
        self._on_supervision(self.index, event)

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.publisher.publish("evse_id", self.settings.evse_id)
        self.tree.start()
        self._started.set()

    def power_off(self, pilot: PilotSignal | None = None) -> None:
        """Switch the power off directly through the board, whatever the actors are doing (X1)."""
        try:
            self.plant.board.allow_power(False)
            self.plant.board.set_pilot(pilot or PilotSignal.x1())
        except DriverError as exc:
            log.error("evse %d: power off failed: %s", self.index, exc)

    def stop(self) -> None:
        self.power_off()
        self.tree.stop()
        self.plant.close()

    def tick(self) -> None:
        """Tick every actor now (tests; the station's timer ticks each actor when it is due)."""
        for role, _ in ROLES:
            self.tick_role(role)

    def tick_role(self, role: str) -> None:
        self._peers.tell(role, Tick())

    # --- commands ------------------------------------------------------------------------

    def ask_session(self, message: object, timeout_s: float, key: ReplyKey | None = None) -> Any:
        """Ask the session actor, waiting through a start or a restart; a given-up connector is
        Unavailable except to `enable` and `disable`, which start its supervisor again first.
        With `key`, the reply is journaled with the change the command causes."""
        if not self._started.wait(timeout_s):
            raise Unavailable(f"evse {self.index} is still starting at the deadline")
        if self.tree.state == "gave_up":
            if not isinstance(message, _ALWAYS_ANSWERED):
                raise Unavailable(
                    f"evse {self.index} was given up after repeated failures; disable then enable it"
                )
            self.tree.start()
        deadline_s = time.monotonic() + timeout_s
        reply = self.tree.ask("session", message if key is None else Keyed(message, key), timeout_s)
        return answer(reply, max(0.0, deadline_s - time.monotonic()))  # also one given later

    def restart(self) -> bool:
        """Restart the actors on purpose (the `restart` command): as after a failure of the
        hardware actor, the state and the session outlive them, but no failure is counted."""
        if self.tree.state == "gave_up":
            raise Unavailable(
                f"evse {self.index} was given up after repeated failures; disable then enable it"
            )
        self.tree.restart_all(RESTART_REASON)
        return True

    def sim(self, control: str, args: dict[str, Any]) -> bool:
        """Run one of the simulator's controls (`plug_in`, `fault`, ...); ValueError for impossible values."""
        run: Callable[..., bool] = getattr(self.plant.controls, control)
        return run(**args)

    def events_since(self, since: int) -> dict[str, Any]:
        return self.state.events_since(since)

    def events_in_memory(self, since: int) -> bool:
        return self.state.events_in_memory(since)

    def actor_ref(self, role: str) -> pykka.ActorRef[Any] | None:
        """The running generation of `role`, None while it restarts; Unavailable once given up."""
        try:
            return self.tree.ref(role)
        except Unavailable:
            state = self.tree.state
            if state == "gave_up":
                raise Unavailable(
                    f"evse {self.index} was given up after repeated failures; disable then enable it"
                ) from None
            if state == "stopped":
                raise
            return None

    def update_settings(self, settings: ConnectorSettings) -> None:
        """Settings read at each decision (free_charging, ...) change from the next one on (reload)."""
        self.settings = settings
        self.state.set_settings(settings)

    # --- views ---------------------------------------------------------------------------

    def env(self) -> Env:
        clock = self._clock
        return Env(
            self.settings, self.state.reservation, clock.monotonic(), lambda: str(uuid.uuid4()), clock.time()
        )

    def state_name(self) -> State:
        return derived.state_of(self.state.model, self.env())

    def describe(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "index": self.index,
            "evse_id": self.settings.evse_id,
            "state": self.state_name().value,
            "supervisor": self.tree.describe(),
        }
        try:
            key = self.plant.meter.public_key_pem()
        except DriverError:
            key = None
        if key is not None:
            entry["meter_public_key"] = key
        return entry

    # --- giving up -----------------------------------------------------------------------

    def give_up(self) -> None:
        """Past its restart intensity the connector is Faulted: power off first, then its last word.

        A last team of its actors, outside the supervisor, steps `GiveUp` and carries it out
        with the session actor's own delivery: first what the last step left in the outbox,
        then what being Faulted means for the session and the reservation, PermanentFault
        last. The hardware actor is not on it (it may be what failed): the connector drives
        the board itself, power off before and F (where the board can) after. The team is
        stopped and its leases revoked.
        """
        self.power_off()
        team = Team(self.ctx, _WITHOUT_HARDWARE, generation=0)
        try:
            team.start()
            team.ask("session", GiveUp(), 2 * ASK_TIMEOUT_S)
        except Exception:  # what is left in the outbox waits for disable + enable
            log.exception("evse %d: the last word of the given-up connector failed", self.index)
        finally:
            team.stop()
            self.power_off(PilotSignal.f() if self.settings.state_f else PilotSignal.x1())
