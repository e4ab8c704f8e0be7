"""The station process's malloc thresholds: large blocks get their own mappings."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# In a fresh interpreter (a heap without free holes): free a mapped block, which raises
# glibc's threshold unless it is fixed, then print whether a large block is mapped apart.
PROBE = """
import ctypes, ctypes.util, sys
from supervisor.station import memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

mallinfo2 = ctypes.CDLL(ctypes.util.find_library("c")).mallinfo2
mallinfo2.restype = MallInfo2
block = bytearray(memory.LARGE_BLOCK_BYTES * 8)
del block
if sys.argv[1] == "fixed":
    assert memory.return_large_blocks()
before = mallinfo2().hblkhd
block = bytearray(memory.LARGE_BLOCK_BYTES * 4)
print(mallinfo2().hblkhd - before >= len(block))
"""


def mapped_apart(mode: str) -> bool:
    run = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip() == "True"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_large_blocks_are_mapped_apart_once_the_thresholds_are_fixed() -> None:
    assert mapped_apart("fixed") is True
    assert mapped_apart("glibc's default") is False  # what the fixed thresholds are for


def test_the_start_is_frozen_out_of_the_collectors_way() -> None:
    code = (
        "import gc; from supervisor.station import memory; "
        "kept = [object() for _ in range(10000)]; "
        "frozen = memory.freeze_startup_objects(); "
        "print(frozen >= 10000, gc.get_freeze_count() == frozen)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == ["True", "True"], done.stderr
