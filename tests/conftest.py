"""Shared fixtures: the mock on a real socket, reset before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, settings

from mockserver import LiveServer, MockConfig

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("ci", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    with LiveServer(MockConfig()) as server:
        yield server


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    live_server.state.reset()
    return live_server


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
