"""The example echo bots, end to end: the mock delivers a user's image to the bot over a real
socket, the bot downloads it with chatimg and answers through the mock's API."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _support import (
    APP_A,
    GEWE_API,
    GEWE_DEVICE,
    GEWE_TOKEN,
    W_ID,
    WID_AUTHORIZATION,
    gewe_client,
    wid_client,
)
from flask import Flask

from chatimg import LarkClient
from mockserver import LiveServer, MockConfig, WidConfig

from .conftest import BotServer, load_example

ENCRYPT_KEY = "echo-bot-encrypt-key"
SENDER = "wxid_friend000001"
GROUP = "24225252625@chatroom"

gewe_echo_bot = load_example("gewe_echo_bot")
wid_echo_bot = load_example("wid_echo_bot")
lark_echo_bot = load_example("lark_echo_bot")

ServeBot = Callable[[Flask], BotServer]


def stored_md5s(server: LiveServer, image_id: str) -> dict[str, str]:
    """The md5 of each copy the mock keeps of an image (hd, normal, thumb; Lark: original)."""
    images = httpx.get(server.url + "/__admin/images").json()["images"]
    image = next(i for i in images if i["imageId"] == image_id)
    return {name: variant["md5"] for name, variant in image["variants"].items()}


def replay(server: LiveServer, delivery_id: str) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/__admin/deliveries/{delivery_id}/replay", json={},
                        timeout=30)
    assert answer.status_code == 200, answer.text
    delivery: dict[str, Any] = answer.json()
    return delivery


def only_delivery(received: dict[str, Any]) -> dict[str, Any]:
    """The one delivery of a received image, taken by the bot at the first attempt."""
    [delivery] = received["deliveries"]
    assert delivery["state"] == "delivered", delivery
    assert [a["status"] for a in delivery["attempts"]] == [200]
    return delivery


# --- GeWe ------------------------------------------------------------------------------------


@pytest.fixture
def gewe_bot(server: LiveServer, serve_bot: ServeBot) -> Flask:
    bot: Flask = gewe_echo_bot.create_bot(server.url + GEWE_API, GEWE_TOKEN,
                                          GEWE_DEVICE.app_id)
    url = serve_bot(bot).url + gewe_echo_bot.CALLBACK_PATH
    with gewe_client(server) as gewe:
        gewe.set_callback(url)
    return bot


@pytest.mark.parametrize("chatroom", [None, GROUP], ids=["private", "group"])
@pytest.mark.parametrize("hd", [True, False], ids=["hd", "no-hd"])
def test_gewe_bot_echoes_the_best_copy_to_the_chat_it_came_from(
        server: LiveServer, gewe_bot: Flask, hd: bool, chatroom: str | None) -> None:
    received = server.send_image("gewe", fromUser=SENDER, hd=hd,
                                 **({"chatroom": chatroom} if chatroom else {}))

    only_delivery(received)
    copies = stored_md5s(server, received["fileId"])
    best = copies["hd"] if hd else copies["normal"]
    assert gewe_bot.extensions["echoes"].received == [best]
    downloads = server.journal.entries("downloadImage")
    assert [e.request_body["type"] for e in downloads] == ([1] if hd else [1, 2])
    [reply] = server.journal.assert_called("postImage", times=1, toWxid=chatroom or SENDER)
    assert reply.response_body["ret"] == 200
    assert reply.response_body["data"]["md5"] == best  # the mock re-read its own fileUrl


def test_gewe_bot_takes_a_duplicate_callback_without_replying_again(
        server: LiveServer, gewe_bot: Flask) -> None:
    received = server.send_image("gewe", fromUser=SENDER)
    delivery = only_delivery(received)

    replayed = replay(server, delivery["id"])

    assert replayed["state"] == "delivered"
    assert replayed["attempts"][-1]["replay"] and replayed["attempts"][-1]["status"] == 200
    assert "duplicate" in replayed["attempts"][-1]["body"]
    server.journal.assert_called("postImage", times=1)
    server.journal.assert_called("downloadImage", times=1)
    assert len(gewe_bot.extensions["echoes"].received) == 1


def test_gewe_bot_answers_a_text_message_without_calling_gewe(
        server: LiveServer, gewe_bot: Flask, serve_bot: ServeBot) -> None:
    [subscription] = httpx.get(server.url + "/__admin/subscriptions").json()["subscriptions"]
    text = {"TypeName": "AddMsg", "Appid": GEWE_DEVICE.app_id, "Wxid": GEWE_DEVICE.wxid,
            "Data": {"MsgId": 1, "FromUserName": {"string": SENDER},
                     "ToUserName": {"string": GEWE_DEVICE.wxid}, "MsgType": 1,
                     "Content": {"string": "hello"}, "CreateTime": 1704163145,
                     "NewMsgId": "8992614056172360123"}}

    answer = httpx.post(subscription["url"], json=text)

    assert answer.status_code == 200 and answer.json() == {"ignored": "not an image"}
    assert server.journal.entries("downloadImage") == []


def test_gewe_bot_answers_500_when_the_download_fails_and_handles_the_retry(
        server: LiveServer, gewe_bot: Flask) -> None:
    rule = httpx.post(server.url + "/__admin/rules", json={
        "operation": "downloadImage", "error": "wechat_offline", "times": 1})
    assert rule.status_code == 201, rule.text
    received = server.send_image("gewe", fromUser=SENDER, hd=True)
    [delivery] = received["deliveries"]
    assert delivery["attempts"][0]["status"] == 500

    replayed = replay(server, delivery["id"])  # as GeWe would try again

    assert replayed["state"] == "delivered" and replayed["attempts"][-1]["status"] == 200
    server.journal.assert_called("postImage", times=1, toWxid=SENDER)


# --- wid -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def new_format_server() -> Iterator[LiveServer]:
    with LiveServer(MockConfig(wid=WidConfig(callback_format="new"))) as server:
        yield server


@pytest.fixture(params=["old", "new"])
def wid_server(request: pytest.FixtureRequest, server: LiveServer) -> LiveServer:
    """The mock sending wid callbacks in the old (6 / 10) or new ("60002" / "80002") format."""
    if request.param == "old":
        return server
    chosen: LiveServer = request.getfixturevalue("new_format_server")
    chosen.state.reset()
    return chosen


@pytest.fixture
def wid_bot(wid_server: LiveServer, serve_bot: ServeBot) -> Flask:
    bot: Flask = wid_echo_bot.create_bot(wid_server.url, WID_AUTHORIZATION, W_ID)
    with wid_client(wid_server) as wid:
        wid.set_callback_url(serve_bot(bot).url + wid_echo_bot.CALLBACK_PATH)
    return bot


@pytest.mark.parametrize("chatroom", [None, GROUP], ids=["private", "group"])
def test_wid_bot_downloads_the_image_of_either_callback_format(
        wid_server: LiveServer, wid_bot: Flask, chatroom: str | None) -> None:
    received = wid_server.send_image("wid", fromUser=SENDER,
                                     **({"chatroom": chatroom} if chatroom else {}))

    only_delivery(received)
    message_type = received["callback"]["messageType"]
    new_format = wid_server.state.config.wid.callback_format == "new"
    assert message_type == ({None: "60002", GROUP: "80002"} if new_format
                            else {None: 6, GROUP: 10})[chatroom]
    assert wid_bot.extensions["echoes"].received == [
        stored_md5s(wid_server, received["fileId"])["normal"]]
    wid_server.journal.assert_called("getMsgImg", times=1, msgId=received["msgId"],
                                     fromUser=SENDER)


def test_wid_bot_takes_a_duplicate_callback_without_downloading_again(
        wid_server: LiveServer, wid_bot: Flask) -> None:
    delivery = only_delivery(wid_server.send_image("wid", fromUser=SENDER))

    replayed = replay(wid_server, delivery["id"])

    assert replayed["state"] == "delivered" and replayed["attempts"][-1]["status"] == 200
    wid_server.journal.assert_called("getMsgImg", times=1)
    assert len(wid_bot.extensions["echoes"].received) == 1


# --- Lark ------------------------------------------------------------------------------------


@pytest.fixture(params=[None, ENCRYPT_KEY], ids=["plain", "encrypted"])
def lark_bot(request: pytest.FixtureRequest, server: LiveServer, serve_bot: ServeBot) -> Flask:
    """The bot, its event URL verified by the mock's url_verification challenge."""
    encrypt_key: str | None = request.param
    bot: Flask = lark_echo_bot.create_bot(
        server.url, APP_A.app_id, APP_A.app_secret,
        verification_token=APP_A.verification_token, encrypt_key=encrypt_key or "")
    subscribed = server.subscribe_lark_events(serve_bot(bot).url + lark_echo_bot.EVENTS_PATH,
                                              encrypt_key=encrypt_key)
    assert subscribed["encrypted"] is (encrypt_key is not None)
    return bot


