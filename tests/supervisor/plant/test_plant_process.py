"""The plant as hardware: a process of its own, its lock, its endpoints, its keep-alive, its registers."""

from __future__ import annotations

import pathlib
import subprocess
import threading
from collections.abc import Callable, Iterator

import pytest

from drivers.base import CPState, DriverError, PilotSignal
from drivers.sim.remote import RemoteBoard, RemoteControls, RemoteMeter
from supervisor.plant.launch import PlantError
from tests.supervisor.cli.running import wait_until as eventually
from tests.supervisor.plant.plants import STATION, WAIT_S, PlantProcess, attach

EVSE = "DE*PNX*E1*1"


@pytest.fixture
def plant(tmp_path: pathlib.Path) -> Iterator[PlantProcess]:
    running = PlantProcess(tmp_path / "state")
    yield running
    running.stop()


def test_it_answers_ping_and_writes_only_to_its_log(plant: PlantProcess) -> None:
    info = plant.ping()
    assert info is not None and info["plant"] is True and info["uptime_s"] >= 0
    assert info["pid"] == plant.proc.pid and info["started_by_station"] is False
    assert [c["evse_id"] for c in info["connectors"]] == ["DE*PNX*E1*1", "DE*PNX*E1*2"]
    assert plant.stop() == 0
    assert plant.output() == ""
    log = (plant.state_dir / "plant.log").read_text()
    assert "serving on" in log and "plant stopped" in log


