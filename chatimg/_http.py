"""The httpx plumbing every vendor shares: call flows, their sync and async drivers.

A vendor call is written once, as a generator (a "flow") that yields what it needs done,
``Send(request)`` or ``Sleep(seconds)``, and receives the ``httpx.Response``. The same
pattern as httpx's own ``Auth.auth_flow``: retries, fallbacks and token refreshes live in the
flow, and a sync and an async driver run it. The drivers are the only place that touches the
network, so they are the only place that turns httpx exceptions into ``TransportError``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import httpx

from ._errors import ProtocolError, TransportError

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0


class Sink(Protocol):
    """Where a streamed body goes: a binary file, or anything with its ``write``."""

    def write(self, chunk: bytes, /) -> object: ...


@dataclass(frozen=True)
class Send:
    """Send ``request``; the flow gets the response back with its body read.

    With ``sink``, a response for which ``stream_if(response)`` holds has its body written to
    the sink chunk by chunk instead (the flow gets it unread and closed).
    """

    request: httpx.Request
    sink: Sink | None = None
    stream_if: Callable[[httpx.Response], bool] | None = None


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` before the flow goes on (rate limits)."""

    seconds: float


Action = Send | Sleep
# The value sent back into a flow is an httpx.Response for Send and None for Sleep.
Flow = Generator[Action, Any, T]


def run_sync(http: httpx.Client, flow: Flow[T], sleep: Callable[[float], None]) -> T:
    """Drive ``flow`` with a blocking client."""
    try:
        action = next(flow)
        while True:
            if isinstance(action, Sleep):
                sleep(action.seconds)
                outcome: Any = None
            else:
                outcome = _send_sync(http, action)
            action = flow.send(outcome)
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        flow.close()


async def run_async(http: httpx.AsyncClient, flow: Flow[T],
                    sleep: Callable[[float], Awaitable[None]]) -> T:
    """Drive ``flow`` with an async client."""
    try:
        action = next(flow)
        while True:
            if isinstance(action, Sleep):
                await sleep(action.seconds)
                outcome: Any = None
            else:
                outcome = await _send_async(http, action)
            action = flow.send(outcome)
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        flow.close()


def _send_sync(http: httpx.Client, action: Send) -> httpx.Response:
    try:
        response = http.send(action.request, stream=True)
        try:
            if action.sink is not None and action.stream_if and action.stream_if(response):
                for chunk in response.iter_bytes():
                    action.sink.write(chunk)
            else:
                response.read()
        finally:
            response.close()
    except httpx.RequestError as exc:
        raise _transport_error(exc) from exc
    return response


async def _send_async(http: httpx.AsyncClient, action: Send) -> httpx.Response:
    try:
        response = await http.send(action.request, stream=True)
        try:
            if action.sink is not None and action.stream_if and action.stream_if(response):
                async for chunk in response.aiter_bytes():
                    action.sink.write(chunk)
            else:
                await response.aread()
        finally:
            await response.aclose()
    except httpx.RequestError as exc:
        raise _transport_error(exc) from exc
    return response


def _transport_error(exc: httpx.RequestError) -> TransportError:
    try:
        where = f" on {exc.request.method} {exc.request.url}"
    except RuntimeError:  # an httpx error raised without its request
        where = ""
    return TransportError(f"{type(exc).__name__}{where}: {exc}")


def json_object(response: httpx.Response, vendor: str) -> dict[str, Any]:
    """The reply's JSON object, parsed by the stdlib (which keeps 19-digit ids exact)."""
    try:
        payload = json.loads(response.content)
    except ValueError:
        raise ProtocolError(f"{vendor} reply is not JSON", http_status=response.status_code,
                            body=response.text) from None
    if not isinstance(payload, dict):
        raise ProtocolError(f"{vendor} reply is not a JSON object",
                            http_status=response.status_code, body=response.text)
    return payload


def base_url_of(url: str) -> str:
    """The base URL without a trailing ``/`` (paths are appended with one).

    Checked here so a typo fails at construction with ``ValueError``, not on the first call.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url {url!r} is not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"base_url must be an absolute http(s) URL, not {url!r}")
    return url.rstrip("/")


class ClientBase:
    """Owns the ``httpx.Client``; closes it on ``close()`` or leaving a ``with`` block."""

    def __init__(self, *, timeout: float | httpx.Timeout, transport: httpx.BaseTransport | None,
                 sleep: Callable[[float], None] = time.sleep):
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._sleep = sleep

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(self._http, flow, self._sleep)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncClientBase:
    """Owns the ``httpx.AsyncClient``; closes it on ``aclose()`` or leaving ``async with``."""

    def __init__(self, *, timeout: float | httpx.Timeout,
                 transport: httpx.AsyncBaseTransport | None,
                 sleep: Callable[[float], Awaitable[None]] | None = None):
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._sleep = sleep or asyncio.sleep

    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(self._http, flow, self._sleep)

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

