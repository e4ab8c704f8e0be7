"""`top`'s page and keys, and a model that keeps only the page's rows of a real station."""

from __future__ import annotations

import pathlib

from supervisor.client import Client
from supervisor.client.options import Target
from supervisor.client.top import TopModel
from supervisor.client.top_page import Keys, Page, rows_for
from tests.supervisor.client.stations import StationProcess


def test_the_page_scrolls_within_the_list_and_jumps_to_an_index() -> None:
    page = Page(indices=list(range(1, 1001)), size=20)
    assert page.footer().startswith("evse 1-20 of 1000 · PgDn/PgUp or j/k to scroll, / to jump")
    page.scroll(-5)
    assert page.span() == (1, 20)
    page.scroll(20)
    assert page.span() == (21, 40)
    page.jump(995)
    assert page.span() == (981, 1000)  # the last page is full
    page.resize(50)
    assert page.span() == (951, 1000)
    assert rows_for(12) == 4 and rows_for(3) == 1


def test_keys_move_the_page_jump_after_slash_and_q_quits() -> None:
    keys = Keys(Page(indices=list(range(1, 101)), size=10))
    assert keys.feed(b"\x1b[6~") and keys.page.span() == (11, 20)  # PgDn
    assert keys.feed(b"jjk") and keys.page.span() == (12, 21)  # several keys in one read
    assert keys.feed(b"\x1b[5~\x1b[5~") and keys.page.span() == (1, 10)  # PgUp twice
    assert keys.feed(b"/4") and keys.typing == "4"
    assert keys.page.footer(keys.typing).startswith("jump to evse: 4_")
    assert keys.feed(b"2\x7f5\r") and keys.typing is None and keys.page.span() == (45, 54)
    assert keys.feed(b"/9\x1b") and keys.typing is None and keys.page.span() == (45, 54)  # Esc
    assert keys.feed(b"G") and keys.page.span() == (91, 100)
    assert keys.feed(b"x") and keys.page.span() == (91, 100)  # an unknown key does nothing
    assert keys.feed(b"q") is False


def test_the_model_fetches_and_keeps_only_the_page(tmp_path: pathlib.Path) -> None:
    station = StationProcess.start(tmp_path / "forty", "depot-forty", connectors=40)
    client = Client(station.endpoint, station.publish_endpoint, timeout_s=5)
    try:
        model = TopModel(Target(station.endpoint, station.publish_endpoint, "flags"), start_at=30)
        model.page.size = 5
        model.load(client)
        assert sorted(model.rows) == [30, 31, 32, 33, 34]
        assert model.rows[30].evse_id == "DE*TST*E000030" and model.rows[30].state == "Idle"
        assert model.topics() == {"station/", *(f"evse/{n}/" for n in range(30, 35))}
        model.apply("evse/2/powermeter", {"power_W": {"total": 7000}})  # not on the page: dropped
        assert 2 not in model.rows
        model.page.scroll(-29)
        model.load_page(client)
        assert sorted(model.rows) == [1, 2, 3, 4, 5] and model.rows[5].evse_id == "DE*TST*E000005"
    finally:
        client.close()
        station.stop()
