"""Replicas that share one state on Redis, as a load balancer sees them: a real redis-server
and ``serve`` processes on ports of their own. What one replica acknowledged the other serves
(images byte-exact, armed rules, Lark's rate limit counted across both), and still does after a
replica is killed mid-load, after both restart, and after Redis itself restarts (the replicas
answering 503 in each vendor's envelope while it is away)."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from _redis import RedisServer
from _support import (
    APP_A,
    APP_B,
    GEWE_API,
    GEWE_APP_ID,
    GEWE_HEADERS,
    PNG,
    ServedMock,
    eventually,
    lark_auth,
)
from PIL import Image

from chatimg import SentImage

if TYPE_CHECKING:
    from replicas.conftest import Replicas

POST_IMAGE = f"{GEWE_API}/message/postImage"
DOWNLOAD_IMAGE = f"{GEWE_API}/message/downloadImage"
LARK_IMAGES = "/open-apis/im/v1/images"
LARK_RATE_LIMIT = 50  # calls a second per app and operation: the mock's default
# A second of the mock's clock no call was counted in: a burst starts it (a test's own prefix
# has a clock of its own, so this moves no other test's).
BURST_SECOND = 1_900_000_020
LARK_RETRIES = 5  # 429s waited out before a call is given up
LOAD_THREADS = 6
# After a call that was not acknowledged a load thread waits this long: a replica writes a line
# for each call it answers 503, and one whose output is not read (ServedMock's, until it is
# stopped) hangs once that fills the pipe's 64 KiB, some 400 lines; this keeps a Redis outage
# of a few seconds well below that.
PAUSE_AFTER_REFUSAL_SECONDS = 0.1
WAIT_SECONDS = 30.0  # for a load to reach a count: far more than it takes


# --- what bots send and fetch ------------------------------------------------------------------


def distinct_png(number: int) -> bytes:
    """A small PNG of its own for each ``number`` below 65536 (its colour spells it)."""
    picture = Image.new("RGB", (8 + number % 16, 8), (number % 256, number // 256 % 256, 77))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Sent:
    """An image a replica acknowledged: its bytes, and what names it for a download."""

    vendor: str
    image_id: str
    data: bytes
    xml: str = ""  # GeWe: the message XML downloadImage takes
    auth: Mapping[str, str] = field(default_factory=dict)  # Lark: the uploading app's token


def post_gewe(http: httpx.Client, data: bytes) -> httpx.Response:
    """postImage of ``data`` as a data: URL (so the replica stores exactly those bytes)."""
    return http.post(POST_IMAGE, headers=GEWE_HEADERS, json={
        "appId": GEWE_APP_ID, "toWxid": "wxid_friend01",
        "imgUrl": "data:image/png;base64," + base64.b64encode(data).decode()})


def post_lark(http: httpx.Client, auth: Mapping[str, str], data: bytes) -> httpx.Response:
    return http.post(LARK_IMAGES, headers=dict(auth), data={"image_type": "message"},
                     files={"image": ("picture.png", data)})


def acknowledged(vendor: str, reply: httpx.Response, data: bytes,
                 auth: Mapping[str, str] | None = None) -> Sent | None:
    """The image ``reply`` acknowledged (HTTP 200 with ret 200 or code 0), else None."""
    if reply.status_code != 200 or not isinstance(body := envelope(reply), dict):
        return None
    if vendor == "gewe" and body.get("ret") == 200:
        xml = SentImage.from_data(body["data"]).forward_xml()
        return Sent(vendor, body["data"]["fileId"], data, xml=xml)
    if vendor == "lark" and body.get("code") == 0:
        return Sent(vendor, body["data"]["image_key"], data, auth=dict(auth or {}))
    return None


def past_rate_limit(send: Callable[[], httpx.Response]) -> httpx.Response:
    """``send()``'s reply; a 429 (Lark: 50 calls a second per app) waited out and sent again,
    as a bot's client does."""
    for _ in range(LARK_RETRIES):
        reply = send()
        if reply.status_code != 429:
            return reply
        time.sleep(float(reply.headers.get("x-ogw-ratelimit-reset", "1")))
    return reply


def sent_through(http: httpx.Client, vendor: str, data: bytes,
                 auth: Mapping[str, str] | None = None) -> Sent:
    """``data`` sent through the replica of ``http``, which must acknowledge it."""
    if vendor == "gewe":
        reply = post_gewe(http, data)
    else:
        reply = past_rate_limit(lambda: post_lark(http, auth or {}, data))
    sent = acknowledged(vendor, reply, data, auth)
    assert sent is not None, reply.text
    return sent