@pytest.mark.parametrize("chat_type", ["p2p", "group"])
def test_lark_bot_sends_the_image_back_to_the_chat_it_came_from(
        server: LiveServer, lark_bot: Flask, lark: LarkClient, chat_type: str) -> None:
    received = server.send_image("lark", fixture="square.png", chat_type=chat_type)
    only_delivery(received)
    echoes = lark_bot.extensions["echoes"]
    echoes.wait_idle()

    assert echoes.errors == []
    original = stored_md5s(server, received["image_key"])["original"]
    assert echoes.received == [original]
    server.journal.assert_called("getMessageResource", times=1)
    server.journal.assert_called("uploadImage", times=1)
    sender = received["event"]["event"]["sender"]["sender_id"]["open_id"]
    receive_id = sender if chat_type == "p2p" else received["chat_id"]
    [reply] = server.journal.assert_called("sendMessage", times=1, receive_id=receive_id,
                                           msg_type="image")
    assert reply.status == 200
    assert reply.response_body["data"]["chat_id"] == received["chat_id"]
    sent_key = json.loads(reply.request_body["content"])["image_key"]
    assert sent_key != received["image_key"]  # the bot's own upload, not the user's key
    assert hashlib.md5(lark.download_image(sent_key)).hexdigest() == original


def test_lark_bot_takes_a_duplicate_event_without_replying_again(
        server: LiveServer, lark_bot: Flask) -> None:
    delivery = only_delivery(server.send_image("lark"))
    echoes = lark_bot.extensions["echoes"]
    echoes.wait_idle()

    replayed = replay(server, delivery["id"])
    echoes.wait_idle()

    assert replayed["state"] == "delivered" and replayed["attempts"][-1]["status"] == 200
    server.journal.assert_called("sendMessage", times=1)
    assert len(echoes.received) == 1 and echoes.errors == []


def test_lark_bot_refuses_an_event_with_a_wrong_verification_token(
        server: LiveServer, serve_bot: ServeBot) -> None:
    bot = lark_echo_bot.create_bot(server.url, APP_A.app_id, APP_A.app_secret,
                                   verification_token="another-token")
    url = serve_bot(bot).url + lark_echo_bot.EVENTS_PATH

    with pytest.raises(AssertionError, match="did not echo the challenge"):
        server.subscribe_lark_events(url)
