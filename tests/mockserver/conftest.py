"""Fixtures of the mock's own tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


@pytest.fixture(params=["memory", "sqlite"])
def any_store(request: pytest.FixtureRequest, server: LiveServer,
              tmp_path: Path) -> Iterator[LiveServer]:
    """The shared mock (memory store), or one on a fresh SQLite store."""
    if request.param == "memory":
        yield server
        return
    with LiveServer(MockConfig(state_dir=str(tmp_path))) as sqlite_server:
        yield sqlite_server
