"""Keep freed memory inside the training process (glibc's allocator; elsewhere nothing changes).

Every rollout SB3 reallocates its rollout buffer (the cpu preset's observations alone are 64 envs x 64 steps x
12,288 floats, 200 MB) and every minibatch PyTorch frees and reallocates its activations and gradients. glibc
hands large blocks back to the kernel (``mmap`` above its threshold, trimming the top of the heap), so the next
allocation faults every page in again, zero-filled. Over 200k env steps of the cpu preset that was 18.5M page
faults and 41 s of system time in 143 s of wall time; with the thresholds below, 0.2M faults, 1.7 s and 110 s.
The computation is the same: both runs wrote byte-identical policies (``benchmarks/allocator.py``).

``MISGEN_KEEP_FREED_MEMORY=0`` leaves glibc's defaults (the benchmark's control).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
KEEP_BELOW = 1 << 30  # bytes: blocks up to 1 GiB come from the heap, and up to 1 GiB of free heap top is kept


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for the rest of the process. Returns whether they were set (False
    off glibc, or when ``MISGEN_KEEP_FREED_MEMORY=0``)."""
    if os.environ.get("MISGEN_KEEP_FREED_MEMORY", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BELOW) and mallopt(M_TRIM_THRESHOLD, KEEP_BELOW)
                and mallopt(M_TOP_PAD, 64 << 20))
