"""LarkClient's retries against a stub Lark: rate limits, token rejection, token lifetime."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chatimg import (
    LarkClient,
    LarkCode,
    LarkError,
    LarkImageDeleted,
    LarkRateLimited,
    LarkUnauthorized,
    ProtocolError,
    RateLimitPolicy,
)

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
IMAGE_PATH = "/open-apis/im/v1/images/img_v3_key"
RATE_LIMITED = {"code": 99991400, "msg": "request trigger frequency limit"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"  # a PNG as far as the client looks


class StubLark:
    """Grants tokens ``t-1``, ``t-2``…; answers image downloads with the queued replies, then
    with the image. Records every request's path and token."""

    def __init__(self, *replies: httpx.Response, expire: int = 7200):
        self.replies = list(replies)
        self.expire = expire
        self.tokens_granted = 0
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.decode("ascii")
        self.calls.append((raw_path, request.headers.get("Authorization")))
        if request.url.path == TOKEN_PATH:
            self.tokens_granted += 1
            return httpx.Response(200, json={"code": 0, "msg": "ok", "expire": self.expire,
                                             "tenant_access_token": f"t-{self.tokens_granted}"})
        if self.replies:
            return self.replies.pop(0)
        return httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})

    def image_calls(self) -> list[str | None]:
        return [token for path, token in self.calls if path != TOKEN_PATH]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(stub: Callable[[httpx.Request], httpx.Response], **options: Any) -> LarkClient:
    options.setdefault("sleep", Sleeps())
    return LarkClient("cli_a", "secret", base_url="https://open.feishu.test",
                      transport=httpx.MockTransport(stub), **options)


def rate_limited(status: int = 429, reset: str | None = "1") -> httpx.Response:
    headers = {"x-ogw-ratelimit-limit": "50", "X-Tt-Logid": "20261126LOGID"}
    if reset is not None:
        headers["x-ogw-ratelimit-reset"] = reset
    return httpx.Response(status, json=RATE_LIMITED, headers=headers)


def lark_error(code: int, status: int = 400, **error: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": "refused", "error": error})


# --- rate limits --------------------------------------------------------------------------------


def test_rate_limited_call_waits_the_reset_seconds_and_succeeds() -> None:
    sleeps = Sleeps()
    stub = StubLark(rate_limited(reset="1"))
    assert client_for(stub, sleep=sleeps).download_image("img_v3_key") == PNG
    assert sleeps == [1.0]
    assert len(stub.image_calls()) == 2


def test_persistent_rate_limit_raises_after_the_attempt_bound() -> None:
    sleeps = Sleeps()
    stub = StubLark(*[rate_limited(reset="2") for _ in range(10)])
    policy = RateLimitPolicy(max_attempts=3, max_total_wait=30)
    with pytest.raises(LarkRateLimited) as caught:
        client_for(stub, sleep=sleeps, rate_limit=policy).download_image("img_v3_key")
    assert len(stub.image_calls()) == caught.value.attempts == 3
    assert sleeps == [2.0, 2.0] and caught.value.waited == 4.0
    assert (caught.value.code, caught.value.http_status) == (LarkCode.RATE_LIMITED, 429)
    assert (caught.value.retry_after, caught.value.log_id) == (2.0, "20261126LOGID")


def test_persistent_rate_limit_stops_before_the_total_wait_bound() -> None:
    sleeps = Sleeps()
    stub = StubLark(*[rate_limited(reset="4") for _ in range(10)])
    policy = RateLimitPolicy(max_attempts=10, max_total_wait=10)
    with pytest.raises(LarkRateLimited) as caught:
        client_for(stub, sleep=sleeps, rate_limit=policy).download_image("img_v3_key")
    assert sleeps == [4.0, 4.0]  # a third wait would make 12 s
    assert caught.value.attempts == 3


def test_rate_limit_code_on_http_400_is_waited_out_too() -> None:
    sleeps = Sleeps()
    stub = StubLark(rate_limited(status=400, reset="1"))
    assert client_for(stub, sleep=sleeps).download_image("img_v3_key") == PNG
    assert sleeps == [1.0]


def test_rate_limit_without_reset_header_backs_off_doubling() -> None:
    sleeps = Sleeps()
    stub = StubLark(rate_limited(reset=None), rate_limited(reset=None))
    client = client_for(stub, sleep=sleeps, rate_limit=RateLimitPolicy(backoff=0.5))
    assert client.download_image("img_v3_key") == PNG
    assert sleeps == [0.5, 1.0]


def test_rate_limited_token_request_is_waited_out() -> None:
    sleeps = Sleeps()
    limited_once = [rate_limited(reset="1")]

    def stub(request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH and limited_once:
            return limited_once.pop()
        return StubLark()(request)

    assert client_for(stub, sleep=sleeps).download_image("img_v3_key") == PNG
    assert sleeps == [1.0]


# --- token rejection --------------------------------------------------------------------------


@pytest.mark.parametrize("code", [99991663, 99991661, 99991664, 99991671])
def test_rejected_token_is_replaced_once_and_the_call_retried(code: int) -> None:
    stub = StubLark(lark_error(code))
    assert client_for(stub).download_image("img_v3_key") == PNG
    assert stub.image_calls() == ["Bearer t-1", "Bearer t-2"]


def test_token_rejected_twice_raises_unauthorized_without_a_third_try() -> None:
    stub = StubLark(lark_error(99991663), lark_error(99991663))
    with pytest.raises(LarkUnauthorized) as caught:
        client_for(stub).download_image("img_v3_key")
    assert caught.value.code == LarkCode.INVALID_TENANT_TOKEN
    assert len(stub.image_calls()) == 2


def test_token_replaced_after_a_rejection_is_kept_for_later_calls() -> None:
    stub = StubLark(lark_error(99991663))
    client = client_for(stub)
    client.download_image("img_v3_key")
    client.download_image("img_v3_key")
    assert stub.image_calls() == ["Bearer t-1", "Bearer t-2", "Bearer t-2"]


def test_other_errors_are_not_retried() -> None:
    stub = StubLark(lark_error(234005))
    with pytest.raises(LarkImageDeleted):
        client_for(stub).download_image("img_v3_key")
    assert stub.tokens_granted == 1 and len(stub.image_calls()) == 1


# --- token lifetime (the client's clock) ----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("expire, elapsed, fetches", [
    (7200, 6899, 1),  # more than 5 min left: reused
    (7200, 6901, 2),  # less than 5 min left: fetched again
    (100, 89, 1),     # a short-lived token is kept for 90 % of its life
    (100, 91, 2),
])
def test_token_is_reused_until_shortly_before_it_expires(expire: int, elapsed: float,
                                                         fetches: int) -> None:
    clock, stub = Clock(), StubLark(expire=expire)
    client = client_for(stub, clock=clock)
    client.download_image("img_v3_key")
    clock.now = elapsed
    client.download_image("img_v3_key")
    assert stub.tokens_granted == fetches


