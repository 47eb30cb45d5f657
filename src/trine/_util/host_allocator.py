"""Keep large host allocations mapped between XLA's CPU executions (Linux, glibc).

XLA's CPU runtime mallocs each execution's scratch (W5's training step: 214 MB) and Eigen's
convolution mallocs its packed blocks on every call (75 MB for a 32x32x16 image batch). glibc
serves each request over 32 MiB with a fresh `mmap` and unmaps it on free, so the kernel
zero-fills the same memory again on every step: W5 `fit` took 52,000 page faults a step and
W6 `predict` spent a sixth of its CPU time in the kernel (bench/README.md, "Host memory").

`reuse_large_allocations` has glibc serve large requests from its heap (no `mmap`), keep up
to `TRIM_THRESHOLD_BYTES` of freed heap instead of returning it to the kernel, and use one
heap for every thread (a worker thread's heap cannot hold a request over 64 MiB, so glibc
would `mmap` it after all). Peak memory is unchanged; what the process frees is reused by its
next allocations rather than returned to the kernel (up to `TRIM_THRESHOLD_BYTES` at the
heap's top, and any block freed below it), as with jemalloc or tcmalloc.

The cost is XLA's compile time: one heap for the compiler's threads made W5's compile 3.3-3.5
s -> 5.0-5.5 s and W7's 1.0-1.2 -> 1.4-1.7 s, which undoes the first-epoch lead, and freed
memory stays with the process. So it is opt-in, for long training and inference runs:
`TRINE_HOST_ALLOCATOR=reuse` in the environment before `import trine`.
"""
from __future__ import annotations

import os

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8

# Freed heap kept for reuse, at most: W5's step needs about 0.4 GiB.
TRIM_THRESHOLD_BYTES = 2 ** 30

_applied: bool | None = None


def _glibc():
    """The C library as a ctypes handle, or None where it is not glibc."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return None
    except (AttributeError, ValueError, OSError):  # not Linux, or no such confstr name
        return None
    import ctypes
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def reuse_large_allocations() -> bool:
    """Apply the settings above once per process where `TRINE_HOST_ALLOCATOR=reuse`; True
    where they are in effect.

    Call it before the first computation: glibc gives a thread its own heap on the thread's
    first allocation, and XLA starts its worker threads with the CPU backend.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("TRINE_HOST_ALLOCATOR", "system").lower() != "reuse":
        return False
    libc = _glibc()
    if libc is None:
        return False
    _applied = bool(libc.mallopt(_M_MMAP_MAX, 0)
                    and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
                    and libc.mallopt(_M_ARENA_MAX, 1))
    return _applied


def large_allocations_reused() -> bool:
    """Whether this process runs with the settings of `reuse_large_allocations`."""
    return bool(_applied)