def fetched(http: httpx.Client, sent: Sent) -> bytes:
    """The bytes the replica of ``http`` serves for ``sent`` (GeWe: through the link
    downloadImage hands out; Lark: GET of the image key), or the text of its refusal."""
    if sent.vendor == "lark":
        return past_rate_limit(
            lambda: http.get(f"{LARK_IMAGES}/{sent.image_id}", headers=dict(sent.auth))).content
    reply = http.post(DOWNLOAD_IMAGE, headers=GEWE_HEADERS,
                      json={"appId": GEWE_APP_ID, "xml": sent.xml, "type": 2})
    body = reply.json()
    if body.get("ret") != 200:
        return reply.content
    return http.get(body["data"]["fileUrl"]).content


def not_served(http: httpx.Client, images: list[Sent]) -> list[tuple[str, str, str]]:
    """Those of ``images`` the replica of ``http`` does not serve byte-exact: their vendor and
    id, and the md5 and start of what it served instead (an image, or a refusal)."""
    def check(sent: Sent) -> tuple[str, str, str] | None:
        served = fetched(http, sent)
        if served == sent.data:
            return None
        return sent.vendor, sent.image_id, hashlib.md5(served).hexdigest() + repr(served[:200])

    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        return [wrong for wrong in pool.map(check, images) if wrong is not None]


@contextmanager
def clients(*mocks: ServedMock) -> Iterator[list[httpx.Client]]:
    """An HTTP client on each of ``mocks``, in their order."""
    with ExitStack() as stack:
        yield [stack.enter_context(httpx.Client(base_url=mock.url, timeout=10))
               for mock in mocks]


def arm(http: httpx.Client, **rule: Any) -> dict[str, Any]:
    reply = http.post("/__admin/rules", json=rule)
    assert reply.status_code == 201, reply.text
    armed: dict[str, Any] = reply.json()
    return armed


def listed_ids(http: httpx.Client) -> list[str]:
    reply = http.get("/__admin/images")
    assert reply.status_code == 200, reply.text
    return [image["imageId"] for image in reply.json()["images"]]


# --- a load of uploads through both replicas ---------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One upload of a load: what it sent where, and the reply (None: no reply came)."""

    vendor: str
    replica: int
    reply: httpx.Response | None
    sent: Sent | None  # what it acknowledged
    at: float  # time.monotonic() when the reply came

    def kind(self) -> str:
        """acknowledged; unavailable (503 in the vendor's envelope, with Retry-After); rate
        limited (Lark's 429); no reply; or else the reply itself."""
        if self.sent is not None:
            return "acknowledged"
        if self.reply is None:
            return "no reply"
        if answer(self.vendor, self.reply)[1:] == (503, 503, "1"):
            return "unavailable"
        if answer(self.vendor, self.reply)[1:3] == (429, 99991400):
            return "rate limited"
        return f"{self.vendor} {self.reply.status_code}: {self.reply.text[:300]}"


