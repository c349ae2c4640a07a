"""The mock's clock: wall time plus an offset that tests can move, kept in the store.

The offset lives in the store, not in the process, so every worker of a multi-process server
sees the same time, and a reset puts the clock back.
"""

from __future__ import annotations

import time

from .records import Setting
from .store import Store

OFFSET = "clock_offset"


class Clock:
    """Epoch seconds as the mock sees them; expiry of links and tokens is judged by it."""

    def __init__(self, store: Store):
        self._store = store

    def offset(self) -> float:
        # Cheap to ask on every call: a shared store caches it in each worker (read-mostly).
        setting = self._store.load(Setting, OFFSET)
        return float(setting.value) if setting else 0.0

    def now(self) -> float:
        return time.time() + self.offset()

    def advance(self, seconds: float) -> float:
        self._store.update(Setting, OFFSET, lambda current: Setting(
            OFFSET, (float(current.value) if current else 0.0) + seconds))
        return self.now()

    def set(self, epoch_seconds: float) -> float:
        self._store.save(Setting(OFFSET, epoch_seconds - time.time()))
        return self.now()
