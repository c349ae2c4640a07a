"""Shared fixtures: the mock on a real socket, reset before each test, the clients of its
default credentials, and a bot's callback endpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from _redis import RedisServer, require_redis_client, require_redis_server
from _support import RecordingBot, client_of, gewe_client, lark_client, wid_client
from hypothesis import HealthCheck, settings

from chatimg import GeweClient, LarkClient, WidClient
from mockserver import LiveServer, MockConfig

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("ci", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session, started when a test first asks for it; each test
    takes a key prefix of its own (``fresh_prefix``)."""
    program = require_redis_server()
    require_redis_client()
    with RedisServer(program, tmp_path_factory.mktemp("redis")) as server:
        yield server


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
    with client_of(server) as client:
        yield client


@pytest.fixture
def gewe(server: LiveServer) -> Iterator[GeweClient]:
    with gewe_client(server) as client:
        yield client


@pytest.fixture
def wid(server: LiveServer) -> Iterator[WidClient]:
    with wid_client(server) as client:
        yield client


@pytest.fixture
def lark(server: LiveServer) -> Iterator[LarkClient]:
    with lark_client(server) as client:
        yield client


@pytest.fixture
def bot() -> Iterator[RecordingBot]:
    """A bot's callback endpoint that records what it is sent and answers HTTP 200."""
    with RecordingBot() as running:
        yield running