def test_a_second_plant_on_the_state_dir_is_refused_naming_the_first(plant: PlantProcess) -> None:
    second = subprocess.run(
        [STATION, "plant", "--state-dir", str(plant.state_dir)],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert second.returncode == 1
    assert f"another plant (pid {plant.proc.pid})" in second.stderr and "plant.lock" in second.stderr
    assert plant.ping() is not None


def test_the_sim_commands_play_the_car_on_its_public_endpoint(plant: PlantProcess) -> None:
    assert plant.request("sim_plug_in", evse=1, args={"soc": 0.5}) is True
    assert plant.request("sim_plug_in", evse=EVSE) is False  # one car at a time
    assert plant.request("sim_fault", evse=2, args={"kind": "rcd"}) is True
    assert plant.request("sim_clear_fault", evse=2) is True
    assert [c["plugged"] for c in plant.ping()["connectors"]] == [True, False]  # type: ignore[index]
    assert plant.request("sim_unplug", evse=1) is True


@pytest.mark.parametrize(
    ("fields", "code", "says"),
    [
        ({"cmd": "sim_unplug", "evse": 9}, "unknown_evse", "it has 1 (DE*PNX*E1*1), 2"),
        ({"cmd": "sim_fault", "evse": 1, "args": {"kind": "fire"}}, "bad_args", "kind"),
        ({"cmd": "sim_plug_in", "evse": 1, "args": {"soc": 2}}, "bad_args", "soc"),
        ({"cmd": "allow_power", "evse": 1}, "unknown_command", "sim_plug_in"),
        ({"cmd": "sim_unplug"}, "bad_request", "needs evse"),
    ],
)
def test_a_bad_request_gets_an_error_saying_what_was_wrong(
    plant: PlantProcess, fields: dict[str, object], code: str, says: str
) -> None:
    cmd = str(fields.pop("cmd"))
    with pytest.raises(PlantError, match=code) as refused:
        plant.request(cmd, **fields)  # type: ignore[arg-type]
    assert says in str(refused.value)
    assert plant.ping() is not None  # and it goes on serving


def test_a_driver_link_drives_the_board_and_hears_the_car(plant: PlantProcess) -> None:
    link = plant.link()
    try:
        attach(link)
        board, controls = RemoteBoard(link, EVSE), RemoteControls(link, EVSE)
        changed = threading.Event()
        assert board.on_change(changed.set) is True
        assert board.status().cp is CPState.A
        assert plant.request("sim_plug_in", evse=1) is True
        assert changed.wait(WAIT_S), "the plant pushes the plug-in"
        assert board.status().cp is CPState.B and board.status().plug_count == 1
        board.set_pilot(PilotSignal.pwm(16))
        board.allow_power(True)
        assert eventually(lambda: board.status().cp is CPState.C, "the car drawing")
        assert board.status().relais_on and board.status().currents_a[0] == pytest.approx(16)
        assert controls.state()["advertised_current_a"] == pytest.approx(16)
        with pytest.raises(ValueError, match="unknown fault kind"):
            controls.fault("fire")
        assert controls.fault("board_comm") is True
        with pytest.raises(DriverError, match="communication loss"):
            board.status()
    finally:
        link.close()


def test_a_board_no_station_talks_to_switches_its_power_off(plant: PlantProcess) -> None:
    first = plant.link()
    attach(first)
    board = RemoteBoard(first, EVSE)
    assert plant.request("sim_plug_in", evse=1) is True
    board.set_pilot(PilotSignal.pwm(16))
    board.allow_power(True)
    eventually(lambda: board.status().relais_on, "the relays closed")
    first.close()  # the station is gone: its keep-alive stops
    second = plant.link()
    try:
        controls = RemoteControls(second, EVSE)
        off = eventually(lambda: not controls.state()["power_allowed"] and controls.state(), "power off")
        assert off["pilot"] == "X1" and off["relais_on"] is False
        assert off["plugged"] is True  # the car stays plugged in
    finally:
        second.close()


def test_a_plant_killed_and_started_again_keeps_the_registers_and_has_no_car(tmp_path: pathlib.Path) -> None:
    state_dir = tmp_path / "state"
    first = PlantProcess(state_dir, time_scale=3600)  # an hour of charging per second
    try:
        link = first.link()
        attach(link)
        board, meter = RemoteBoard(link, EVSE), RemoteMeter(link, EVSE)
        first.request("sim_plug_in", evse=1)
        board.set_pilot(PilotSignal.pwm(32))
        board.allow_power(True)
        reported = eventually(lambda: meter.reading().energy_import_wh > 1000 and meter.reading(), "energy")
        key = meter.public_key_pem()
        first.kill()
        link.close()
    finally:
        first.stop()
    second = PlantProcess(state_dir, time_scale=3600)
    try:
        link = second.link()
        attach(link)
        meter = RemoteMeter(link, EVSE)
        assert meter.reading().energy_import_wh >= reported.energy_import_wh
        assert meter.public_key_pem() == key
        assert RemoteBoard(link, EVSE).status().cp is CPState.A
        link.close()
    finally:
        second.stop()


def test_a_link_attaches_again_to_a_plant_that_restarted(tmp_path: pathlib.Path) -> None:
    state_dir = tmp_path / "state"
    first = PlantProcess(state_dir)
    link = first.link()
    try:
        attach(link, "DE*OTHER*1", index=3)
        first.kill()
        first.stop()
        second = PlantProcess(state_dir)
        try:
            board = RemoteBoard(link, "DE*OTHER*1")
            assert eventually(lambda: _answers(board), "the board through the new plant")
            assert any(c["evse_id"] == "DE*OTHER*1" for c in second.ping()["connectors"])  # type: ignore[index]
        finally:
            second.stop()
    finally:
        link.close()


def _answers(board: RemoteBoard) -> bool:
    try:
        board.status()
    except DriverError:
        return False
    return True


def test_plant_stop_and_the_linger_time_end_it(tmp_path: pathlib.Path) -> None:
    stopped = PlantProcess(tmp_path / "a")
    assert stopped.request("plant_stop") is True
    assert stopped.proc.wait(WAIT_S) == 0
    stopped.stop()
    lingering = PlantProcess(tmp_path / "b", "--linger-s", "1")
    assert lingering.proc.wait(WAIT_S) == 0  # nobody talked to it for 1 s
    lingering.stop()
    assert "nobody talked to the plant for 1 s" in (tmp_path / "b" / "plant.log").read_text()


def test_a_link_gets_the_reports_it_subscribed_to_without_asking(plant: PlantProcess) -> None:
    link = plant.link()
    try:
        attach(link)
        board, meter = RemoteBoard(link, EVSE), RemoteMeter(link, EVSE)
        board_reports, meter_reports = threading.Semaphore(0), threading.Semaphore(0)
        assert board.on_report(0.1, board_reports.release) is True
        assert meter.on_report(0.1, meter_reports.release) is True
        calls = link.calls
        for _ in range(5):
            assert board_reports.acquire(timeout=WAIT_S) and meter_reports.acquire(timeout=WAIT_S)
        assert link.calls == calls  # five of each came, and nothing was asked
        status, telemetry = board.reported()
        assert status.cp is CPState.A and telemetry.relais_on is False
        assert meter.reported().meter_id == f"SIM-{EVSE}"
        assert plant.request("sim_plug_in", evse=1) is True
        assert eventually(lambda: board.reported()[0].cp is CPState.B, "the plug-in in a report")
        assert plant.request("sim_fault", evse=1, args={"kind": "meter_comm"}) is True
        assert eventually(lambda: _refused(meter.reported), "the meter's silence in a report")
    finally:
        link.close()


def test_a_status_a_call_read_is_the_newest_report_until_a_later_one(plant: PlantProcess) -> None:
    link = plant.link()
    try:
        attach(link)
        board = RemoteBoard(link, EVSE)
        assert board.on_report(60.0, lambda: None) is True  # the first report at some phase of a minute
        assert plant.request("sim_plug_in", evse=1) is True
        assert board.status().cp is CPState.B  # a call keeps what it read as the newest
        assert board.reported()[0].cp is CPState.B
    finally:
        link.close()


def _refused(read: Callable[[], object]) -> bool:
    try:
        read()
    except DriverError:
        return True
    return False
