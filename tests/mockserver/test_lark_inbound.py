"""Lark inbound images over real sockets: the event URL and its url_verification, the
im.message.receive_v1 events (plain and encrypted), the message resource a bot downloads the
image with, and sending an image back.

The bot is a real HTTP server on 127.0.0.1 that records every request and echoes the
url_verification challenge (decrypting it when given the encrypt key), or hands each request
to lark-oapi's own EventDispatcherHandler through the SDK's Flask adapter.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cache
from typing import Any, TypeVar

import flask
import httpx
import lark_oapi as lark
import pytest
from _support import (
    APP_A,
    APP_B,
    PNG,
    BotRequest,
    RecordingBot,
    assert_valid,
    callback_validator,
    client_of,
    closed_port_url,
    lark_auth,
    spec_document,
)
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from lark_oapi.adapter.flask import parse_req, parse_resp
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1
from openapi_schema_validator import OAS30Validator

from contract_tests.strategies import SchemaResolver
from mockserver import LarkApp, LarkConfig, LiveServer, MockConfig
from mockserver.data_files import fixture_image

VERIFICATION_TOKEN = APP_A.verification_token
ENCRYPT_KEY = "kTr8sWq3NvYb2LmZ"
USER = "ou_84aad35d084aa403a838cf73ee18467"
IMAGES = "/open-apis/im/v1/images"
MESSAGES = "/open-apis/im/v1/messages"
SIGNATURE_HEADERS = ("X-Lark-Request-Timestamp", "X-Lark-Request-Nonce", "X-Lark-Signature")
OUTSIDE_URLS = ["http://example.com/cb", "http://10.1.2.3/cb"]

T = TypeVar("T")


# --- the bot ------------------------------------------------------------------------------


class LarkBot(RecordingBot):
    """A bot's event endpoint. It echoes a url_verification challenge when ``echo_challenge``
    (decrypting with ``encrypt_key``) and answers everything else with ``body``, both with
    ``status``; a ``handler`` (e.g. the SDK's dispatcher) replaces all that.
    """

    def __init__(self) -> None:
        super().__init__("/lark/events", body=b'{"msg":"success"}')
        self.echo_challenge = True
        self.encrypt_key: str | None = None
        self.handler: Callable[[], flask.Response] | None = None

    def opened(self, request: BotRequest) -> dict[str, Any]:
        """The request's JSON, decrypted when it is sealed and the bot holds the key."""
        payload = request.json()
        if "encrypt" in payload and self.encrypt_key:
            return json.loads(decrypt(payload["encrypt"], self.encrypt_key))
        return payload

    @property
    def events(self) -> list[dict[str, Any]]:
        """The (opened) requests that are not url_verification."""
        return [payload for payload in map(self.opened, self.requests)
                if payload.get("type") != "url_verification"]

    def answer(self, request: BotRequest, status: int) -> flask.Response:
        if self.handler is not None:
            return self.handler()
        payload = self.opened(request)
        if self.echo_challenge and payload.get("type") == "url_verification":
            return flask.Response(json.dumps({"challenge": payload["challenge"]}), status,
                                  content_type="application/json")
        return super().answer(request, status)


@pytest.fixture
def bot() -> Iterator[LarkBot]:
    with LarkBot() as running:
        yield running


def sdk_bot(bot: LarkBot, *, encrypt_key: str = "",
            verification_token: str = VERIFICATION_TOKEN) -> list[P2ImMessageReceiveV1]:
    """Make ``bot`` answer with lark-oapi's dispatcher, built as the SDK samples build it;
    returns the list of image events it hands to the registered handler."""
    received: list[P2ImMessageReceiveV1] = []
    dispatcher = (lark.EventDispatcherHandler.builder(encrypt_key, verification_token)
                  .register_p2_im_message_receive_v1(received.append).build())
    bot.handler = lambda: parse_resp(dispatcher.do(parse_req()))
    return received


# --- helpers ------------------------------------------------------------------------------


def decrypt(sealed: str, encrypt_key: str) -> bytes:
    """base64(iv + AES-256-CBC(PKCS7(json))) with key sha256(encrypt_key), as Lark seals."""
    raw = base64.b64decode(sealed)
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def event_validator() -> OAS30Validator:
    """The schema the admin spec declares for the event posted to the app's URL."""
    return callback_validator("admin", "/__admin/lark/apps/{app_id}/events", "put")


@cache
def send_reply_validator() -> OAS30Validator:
    document = spec_document("lark")
    schema = document["paths"][MESSAGES]["post"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    return SchemaResolver(document).validator(schema)


def subscribe(http: httpx.Client, url: str, app_id: str = APP_A.app_id,
              **settings: str) -> httpx.Response:
    return http.put(f"/__admin/lark/apps/{app_id}/events", json={"url": url, **settings})


def subscribed(http: httpx.Client, bot: LarkBot, app_id: str = APP_A.app_id,
               **settings: str) -> None:
    """The bot is the app's event URL (it passed url_verification)."""
    reply = subscribe(http, bot.url, app_id, **settings)
    assert reply.status_code == 200, reply.text
    bot.requests.clear()


def user_sends(http: httpx.Client, **options: Any) -> dict:
    """A user sends the app an image; the admin reply holds the message and its deliveries."""
    if isinstance(options.get("image"), bytes):
        options["image"] = base64.b64encode(options["image"]).decode()
    reply = http.post("/__admin/lark/messages", json={"sender_open_id": USER, **options})
    assert reply.status_code == 201, reply.text
    return reply.json()


def upload(http: httpx.Client, headers: dict[str, str], image_type: str = "message") -> str:
    reply = http.post(IMAGES, headers=headers, data={"image_type": image_type},
                      files={"image": ("dot.png", PNG, "image/png")})
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]["image_key"]


def resource(http: httpx.Client, headers: dict[str, str], message_id: str, file_key: str,
             query: str = "?type=image") -> httpx.Response:
    return http.get(f"{MESSAGES}/{message_id}/resources/{file_key}{query}", headers=headers)


def send(http: httpx.Client, headers: dict[str, str], receive_id: str, *,
         receive_id_type: str | None = "open_id", msg_type: str = "image",
         content: str | None = None, image_key: str | None = None) -> httpx.Response:
    query = f"?receive_id_type={receive_id_type}" if receive_id_type else ""
    if content is None:
        content = json.dumps({"image_key": image_key})
    return http.post(MESSAGES + query, headers=headers, json={
        "receive_id": receive_id, "msg_type": msg_type, "content": content})


def assert_lark_error(reply: httpx.Response, code: int, msg: str | None = None) -> None:
    body = reply.json()
    assert (reply.status_code, body["code"]) == (400, code), reply.text
    if msg is not None:
        assert body["msg"] == msg
    assert body["error"]["log_id"] == reply.headers["X-Tt-Logid"]


# --- the event URL: url_verification ------------------------------------------------------


def test_setting_the_event_url_posts_a_url_verification_challenge(http: httpx.Client,
                                                                  bot: LarkBot) -> None:
    reply = subscribe(http, bot.url)
    assert reply.status_code == 200
    assert reply.json() == {"app_id": APP_A.app_id, "url": bot.url, "encrypted": False}
    (request,) = bot.requests
    challenge = request.json()
    assert set(challenge) == {"challenge", "token", "type"}
    assert challenge["type"] == "url_verification"
    assert challenge["token"] == VERIFICATION_TOKEN
    assert re.fullmatch(r"\S{8,}", challenge["challenge"])


def test_url_verification_is_encrypted_when_an_encrypt_key_is_given(
        http: httpx.Client, bot: LarkBot) -> None:
    bot.encrypt_key = ENCRYPT_KEY
    reply = subscribe(http, bot.url, encrypt_key=ENCRYPT_KEY)
    assert reply.status_code == 200 and reply.json()["encrypted"] is True
    (request,) = bot.requests
    assert set(request.json()) == {"encrypt"}
    challenge = json.loads(decrypt(request.json()["encrypt"], ENCRYPT_KEY))
    assert (challenge["type"], challenge["token"]) == ("url_verification", VERIFICATION_TOKEN)


def test_a_given_verification_token_is_the_challenges_and_the_events_token(
        http: httpx.Client, bot: LarkBot) -> None:
    assert subscribe(http, bot.url, verification_token="my-own-token").status_code == 200
    assert bot.requests[0].json()["token"] == "my-own-token"
    user_sends(http)
    assert bot.events[0]["header"]["token"] == "my-own-token"


def test_an_event_url_that_does_not_echo_the_challenge_is_refused(http: httpx.Client,
                                                                  bot: LarkBot) -> None:
    bot.echo_challenge = False
    reply = subscribe(http, bot.url)
    assert reply.status_code == 400
    assert reply.json() == {"error": "event request URL refused: the URL did not echo the "
                                     "challenge: HTTP 200 '{\"msg\":\"success\"}'"}


def test_an_event_url_answering_the_challenge_with_non_200_is_refused(
        http: httpx.Client, bot: LarkBot) -> None:
    bot.status = 500  # the echo is right, the status is not
    reply = subscribe(http, bot.url)
    assert reply.status_code == 400
    assert reply.json()["error"].startswith(
        "event request URL refused: the URL did not echo the challenge: HTTP 500")


def test_an_encrypted_challenge_the_bot_cannot_read_is_refused(http: httpx.Client,
                                                               bot: LarkBot) -> None:
    reply = subscribe(http, bot.url, encrypt_key=ENCRYPT_KEY)  # the bot holds no key
    assert reply.status_code == 400
    assert "did not echo the challenge" in reply.json()["error"]


def test_an_event_url_that_is_down_is_refused(http: httpx.Client) -> None:
    reply = subscribe(http, closed_port_url("/lark/events"))
    assert reply.status_code == 400
    assert reply.json()["error"].startswith(
        "event request URL refused: the URL did not answer the challenge:")


@pytest.mark.parametrize("url", OUTSIDE_URLS)
def test_an_event_url_outside_loopback_and_the_allow_list_is_refused(http: httpx.Client,
                                                                     url: str) -> None:
    reply = subscribe(http, url)
    assert reply.status_code == 400
    assert reply.json() == {"error": f"event request URL refused: {url.split('/')[2]} is "
                                     "neither loopback nor in callback_allow_hosts"}


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/events", "127.0.0.1/events"])
def test_an_event_url_that_is_not_http_is_refused(http: httpx.Client, url: str) -> None:
    reply = subscribe(http, url)
    assert reply.status_code == 400
    assert reply.json() == {"error": f"event request URL refused: {url!r} is not an http(s) URL"}


@pytest.mark.parametrize("url", ["http://127.0.0.1:abc/events", "http://[::1/events"])
def test_a_malformed_event_url_is_refused_like_any_other(http: httpx.Client, url: str) -> None:
    reply = subscribe(http, url)
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("event request URL refused: "), reply.text


def test_an_event_url_of_an_unknown_app_is_404(http: httpx.Client, bot: LarkBot) -> None:
    reply = subscribe(http, bot.url, app_id="cli_no_such_app")
    assert reply.status_code == 404
    assert reply.json() == {"error": "no Lark app 'cli_no_such_app'"}
    assert bot.requests == []


def test_a_refused_event_url_gets_no_events(http: httpx.Client, bot: LarkBot) -> None:
    bot.echo_challenge = False
    subscribe(http, bot.url)
    assert user_sends(http)["deliveries"] == []
    assert len(bot.requests) == 1  # the challenge only


def test_event_urls_are_listed_with_their_encryption(http: httpx.Client,
                                                     bot: LarkBot) -> None:
    subscribed(http, bot)
    bot.encrypt_key = ENCRYPT_KEY
    subscribed(http, bot, APP_B.app_id, encrypt_key=ENCRYPT_KEY)
    listed = http.get("/__admin/subscriptions").json()["subscriptions"]
    assert sorted((s["vendor"], s["url"], s["encrypted"]) for s in listed) == [
        ("lark", bot.url, False), ("lark", bot.url, True)]
    assert ENCRYPT_KEY not in json.dumps(listed)


def test_an_event_url_from_the_config_is_verified_on_the_first_message(
        configured: Callable[[MockConfig], LiveServer], bot: LarkBot) -> None:
    bot.encrypt_key = ENCRYPT_KEY
    app = replace(APP_A, event_url=bot.url, encrypt_key=ENCRYPT_KEY)
    server = configured(MockConfig(lark=LarkConfig(apps=(app, APP_B))))
    with client_of(server) as http:
        message = user_sends(http)
    first, second = (bot.opened(request) for request in bot.requests)
    assert first["type"] == "url_verification"
    assert second["event"]["message"]["message_id"] == message["message_id"]


# --- events ---------------------------------------------------------------------------------


def test_plain_p2p_image_event_is_the_schema_2_event_of_the_message(
        http: httpx.Client, bot: LarkBot) -> None:
    subscribed(http, bot)
    message = user_sends(http)
    (request,) = bot.requests
    event = request.json()
    assert_valid(event_validator(), event)
    assert request.headers["Content-Type"].startswith("application/json")
    assert event == message["event"]
    header, sent = event["header"], event["event"]["message"]
    assert (header["event_type"], header["app_id"], header["token"], header["tenant_key"]) == (
        "im.message.receive_v1", APP_A.app_id, VERIFICATION_TOKEN, APP_A.tenant_key)
    assert (sent["message_id"], sent["chat_id"]) == (message["message_id"], message["chat_id"])
    assert sent["message_id"].startswith("om_") and sent["chat_id"].startswith("oc_")
    assert (sent["chat_type"], sent["message_type"]) == ("p2p", "image")
    assert event["event"]["sender"]["sender_id"]["open_id"] == USER
    assert event["event"]["sender"]["sender_type"] == "user"


def test_event_content_is_a_json_string_holding_the_image_key(http: httpx.Client,
                                                              bot: LarkBot) -> None:
    subscribed(http, bot)
    message = user_sends(http)
    content = bot.events[0]["event"]["message"]["content"]
    assert isinstance(content, str)
    assert json.loads(content) == {"image_key": message["image_key"]}
    assert message["image_key"].startswith("img_v3_")


def test_event_times_are_strings_of_epoch_milliseconds(http: httpx.Client,
                                                       bot: LarkBot) -> None:
    subscribed(http, bot)
    user_sends(http)
    event = bot.events[0]
    for value in (event["header"]["create_time"], event["event"]["message"]["create_time"]):
        assert isinstance(value, str) and abs(int(value) / 1000 - time.time()) < 30


def test_group_image_event_names_the_group_chat(http: httpx.Client, bot: LarkBot) -> None:
    subscribed(http, bot)
    message = user_sends(http, chat_type="group", chat_id="oc_group0000000000000000000001")
    event = bot.events[0]
    assert_valid(event_validator(), event)
    assert event["event"]["message"]["chat_type"] == "group"
    assert event["event"]["message"]["chat_id"] == message["chat_id"] == \
        "oc_group0000000000000000000001"


def test_each_message_has_its_own_event_id(http: httpx.Client, bot: LarkBot) -> None:
    subscribed(http, bot)
    user_sends(http)
    user_sends(http)
    first, second = bot.events
    assert first["header"]["event_id"] != second["header"]["event_id"]


def test_encrypted_event_is_sealed_with_sha256_of_the_key_and_signed(
        http: httpx.Client, bot: LarkBot) -> None:
    bot.encrypt_key = ENCRYPT_KEY
    subscribed(http, bot, encrypt_key=ENCRYPT_KEY)
    message = user_sends(http)
    (request,) = bot.requests
    assert set(request.json()) == {"encrypt"}
    event = json.loads(decrypt(request.json()["encrypt"], ENCRYPT_KEY))
    assert_valid(event_validator(), event)
    assert event == message["event"]
    timestamp, nonce, signature = (request.headers[name] for name in SIGNATURE_HEADERS)
    assert abs(int(timestamp) - time.time()) < 30 and nonce
    assert signature == hashlib.sha256(
        (timestamp + nonce + ENCRYPT_KEY).encode() + request.body).hexdigest()


def test_encrypted_group_event_decrypts_to_the_group_message(http: httpx.Client,
                                                             bot: LarkBot) -> None:
    bot.encrypt_key = ENCRYPT_KEY
    subscribed(http, bot, encrypt_key=ENCRYPT_KEY)
    message = user_sends(http, chat_type="group")
    event = json.loads(decrypt(bot.requests[0].json()["encrypt"], ENCRYPT_KEY))
    assert event["event"]["message"]["chat_type"] == "group"
    assert event["event"]["message"]["chat_id"] == message["chat_id"]


def test_events_go_only_to_the_receiving_apps_url(http: httpx.Client, bot: LarkBot) -> None:
    with LarkBot() as bot_b:
        subscribed(http, bot)
        subscribed(http, bot_b, APP_B.app_id)
        user_sends(http, app_id=APP_B.app_id)
        assert bot.requests == []
        assert bot_b.events[0]["header"]["app_id"] == APP_B.app_id


def test_replayed_event_carries_the_same_body_and_signature_headers(
        http: httpx.Client, bot: LarkBot) -> None:
    bot.encrypt_key = ENCRYPT_KEY
    subscribed(http, bot, encrypt_key=ENCRYPT_KEY)
    delivery = user_sends(http)["deliveries"][0]
    reply = http.post(f"/__admin/deliveries/{delivery['id']}/replay", json={})
    assert reply.status_code == 200 and reply.json()["attempts"][-1]["replay"] is True
    original, duplicate = bot.requests
    assert duplicate.body == original.body
    for name in SIGNATURE_HEADERS:
        assert duplicate.headers[name] == original.headers[name]


def test_event_delivery_shows_the_bots_answer_and_the_journal_has_it(
        http: httpx.Client, server: LiveServer, bot: LarkBot) -> None:
    subscribed(http, bot)
    (delivery,) = user_sends(http)["deliveries"]
    assert (delivery["vendor"], delivery["state"]) == ("lark", "delivered")
    assert delivery["attempts"][0]["body"] == '{"msg":"success"}'
    (entry,) = server.journal.entries("callback")
    assert (entry.api, entry.path, entry.status) == ("lark", bot.url, 200)


def test_reset_forgets_the_event_url(http: httpx.Client, bot: LarkBot) -> None:
    subscribed(http, bot)
    http.post("/__admin/reset")
    assert user_sends(http)["deliveries"] == []
    assert bot.requests == []


def test_an_app_without_event_url_gets_no_event_but_keeps_the_message(
        http: httpx.Client) -> None:
    message = user_sends(http, image=PNG)
    assert message["deliveries"] == []
    reply = resource(http, lark_auth(http), message["message_id"], message["image_key"])
    assert reply.content == PNG


# --- the message resource -------------------------------------------------------------------


def test_message_resource_serves_the_exact_bytes_with_their_content_type(
        http: httpx.Client) -> None:
    message = user_sends(http, image=fixture_image("tiny.gif"))
    reply = resource(http, lark_auth(http), message["message_id"], message["image_key"])
    assert reply.status_code == 200
    assert reply.content == fixture_image("tiny.gif")
    assert reply.headers["Content-Type"] == "image/gif"
    assert reply.headers["X-Tt-Logid"]


def test_message_resource_of_a_key_not_in_that_message_is_234003(http: httpx.Client) -> None:
    message = user_sends(http)
    other = user_sends(http)
    reply = resource(http, lark_auth(http), message["message_id"], other["image_key"])
    assert_lark_error(reply, 234003, "File not in msg.")


def test_message_resource_of_another_apps_message_is_234003(http: httpx.Client) -> None:
    message = user_sends(http, app_id=APP_A.app_id)
    reply = resource(http, lark_auth(http, APP_B), message["message_id"], message["image_key"])
    assert_lark_error(reply, 234003, "File not in msg.")


def test_message_resource_of_an_unknown_message_is_234003(http: httpx.Client) -> None:
    message = user_sends(http)
    reply = resource(http, lark_auth(http), "om_00000000000000000000000000000000",
                     message["image_key"])
    assert_lark_error(reply, 234003)


def test_user_sent_image_through_the_image_api_is_234008(http: httpx.Client) -> None:
    message = user_sends(http)
    reply = http.get(f"{IMAGES}/{message['image_key']}", headers=lark_auth(http))
    assert_lark_error(reply, 234008, "The app is not the resource sender")


def test_message_resource_without_type_is_234001(http: httpx.Client) -> None:
    message = user_sends(http)
    reply = resource(http, lark_auth(http), message["message_id"], message["image_key"], query="")
    assert_lark_error(reply, 234001)
    assert reply.json()["error"]["field_violations"]


def test_message_resource_without_token_is_99991661(http: httpx.Client) -> None:
    message = user_sends(http)
    assert_lark_error(resource(http, {}, message["message_id"], message["image_key"]), 99991661)


# --- sending an image -----------------------------------------------------------------------


def test_sending_to_the_users_open_id_lands_in_the_chat_their_message_came_in(
        http: httpx.Client) -> None:
    message = user_sends(http)
    headers = lark_auth(http)
    key = upload(http, headers)
    reply = send(http, headers, USER, image_key=key)
    assert reply.status_code == 200
    body = reply.json()
    assert_valid(send_reply_validator(), body)
    assert (body["code"], body["data"]["msg_type"]) == (0, "image")
    assert re.fullmatch(r"om_\w+", body["data"]["message_id"])
    assert body["data"]["chat_id"] == message["chat_id"]
    assert json.loads(body["data"]["body"]["content"]) == {"image_key": key}
    assert body["data"]["sender"]["id"] == APP_A.app_id


def test_sending_by_chat_id_lands_in_that_chat(http: httpx.Client) -> None:
    group = user_sends(http, chat_type="group")
    headers = lark_auth(http)
    reply = send(http, headers, group["chat_id"], receive_id_type="chat_id",
                 image_key=upload(http, headers))
    assert reply.json()["code"] == 0
    assert reply.json()["data"]["chat_id"] == group["chat_id"]


def test_two_sends_to_a_new_user_land_in_one_chat(http: httpx.Client) -> None:
    headers = lark_auth(http)
    key = upload(http, headers)
    first = send(http, headers, "ou_newuser000000000000000000000001", image_key=key).json()
    second = send(http, headers, "ou_newuser000000000000000000000001", image_key=key).json()
    assert first["data"]["chat_id"] == second["data"]["chat_id"]
    assert first["data"]["message_id"] != second["data"]["message_id"]


def test_a_p2p_chat_given_for_a_users_message_is_where_the_bot_answers(
        http: httpx.Client) -> None:
    message = user_sends(http, chat_type="p2p", chat_id="oc_p2p00000000000000000000000001")
    assert message["chat_id"] == "oc_p2p00000000000000000000000001"
    headers = lark_auth(http)
    reply = send(http, headers, USER, image_key=upload(http, headers)).json()
    assert reply["data"]["chat_id"] == message["chat_id"]


def test_a_user_answering_the_bot_writes_in_the_chat_the_bot_opened(http: httpx.Client) -> None:
    headers = lark_auth(http)
    opened = send(http, headers, USER, image_key=upload(http, headers)).json()
    assert user_sends(http)["chat_id"] == opened["data"]["chat_id"]


@pytest.mark.parametrize("id_type", ["user_id", "union_id"])
def test_sending_by_another_id_of_the_user_lands_in_the_same_p2p_chat(
        http: httpx.Client, id_type: str) -> None:
    message = user_sends(http)
    receive_id = message["event"]["event"]["sender"]["sender_id"][id_type]
    headers = lark_auth(http)
    reply = send(http, headers, receive_id, receive_id_type=id_type,
                 image_key=upload(http, headers))
    assert reply.json()["code"] == 0
    assert reply.json()["data"]["chat_id"] == message["chat_id"]


@pytest.mark.parametrize("msg_type, content", [
    ("image", "not json"),
    ("image", '{"file_key":"img_v3_x"}'),
    ("image", '{"image_key":""}'),
    ("image", '["img_v3_x"]'),
    ("text", None),
], ids=["content-not-json", "no-image-key", "empty-image-key", "not-an-object", "msg-type-text"])
def test_sending_malformed_image_content_is_230001(http: httpx.Client, msg_type: str,
                                                   content: str | None) -> None:
    headers = lark_auth(http)
    content = content or json.dumps({"image_key": upload(http, headers)})
    reply = send(http, headers, USER, msg_type=msg_type, content=content)
    assert_lark_error(reply, 230001, "Your request contains an invalid request parameter.")


def test_sending_an_image_key_of_another_app_is_230001(http: httpx.Client) -> None:
    key_of_b = upload(http, lark_auth(http, APP_B))
    assert_lark_error(send(http, lark_auth(http), USER, image_key=key_of_b), 230001)


def test_sending_an_avatar_image_is_230001(http: httpx.Client) -> None:
    headers = lark_auth(http)
    avatar = upload(http, headers, image_type="avatar")
    assert_lark_error(send(http, headers, USER, image_key=avatar), 230001)


def test_sending_an_unknown_image_key_is_230001(http: httpx.Client) -> None:
    assert_lark_error(send(http, lark_auth(http), USER, image_key="img_v3_unknown"), 230001)


def test_sending_without_receive_id_type_is_230001(http: httpx.Client) -> None:
    headers = lark_auth(http)
    reply = send(http, headers, USER, receive_id_type=None, image_key=upload(http, headers))
    assert_lark_error(reply, 230001)


def test_sending_as_an_app_whose_bot_is_disabled_is_230006(
        configured: Callable[[MockConfig], LiveServer]) -> None:
    disabled = LarkApp("cli_mock_bot_disabled", "secret-d", bot_enabled=False)
    server = configured(MockConfig(lark=LarkConfig(apps=(APP_A, disabled))))
    with client_of(server) as http:
        key = upload(http, lark_auth(http))  # any key: the bot check comes first
        reply = send(http, lark_auth(http, disabled), USER, image_key=key)
    assert_lark_error(reply, 230006, "Bot ability is not activated.")


def test_a_sent_message_shows_in_the_journal(http: httpx.Client, server: LiveServer) -> None:
    headers = lark_auth(http)
    sent = send(http, headers, USER, image_key=upload(http, headers)).json()
    (entry,) = server.journal.assert_called("sendMessage", receive_id=USER, msg_type="image")
    assert (entry.status, entry.vendor_code, entry.query) == (200, 0, "receive_id_type=open_id")
    assert entry.response_body["data"]["message_id"] == sent["data"]["message_id"]


# --- the official SDK as the bot ------------------------------------------------------------


def test_sdk_dispatcher_passes_url_verification_and_takes_the_plain_event(
        http: httpx.Client, bot: LarkBot) -> None:
    received = sdk_bot(bot)
    assert subscribe(http, bot.url).status_code == 200
    message = user_sends(http)
    (event,) = received
    assert event.header.token == VERIFICATION_TOKEN
    assert event.event.message.message_id == message["message_id"]
    assert json.loads(event.event.message.content)["image_key"] == message["image_key"]
    (delivery,) = message["deliveries"]
    assert delivery["state"] == "delivered"
    assert delivery["attempts"][0]["status"] == 200


def test_sdk_dispatcher_passes_encrypted_url_verification_and_takes_the_signed_event(
        http: httpx.Client, bot: LarkBot) -> None:
    received = sdk_bot(bot, encrypt_key=ENCRYPT_KEY)
    assert subscribe(http, bot.url, encrypt_key=ENCRYPT_KEY).status_code == 200
    message = user_sends(http, chat_type="group")
    (event,) = received
    assert event.event.message.chat_type == "group"
    assert event.event.message.chat_id == message["chat_id"]
    assert event.event.sender.sender_id.open_id == USER
    assert message["deliveries"][0]["state"] == "delivered"


def test_sdk_dispatcher_with_another_verification_token_makes_the_url_refused(
        http: httpx.Client, bot: LarkBot) -> None:
    sdk_bot(bot, verification_token="not-the-apps-token")
    reply = subscribe(http, bot.url)
    assert reply.status_code == 400
    assert "HTTP 500" in reply.json()["error"]
