"""Delivering callbacks and events to bots, as the vendors do: POST, wait, retry, replay.

Each delivery is a record: the exact body and headers, and every attempt with the bot's
answer (status, time, body). A bot takes a delivery by answering 2xx within the vendor's
timeout; otherwise the mock tries again on the configured schedule. ``replay`` sends the same
bytes once more, as vendors do when they are unsure, so bots can show they de-duplicate.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx

from ..storage.records import Delivery
from ..storage.store import Store
from .clock import Clock
from .journal import JournalWriter, record_delivery

if TYPE_CHECKING:
    from ..config import ServerConfig


class DeliveryState(Protocol):
    """What the deliverer reads of the mock's state (the state itself, which builds it)."""

    config: ServerConfig
    store: Store
    clock: Clock

    @property
    def journal_writer(self) -> JournalWriter: ...

ANSWER_TEXT_LIMIT = 500


class CallbackUrlRefused(ValueError):
    """A callback URL the mock will not send to; the message says why."""


def check_callback_url(url: str, allow_hosts: tuple[str, ...]) -> None:
    """Loopback only, unless the host is on the allow-list: the mock never posts to the world."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise CallbackUrlRefused(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackUrlRefused(f"{url!r} is not an http(s) URL")
    host = parts.hostname  # urlsplit gives it in lower case
    if host == "localhost" or host in {allowed.lower() for allowed in allow_hosts}:
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise CallbackUrlRefused(f"{host} is neither loopback nor in callback_allow_hosts")


class Deliverer:
    """Sends deliveries from a small thread pool; retries run on timers."""

    def __init__(self, state: DeliveryState):
        self._state = state
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chatimg-delivery")
        self._http = httpx.Client()
        self._timers: set[threading.Timer] = set()
        self._closed = False

    def deliver(self, *, vendor: str, url: str, body: bytes, headers: Mapping[str, str],
                message_key: str, timeout: float, wait: bool = True) -> Delivery:
        """Record a delivery and make its first attempt; with ``wait``, return after it."""
        delivery = Delivery(
            delivery_id=f"dlv-{secrets.token_hex(6)}", vendor=vendor, url=url,
            body=body.decode("utf-8"), headers=dict(headers), message_key=message_key,
            created_at=self._state.clock.now())
        self._state.store.save(delivery)
        future = self._pool.submit(self._attempt, delivery.delivery_id, timeout, 0)
        return self._settle(delivery.delivery_id, future, timeout, wait)

    def replay(self, delivery_id: str, *, timeout: float, wait: bool = True) -> Delivery | None:
        """Send a delivery's exact bytes again (a duplicate, as vendors send on doubt)."""
        if self._state.store.load(Delivery, delivery_id) is None:
            return None
        future = self._pool.submit(self._attempt, delivery_id, timeout, None)
        return self._settle(delivery_id, future, timeout, wait)

    def _settle(self, delivery_id: str, future: Future[None], timeout: float,
                wait: bool) -> Delivery:
        if wait:
            future.result(timeout=timeout + 5)
        delivery = self._state.store.load(Delivery, delivery_id)
        assert delivery is not None
        return delivery

    def _attempt(self, delivery_id: str, timeout: float, retry_index: int | None) -> None:
        """One POST; on failure schedule the next retry (``retry_index`` None: no retries)."""
        delivery = self._state.store.load(Delivery, delivery_id)
        if delivery is None or (retry_index and delivery.state == "delivered"):
            return  # reset since it was scheduled, or a replay was taken meanwhile
        started = time.perf_counter()
        attempt: dict[str, Any] = {"at": self._state.clock.now(), "replay": retry_index is None}
        try:
            answer = self._http.post(delivery.url, content=delivery.body.encode("utf-8"),
                                     headers=dict(delivery.headers), timeout=timeout)
            attempt.update(status=answer.status_code,
                           body=answer.text[:ANSWER_TEXT_LIMIT], error=None)
            taken = 200 <= answer.status_code < 300
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            answer = None
            attempt.update(status=None, body=None, error=f"{type(exc).__name__}: {exc}")
            taken = False
        attempt["ms"] = round((time.perf_counter() - started) * 1000, 3)
        if self._state.config.journal:
            record_delivery(self._state.journal_writer, delivery, answer, started)

        def add(current: Delivery | None) -> Delivery | None:
            if current is None:
                return None
            if taken or current.state == "delivered":
                state = "delivered"
            elif retry_index is None:  # a replay leaves the schedule as it was
                state = current.state
            else:
                state = "pending" if self._retries_left(retry_index) else "failed"
            return replace(current, attempts=(*current.attempts, attempt), state=state)

        self._state.store.update(Delivery, delivery_id, add)
        if not taken and self._retries_left(retry_index) and not self._closed:
            assert retry_index is not None
            delay = self._state.config.delivery_retry_seconds[retry_index]
            timer = threading.Timer(delay, self._retry, (delivery_id, timeout, retry_index + 1))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()

    def _retry(self, delivery_id: str, timeout: float, retry_index: int) -> None:
        self._timers = {t for t in self._timers if t.is_alive()}
        if not self._closed:
            self._pool.submit(self._attempt, delivery_id, timeout, retry_index)

    def close(self) -> None:
        """No more attempts: scheduled retries are cancelled, running ones finish."""
        self._closed = True
        for timer in list(self._timers):
            timer.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()

    def _retries_left(self, retry_index: int | None) -> bool:
        return retry_index is not None and retry_index < len(
            self._state.config.delivery_retry_seconds)
