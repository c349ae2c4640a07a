"""The mock's clock: wall time plus an offset that tests can move, kept in the store.

The offset lives in the store, not in the process, so every worker of a multi-process server
sees the same time, and a reset puts the clock back.
"""

from __future__ import annotations

import time
from typing import Any

from ..storage.records import Setting
from ..storage.store import Store

OFFSET = "clock_offset"
# The clock reads from the epoch to the last second of 9999: what int() and datetime can
# follow wherever the mock turns it into a timestamp or a date.
EARLIEST = 0.0
LATEST = 253_402_300_799.0


class ClockError(ValueError):
    """A move that would take the clock where it cannot go; the message says why."""


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
        step = _seconds(seconds)

        def moved(current: Setting | None) -> Setting:
            offset = (float(current.value) if current else 0.0) + step
            _check_reading(time.time() + offset)
            return Setting(OFFSET, offset)

        self._store.update(Setting, OFFSET, moved)
        return self.now()

    def set(self, epoch_seconds: float) -> float:
        reading = _seconds(epoch_seconds)
        _check_reading(reading)
        self._store.save(Setting(OFFSET, reading - time.time()))
        return self.now()


def _seconds(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float
        raise ClockError("that many seconds is beyond any clock") from None


def _check_reading(reading: float) -> None:
    if not EARLIEST <= reading <= LATEST:  # (also false for NaN)
        raise ClockError(f"the clock would read {reading!r} epoch seconds; it must stay "
                         f"between {EARLIEST:.0f} (1970) and {LATEST:.0f} (the end of 9999)")
