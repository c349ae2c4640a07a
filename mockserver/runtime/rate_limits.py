"""Fixed-window request counters, shared through the store (so across workers too)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..storage.records import RateCount
from ..storage.store import Store


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
    """Count one call under ``name`` in every window (one atomic update for all of them);
    the first window it exceeds, if any."""
    active = [w for w in windows if w.limit > 0]
    if not active:
        return None
    starts = [math.floor(now / w.seconds) * w.seconds for w in active]

    def count(current: RateCount | None) -> RateCount:
        previous = current.windows if current else {}
        counts = {}
        for window, start in zip(active, starts, strict=True):
            seen_start, seen = previous.get(str(window.seconds), (None, 0))
            counts[str(window.seconds)] = [start, seen + 1 if seen_start == start else 1]
        return RateCount(name, counts)

    counted = store.update(RateCount, name, count)
    assert counted is not None
    for window, start in zip(active, starts, strict=True):
        if counted.windows[str(window.seconds)][1] > window.limit:
            return Exceeded(window, max(1, math.ceil(start + window.seconds - now)))
    return None
