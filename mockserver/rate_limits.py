"""Fixed-window request counters, shared through the store (so across workers too)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .records import Setting
from .store import Store


@dataclass(frozen=True)
class Window:
    seconds: int
    limit: int


@dataclass(frozen=True)
class Exceeded:
    """The window a call went over, and seconds until it starts afresh."""

    window: Window
    reset_seconds: int


def hit(store: Store, name: str, windows: tuple[Window, ...], now: float) -> Exceeded | None:
    """Count one call under ``name`` in every window; the first window it exceeds, if any."""
    exceeded: Exceeded | None = None
    for window in windows:
        if window.limit <= 0:
            continue
        start = math.floor(now / window.seconds) * window.seconds
        key = f"rate:{name}:{window.seconds}"

        def count(current: Setting | None, start: int = start, key: str = key) -> Setting:
            if current is None or current.value[0] != start:
                return Setting(key, [start, 1])
            return Setting(key, [start, current.value[1] + 1])

        counted = store.update(Setting, key, count)
        if exceeded is None and counted is not None and counted.value[1] > window.limit:
            exceeded = Exceeded(window, max(1, math.ceil(start + window.seconds - now)))
    return exceeded
