"""Delivering callbacks and events to bots, as the vendors do: POST, wait, retry, replay.

Each delivery is a record: the exact body and headers, and every attempt with the bot's
answer (status, time, body). A bot takes a delivery by answering 2xx within the vendor's
timeout; otherwise the mock tries again on the configured schedule. ``replay`` sends the same
bytes once more, as vendors do when they are unsure, so bots can show they de-duplicate.

When replicas (or workers) share the store, each delivery is made by exactly one of them, and
its retries go on when that one dies: the record holds the schedule, every attempt first
claims a lease on it (``claim_delivery``), and each replica sweeps for retries overdue.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx

from ..errors import StoreUnavailable
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

log = logging.getLogger(__name__)
ANSWER_TEXT_LIMIT = 500
DELIVERIES_KEPT = 10_000  # the newest; older ones are dropped (their journal entries stay)
# How often a deliverer on a shared store looks for attempts nobody made (their replica died).
SWEEP_SECONDS = 1.0
# How late an attempt must be before another replica takes it over: its owner, alive, would
# have made it on its own timer by then.
TAKEOVER_GRACE_SECONDS = 2.0
# What a lease adds to an attempt's timeout: time to start it and to write the bot's answer.
LEASE_MARGIN_SECONDS = 5.0
# How often an attempt that waits for another's lease (a replay under way) looks again.
HELD_RECHECK_SECONDS = 0.05
# How long closing waits for the sweeper's store call under way.
STOP_WAIT_SECONDS = 10.0


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


@dataclass(frozen=True)
class Claim:
    """What a claim came to: the delivery, now held by the claimer; or None, with when the
    lease of the attempt that holds it ends (0.0: nothing to claim, as the attempt is no
    longer due or the delivery is gone)."""

    delivery: Delivery | None
    held_until: float = 0.0


def claim_delivery(store: Store, delivery_id: str, claimer: str, *, attempt: int | None,
                   due_by: float | None = None, lease_seconds: float | None = None) -> Claim:
    """Take the lease of a delivery for one attempt, atomically (``store.update``), so that
    one process at a time attempts it and a retry is made by exactly one.

    Refused while another claimer's lease has not ended; for a scheduled ``attempt`` (None is
    a replay, which any state allows), unless the delivery is pending with that attempt next,
    due by ``due_by`` if given. The lease lasts ``lease_seconds``, by default the delivery's
    timeout and a margin."""
    now = time.time()
    outcome = Claim(None)

    def take(current: Delivery | None) -> Delivery | None:
        nonlocal outcome  # (the last call's: a store may call it again after a lost write)
        if current is None:
            outcome = Claim(None)
            return None
        if current.claimed_by not in ("", claimer) and current.claimed_until > now:
            outcome = Claim(None, current.claimed_until)
            return current
        if attempt is not None and not _due(current, attempt, due_by):
            outcome = Claim(None)
            return current
        lease = (current.timeout_seconds + LEASE_MARGIN_SECONDS if lease_seconds is None
                 else lease_seconds)
        outcome = Claim(replace(current, claimed_by=claimer, claimed_until=now + lease))
        return outcome.delivery

    store.update(Delivery, delivery_id, take)
    return outcome


def _due(delivery: Delivery, attempt: int, due_by: float | None) -> bool:
    return delivery.state == "pending" and delivery.retry_index == attempt and (
        due_by is None or (delivery.next_attempt_at is not None
                           and delivery.next_attempt_at <= due_by))


class Deliverer:
    """Sends deliveries from a small thread pool; retries run on timers. On a shared store a
    sweeper thread also takes over attempts overdue, whose replica died with its timers.

    The newest ``keep`` deliveries are kept (a load test makes them by the thousand): each
    process trims the store after every tenth of ``keep`` it made, as the journal does."""

    def __init__(self, state: DeliveryState, keep: int = DELIVERIES_KEPT):
        self._state = state
        self._keep = keep
        self._made = itertools.count(1)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chatimg-delivery")
        self._timers: set[threading.Timer] = set()
        self._closed = False
        self._nonce = secrets.token_hex(4)  # (with the pid: no other process's claims)
        self._claims = itertools.count(1)
        self._sweeper: threading.Thread | None = None
        self._sweeper_pid = 0
        self._sweeper_lock = threading.Lock()
        self._stop_sweeping = threading.Event()

    @cached_property
    def _http(self) -> httpx.Client:
        """Made at the first attempt: a client loads its certificates (a tenth of a second),
        which a replica's first request, which starts the sweeper, should not wait for."""
        return httpx.Client()

    def deliver(self, *, vendor: str, url: str, body: bytes, headers: Mapping[str, str],
                message_key: str, timeout: float, wait: bool = True) -> Delivery:
        """Record a delivery and make its first attempt; with ``wait``, return after it."""
        now, claimer = time.time(), self._claimer()
        # Saved claimed for the first attempt, due now: if this process dies before making it,
        # another takes it over once the lease has ended.
        delivery = Delivery(
            delivery_id=f"dlv-{secrets.token_hex(6)}", vendor=vendor, url=url,
            body=body.decode("utf-8"), headers=dict(headers), message_key=message_key,
            created_at=self._state.clock.now(), timeout_seconds=timeout, next_attempt_at=now,
            claimed_by=claimer, claimed_until=now + timeout + LEASE_MARGIN_SECONDS)
        self._state.store.save(delivery)
        if next(self._made) % max(1, self._keep // 10) == 0:
            self._state.store.trim(Delivery, self._keep)
        self.start_sweeping()
        future = self._pool.submit(self._attempt, delivery.delivery_id, 0, claimer,
                                   delivery.claimed_until, timeout)
        return self._settle(delivery.delivery_id, future, timeout + 5, wait)

    def replay(self, delivery_id: str, *, timeout: float, wait: bool = True) -> Delivery | None:
        """Send a delivery's exact bytes again (a duplicate, as vendors send on doubt); after
        the attempt under way, if there is one."""
        if self._state.store.load(Delivery, delivery_id) is None:
            return None
        self.start_sweeping()
        future = self._pool.submit(self._attempt, delivery_id, None, self._claimer(), 0.0,
                                   timeout)
        # (it may wait for another's lease, which lasts a timeout and the margin)
        return self._settle(delivery_id, future, 2 * timeout + LEASE_MARGIN_SECONDS + 5, wait)

    def _settle(self, delivery_id: str, future: Future[None], patience: float,
                wait: bool) -> Delivery:
        if wait:
            future.result(timeout=patience)
        delivery = self._state.store.load(Delivery, delivery_id)
        assert delivery is not None
        return delivery

    def _claimer(self) -> str:
        """A name for one attempt, no other attempt's in any process."""
        return f"{os.getpid()}-{self._nonce}-{next(self._claims)}"

    def _attempt(self, delivery_id: str, attempt: int | None, claimer: str,
                 lease_end: float = 0.0, timeout: float | None = None) -> None:
        """Make the ``attempt`` of the schedule (None: a replay), as ``claimer``: claim the
        delivery first, unless the lease already taken for it (ending at ``lease_end``) has
        time enough left. ``timeout`` None is the delivery's own."""
        if self._closed:
            return
        store = self._state.store
        if lease_end - time.time() >= (timeout or 0.0) + LEASE_MARGIN_SECONDS / 2:
            delivery = store.load(Delivery, delivery_id)
            if delivery is None or delivery.claimed_by != claimer:
                return  # reset since it was made
        else:
            delivery = self._claim(delivery_id, attempt, claimer, timeout)
            if delivery is None:
                return  # reset, taken by a replay, or made by another since it was scheduled
        self._post(delivery, attempt, claimer,
                   delivery.timeout_seconds if timeout is None else timeout)

    def _claim(self, delivery_id: str, attempt: int | None, claimer: str,
               timeout: float | None) -> Delivery | None:
        """The delivery, claimed; waits while another attempt holds it."""
        lease = None if timeout is None else timeout + LEASE_MARGIN_SECONDS
        while not self._closed:
            claim = claim_delivery(self._state.store, delivery_id, claimer, attempt=attempt,
                                   lease_seconds=lease)
            if claim.delivery is not None or not claim.held_until:
                return claim.delivery
            self._wait_for_release(delivery_id, claim.held_until)
        return None

    def _wait_for_release(self, delivery_id: str, held_until: float) -> None:
        """Until the lease ending at ``held_until`` ends, or its holder lets it go sooner (a
        replay holds a retry up only as long as it runs)."""
        while not self._closed and time.time() < held_until:
            time.sleep(HELD_RECHECK_SECONDS)
            current = self._state.store.load(Delivery, delivery_id)
            if current is None or current.claimed_until != held_until:
                return

    def _post(self, delivery: Delivery, attempt: int | None, claimer: str,
              timeout: float) -> None:
        """One POST; its answer is written, the lease let go, and on a failure the next
        retry scheduled (on a timer here, and in the record for any replica)."""
        started = time.perf_counter()
        made: dict[str, Any] = {"at": self._state.clock.now(), "replay": attempt is None}
        try:
            answer = self._http.post(delivery.url, content=delivery.body.encode("utf-8"),
                                     headers=dict(delivery.headers), timeout=timeout)
            made.update(status=answer.status_code,
                        body=answer.text[:ANSWER_TEXT_LIMIT], error=None)
            taken = 200 <= answer.status_code < 300
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            answer = None
            made.update(status=None, body=None, error=f"{type(exc).__name__}: {exc}")
            taken = False
        made["ms"] = round((time.perf_counter() - started) * 1000, 3)
        if self._state.config.journal:
            record_delivery(self._state.journal_writer, delivery, answer, started)
        retries = self._state.config.delivery_retry_seconds

        def add(current: Delivery | None) -> Delivery | None:
            if current is None:
                return None
            changes: dict[str, Any] = {"attempts": (*current.attempts, made)}
            if current.claimed_by == claimer:
                changes.update(claimed_by="", claimed_until=0.0)
            if taken or current.state == "delivered":
                changes.update(state="delivered", next_attempt_at=None)
            elif (attempt is not None and current.state == "pending"
                  and current.retry_index == attempt):  # (a replay leaves the schedule be)
                if attempt < len(retries):
                    changes.update(retry_index=attempt + 1,
                                   next_attempt_at=time.time() + retries[attempt])
                else:
                    changes.update(state="failed", next_attempt_at=None)
            return replace(current, **changes)

        written = self._state.store.update(Delivery, delivery.delivery_id, add)
        if (attempt is not None and written is not None and written.state == "pending"
                and written.retry_index == attempt + 1 and not self._closed):
            timer = threading.Timer(retries[attempt], self._retry,
                                    (delivery.delivery_id, attempt + 1))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()

    def _retry(self, delivery_id: str, attempt: int) -> None:
        self._timers = {t for t in self._timers if t.is_alive()}
        if not self._closed:
            try:
                self._pool.submit(self._attempt, delivery_id, attempt, self._claimer())
            except RuntimeError:  # closed meanwhile
                pass

    def start_sweeping(self) -> None:
        """On a shared store, sweep every ``SWEEP_SECONDS`` for attempts overdue; once in each
        process (a worker forked from this one starts its own: threads are not forked).

        Deliveries and replays start it; a replica that has made neither takes nothing over
        until something calls this (in each worker: not in a process that forks them)."""
        if not self._state.store.shared or self._closed or self._sweeper_pid == os.getpid():
            return  # (cheap enough to call on every request)
        with self._sweeper_lock:
            if self._sweeper_pid == os.getpid():
                return
            self._sweeper_pid = os.getpid()
            self._sweeper = threading.Thread(target=self._sweep, daemon=True,
                                             name="chatimg-delivery-sweeper")
            self._sweeper.start()

    def _sweep(self) -> None:
        failing = False  # (a store out of reach is logged once, not every second)
        while not self._stop_sweeping.wait(SWEEP_SECONDS):
            try:
                self.take_over_overdue()
            except Exception as exc:
                if not failing:
                    log.warning("overdue deliveries are not swept: %s", exc,
                                exc_info=not isinstance(exc, StoreUnavailable))
                failing = True
            else:
                failing = False

    def take_over_overdue(self) -> list[str]:
        """Claim and make every attempt due ``TAKEOVER_GRACE_SECONDS`` ago or more whose
        lease has ended: the replica that scheduled it is gone. The ids of those taken."""
        store = self._state.store
        now = time.time()
        due_by = now - TAKEOVER_GRACE_SECONDS
        pending, _ = store.matching(Delivery, {"state": "pending"})
        taken = []
        for delivery in pending:
            if self._closed:
                break
            if (delivery.next_attempt_at is None or delivery.next_attempt_at > due_by
                    or delivery.claimed_until > now):
                continue
            claimer = self._claimer()
            claim = claim_delivery(store, delivery.delivery_id, claimer,
                                   attempt=delivery.retry_index, due_by=due_by)
            if claim.delivery is None:
                continue
            try:
                self._pool.submit(self._attempt, delivery.delivery_id, delivery.retry_index,
                                  claimer, claim.delivery.claimed_until,
                                  claim.delivery.timeout_seconds)
            except RuntimeError:  # closed meanwhile: the lease ends, and another takes it
                break
            taken.append(delivery.delivery_id)
        return taken

    def close(self) -> None:
        """No more attempts: the sweeper stops, scheduled retries are cancelled, running
        ones finish. What this process scheduled is left to other replicas, in the store."""
        self._closed = True
        self._stop_sweeping.set()
        sweeper = self._sweeper
        if (sweeper is not None and self._sweeper_pid == os.getpid()
                and sweeper is not threading.current_thread()):
            sweeper.join(timeout=STOP_WAIT_SECONDS)
        for timer in list(self._timers):
            timer.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if "_http" in self.__dict__:
            self._http.close()
