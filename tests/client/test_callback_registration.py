"""GeweClient.set_callback and WidClient.set_callback_url against the mock on a real socket:
what they register is where the mock then delivers received images; every refusal is typed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from chatimg import (
    AsyncGeweClient,
    AsyncWidClient,
    GeweClient,
    GeweError,
    WidClient,
    WidError,
)
from mockserver import LiveServer, MockConfig

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEFAULTS = MockConfig()
GEWE_TOKEN = DEFAULTS.gewe.tokens[0]
GEWE_APP_ID = DEFAULTS.gewe.devices[0].app_id
GEWE_API = "/gewe/v2/api"
WID_AUTHORIZATION = DEFAULTS.wid.authorizations[0]
W_ID = DEFAULTS.wid.instances[0].w_id
NOT_ALLOWED = "http://example.com/callback"


class Receiver:
    """A bot that takes every callback (HTTP 200) and keeps its JSON body."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self._live = LiveServer(app=self._app).start()

    def url(self, path: str = "/callback") -> str:
        return f"{self._live.url}{path}"

    def _app(self, environ: WSGIEnvironment,
             start_response: StartResponse) -> Iterable[bytes]:
        self.bodies.append(json.loads(Request(environ).get_data()))
        answer = Response('{"ok":true}', content_type="application/json")
        return answer(environ, start_response)

    def stop(self) -> None:
        self._live.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    bot = Receiver()
    yield bot
    bot.stop()


@pytest.fixture
def gewe(server: LiveServer) -> Iterator[GeweClient]:
    with GeweClient(server.url + GEWE_API, GEWE_TOKEN, GEWE_APP_ID, timeout=10) as client:
        yield client


@pytest.fixture
def wid(server: LiveServer) -> Iterator[WidClient]:
    with WidClient(server.url, WID_AUTHORIZATION, W_ID, timeout=10) as client:
        yield client


def subscriptions(server: LiveServer) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(
        server.url + "/__admin/subscriptions").json()["subscriptions"]
    return found


# --- GeWe ------------------------------------------------------------------------------------


def test_gewe_set_callback_sends_the_token_in_body_and_header(gewe: GeweClient,
                                                               server: LiveServer,
                                                               receiver: Receiver) -> None:
    gewe.set_callback(receiver.url())

    [call] = server.journal.assert_called("setCallback", times=1, callbackUrl=receiver.url())
    assert call.request_body["token"] != GEWE_TOKEN  # masked by the journal, but present
    assert call.request_headers["X-Gewe-Token"].startswith("***")
    assert call.response_body == {"ret": 200, "msg": "操作成功"}
    assert [(s["vendor"], s["url"]) for s in subscriptions(server)] == [("gewe", receiver.url())]


def test_gewe_callbacks_go_to_the_url_set(gewe: GeweClient, server: LiveServer,
                                          receiver: Receiver) -> None:
    gewe.set_callback(receiver.url())

    received = server.send_image("gewe", fromUser="wxid_friend01")

    assert [d["state"] for d in received["deliveries"]] == ["delivered"]
    [callback] = receiver.bodies
    assert callback["TypeName"] == "AddMsg" and callback["Appid"] == GEWE_APP_ID
    assert callback["Data"]["NewMsgId"] == received["newMsgId"]


def test_gewe_set_callback_again_replaces_the_url(gewe: GeweClient, server: LiveServer,
                                                  receiver: Receiver) -> None:
    gewe.set_callback(receiver.url("/old"))
    gewe.set_callback(receiver.url("/new"))

    server.send_image("gewe", fromUser="wxid_friend01")

    assert [s["url"] for s in subscriptions(server)] == [receiver.url("/new")]
    assert len(receiver.bodies) == 1


def test_gewe_set_callback_to_a_url_the_service_refuses_raises_gewe_error(
        gewe: GeweClient, server: LiveServer) -> None:
    with pytest.raises(GeweError) as caught:
        gewe.set_callback(NOT_ALLOWED)

    assert caught.value.ret == 500 and caught.value.msg == "设置回调地址失败"
    assert caught.value.data_code == "-1" and "example.com" in (caught.value.data_msg or "")
    assert subscriptions(server) == []


def test_gewe_set_callback_with_an_unknown_token_raises_token_rejected(
        server: LiveServer, receiver: Receiver) -> None:
    with GeweClient(server.url + GEWE_API, "not-a-token", GEWE_APP_ID) as gewe:
        with pytest.raises(GeweError) as caught:
            gewe.set_callback(receiver.url())

    assert caught.value.token_rejected
    assert subscriptions(server) == []


def test_async_gewe_set_callback_registers_the_url(server: LiveServer,
                                                   receiver: Receiver) -> None:
    async def register() -> None:
        async with AsyncGeweClient(server.url + GEWE_API, GEWE_TOKEN, GEWE_APP_ID) as gewe:
            await gewe.set_callback(receiver.url())

    asyncio.run(register())

    assert [s["url"] for s in subscriptions(server)] == [receiver.url()]


# --- wid -------------------------------------------------------------------------------------


def test_wid_set_callback_url_sends_type_2_as_hosted_clients_do(wid: WidClient,
                                                                 server: LiveServer,
                                                                 receiver: Receiver) -> None:
    wid.set_callback_url(receiver.url())

    [call] = server.journal.assert_called("setHttpCallbackUrl", times=1)
    assert call.request_body == {"httpUrl": receiver.url(), "type": 2}
    assert call.response_body == {"message": "成功", "code": "1000", "data": None}


def test_wid_set_callback_url_without_type_leaves_it_out(wid: WidClient, server: LiveServer,
                                                         receiver: Receiver) -> None:
    wid.set_callback_url(receiver.url(), type=None)

    [call] = server.journal.assert_called("setHttpCallbackUrl", times=1)
    assert call.request_body == {"httpUrl": receiver.url()}


def test_wid_callbacks_go_to_the_url_set(wid: WidClient, server: LiveServer,
                                         receiver: Receiver) -> None:
    wid.set_callback_url(receiver.url())

    received = server.send_image("wid", fromUser="wxid_friend01")

    assert [d["state"] for d in received["deliveries"]] == ["delivered"]
    [callback] = receiver.bodies
    assert callback["messageType"] == 6 and callback["data"]["newMsgId"] == received["newMsgId"]


def test_wid_set_callback_url_the_service_refuses_raises_wid_error(wid: WidClient,
                                                                    server: LiveServer) -> None:
    with pytest.raises(WidError) as caught:
        wid.set_callback_url(NOT_ALLOWED)

    assert caught.value.code == "1001" and "回调地址不可用" in caught.value.message
    assert subscriptions(server) == []


def test_wid_set_callback_url_with_a_wrong_authorization_raises_wid_error(
        server: LiveServer, receiver: Receiver) -> None:
    with WidClient(server.url, "wrong", W_ID) as wid:
        with pytest.raises(WidError) as caught:
            wid.set_callback_url(receiver.url())

    assert caught.value.code == "1001" and "Authorization" in caught.value.message
    assert subscriptions(server) == []


def test_async_wid_set_callback_url_registers_the_url(server: LiveServer,
                                                      receiver: Receiver) -> None:
    async def register() -> None:
        async with AsyncWidClient(server.url, WID_AUTHORIZATION, W_ID) as wid:
            await wid.set_callback_url(receiver.url())

    asyncio.run(register())

    assert [s["url"] for s in subscriptions(server)] == [receiver.url()]
