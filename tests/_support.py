"""Small helpers several test modules share (on the path through pytest's ``pythonpath``)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import flask
import httpx
from werkzeug.datastructures import Headers

from mockserver import LiveServer

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 5.0, what: str = "it") -> T:
    """``check()``'s first answer that is not None or False, polled for up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while (result := check()) is None or result is False:
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.02)
    return result


def closed_port_url(path: str = "/callback") -> str:
    """A loopback URL nobody listens on: the bot is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@dataclass(frozen=True)
class BotRequest:
    """One request as the bot received it."""

    path: str
    headers: Headers
    body: bytes
    arrived: float  # time.monotonic()

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingBot:
    """A bot's callback endpoint on 127.0.0.1 and a free port, at ``path``.

    Records each request (headers, raw body) and answers it with ``answer``: by default
    ``status`` with ``body`` after ``delay`` seconds, ``statuses`` queueing the answers to the
    next requests first.
    """

    def __init__(self, path: str = "/callback", body: bytes = b'{"taken":true}') -> None:
        self.requests: list[BotRequest] = []
        self.status = 200
        self.statuses: list[int] = []
        self.body = body
        self.delay = 0.0
        self._path = path
        self._lock = threading.Lock()
        app = flask.Flask("recording_bot")
        app.add_url_rule("/<path:path>", "callback", self._receive, methods=["POST"])
        self._live = LiveServer(app=app)

    @property
    def url(self) -> str:
        return f"{self._live.url}{self._path}"

    def answer(self, request: BotRequest, status: int) -> flask.Response:
        time.sleep(self.delay)
        return flask.Response(self.body, status, content_type="application/json")

    def _receive(self, path: str) -> flask.Response:
        request = BotRequest("/" + path, Headers(flask.request.headers),
                             flask.request.get_data(), time.monotonic())
        with self._lock:
            self.requests.append(request)
            status = self.statuses.pop(0) if self.statuses else self.status
        return self.answer(request, status)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[BotRequest]:
        """The first ``count`` requests, once that many have arrived."""
        return eventually(lambda: self.requests[:count] if len(self.requests) >= count
                          else None, timeout, f"{count} request(s) at the bot")

    def __enter__(self) -> Self:
        self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServedMock:
    """``python -m mockserver serve --quiet`` in a subprocess on a free port, as users run it;
    ready once it answers."""

    def __init__(self, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--quiet", "--port", str(self.port),
             *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/__admin/clock", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"serve did not start: {self.stop()}")

    def stop(self) -> str:
        """Stop it; what it printed."""
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return output
