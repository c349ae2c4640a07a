"""Fixtures of the client tests: a transport that records the wire, and a port nobody serves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from _support import free_port, taken_port


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    text: str


@dataclass
class WireRecorder(httpx.BaseTransport):
    """A real HTTP transport that keeps each request line and raw reply body."""

    inner: httpx.HTTPTransport = field(default_factory=httpx.HTTPTransport)
    exchanges: list[Exchange] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        response.close()
        self.exchanges.append(Exchange(request.method, request.url.path, response.status_code,
                                       body.decode("utf-8", "replace")))
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    def paths(self) -> list[str]:
        return [f"{e.method} {e.path}" for e in self.exchanges]

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def wire() -> Iterator[WireRecorder]:
    recorder = WireRecorder()
    yield recorder
    recorder.close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that refuses connections."""
    return free_port()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with taken_port() as port:
        yield port
