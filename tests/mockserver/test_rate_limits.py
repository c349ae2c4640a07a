"""Lark's rate limits over a real socket: 50 calls a second and 1000 a minute, per app and
operation, answered as Lark answers them, and waited out by the client."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from _support import (
    APP_A,
    APP_B,
    LARK_TOKEN_PATH,
    PNG,
    client_of,
    lark_auth,
    lark_client,
)

from chatimg import LarkRateLimited
from mockserver import LarkApp, LarkConfig, LiveServer, MockConfig

IMAGES_PATH = "/open-apis/im/v1/images"
# A whole minute (and so a whole second) of the mock's clock, far from any test's wall time.
MINUTE_START = 1_900_000_020
SMALL_LIMITS = MockConfig(lark=LarkConfig(rate_limit_per_second=0, rate_limit_per_minute=5))


class LarkCaller:
    """One app's token and an image it uploaded, on one server."""

    def __init__(self, http: httpx.Client, app: LarkApp):
        self.http = http
        self.headers = lark_auth(http, app)
        self.image_key = self.upload().json()["data"]["image_key"]

    def upload(self) -> httpx.Response:
        return self.http.post(IMAGES_PATH, headers=self.headers, data={"image_type": "message"},
                              files={"image": ("square.png", PNG)})

    def download(self) -> httpx.Response:
        return self.http.get(f"{IMAGES_PATH}/{self.image_key}", headers=self.headers)

    def downloads(self, count: int) -> list[httpx.Response]:
        return [self.download() for _ in range(count)]


def set_clock(http: httpx.Client, epoch: float) -> None:
    assert http.post("/__admin/clock", json={"set": epoch}).status_code == 200


@pytest.fixture
def app_a(http: httpx.Client) -> LarkCaller:
    """App A with a token issued by the moved clock, which every test then moves on."""
    set_clock(http, MINUTE_START)
    return LarkCaller(http, APP_A)


def start_a_second(http: httpx.Client, attempt: int = 0) -> None:
    """Put the mock's clock at the start of a second no call was counted in yet."""
    set_clock(http, MINUTE_START + 100 + 2 * attempt)


def burst(caller: LarkCaller, count: int) -> list[httpx.Response]:
    """``count`` downloads that all fall in one second of the mock's clock. A busy machine
    can make a burst spill into the next second; then it is tried again in a fresh one."""
    for attempt in range(3):
        started = time.perf_counter()
        start_a_second(caller.http, attempt)
        replies = caller.downloads(count)
        if time.perf_counter() - started < 0.9:
            return replies
    raise AssertionError("no burst fitted in one second of the mock's clock in 3 tries")


# --- 50 a second ------------------------------------------------------------------------------


def test_burst_of_60_downloads_in_one_second_gets_exactly_10_refused(app_a: LarkCaller) -> None:
    statuses = [reply.status_code for reply in burst(app_a, 60)]
    assert statuses == [200] * 50 + [429] * 10


def test_rate_limited_reply_is_lark_99991400_with_its_headers(app_a: LarkCaller) -> None:
    refused = burst(app_a, 51)[-1]
    assert refused.status_code == 429
    assert refused.headers["x-ogw-ratelimit-limit"] == "50"
    assert int(refused.headers["x-ogw-ratelimit-reset"]) >= 1
    body = refused.json()
    assert (body["code"], body["msg"]) == (99991400, "request trigger frequency limit")
    assert refused.headers["X-Tt-Logid"] == body["error"]["log_id"]


def test_downloads_succeed_again_once_the_reset_time_has_passed(app_a: LarkCaller) -> None:
    refused = burst(app_a, 51)[-1]
    time.sleep(float(refused.headers["x-ogw-ratelimit-reset"]))
    assert app_a.download().content == PNG


def test_lark_client_waits_out_a_429_and_succeeds(server: LiveServer, app_a: LarkCaller) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with lark_client(server, sleep=sleep) as client:
        burst(app_a, 50)
        assert client.download_image(app_a.image_key) == PNG
    assert waits == [1.0]
    assert [e.status for e in server.journal.entries("getImage")][-2:] == [429, 200]


# --- 1000 a minute, with small limits and the mock's clock ----------------------------------


@pytest.fixture(scope="module")
def limited_server() -> Iterator[LiveServer]:
    with LiveServer(SMALL_LIMITS) as server:
        yield server


@pytest.fixture
def limited_http(limited_server: LiveServer) -> Iterator[httpx.Client]:
    limited_server.state.reset()
    with client_of(limited_server) as client:
        set_clock(client, MINUTE_START + 20)  # 40 s left in this minute
        yield client


def test_sixth_download_in_a_minute_is_refused_with_the_minute_limit(
        limited_http: httpx.Client) -> None:
    app = LarkCaller(limited_http, APP_A)
    replies = app.downloads(6)
    assert [r.status_code for r in replies] == [200] * 5 + [429]
    assert replies[-1].headers["x-ogw-ratelimit-limit"] == "5"
    assert 1 <= int(replies[-1].headers["x-ogw-ratelimit-reset"]) <= 40


def test_advancing_the_clock_a_minute_lifts_the_minute_limit(
        limited_server: LiveServer, limited_http: httpx.Client) -> None:
    app = LarkCaller(limited_http, APP_A)
    assert app.downloads(6)[-1].status_code == 429
    limited_server.state.clock.advance(60)
    assert app.download().status_code == 200


def test_limit_is_kept_per_app(limited_http: httpx.Client) -> None:
    app_a, app_b = LarkCaller(limited_http, APP_A), LarkCaller(limited_http, APP_B)
    assert app_a.downloads(6)[-1].status_code == 429
    assert [r.status_code for r in app_b.downloads(5)] == [200] * 5


def test_limit_is_kept_per_operation(limited_http: httpx.Client) -> None:
    app = LarkCaller(limited_http, APP_A)  # one upload counted
    assert app.downloads(6)[-1].status_code == 429
    assert [app.upload().status_code for _ in range(4)] == [200] * 4


def test_token_endpoint_is_not_rate_limited(limited_http: httpx.Client) -> None:
    grants = [limited_http.post(LARK_TOKEN_PATH, json={"app_id": APP_A.app_id,
                                                       "app_secret": APP_A.app_secret})
              for _ in range(8)]
    assert [g.json()["code"] for g in grants] == [0] * 8


def test_lark_client_does_not_wait_a_reset_longer_than_its_policy_allows(
        limited_server: LiveServer, limited_http: httpx.Client) -> None:
    app = LarkCaller(limited_http, APP_A)
    app.downloads(5)
    waits: list[float] = []
    with lark_client(limited_server, sleep=waits.append) as client:
        with pytest.raises(LarkRateLimited) as raised:
            client.download_image(app.image_key)
    assert raised.value.retry_after is not None and raised.value.retry_after > 30
    assert (raised.value.attempts, waits) == (1, [])  # 40 s is past max_total_wait (30 s)
