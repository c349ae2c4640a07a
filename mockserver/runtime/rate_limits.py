"""Fixed-window request counters, shared through the store (so across workers too)."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    """Count one call under ``name`` in every window (at once, in the store, so that every
    replica counts it); the first window it exceeds, if any."""
    active = [w for w in windows if w.limit > 0]
    if not active:
        return None
    starts = [math.floor(now / w.seconds) * w.seconds for w in active]
    counts = store.count_hit(name, [(w.seconds, start)
                                    for w, start in zip(active, starts, strict=True)])
    for window, start, count in zip(active, starts, counts, strict=True):
        if count > window.limit:
            return Exceeded(window, max(1, math.ceil(start + window.seconds - now)))
    return None
