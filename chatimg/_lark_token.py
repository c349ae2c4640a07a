"""The tenant access token of one app, kept until shortly before it expires.

Each client keeps its own: the official Python SDK's process-wide cache is shared by every
client and never drops a token Lark rejected (sdk-notes), which is what this avoids.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class _Held:
    token: str
    refresh_at: float


class TenantTokenCache:
    """Holds a token until ``refresh_margin`` seconds before its expiry.

    The margin is capped at a tenth of the token's lifetime, so a short-lived token is still
    used for most of its life instead of being fetched again on every call.
    """

    def __init__(self, clock: Callable[[], float], refresh_margin: float):
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._held: _Held | None = None
        self._lock = threading.Lock()

    def current(self) -> str | None:
        """The token, while it is not due for a refresh."""
        with self._lock:
            held = self._held
        if held is None or self._clock() >= held.refresh_at:
            return None
        return held.token

    def store(self, token: str, expire: float) -> None:
        """Keep ``token``, which Lark says lives ``expire`` more seconds."""
        margin = min(self._refresh_margin, expire / 10)
        with self._lock:
            self._held = _Held(token, self._clock() + expire - margin)

    def drop(self, token: str) -> None:
        """Forget ``token`` (Lark rejected it); a newer one stored meanwhile is kept."""
        with self._lock:
            if self._held is not None and self._held.token == token:
                self._held = None
