"""Fixtures of the mock's own tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from mockserver import LiveServer, MockConfig


@pytest.fixture(scope="module")
def configured() -> Iterator[Callable[[MockConfig], LiveServer]]:
    """``configured(config)``: a mock with other settings, started once per module and reset
    before each use; all are stopped together at the end."""
    servers: dict[str, LiveServer] = {}

    def server_for(config: MockConfig) -> LiveServer:
        key = repr(config)
        if key not in servers:
            servers[key] = LiveServer(config).start()
        servers[key].state.reset()
        return servers[key]

    yield server_for
    with ThreadPoolExecutor() as pool:
        list(pool.map(LiveServer.stop, servers.values()))
