"""SessionActor: runs the charging state machine and carries out what it decides."""

from __future__ import annotations

import logging
import uuid
from collections import deque
from types import TracebackType
from typing import Any

from actors import charging, derived
from actors.base import ASK_TIMEOUT_S, ConnectorActor, ConnectorContext
from actors.messages import (
    AcceptNewSession,
    ApplyOutput,
    Authorize,
    BoardReport,
    Enable,
    Keyed,
    PhasesSwitched,
    ReadStatus,
    SignReading,
    Tick,
)
from actors.model import (
    BoardAnswer,
    Env,
    HardwareOutput,
    LockAnswer,
    MeterAnswer,
    Model,
    Pending,
)
from actors.outbox import OutboxCarrier
from actors.ports import JournalWriteFailed, ReplyKey
from actors.recovery import reconcile
from drivers.base import MIN_CURRENT_A, PilotSignal
from supervisor.tree import Later, Laters, Lease

log = logging.getLogger(__name__)

RETRY_S = 0.05  # how soon a tick retries what a failed peer left undone (board output, outbox)


def _new_uuid() -> str:
    return str(uuid.uuid4())


class SessionActor(OutboxCarrier):
    role = "session"
    handlers = {
        **ConnectorActor.handlers,
        **dict.fromkeys(charging.TRANSITIONS, "_command"),
        BoardReport: "_on_board",
        Tick: "_tick",
        PhasesSwitched: "_phases_switched",
        Keyed: "_keyed",
    }
    _reply_key: ReplyKey | None = None  # the key of the command being handled, if it has one
    _journaled_reply: tuple[ReplyKey, Any] | None = None  # what its step committed

    def __init__(self, ctx: ConnectorContext, lease: Lease) -> None:
        super().__init__(ctx, lease)
        self._laters = Laters(lease)
        self._switch_waiters: list[Later] = []  # replies owed when the phase switch in flight ends
        self._after_switch: deque[tuple[object, Later]] = deque()  # commands stepped after it

    def on_start(self) -> None:
        """Take up the connector where the last generation left it, as the hardware sees it now.

        First what the last generation decided but did not carry out (its outbox). A hardware
        actor that died meanwhile is the supervisor's business, not a failure of this start:
        its next generation reports the board on its first tick.
        """
        self._deliver_outbox()
        switching_to = self.ctx.state.model.switching_to
        if switching_to is not None:  # the hardware ends it and tells us; a new one begins it again
            self._begin_phase_switch(switching_to)
        try:
            status = self.ctx.peers.ask("hardware", ReadStatus(), ASK_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("evse %d: no board status at start: %r", self.ctx.settings.index, exc)
            return
        self._on_board(BoardReport(status))

    def _keyed(self, message: Keyed) -> Any:
        """A command with an idempotency key: its reply is journaled with the change it causes.

        A command that took effect already is answered with its stored reply and runs nothing: the
        API sends a command again to the next generation when the one it went to was replaced before
        the API had the answer, and that one may have carried it out all the same (it handled what
        was queued before its stop, or committed the step and then lost a peer). A reply that comes
        later (a phase switch in flight) is kept by the API's own store.
        """
        stored = self.ctx.state.stored_reply(message.key)
        if stored is not None:
            return stored[0]
        self._reply_key, self._journaled_reply = message.key, None
        try:
            reply = self.on_receive(message.message)
        finally:
            self._reply_key = None
        if not isinstance(reply, Later) and self._journaled_reply != (message.key, reply):
            self.ctx.state.store_reply(self.lease, message.key, reply)
        return reply

    def _on_board(self, report: BoardReport) -> None:
        """A board report; the first one after a restart of the station reconciles the journal with it."""
        state = self.ctx.state
        if not state.recovering:
            self._command(report)
            state.set_plug_count(self.lease, report.status.plug_count)
            return
        result, reason = reconcile(state.model, report.status, state.plug_count, self._env())
        self._commit(result)
        state.set_plug_count(self.lease, report.status.plug_count)
        state.finish_recovery(self.lease, reason)
        self._sync_hardware()

    def on_stop(self) -> None:
        self._laters.fail_all(f"the evse {self.ctx.settings.index} session actor stopped before it answered")
        super().on_stop()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._laters.fail_all(f"the evse {self.ctx.settings.index} session actor died before it answered")
        super().on_failure(exception_type, exception_value, traceback)

    # --- the state machine -------------------------------------------------------------------

    def _env(self, admission_a: float = 0.0) -> Env:
        state = self.ctx.state
        clock = self.ctx.clock
        return Env(state.settings, state.reservation, clock.monotonic(), _new_uuid, clock.time(), admission_a)

    def _command(self, message: object) -> Any:
        """A message of the state table; a reply the step cannot give yet comes as a `Later`."""
        return self._owe(message, self._machine(message))

    def _owe(self, message: object, reply: Any, later: Later | None = None) -> Any:
        """The reply (given to `later` if one was owed), or the `Later` that gives it when it can."""
        if not isinstance(reply, Pending):
            if later is not None:
                later.resolve(reply)
            return reply
        later = later or self._laters.owe()
        if reply is Pending.SWITCH_RESULT:
            self._switch_waiters.append(later)
        else:
            self._after_switch.append((message, later))
        return later

    def _phases_switched(self, message: PhasesSwitched) -> None:
        """A switch ended: its result to those who asked for it, then the commands that waited."""
        result = self._machine(message)
        waiters, self._switch_waiters = self._switch_waiters, []
        for later in waiters:
            later.resolve(result)
        queued, self._after_switch = self._after_switch, deque()
        for command, owed in queued:
            self._owe(command, self._machine(command), owed)

    def _machine(self, message: object) -> Any:
        before = self.ctx.state.model
        admission_a = self._claim_admission(before, message)
        result = charging.step(before, message, self._env(admission_a))
        if admission_a and not derived.authorized(result.model):
            assert self.ctx.budget is not None
            self.ctx.budget.release(self.ctx.settings.index)
        if result.model is before and not result.outputs:
            return self._completed(result.reply, True, None)  # nothing to write, apply or publish
        return self._commit(result)

    def _commit(self, result: charging.Step) -> Any:
        """Journal the step (with the reply of a keyed command when it is final), then carry it out."""
        journaled = None
        if self._reply_key is not None and isinstance(result.reply, (bool, str, int, float, type(None))):
            journaled = (self._reply_key, result.reply)
        try:
            self.ctx.state.set_model(self.lease, result.model, result.outputs, journaled)
            self._journaled_reply = journaled
        except JournalWriteFailed:
            self._power_off()
            raise
        board_ok = self._sync_hardware()
        unlocked = self._deliver_outbox()
        self._publish_limits()
        return self._completed(result.reply, board_ok, unlocked)

    def _claim_admission(self, model: Model, message: object) -> float:
        """Claim the minimum before a step that may authorize a session without enough allocated."""
        budget, settings = self.ctx.budget, self.ctx.settings
        if budget is None or model.allocation_a is None or model.allocation_a >= MIN_CURRENT_A:
            return 0.0
        if derived.authorized(model):
            return 0.0
        may_authorize = model.pre_auth is not None or settings.free_charging
        if isinstance(message, Authorize) or (
            may_authorize and isinstance(message, BoardReport | Enable | AcceptNewSession)
        ):
            return budget.claim_minimum(settings.index)
        return 0.0

    def _completed(self, reply: Any, board_ok: bool, unlocked: bool | None) -> Any:
        """The step's reply, completed by what carrying the step out found (see `charging.Step`)."""
        if isinstance(reply, BoardAnswer):
            return reply.ok if board_ok else reply.failed
        if isinstance(reply, LockAnswer):
            return unlocked is True
        if isinstance(reply, MeterAnswer):
            return self.ctx.peers.ask("meter", SignReading(reply.token, reply.context), ASK_TIMEOUT_S)
        return reply

    def _power_off(self) -> None:
        """The journal refused a step: the state does not advance, and no power flows meanwhile."""
        safe = HardwareOutput(
            PilotSignal.x1(), False, self.ctx.state.model.plugged and self.ctx.settings.lock
        )
        try:
            self.ctx.peers.ask("hardware", ApplyOutput(safe), ASK_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - the hardware actor's failure is the supervisor's business
            log.warning("evse %d: could not switch the power off: %r", self.ctx.settings.index, exc)

    def next_tick_s(self) -> float | None:
        """The model's timers (pre-authorization, overdraw), or soon while the board or the outbox lag."""
        model, state, env = self.ctx.state.model, self.ctx.state, self._env()
        dues_s = []
        if model.pre_auth is not None:
            dues_s.append(model.pre_auth.expires_at)
        if model.overdraw_since is not None:
            dues_s.append(model.overdraw_since + charging.OVERDRAW_LIMIT_S)
        if state.outbox or derived.hardware_output(model, env) != state.applied_output:
            dues_s.append(env.now + RETRY_S)
        return min(dues_s, default=None)

    def _tick(self, message: Tick) -> None:
        model = self.ctx.state.model
        expired = derived.allocation_expired(model, self.ctx.clock.monotonic())
        if model.pre_auth is not None or model.overdraw_since is not None or expired:
            self._machine(message)
            return
        self._sync_hardware()
        self._deliver_outbox()  # left over when a peer failed in the middle of a command

    def _sync_hardware(self) -> bool:
        """Make the board do what the model's state requires; False if the board could not be reached."""
        state = self.ctx.state
        desired = derived.hardware_output(state.model, self._env())
        if state.recovering:  # the board has not answered since the restart: power off until it does
            desired = HardwareOutput(PilotSignal.x1(), False, desired.locked)
        if desired == state.applied_output:
            return True
        try:
            self.ctx.peers.ask("hardware", ApplyOutput(desired), ASK_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - the hardware actor's failure is the supervisor's business
            log.warning("evse %d: could not apply %s: %r", self.ctx.settings.index, desired, exc)
            return False
        return True

    # --- publications ------------------------------------------------------------------------

    def _publish_limits(self) -> None:
        model = self.ctx.state.model
        limits = {
            "uuid": self.ctx.settings.evse_id,
            "max_current": derived.allowed_current_a(model, self._env()),
            "nr_of_phases_available": 3 if model.three_phases else 1,
        }
        self.ctx.state.publish_limits(self.lease, limits)
