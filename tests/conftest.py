from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pykka
import pytest

from tests.harness import Rig


@pytest.fixture(autouse=True)
def _stop_actors() -> Iterator[None]:
    """Stop every actor a test left; a deliberately hung one is abandoned (its thread is a daemon)."""
    yield
    for future in pykka.ActorRegistry.stop_all(block=False):
        with contextlib.suppress(pykka.Timeout):
            future.get(timeout=2)


@pytest.fixture
def rig() -> Iterator[Rig]:
    connector = Rig()
    yield connector
    connector.stop()
