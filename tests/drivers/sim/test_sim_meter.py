"""The simulated meter: readings, OCMF signed readings, its key, and an energy register that never falls."""

from __future__ import annotations

import contextlib
import json
import pathlib
import stat
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings, target
from hypothesis import strategies as st

from drivers.base import BoardCapabilities, DriverError, PilotSignal
from drivers.clock import FakeClock
from drivers.sim import FAULT_KINDS, SimPlant

CAPS = BoardCapabilities(max_current_a=32, phases=3, phase_switching=True, lock=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def plant(clock: FakeClock) -> SimPlant:
    return SimPlant(CAPS, clock, meter_id="SIM-42")


def start_charging(plant: SimPlant, current_a: float = 16) -> None:
    plant.controls.plug_in()
    plant.board.set_pilot(PilotSignal.pwm(current_a))
    plant.board.allow_power(True)


def split_ocmf(text: str) -> tuple[str, str]:
    """The payload text and the signature text of an OCMF string."""
    assert text.startswith("OCMF|")
    payload_text, _, signature_text = text.removeprefix("OCMF|").rpartition("|")
    return payload_text, signature_text


def verify(public_pem: str, payload_text: str, signature: dict[str, Any]) -> None:
    key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert isinstance(key.curve, ec.SECP256R1)
    key.verify(bytes.fromhex(signature["SD"]), payload_text.encode("utf-8"), ec.ECDSA(hashes.SHA256()))


def test_reading(plant: SimPlant, clock: FakeClock) -> None:
    start_charging(plant)
    clock.advance(36)
    reading = plant.meter.reading()
    assert reading.timestamp == clock.time()
    assert reading.meter_id == "SIM-42"
    assert reading.energy_import_wh == pytest.approx(3 * 16 * 230 * 36 / 3600)
    assert reading.current_a == pytest.approx((16, 16, 16))
    assert reading.power_w == pytest.approx((3680, 3680, 3680))
    assert reading.voltage_v == (230.0, 230.0, 230.0)
    assert reading.to_payload()["power_W"]["total"] == pytest.approx(11040)


def test_signed_reading_format_and_signature(plant: SimPlant, clock: FakeClock) -> None:
    start_charging(plant)
    clock.advance(1.5)
    text = plant.meter.signed_reading("04A1B2C3", "B")
    payload_text, signature_text = split_ocmf(text)
    payload = json.loads(payload_text)
    assert set(payload) == {"FV", "GI", "GS", "PG", "IS", "IT", "ID", "RD"}
    assert (payload["FV"], payload["GI"], payload["GS"], payload["PG"]) == (
        "1.0",
        "evse-supervisor SimMeter",
        "SIM-42",
        "T1",
    )
    assert (payload["IS"], payload["IT"], payload["ID"]) == (True, "ISO14443", "04A1B2C3")
    [reading] = payload["RD"]
    assert reading == {
        "TM": "2027-01-15T08:00:01,500+0000 S",
        "TX": "B",
        "RV": pytest.approx(plant.meter.reading().energy_import_wh / 1000, abs=1e-4),
        "RI": "1-b:1.8.0",
        "RU": "kWh",
        "ST": "G",
    }
    assert reading["RV"] > 0
    signature = json.loads(signature_text)
    assert set(signature) == {"SA", "SD"}
    assert signature["SA"] == "ECDSA-secp256r1-SHA256"
    public_pem = plant.meter.public_key_pem()
    assert public_pem is not None
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    verify(public_pem, payload_text, signature)


def test_tampered_payload_fails_verification(plant: SimPlant) -> None:
    payload_text, signature_text = split_ocmf(plant.meter.signed_reading(None, "T"))
    public_pem = plant.meter.public_key_pem()
    assert public_pem is not None
    with pytest.raises(InvalidSignature):
        verify(public_pem, payload_text.replace('"T1"', '"T9"'), json.loads(signature_text))


def test_signed_reading_without_token_and_paging(plant: SimPlant) -> None:
    payloads = [json.loads(split_ocmf(plant.meter.signed_reading(None, tx))[0]) for tx in ("B", "T", "E")]
    assert [p["PG"] for p in payloads] == ["T1", "T2", "T3"]
    assert [p["RD"][0]["TX"] for p in payloads] == ["B", "T", "E"]
    assert (payloads[0]["IS"], payloads[0]["IT"], payloads[0]["ID"]) == (False, "NONE", "")
    assert payloads[0]["RD"][0]["TM"] == "2027-01-15T08:00:00,000+0000 S"


def test_key_is_persisted_and_reloaded(tmp_path: pathlib.Path, clock: FakeClock) -> None:
    key_path = tmp_path / "state" / "keys" / "meter-1.pem"
    first = SimPlant(CAPS, clock, key_path=key_path)
    assert key_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    second = SimPlant(CAPS, clock, key_path=key_path)
    assert second.meter.public_key_pem() == first.meter.public_key_pem()
    payload_text, signature_text = split_ocmf(second.meter.signed_reading("tag", "E"))
    public_pem = first.meter.public_key_pem()
    assert public_pem is not None
    verify(public_pem, payload_text, json.loads(signature_text))


def test_in_memory_keys_differ(clock: FakeClock) -> None:
    assert SimPlant(CAPS, clock).meter.public_key_pem() != SimPlant(CAPS, clock).meter.public_key_pem()


def test_meter_comm_fault_raises_driver_error(plant: SimPlant, clock: FakeClock) -> None:
    start_charging(plant)
    plant.controls.fault("meter_comm")
    with pytest.raises(DriverError):
        plant.meter.reading()
    with pytest.raises(DriverError):
        plant.meter.signed_reading("tag", "T")
    with pytest.raises(DriverError):
        plant.meter.public_key_pem()
    assert plant.board.status().relais_on
    clock.advance(3600)
    plant.controls.clear_fault("meter_comm")
    assert plant.meter.reading().energy_import_wh == pytest.approx(11040)
    assert json.loads(split_ocmf(plant.meter.signed_reading("tag", "T"))[0])["PG"] == "T1"


# --- the register never falls, whatever happens ---------------------------------------------------

_cars = st.fixed_dictionaries(
    {
        "capacity_wh": st.floats(100, 100000),
        "soc": st.floats(0, 0.9),
        "target_soc": st.floats(0.5, 1),
        "max_current_a": st.floats(1, 80),
        "phases": st.sampled_from([1, 3]),
        "needs_ventilation": st.booleans(),
    }
)
_pwm = st.floats(6, 80).map(PilotSignal.pwm)
_pilots = st.one_of(st.just(PilotSignal.x1()), st.just(PilotSignal.f()), _pwm, _pwm)
_actions = st.one_of(
    st.tuples(st.just("plug_in"), _cars),
    st.tuples(st.sampled_from(["unplug", "ev_pause", "ev_resume"]), st.none()),
    st.tuples(st.just("pilot"), _pilots),
    st.tuples(st.sampled_from(["allow_power", "switch_phases"]), st.booleans()),
    st.tuples(st.just("fault"), st.sampled_from(FAULT_KINDS)),
    st.tuples(st.just("clear_fault"), st.one_of(st.none(), st.sampled_from(FAULT_KINDS))),
)


def _apply(plant: SimPlant, clock: FakeClock, name: str, arg: Any) -> None:
    if name == "plug_in":
        plant.controls.plug_in(**arg)
    elif name in ("unplug", "ev_pause", "ev_resume"):
        getattr(plant.controls, name)()
    elif name in ("fault", "clear_fault"):
        getattr(plant.controls, name)(arg)
    else:
        with contextlib.suppress(DriverError):  # board_comm, or phases switched with relays closed
            _board_call(plant, name, arg)


def _board_call(plant: SimPlant, name: str, arg: Any) -> None:
    if name == "pilot":
        plant.board.set_pilot(arg)
    elif name == "allow_power":
        plant.board.allow_power(arg)
    else:
        plant.board.switch_phases(arg)


@settings(max_examples=150, deadline=None)
@given(
    time_scale=st.sampled_from([1.0, 60.0, 3600.0]),
    car=_cars,
    steps=st.lists(st.tuples(_actions, st.floats(0, 3600)), max_size=30),
)
def test_energy_never_decreases(
    time_scale: float, car: dict[str, Any], steps: list[tuple[tuple[str, Any], float]]
) -> None:
    """Each step: a control or board call, then the clock moves on."""
    clock = FakeClock()
    plant = SimPlant(CAPS, clock, time_scale=time_scale)
    plant.controls.plug_in(**car)
    plant.board.set_pilot(PilotSignal.pwm(32))
    plant.board.allow_power(True)
    last_wh = 0.0
    for (name, arg), advance_s in steps:
        _apply(plant, clock, name, arg)
        clock.advance(advance_s)
        state = plant.controls.state()
        assert state["energy_wh"] >= last_wh
        last_wh = state["energy_wh"]
        if state["soc"] is not None:
            assert 0.0 <= state["soc"] <= 1.0
        if "meter_comm" not in state["faults"]:
            assert plant.meter.reading().energy_import_wh == last_wh
    target(last_wh)
