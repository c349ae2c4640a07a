"""Callbacks on a store shared by replicas: each delivery is made by exactly one of them, and
its retries go on when that one dies.

Real parts only: replicas on one SQLite folder or one redis-server (one of them a ``serve``
process killed with SIGKILL), and a bot on a real socket that counts what reaches it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from _redis import RedisServer
from _support import GEWE_HEADERS, GEWE_TOKEN, BotRequest, RecordingBot, ServedMock, receive

from mockserver import LiveServer, MockConfig
from mockserver.runtime.delivery import (
    LEASE_MARGIN_SECONDS,
    SWEEP_SECONDS,
    TAKEOVER_GRACE_SECONDS,
    Claim,
    claim_delivery,
)
from mockserver.storage.records import Delivery, record_from_dict
from mockserver.storage.sqlite import SqliteStore
from mockserver.storage.store import Store

SET_CALLBACK = "/gewe/v2/api/tools/setCallback"
# The first retry waits long enough for the test to kill the replica that scheduled it first.
RETRIES = (0.5, 0.2)
# How late a takeover may come: the grace, a sweep, and time for the machine to be slow.
TAKEOVER_DEADLINE = RETRIES[0] + TAKEOVER_GRACE_SECONDS + SWEEP_SECONDS + 1.0
# Long enough for a sweep by every replica after the last attempt.
SWEPT_SINCE = SWEEP_SECONDS + 0.5


class CountingBot(RecordingBot):
    """Refuses the first ``refusals`` requests of each body with 500 and takes the others;
    the n-th request of a body takes ``delays[n]`` seconds to answer (n from 1)."""

    def __init__(self, refusals: int = 1, delays: Mapping[int, float] | None = None) -> None:
        super().__init__()
        self.refusals = refusals
        self.delays = dict(delays or {})
        self._seen: dict[bytes, int] = {}
        self._seen_lock = threading.Lock()

    def answer(self, request: BotRequest, status: int) -> flask.Response:
        with self._seen_lock:
            seen = self._seen[request.body] = self._seen.get(request.body, 0) + 1
        time.sleep(self.delays.get(seen, 0.0))
        return flask.Response(b"{}", 500 if seen <= self.refusals else 200,
                              content_type="application/json")

    def counts(self) -> list[int]:
        """How many requests each body took, in no particular order."""
        with self._seen_lock:
            return list(self._seen.values())


@dataclass(frozen=True)
class SharedState:
    """Where replicas keep one state: ``serve`` options, and the config of one in-process."""

    options: tuple[str, ...]
    config: dict[str, Any]

    def replica(self, retries: tuple[float, ...] = RETRIES) -> LiveServer:
        """A replica in this process, on the shared state, that has served a request: from
        its first, a replica on a shared store sweeps for overdue attempts."""
        server = LiveServer(MockConfig(delivery_retry_seconds=retries, **self.config)).start()
        assert httpx.get(f"{server.url}/__admin/clock").status_code == 200
        return server


@pytest.fixture(params=["sqlite", "redis"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> SharedState:
    if request.param == "sqlite":
        folder = str(tmp_path / "state")
        return SharedState(("--state-dir", folder), {"state_dir": folder})
    redis_server: RedisServer = request.getfixturevalue("redis_server")
    url, prefix = redis_server.url(), redis_server.fresh_prefix()
    return SharedState(("--store", url, "--store-prefix", prefix),
                       {"store": url, "store_prefix": prefix})


@pytest.fixture
def replicas(shared: SharedState) -> Iterator[tuple[LiveServer, LiveServer]]:
    first, second = shared.replica(), shared.replica()
    yield first, second
    first.stop()
    second.stop()


def set_gewe_callback(url_of_mock: str, callback_url: str) -> None:
    reply = httpx.post(url_of_mock + SET_CALLBACK, headers=GEWE_HEADERS,
                       json={"token": GEWE_TOKEN, "callbackUrl": callback_url})
    assert reply.status_code == 200, reply.text


def deliveries(server: LiveServer) -> list[dict[str, Any]]:
    reply = httpx.get(server.url + "/__admin/deliveries")
    assert reply.status_code == 200
    listed: list[dict[str, Any]] = reply.json()["deliveries"]
    return listed


def statuses(delivery: dict[str, Any]) -> list[int | None]:
    return [attempt["status"] for attempt in delivery["attempts"]]


def wait_until_settled(server: LiveServer, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        listed = deliveries(server)
        if len(listed) == count and all(d["state"] != "pending" for d in listed):
            return listed
        assert time.monotonic() < deadline, f"deliveries still pending: {listed}"
        time.sleep(0.05)


# --- a replica dies: another makes its retries -------------------------------------------------


def test_the_retries_of_a_killed_replica_are_made_once_by_the_other(
        shared: SharedState, tmp_path: Path) -> None:
    config_file = tmp_path / "mock.yaml"
    config_file.write_text(f"delivery_retry_seconds: {list(RETRIES)}\n", encoding="utf-8")
    # One process (Werkzeug's server): gunicorn's worker would outlive its master's SIGKILL.
    doomed = ServedMock("--config", str(config_file), "--threads", "1", *shared.options)
    survivor = shared.replica()
    try:
        with CountingBot(refusals=2) as bot:
            set_gewe_callback(doomed.url, bot.url)
            (first,) = receive(doomed, "gewe")["deliveries"]
            doomed.process.kill()  # SIGKILL: its timer of the first retry dies with it
            doomed.process.wait()
            assert (first["state"], statuses(first)) == ("pending", [500])

            refused, retried = bot.wait_for(2, timeout=TAKEOVER_DEADLINE)
            # Taken over once the owner was late by the grace, not before.
            assert retried.arrived - refused.arrived >= TAKEOVER_GRACE_SECONDS
            (settled,) = wait_until_settled(survivor, 1, timeout=5.0)
            # The second retry follows on the survivor's own schedule.
            assert (settled["id"], settled["state"]) == (first["id"], "delivered")
            assert statuses(settled) == [500, 500, 200]
            time.sleep(SWEPT_SINCE)
            assert len(bot.requests) == 3
    finally:
        survivor.stop()
        doomed.stop()


# --- replicas alive: each attempt is made by one -----------------------------------------------


def test_with_both_replicas_alive_every_retry_is_made_once(
        replicas: tuple[LiveServer, LiveServer]) -> None:
    with CountingBot() as bot:
        set_gewe_callback(replicas[0].url, bot.url)
        for number in range(6):
            receive(replicas[number % 2], "gewe", sender=f"wxid_sender{number:02d}")
        settled = wait_until_settled(replicas[1], 6, timeout=5.0)
        assert [statuses(d) for d in settled] == [[500, 200]] * 6
        time.sleep(SWEPT_SINCE)  # both sweep meanwhile: neither takes a retry again
        assert sorted(bot.counts()) == [2] * 6 and len(bot.requests) == 12


@pytest.mark.parametrize("shared", ["sqlite"], indirect=True)  # (the claims: both, below)
def test_a_retry_under_way_past_the_grace_is_not_taken_over_while_its_lease_lasts(
        replicas: tuple[LiveServer, LiveServer]) -> None:
    # The retry takes longer than the grace and a sweep: the other replica sees it overdue,
    # and leased.
    slow = TAKEOVER_GRACE_SECONDS + 1.5 * SWEEP_SECONDS
    with CountingBot(delays={2: slow}) as bot:
        set_gewe_callback(replicas[0].url, bot.url)
        receive(replicas[0], "gewe")
        (settled,) = wait_until_settled(replicas[1], 1, timeout=slow + 3.0)
        assert statuses(settled) == [500, 200]
        assert len(bot.requests) == 2


def test_a_replay_waits_for_the_attempt_under_way(server: LiveServer) -> None:
    with CountingBot(refusals=0, delays={1: 0.5}) as bot:
        set_gewe_callback(server.url, bot.url)
        (first,) = receive(server, "gewe", wait=False)["deliveries"]
        replay = httpx.post(f"{server.url}/__admin/deliveries/{first['id']}/replay",
                            json={"wait": True}, timeout=30)
        assert replay.status_code == 200
        assert statuses(replay.json()) == [200, 200]
        attempt, duplicate = bot.wait_for(2)
        assert duplicate.arrived - attempt.arrived >= 0.45  # once the bot had answered


# --- the lease itself ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store: Store = SqliteStore(tmp_path)
    else:
        from mockserver.storage.redis_store import RedisStore

        redis_server: RedisServer = request.getfixturevalue("redis_server")
        store = RedisStore(redis_server.url(), redis_server.fresh_prefix())
    yield store
    store.close()


def overdue_retry(delivery_id: str = "dlv-00000000000a") -> Delivery:
    return Delivery(delivery_id=delivery_id, vendor="gewe", url="http://127.0.0.1:9/cb",
                    body="{}", headers={}, message_key="gewe:1", created_at=0.0,
                    attempts=({"status": 500},), timeout_seconds=1.0, retry_index=1,
                    next_attempt_at=time.time() - 10)


def test_a_claimed_delivery_is_refused_to_others_until_the_lease_ends(
        shared_store: Store) -> None:
    shared_store.save(overdue_retry())
    first = claim_delivery(shared_store, "dlv-00000000000a", "1-a-1", attempt=1,
                           lease_seconds=0.5)
    assert first.delivery is not None and first.delivery.claimed_by == "1-a-1"
    refused = claim_delivery(shared_store, "dlv-00000000000a", "2-b-1", attempt=1)
    assert refused == Claim(None, first.delivery.claimed_until)
    stored = shared_store.load(Delivery, "dlv-00000000000a")
    assert stored is not None and stored.claimed_by == "1-a-1"
    time.sleep(first.delivery.claimed_until - time.time() + 0.05)
    second = claim_delivery(shared_store, "dlv-00000000000a", "2-b-1", attempt=1)
    assert second.delivery is not None and second.delivery.claimed_by == "2-b-1"
    lease = second.delivery.claimed_until - time.time()
    assert 0 < lease <= 1.0 + LEASE_MARGIN_SECONDS  # the delivery's timeout and the margin


def test_a_retry_no_longer_due_is_not_claimed(shared_store: Store) -> None:
    shared_store.save(overdue_retry())
    assert claim_delivery(shared_store, "dlv-00000000000a", "1-a-1", attempt=2).delivery is None
    assert claim_delivery(shared_store, "dlv-00000000000a", "1-a-1", attempt=1,
                          due_by=time.time() - 60).delivery is None
    assert claim_delivery(shared_store, "dlv-00000000000b", "1-a-1", attempt=1) == Claim(None)


def test_a_delivery_kept_before_schedules_and_leases_loads_with_none_due() -> None:
    kept = {"delivery_id": "dlv-00000000000c", "vendor": "wid", "url": "http://127.0.0.1/cb",
            "body": "{}", "headers": {}, "message_key": "wid:1", "created_at": 1.0,
            "attempts": [{"status": 200}], "state": "delivered"}
    loaded = record_from_dict(Delivery, kept)
    assert (loaded.next_attempt_at, loaded.claimed_by, loaded.claimed_until) == (None, "", 0.0)


def test_the_newest_deliveries_are_kept_and_older_ones_dropped(bot: RecordingBot) -> None:
    from mockserver.runtime.delivery import Deliverer
    from mockserver.runtime.state import MockState
    from mockserver.storage.store import MemoryStore

    state = MockState(MockConfig(), MemoryStore())
    deliverer = Deliverer(state, keep=20)
    try:
        made = [deliverer.deliver(vendor="gewe", url=bot.url, body=b'{"n": %d}' % n,
                                  headers={}, message_key=f"m{n}", timeout=2).delivery_id
                for n in range(25)]
    finally:
        deliverer.close()
    kept = {d.delivery_id for d in state.store.records(Delivery)}
    assert 20 <= len(kept) <= 22  # (trimmed to 20 after every second one)
    assert made[-1] in kept and made[0] not in kept
    assert len(bot.requests) == 25  # (each was delivered before it could go)
