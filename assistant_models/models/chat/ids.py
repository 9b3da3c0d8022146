"""Time-ordered keys (UUID version 7), so rows made in one transaction sort in the order made.

Messages are read in ``(created_at, id)`` order. ``created_at`` is the server's
``now()``, the start of the transaction, so every message of one transaction has the
same time: their keys break the tie. A version 7 UUID starts with the time in
milliseconds (RFC 9562) followed by 12 bits of sub-millisecond time; keys made by this
process are also strictly increasing, even within one clock tick. PostgreSQL compares
UUIDs byte by byte, which is this order.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

__all__ = ["uuid7"]

_lock = threading.Lock()
_last = 0
_SUB_MS = 4096  # 12 bits of fraction of a millisecond


def _tick() -> int:
    """Return the time in 1/4096 ms, strictly greater than the last value returned."""
    global _last
    ns = time.time_ns()
    tick = (ns // 1_000_000) * _SUB_MS + (ns % 1_000_000) * _SUB_MS // 1_000_000
    with _lock:
        tick = max(tick, _last + 1)
        _last = tick
    return tick


def uuid7() -> uuid.UUID:
    """Return a new version 7 UUID, greater than every one this process made before."""
    tick = _tick()
    millis, fraction = divmod(tick, _SUB_MS)
    random = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (fraction << 64) | (0b10 << 62) | random
    return uuid.UUID(int=value)
