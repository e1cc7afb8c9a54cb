"""Memory a connection leaves behind: freed native memory given back after bursts of connections,
and a garbage collector that does not walk the long-lived heap on every review.

Measured (bench/reliability.py, ``hostile`` scenario): 3,000 concurrent one-review TLS connections
grew RSS by about 150 MiB per burst, and ten bursts took it from 77 to 595 MiB, while Python's own
heap held 1.4 MB and the descriptors were all closed. The memory was free, inside glibc's main heap:
OpenSSL's per-connection state and uvloop's 256 KiB TLS read buffers, freed in an order that leaves
live allocations above them, so the heap can only be trimmed at its top and never is. Calling
``malloc_trim(0)`` (which also releases free pages in the middle of the heap) after each burst
brought RSS back to within 30 MiB of its start, burst after burst; fixing the mmap threshold or the
number of arenas did not. Capping concurrent connections bounds the peak; this returns what is left.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_AFTER_CLOSED = 256  # connections closed since the last trim
TRIM_DELAY_SECONDS = 1.0  # let a burst finish closing first


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None  # not glibc (musl, macOS): nothing to trim this way
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


class HeapTrimmer:
    """Counts closed connections; once enough have closed, trims the heap a moment later."""

    def __init__(self, threshold: int = TRIM_AFTER_CLOSED, delay: float = TRIM_DELAY_SECONDS) -> None:
        self._trim = _malloc_trim()
        self._threshold, self._delay = threshold, delay
        self._closed = 0
        self._scheduled: asyncio.TimerHandle | None = None
        self.trims = 0

    def connection_closed(self) -> None:
        self._closed += 1
        if self._closed >= self._threshold and self._scheduled is None and self._trim is not None:
            self._scheduled = asyncio.get_running_loop().call_later(self._delay, self.trim)

    def trim(self) -> None:
        self._scheduled = None
        self._closed = 0
        if self._trim is None:
            return
        started = time.perf_counter()
        self._trim(0)
        self.trims += 1
        log.debug(
            "returned free heap memory to the system in %.1f ms", (time.perf_counter() - started) * 1000
        )


def settle_garbage_collector() -> None:
    """Move the start-up heap out of the collector's way and collect young objects less often.

    A 200 KiB pod parses into ~170,000 objects that die with the request; with the default
    thresholds every review triggered collections that also walked the long-lived modules and
    templates, which showed as a p99 ten times the p50 (bench/run.py, scenario 2).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
