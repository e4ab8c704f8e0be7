"""How the station process asks the C allocator to hand memory back.

glibc's malloc raises its mmap threshold each time a large block is freed, so after a
while large blocks (dict tables, reply buffers) come from the heap instead of their own
mappings, and the heap keeps what they leave behind. A station runs for months under a
steady churn of such blocks: a fixed threshold gives every large block its own mapping,
returned to the system the moment it is freed. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
LARGE_BLOCK_BYTES = 128 * 1024  # glibc's own starting value, kept fixed


def return_large_blocks() -> bool:
    """Fix glibc's mmap and trim thresholds; False where there is no glibc `mallopt`."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = all(mallopt(param, LARGE_BLOCK_BYTES) == 1 for param in (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD))
    if not done:
        log.warning("malloc thresholds not set; large blocks may stay in the heap")
    return done


def freeze_startup_objects() -> int:
    """Once every connector runs: what the start built (modules, settings, actors, journals,
    about a million objects at 1,000 connectors) moves to the collector's permanent
    generation, so a full collection no longer walks it (each one was a 90-160 ms pause of
    every thread, freeing nothing). What is made later is collected as before. The number of
    objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
