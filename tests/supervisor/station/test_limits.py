"""The open-files limit: raised for a large station, refused clearly past the hard limit."""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Iterator

import pytest

from supervisor.station.limits import ensure_open_files, open_files_needed


@pytest.fixture
def limits() -> Iterator[tuple[int, int]]:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield before
    resource.setrlimit(resource.RLIMIT_NOFILE, before)


def test_the_soft_limit_is_raised_to_what_a_thousand_connectors_need(limits: tuple[int, int]) -> None:
    soft, hard = limits
    needed = open_files_needed(1000)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard limit here ({hard}) is below {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))
    assert ensure_open_files(needed) == needed
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (needed, hard)


def test_past_the_hard_limit_the_start_is_refused_with_what_to_raise() -> None:
    """In a process of its own: a lowered hard limit cannot be raised again without privilege."""
    code = (
        "import resource\n"
        "from supervisor.station.limits import LimitError, ensure_open_files, open_files_needed\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))\n"
        "try:\n"
        "    ensure_open_files(open_files_needed(1000))\n"
        "except LimitError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert "hard limit is 512" in done.stdout and "LimitNOFILE" in done.stdout