# --- replies outside the happy path ---------------------------------------------------------


def test_log_id_comes_from_the_body_when_the_header_is_missing() -> None:
    stub = StubLark(lark_error(234005, log_id="2026112611203100AB"))
    with pytest.raises(LarkImageDeleted) as caught:
        client_for(stub).download_image("img_v3_key")
    assert caught.value.log_id == "2026112611203100AB"


def test_json_error_with_http_200_is_raised_not_returned_as_the_image() -> None:
    stub = StubLark(lark_error(234005, status=200))
    with pytest.raises(LarkImageDeleted):
        client_for(stub).download_image("img_v3_key")


def test_unknown_code_raises_plain_lark_error_keeping_the_code() -> None:
    stub = StubLark(lark_error(99991672))
    with pytest.raises(LarkError) as caught:
        client_for(stub).download_image("img_v3_key")
    assert type(caught.value) is LarkError and caught.value.code == 99991672


def test_non_json_error_page_raises_protocol_error() -> None:
    stub = StubLark(httpx.Response(502, text="<html>bad gateway</html>",
                                   headers={"Content-Type": "text/html"}))
    with pytest.raises(ProtocolError) as caught:
        client_for(stub).download_image("img_v3_key")
    assert caught.value.http_status == 502


def test_token_reply_without_expire_raises_protocol_error() -> None:
    def stub(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": 0, "msg": "ok", "tenant_access_token": "t-1"})

    with pytest.raises(ProtocolError):
        client_for(stub).download_image("img_v3_key")


def test_upload_sends_image_type_then_image_as_multipart() -> None:
    seen: list[httpx.Request] = []

    def stub(request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            assert json.loads(request.content) == {"app_id": "cli_a", "app_secret": "secret"}
            return StubLark()(request)
        seen.append(request)
        return httpx.Response(200, json={"code": 0, "msg": "success",
                                         "data": {"image_key": "img_v3_new"}})

    assert client_for(stub).upload_image(b"\x89PNG", image_type="avatar") == "img_v3_new"
    body = seen[0].content
    assert seen[0].headers["Authorization"] == "Bearer t-1"
    assert body.index(b'name="image_type"\r\n\r\navatar') < body.index(b'name="image"')
    assert b"\r\n\r\n\x89PNG\r\n" in body


def test_image_key_is_escaped_in_the_path() -> None:
    stub = StubLark()
    client_for(stub).download_image("img_v3_a/b?c")
    assert stub.calls[-1][0] == "/open-apis/im/v1/images/img_v3_a%2Fb%3Fc"
