"""The mock's clock: wall time plus an offset that tests can move forward."""

from __future__ import annotations

import threading
import time


class Clock:
    """Epoch seconds as the mock sees them; expiry of links and tokens is judged by it."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
        return self.now()

    def set(self, epoch_seconds: float) -> float:
        with self._lock:
            self._offset = epoch_seconds - time.time()
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
