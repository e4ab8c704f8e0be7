"""One connector at run time: its simulator, its state, its four supervised actors.

The connector's supervisor restarts actors rest_for_one (hardware → meter → reservation →
session); the `ConnectorState` outlives them all. When the supervisor gives up, the
connector is Faulted here, without actors: power off first, then the events.
"""

from __future__ import annotations

import contextlib
import logging
import pathlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pykka

from actors import charging, states
from actors.base import ConnectorActor, ConnectorContext
from actors.events import event_value, reading_context
from actors.hardware import HardwareActor
from actors.messages import Disable, Enable, Keyed, Tick
from actors.meter import MeterActor
from actors.model import Emit, EndReservation, Env, Error, Output, State
from actors.ports import Budget, Journal, NoTimer, ReplyKey, Timer
from actors.reservation import ReservationActor
from actors.session import SessionActor
from actors.settings import ConnectorSettings
from actors.state import ConnectorState
from drivers.base import DriverError, PilotSignal
from drivers.clock import Clock
from supervisor.station.bus import Bus
from supervisor.station.drivers import build_devices
from supervisor.tree import (
    ChildSpec,
    Lease,
    SupervisionEvent,
    SupervisionSettings,
    Supervisor,
    Unavailable,
    answer,
)

log = logging.getLogger(__name__)

ROLES: tuple[tuple[str, type[ConnectorActor]], ...] = (
    ("hardware", HardwareActor),
    ("meter", MeterActor),
    ("reservation", ReservationActor),
    ("session", SessionActor),
)
_ALWAYS_ANSWERED = (Disable, Enable)  # even by a connector that was given up


class _TreePeers:
    """`Peers` over the connector's supervisor: every call reaches the current generation."""

    def __init__(self) -> None:
        self.tree: Supervisor | None = None

    def ask(self, role: str, message: object, timeout_s: float) -> Any:
        """Ask the running generation; Unavailable at once while that role restarts or once it hangs.

        Actors ask only roles started before them, which restart together with them
        (rest_for_one), so there is nothing worth waiting for inside a handler.
        """
        assert self.tree is not None
        return self.tree.ask_running(role, message, timeout_s)

    def tell(self, role: str, message: object) -> None:
        assert self.tree is not None
        # A message reaches a generation still starting; to an actor that is down it is
        # dropped: a restarted actor reconciles on start.
        self.tree.tell(role, message)


class Connector:
    def __init__(
        self,
        settings: ConnectorSettings,
        bus: Bus,
        clock: Clock,
        limits: SupervisionSettings,
        state_dir: pathlib.Path,
        time_scale: float,
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
        key_path = state_dir / "meter-keys" / f"evse-{settings.index}.pem"
        self.plant = build_devices(
            settings, clock, device_loss_s=limits.device_loss_s, time_scale=time_scale, key_path=key_path
        )
        recovered = None if on_recovered is None else (lambda reason: on_recovered(settings.index, reason))
        self.state = ConnectorState(settings, self.publisher, journal, recovered)
        self._peers = _TreePeers()
        self.ctx = ConnectorContext(
            settings,
            self.plant.board,
            self.plant.meter,
            clock,
            self.state,
            self._peers,
            budget,
            timer or NoTimer(),
        )
        self.tree = Supervisor(
            f"evse/{settings.index}",
            [ChildSpec(role, self._starter(actor_class)) for role, actor_class in ROLES],
            strategy="rest_for_one",
            limits=limits,
            clock=clock,
            on_event=self._on_supervision_event,
            on_give_up=lambda name: self.give_up(),
        )
        self._peers.tree = self.tree
        self._station_lease = Lease("station", 0)
        self._on_supervision = on_supervision
        self._started = threading.Event()  # commands that come before the start wait for it

    def _on_supervision_event(self, event: SupervisionEvent) -> None:
        """Publish it; and while the hardware actor is down, the power is off."""
        if event.role == "hardware" and event.event in ("crashed", "hung"):
            self.power_off()
        self._on_supervision(self.index, event)

    def _starter(self, actor_class: type[ConnectorActor]) -> Callable[[Lease], pykka.ActorRef[Any]]:
        def start(lease: Lease) -> pykka.ActorRef[Any]:
            return actor_class.start(self.ctx, lease)

        return start

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.publisher.publish("evse_id", self.settings.evse_id)
        self.tree.start()
        self._started.set()

    def power_off(self) -> None:
        """Switch the power off directly through the board, whatever the actors are doing."""
        try:
            self.plant.board.allow_power(False)
            self.plant.board.set_pilot(PilotSignal.x1())
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

    # --- views ---------------------------------------------------------------------------

    def env(self) -> Env:
        clock = self._clock
        return Env(
            self.settings, self.state.reservation, clock.monotonic(), lambda: str(uuid.uuid4()), clock.time()
        )

    def state_name(self) -> State:
        return states.state_of(self.state.model, self.env())

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
        """Past its restart intensity the connector is Faulted: power off, then the events.

        First what the last step decided and its actors could not carry out (the outbox),
        then what being Faulted means for the session and the reservation, PermanentFault last.
        """
        self.power_off()
        with contextlib.suppress(DriverError):
            self.plant.board.set_pilot(PilotSignal.f() if self.settings.state_f else PilotSignal.x1())
        result = charging.set_faulted(self.state.model, self.env(), Error.Internal)
        lease = self._station_lease
        self.state.set_model(lease, result.model, result.outputs)
        self.state.set_applied_output(lease, None)
        while self.state.outbox:
            self._carry_out(self.state.outbox[0])

    def _carry_out(self, output: Output) -> None:
        """Carry out the outbox's oldest output without actors; it leaves the outbox."""
        lease, now = self._station_lease, self._clock.time()
        if isinstance(output, Emit):
            self.state.publish_event(lease, now, self._given_up_event(output, now), from_outbox=True)
            return
        if isinstance(output, EndReservation):
            self.state.end_reservation(lease, output.reason, now)
        else:  # Unlock: with the power off the cable may come out
            with contextlib.suppress(DriverError):
                self.plant.board.set_lock(False)
        self.state.pop_output(lease)

    def _given_up_event(self, emit: Emit, now: float) -> dict[str, Any]:
        """The event's value from the meter's last reading: the meter may be what failed."""
        context = reading_context(emit)
        signed = None
        if context is not None:
            with contextlib.suppress(DriverError):
                signed = self.plant.meter.signed_reading(emit.token, context) or None
        return event_value(emit, now, self.state.last_reading, signed)
