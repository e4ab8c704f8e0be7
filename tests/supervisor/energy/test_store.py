"""The operator's station limit survives a restart in a small file, replaced atomically."""

from __future__ import annotations

import pathlib

import pytest

from supervisor.energy.store import FileLimitStore


def test_a_saved_limit_is_read_back_by_a_new_store(tmp_path: pathlib.Path) -> None:
    assert FileLimitStore(tmp_path).load() is None
    FileLimitStore(tmp_path).save(40.0)
    FileLimitStore(tmp_path).save(25.5)
    assert FileLimitStore(tmp_path).load() == 25.5
    assert [p.name for p in (tmp_path / "energy").iterdir()] == ["station-limit.json"]


@pytest.mark.parametrize(
    "text", ["", "{", "[]", '{"max_current_a": "32"}', '{"max_current_a": -1}', '{"other": 3}', "\udcff"]
)
def test_a_broken_file_is_reported_and_ignored(
    tmp_path: pathlib.Path, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileLimitStore(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert store.load() is None
    assert str(store.path) in caplog.text
