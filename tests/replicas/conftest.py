"""Replicas of one mock: ``serve`` processes on ports of their own, given one Redis URL and key
prefix, so that they serve one state; every one a test starts is stopped after it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _redis import RedisServer, require_redis_client, require_redis_server
from _support import ServedMock

REPLICAS = 2


class Replicas:
    """The replicas on one Redis ``url`` and ``prefix``: ``running`` those started and not
    stopped since. Started and stopped in parallel: each takes a second or two."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.running: list[ServedMock] = []

    def start(self, count: int = REPLICAS) -> list[ServedMock]:
        """``count`` new replicas, ready; they join ``running``."""
        with ThreadPoolExecutor(count) as pool:
            starting = [pool.submit(self._serve) for _ in range(count)]
        # Those that did start run (and are stopped) even if another failed to.
        self.running += [future.result() for future in starting if future.exception() is None]
        return [future.result() for future in starting]

    def stop(self) -> None:
        """Stop every running replica (one killed already is only reaped)."""
        stopping, self.running = self.running, []
        if stopping:
            with ThreadPoolExecutor(len(stopping)) as pool:
                list(pool.map(ServedMock.stop, stopping))

    def _serve(self) -> ServedMock:
        return ServedMock("--store", self.url, "--store-prefix", self.prefix)


@pytest.fixture
def start_replicas() -> Iterator[Callable[[str, str], Replicas]]:
    """``start_replicas(url, prefix)``: two replicas on that Redis and prefix; they and any
    started later through the same ``Replicas`` are stopped at the end of the test."""
    require_redis_client()
    made: list[Replicas] = []

    def start(url: str, prefix: str) -> Replicas:
        replicas = Replicas(url, prefix)
        made.append(replicas)
        replicas.start()
        return replicas

    yield start
    for replicas in made:
        replicas.stop()


@pytest.fixture
def replicas(redis_server: RedisServer,
             start_replicas: Callable[[str, str], Replicas]) -> Replicas:
    """Two replicas on the session's Redis, under a key prefix of the test's own."""
    return start_replicas(redis_server.url(), redis_server.fresh_prefix())


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own that keeps every write it acknowledged across a
    restart, for a test that stops it (the session's is shared)."""
    program = require_redis_server()
    require_redis_client()
    with RedisServer(program, tmp_path, persistent=True) as server:
        yield server
