"""The async clients run the same flows as the sync ones: a check per vendor over a real socket."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import pytest
from _support import (
    APP_A,
    GEWE_APP_ID,
    GEWE_TOKEN,
    LARK_TOKEN_TTL,
    PNG,
    W_ID,
    WID_AUTHORIZATION,
    receive,
)

from chatimg import (
    AsyncGeweClient,
    AsyncLarkClient,
    AsyncWidClient,
    GeweError,
    ImageType,
    LarkImageDeleted,
    LarkRateLimited,
    RateLimitPolicy,
    TransportError,
)
from mockserver import LiveServer


def test_async_gewe_download_falls_back_to_normal_when_hd_is_missing(server: LiveServer) -> None:
    xml = receive(server, "gewe", sender="wxid_x", hd=False)["xml"]

    async def download() -> tuple[ImageType, ...]:
        async with AsyncGeweClient(server.url + "/gewe/v2/api", GEWE_TOKEN,
                                   GEWE_APP_ID) as client:
            return (await client.download_image(xml, ImageType.HD, fallback=True)).tried

    assert asyncio.run(download()) == (ImageType.HD, ImageType.NORMAL)


def test_async_gewe_post_then_forward_sends_the_same_image(server: LiveServer) -> None:
    async def post_and_forward() -> tuple[str, str]:
        async with AsyncGeweClient(server.url + "/gewe/v2/api", GEWE_TOKEN,
                                   GEWE_APP_ID) as client:
            sent = await client.post_image("wxid_a", "http://dummyimage.com/20x20")
            return sent.md5, (await client.forward_image("wxid_b", sent)).md5

    first, forwarded = asyncio.run(post_and_forward())
    assert first == forwarded


def test_async_gewe_refusal_raises_gewe_error(server: LiveServer) -> None:
    async def post() -> None:
        async with AsyncGeweClient(server.url + "/gewe/v2/api", "bad", GEWE_APP_ID) as client:
            await client.post_image("wxid_a", "http://x/1x1")

    with pytest.raises(GeweError) as caught:
        asyncio.run(post())
    assert caught.value.token_rejected


def test_async_wid_returns_the_image_url(server: LiveServer) -> None:
    message = receive(server, "wid", sender="wxid_x")

    async def get() -> str:
        async with AsyncWidClient(server.url, WID_AUTHORIZATION, W_ID) as client:
            return await client.get_msg_img(message["msgId"], message["fromUser"],
                                            message["toUser"], message["content"])

    assert httpx.get(asyncio.run(get())).status_code == 200


def test_async_lark_refreshes_an_expired_token_and_streams_to_a_file(server: LiveServer,
                                                                     tmp_path: Path) -> None:
    async def round_trip() -> bytes:
        async with AsyncLarkClient(APP_A.app_id, APP_A.app_secret, base_url=server.url,
                                   clock=lambda: 0.0) as client:
            image_key = await client.upload_image(PNG)
            server.state.clock.advance(LARK_TOKEN_TTL + 100)
            await client.download_image_to(image_key, tmp_path / "out.png")
            sink = io.BytesIO()
            await client.download_image_to(image_key, sink)
            return sink.getvalue()

    assert asyncio.run(round_trip()) == PNG
    assert (tmp_path / "out.png").read_bytes() == PNG


def test_async_lark_unknown_image_raises_image_deleted(server: LiveServer) -> None:
    async def download() -> bytes:
        async with AsyncLarkClient(APP_A.app_id, APP_A.app_secret,
                                   base_url=server.url) as client:
            return await client.download_image("img_v3_unknown")

    with pytest.raises(LarkImageDeleted):
        asyncio.run(download())


def test_async_lark_waits_out_rate_limits_with_the_injected_sleep() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    def always_limited(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tenant_access_token/internal"):
            return httpx.Response(200, json={"code": 0, "tenant_access_token": "t-1",
                                             "expire": 7200, "msg": "ok"})
        return httpx.Response(429, headers={"x-ogw-ratelimit-reset": "1"},
                              json={"code": 99991400, "msg": "request trigger frequency limit"})

    async def download() -> bytes:
        async with AsyncLarkClient("cli_a", "secret", base_url="https://lark.test",
                                   transport=httpx.MockTransport(always_limited), sleep=sleep,
                                   rate_limit=RateLimitPolicy(max_attempts=3)) as client:
            return await client.download_image("img_v3_key")

    with pytest.raises(LarkRateLimited) as caught:
        asyncio.run(download())
    assert slept == [1.0, 1.0] and caught.value.attempts == 3


def test_async_closed_port_raises_transport_error(closed_port: int) -> None:
    async def get() -> str:
        async with AsyncWidClient(f"http://127.0.0.1:{closed_port}", "a", "w") as client:
            return await client.get_msg_img(1, "wxid_a", "wxid_b", "<msg/>")

    with pytest.raises(TransportError):
        asyncio.run(get())