class Load:
    """Threads uploading distinct images through every client in turn, GeWe and Lark
    alternately, until ``stop`` or ``limit`` uploads; each one's ``Outcome`` is kept. A call
    that is not acknowledged is followed by a pause, so a replica or a Redis that is away is
    not hammered."""

    def __init__(self, http: list[httpx.Client], auth: Mapping[str, str],
                 limit: int = 3000) -> None:
        self.http = http
        self.auth = auth
        self.limit = limit
        self.outcomes: list[Outcome] = []
        self._numbers = itertools.count()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._upload, daemon=True)
                         for _ in range(LOAD_THREADS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join()

    def acknowledged(self, since: float = 0.0) -> list[Sent]:
        with self._lock:
            return [o.sent for o in self.outcomes if o.sent is not None and o.at >= since]

    def wait_for(self, count: int, since: float = 0.0) -> None:
        """Until ``count`` uploads were acknowledged (after ``since``); else an assertion that
        says what the replicas answered instead."""
        try:
            eventually(lambda: len(self.acknowledged(since)) >= count, WAIT_SECONDS,
                       f"{count} acknowledged uploads")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the last replies: {self.last_replies()}") from None

    def last_replies(self, count: int = 6) -> list[str]:
        with self._lock:
            latest = self.outcomes[-count:]
        return [f"{o.vendor} through replica {o.replica}: {o.kind()}" for o in latest]

    def _upload(self) -> None:
        while not self._stopping.is_set():
            number = next(self._numbers)
            if number >= self.limit:
                return
            replica, vendor = number % len(self.http), ("gewe", "lark")[number // 2 % 2]
            outcome = self._one(number, replica, vendor)
            with self._lock:
                self.outcomes.append(outcome)
            if outcome.sent is None:
                time.sleep(PAUSE_AFTER_REFUSAL_SECONDS)

    def _one(self, number: int, replica: int, vendor: str) -> Outcome:
        data = distinct_png(number)
        http = self.http[replica]
        try:
            reply = (post_gewe(http, data) if vendor == "gewe"
                     else post_lark(http, self.auth, data))
        except httpx.TransportError:
            return Outcome(vendor, replica, None, None, time.monotonic())
        return Outcome(vendor, replica, reply, acknowledged(vendor, reply, data, self.auth),
                       time.monotonic())


# --- one state ---------------------------------------------------------------------------------


def test_400_images_sent_through_one_replica_download_byte_exact_from_the_other(
        replicas: Replicas) -> None:
    with clients(*replicas.running) as (first, second):
        auths = {app.app_id: lark_auth(first, app) for app in (APP_A, APP_B)}

        def round_trip(number: int) -> tuple[Sent, bytes]:
            sender, receiver = (first, second) if number % 2 == 0 else (second, first)
            vendor = ("gewe", "lark")[number // 2 % 2]
            auth = auths[(APP_A, APP_B)[number // 4 % 2].app_id]
            sent = sent_through(sender, vendor, distinct_png(number), auth)
            return sent, fetched(receiver, sent)

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(round_trip, range(400)))
        listed = [sorted(listed_ids(http)) for http in (first, second)]
    sent_ids = sorted(sent.image_id for sent, _ in results)
    assert len(set(sent_ids)) == 400
    assert [sent.vendor for sent, _ in results].count("lark") == 200
    wrong = [(sent.vendor, sent.image_id) for sent, served in results if served != sent.data]
    assert wrong == []
    assert listed == [sent_ids, sent_ids]


def test_a_rule_armed_through_one_replica_fires_on_the_other_until_disarmed_there(
        replicas: Replicas) -> None:
    with clients(*replicas.running) as (first, second):
        auth = lark_auth(first)
        image_key = sent_through(first, "lark", PNG, auth).image_id

        def get_image(http: httpx.Client) -> tuple[int, int]:
            reply = http.get(f"{LARK_IMAGES}/{image_key}", headers=auth)
            return reply.status_code, reply.json()["code"] if reply.status_code != 200 else 0

        rule = arm(first, operation="getImage", error="234042")
        assert [get_image(http) for http in (second, first, second)] == [(400, 234042)] * 3
        assert second.delete(f"/__admin/rules/{rule['id']}").status_code == 200
        assert [get_image(http) for http in (first, second)] == [(200, 0)] * 2


def gewe_outcome(http: httpx.Client) -> str:
    """What a postImage through ``http`` came to: "ok", or the cause of its failure."""
    body = post_gewe(http, PNG).json()
    return "ok" if body["ret"] == 200 else body["data"]["msg"]


def test_a_rule_of_three_times_fires_three_times_across_alternating_replicas(
        replicas: Replicas) -> None:
    with clients(*replicas.running) as (first, second):
        arm(second, operation="postImage", error="wechat_offline", times=3)
        outcomes = [gewe_outcome(http) for http in (first, second) * 4]
        rules = first.get("/__admin/rules").json()["rules"]
    assert outcomes == ["微信已离线"] * 3 + ["ok"] * 5
    assert rules == []


def test_a_rule_of_three_times_fires_three_times_under_concurrent_calls_on_both(
        replicas: Replicas) -> None:
    with clients(*replicas.running) as (first, second):
        arm(first, operation="postImage", error="wechat_offline", times=3)
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(gewe_outcome, [first, second] * 12))
    assert (outcomes.count("微信已离线"), outcomes.count("ok")) == (3, 21)


def test_a_lark_burst_over_both_replicas_is_refused_after_exactly_50_calls_in_a_second(
        replicas: Replicas) -> None:
    with clients(*replicas.running) as (first, second):
        # The token is issued by the moved clock, so that it holds for the bursts after.
        assert first.post("/__admin/clock", json={"set": BURST_SECOND}).status_code == 200
        auth = lark_auth(second)
        image_key = sent_through(first, "lark", PNG, auth).image_id
        replies = burst(lambda http: http.get(f"{LARK_IMAGES}/{image_key}", headers=auth),
                        [first, second], LARK_RATE_LIMIT + 20)
    statuses = [reply.status_code for reply in replies]
    assert (statuses.count(200), statuses.count(429)) == (LARK_RATE_LIMIT, 20)
    refused = [reply for reply in replies if reply.status_code == 429]
    assert {reply.json()["code"] for reply in refused} == {99991400}
    assert {reply.headers["x-ogw-ratelimit-limit"] for reply in refused} == {"50"}


def burst(call: Callable[[httpx.Client], httpx.Response], http: list[httpx.Client],
          count: int) -> list[httpx.Response]:
    """``count`` calls spread over ``http`` in turn, from threads, all inside one second of the
    mock's clock: each try sets the clock to the start of a second no call was counted in,
    and one that took longer than the second (a busy machine) is tried again in a fresh one."""
    for client in http:  # connections opened before the second starts
        client.get("/__admin/clock")
    for attempt in range(1, 4):
        with ThreadPoolExecutor(12) as pool:
            started = time.monotonic()
            moved = http[0].post("/__admin/clock", json={"set": BURST_SECOND + 10 * attempt})
            assert moved.status_code == 200, moved.text
            replies = list(pool.map(call, [http[n % len(http)] for n in range(count)]))
            if time.monotonic() - started < 0.9:
                return replies
    raise AssertionError("no burst fitted in one second of the mock's clock in 3 tries")


# --- replicas and Redis that go away -------------------------------------------------------------


def test_a_replica_killed_mid_load_leaves_every_acknowledged_image_to_the_other(
        replicas: Replicas) -> None:
    survivor, doomed = replicas.running
    with clients(survivor, doomed) as http:
        auth = lark_auth(http[0])
        with Load(http, auth) as load:
            load.wait_for(60)
            doomed.process.kill()  # SIGKILL: no goodbye, calls in flight cut off
            doomed.process.wait()
            load.wait_for(60, since=time.monotonic())  # (the survivor takes them all)
        wrong = not_served(http[0], load.acknowledged())
    by_doomed = {o.vendor for o in load.outcomes if o.sent is not None and o.replica == 1}
    assert by_doomed == {"gewe", "lark"}
    assert wrong == []


def test_images_outlive_a_restart_of_every_replica(replicas: Replicas) -> None:
    with clients(*replicas.running) as (first, second):
        auth = lark_auth(first)
        images = [sent_through((first, second)[number % 2], ("gewe", "lark")[number // 2 % 2],
                               distinct_png(number), auth) for number in range(40)]
    replicas.stop()
    with clients(*replicas.start()) as (first, second):
        listed = [sorted(listed_ids(http)) for http in (first, second)]
        wrong = not_served(first, images[::2]) + not_served(second, images[1::2])
    ids = sorted(sent.image_id for sent in images)
    assert listed == [ids, ids]
    assert wrong == []


def test_while_redis_restarts_calls_answer_503_and_then_every_acknowledged_image_is_back(
        persistent_redis: RedisServer, start_replicas: Callable[[str, str], Replicas]) -> None:
    replicas = start_replicas(persistent_redis.url(), "replicas:")
    with clients(*replicas.running) as http:
        load_auth = lark_auth(http[0])
        own_auth = lark_auth(http[0], APP_B)  # (app A's rate limit is the load's)
        with Load(http, load_auth) as load:
            load.wait_for(60)
            persistent_redis.stop()
            down = [answer(vendor, reply) for vendor, reply in uploads(http, own_auth)]
            persistent_redis.start()
            back = [acknowledged(vendor, reply, PNG) is not None
                    for vendor, reply in uploads(http, own_auth)]
            load.wait_for(60, since=time.monotonic())
        wrong = not_served(http[1], load.acknowledged())
    assert down == [("gewe", 503, 503, "1"), ("lark", 503, 503, "1")] * 2
    assert back == [True] * 4  # at once: nothing waits for Redis to be noticed back
    assert {o.kind() for o in load.outcomes} <= {"acknowledged", "unavailable", "rate limited"}
    assert wrong == []


def uploads(http: list[httpx.Client], auth: Mapping[str, str]) -> list[tuple[str, httpx.Response]]:
    """A GeWe postImage and a Lark upload through each of ``http``."""
    return [(vendor, post_gewe(client, PNG) if vendor == "gewe" else post_lark(client, auth, PNG))
            for client in http for vendor in ("gewe", "lark")]


def answer(vendor: str, reply: httpx.Response) -> tuple[str, int, Any, str | None]:
    """The vendor, HTTP status, envelope's code (GeWe ret, Lark code) and Retry-After."""
    body = envelope(reply)
    code = body.get("ret" if vendor == "gewe" else "code") if isinstance(body, dict) else None
    return vendor, reply.status_code, code, reply.headers.get("Retry-After")


def envelope(reply: httpx.Response) -> Any:
    """The JSON of ``reply``, or None when it is none."""
    try:
        return reply.json()
    except ValueError:
        return None
