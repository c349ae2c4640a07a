"""The mock's clock: wall time plus an offset that tests can move, kept in the store.

The offset lives in the store, not in the process, so every worker of a multi-process server
sees the same time, and a reset puts the clock back.
"""

from __future__ import annotations

import time

from flask import g, has_request_context

from .records import Setting
from .store import Store

OFFSET = "clock_offset"


class Clock:
    """Epoch seconds as the mock sees them; expiry of links and tokens is judged by it."""

    def __init__(self, store: Store):
        self._store = store

    def offset(self) -> float:
        # Read once per request: a call asks the time several times, and with a shared
        # store each read is a query.
        if has_request_context() and "clock_offset" in g:
            return float(g.clock_offset)
        setting = self._store.load(Setting, OFFSET)
        offset = float(setting.value) if setting else 0.0
        if has_request_context():
            g.clock_offset = offset
        return offset

    def now(self) -> float:
        return time.time() + self.offset()

    def advance(self, seconds: float) -> float:
        self._store.update(Setting, OFFSET, lambda current: Setting(
            OFFSET, (float(current.value) if current else 0.0) + seconds))
        self._forget()
        return self.now()

    def set(self, epoch_seconds: float) -> float:
        self._store.save(Setting(OFFSET, epoch_seconds - time.time()))
        self._forget()
        return self.now()

    def _forget(self) -> None:
        if has_request_context():
            g.pop("clock_offset", None)
