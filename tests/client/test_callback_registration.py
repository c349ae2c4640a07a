"""GeweClient.set_callback and WidClient.set_callback_url against the mock on a real socket:
what they register is where the mock then delivers received images; every refusal is typed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from _support import (
    GEWE_API,
    GEWE_APP_ID,
    GEWE_TOKEN,
    W_ID,
    WID_AUTHORIZATION,
    RecordingBot,
)

from chatimg import (
    AsyncGeweClient,
    AsyncWidClient,
    GeweClient,
    GeweError,
    WidClient,
    WidError,
)
from mockserver import LiveServer

NOT_ALLOWED = "http://example.com/callback"


def subscriptions(server: LiveServer) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(
        server.url + "/__admin/subscriptions").json()["subscriptions"]
    return found


# --- GeWe ------------------------------------------------------------------------------------


def test_gewe_set_callback_sends_the_token_in_body_and_header(gewe: GeweClient,
                                                               server: LiveServer,
                                                               bot: RecordingBot) -> None:
    gewe.set_callback(bot.url)

    [call] = server.journal.assert_called("setCallback", times=1, callbackUrl=bot.url)
    assert call.request_body["token"] != GEWE_TOKEN  # masked by the journal, but present
    assert call.request_headers["X-Gewe-Token"].startswith("***")
    assert call.response_body == {"ret": 200, "msg": "操作成功"}
    assert [(s["vendor"], s["url"]) for s in subscriptions(server)] == [("gewe", bot.url)]


def test_gewe_callbacks_go_to_the_url_set(gewe: GeweClient, server: LiveServer,
                                          bot: RecordingBot) -> None:
    gewe.set_callback(bot.url)

    received = server.send_image("gewe", fromUser="wxid_friend01")

    assert [d["state"] for d in received["deliveries"]] == ["delivered"]
    [callback] = [request.json() for request in bot.requests]
    assert callback["TypeName"] == "AddMsg" and callback["Appid"] == GEWE_APP_ID
    assert callback["Data"]["NewMsgId"] == received["newMsgId"]


def test_gewe_set_callback_again_replaces_the_url(gewe: GeweClient, server: LiveServer,
                                                  bot: RecordingBot) -> None:
    gewe.set_callback(bot.url_for("/old"))
    gewe.set_callback(bot.url_for("/new"))

    server.send_image("gewe", fromUser="wxid_friend01")

    assert [s["url"] for s in subscriptions(server)] == [bot.url_for("/new")]
    assert len(bot.requests) == 1


def test_gewe_set_callback_to_a_url_the_service_refuses_raises_gewe_error(
        gewe: GeweClient, server: LiveServer) -> None:
    with pytest.raises(GeweError) as caught:
        gewe.set_callback(NOT_ALLOWED)

    assert caught.value.ret == 500 and caught.value.msg == "设置回调地址失败"
    assert caught.value.data_code == "-1" and "example.com" in (caught.value.data_msg or "")
    assert subscriptions(server) == []


def test_gewe_set_callback_with_an_unknown_token_raises_token_rejected(
        server: LiveServer, bot: RecordingBot) -> None:
    with GeweClient(server.url + GEWE_API, "not-a-token", GEWE_APP_ID) as gewe:
        with pytest.raises(GeweError) as caught:
            gewe.set_callback(bot.url)

    assert caught.value.token_rejected
    assert subscriptions(server) == []


def test_async_gewe_set_callback_registers_the_url(server: LiveServer,
                                                   bot: RecordingBot) -> None:
    async def register() -> None:
        async with AsyncGeweClient(server.url + GEWE_API, GEWE_TOKEN, GEWE_APP_ID) as gewe:
            await gewe.set_callback(bot.url)

    asyncio.run(register())

    assert [s["url"] for s in subscriptions(server)] == [bot.url]


# --- wid -------------------------------------------------------------------------------------


def test_wid_set_callback_url_sends_type_2_as_hosted_clients_do(wid: WidClient,
                                                                 server: LiveServer,
                                                                 bot: RecordingBot) -> None:
    wid.set_callback_url(bot.url)

    [call] = server.journal.assert_called("setHttpCallbackUrl", times=1)
    assert call.request_body == {"httpUrl": bot.url, "type": 2}
    assert call.response_body == {"message": "成功", "code": "1000", "data": None}


def test_wid_set_callback_url_without_type_leaves_it_out(wid: WidClient, server: LiveServer,
                                                         bot: RecordingBot) -> None:
    wid.set_callback_url(bot.url, type=None)

    [call] = server.journal.assert_called("setHttpCallbackUrl", times=1)
    assert call.request_body == {"httpUrl": bot.url}


def test_wid_callbacks_go_to_the_url_set(wid: WidClient, server: LiveServer,
                                         bot: RecordingBot) -> None:
    wid.set_callback_url(bot.url)

    received = server.send_image("wid", fromUser="wxid_friend01")

    assert [d["state"] for d in received["deliveries"]] == ["delivered"]
    [callback] = [request.json() for request in bot.requests]
    assert callback["messageType"] == 6 and callback["data"]["newMsgId"] == received["newMsgId"]


def test_wid_set_callback_url_the_service_refuses_raises_wid_error(wid: WidClient,
                                                                    server: LiveServer) -> None:
    with pytest.raises(WidError) as caught:
        wid.set_callback_url(NOT_ALLOWED)

    assert caught.value.code == "1001" and "回调地址不可用" in caught.value.message
    assert subscriptions(server) == []


def test_wid_set_callback_url_with_a_wrong_authorization_raises_wid_error(
        server: LiveServer, bot: RecordingBot) -> None:
    with WidClient(server.url, "wrong", W_ID) as wid:
        with pytest.raises(WidError) as caught:
            wid.set_callback_url(bot.url)

    assert caught.value.code == "1001" and "Authorization" in caught.value.message
    assert subscriptions(server) == []


def test_async_wid_set_callback_url_registers_the_url(server: LiveServer,
                                                      bot: RecordingBot) -> None:
    async def register() -> None:
        async with AsyncWidClient(server.url, WID_AUTHORIZATION, W_ID) as wid:
            await wid.set_callback_url(bot.url)

    asyncio.run(register())

    assert [s["url"] for s in subscriptions(server)] == [bot.url]
