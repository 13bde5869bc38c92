"""Keep freed memory inside the training process (glibc's allocator; elsewhere nothing changes).

Every rollout SB3 reallocates its rollout buffer (the cpu preset's observations alone are 64 envs x 64 steps x
12,288 floats, 200 MB) and every minibatch PyTorch frees and reallocates its activations and gradients. glibc
hands large blocks back to the kernel (``mmap`` above its threshold, trimming the top of the heap), so the next
allocation faults every page in again, zero-filled. With the thresholds below the pages stay in the process: fewer
page faults, less system time, more env steps/s (``python benchmarks/allocator.py``; its figures are in
benchmarks/README.md), and the trained policies are byte-identical, since only where memory comes from changes.

``MISGEN_KEEP_FREED_MEMORY=0`` leaves glibc's defaults (the benchmark's control).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
KEEP_BELOW = 1 << 30  # bytes: blocks up to 1 GiB come from the heap, and up to 1 GiB of free heap top is kept
TOP_PAD = 64 << 20  # bytes: each time the heap grows, it grows by this much more, so fewer, larger system calls


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
                and mallopt(M_TOP_PAD, TOP_PAD))
