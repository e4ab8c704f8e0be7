from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest

from tests.harness import Rig


@pytest.fixture(autouse=True)
def _stop_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all(timeout=5)


@pytest.fixture
def rig() -> Iterator[Rig]:
    connector = Rig()
    yield connector
    connector.stop()
