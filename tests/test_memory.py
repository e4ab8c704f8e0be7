"""The station process's malloc thresholds: large blocks get their own mappings."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

import pytest

from supervisor import memory

FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class MallInfo2(ctypes.Structure):
    """glibc's `struct mallinfo2`: `hblkhd` is the bytes in blocks mapped apart."""

    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS.split()]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_large_blocks_are_mapped_apart_once_the_thresholds_are_fixed() -> None:
    mallinfo2 = ctypes.CDLL(ctypes.util.find_library("c")).mallinfo2
    mallinfo2.restype = MallInfo2
    block = bytearray(memory.LARGE_BLOCK_BYTES * 8)
    del block  # freeing a mapped block is what raises glibc's threshold when it is not fixed
    assert memory.return_large_blocks() is True
    before = mallinfo2().hblkhd
    block = bytearray(memory.LARGE_BLOCK_BYTES * 4)
    assert mallinfo2().hblkhd >= before + len(block)
    del block
    assert mallinfo2().hblkhd == before
