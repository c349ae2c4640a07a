"""Lark inbound events, judged by lark-oapi's own EventDispatcherHandler (nothing of it mocked).

Each request is turned into a RawRequest by the SDK's Flask adapter (``parse_req``), as a bot
built on the official samples would receive it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import flask
import lark_oapi as lark
import pytest
from lark_oapi.adapter.flask import parse_req
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1
from lark_oapi.core.utils import AESCipher

from mockserver.vendors.lark.events import (
    challenge_answer_ok,
    encrypt,
    event_body,
    image_message_event,
    lark_id,
    signed_headers,
    url_verification_request,
)

APP_ID = "cli_a1b2c3d4e5f60718"
TENANT_KEY = "2ca1d211f64f6438"
VERIFICATION_TOKEN = "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV"
ENCRYPT_KEY = "kTr8sWq3NvYb2LmZ"
CALLBACK_PATH = "/webhook/event"
IMAGE_KEY = "img_v3_02ab_0e1f2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5g"


# --- helpers ------------------------------------------------------------------------------


def image_event(chat_type: str = "p2p", **overrides: object) -> dict:
    fields = dict(app_id=APP_ID, tenant_key=TENANT_KEY, verification_token=VERIFICATION_TOKEN,
                  message_id=lark_id("om"), chat_id=lark_id("oc"), chat_type=chat_type,
                  sender_open_id=lark_id("ou"), sender_user_id="e33ggbyz",
                  sender_union_id=lark_id("on"), image_key=IMAGE_KEY,
                  create_time_ms=1_764_151_200_123)
    return image_message_event(**{**fields, **overrides})


def dispatcher(received: list[P2ImMessageReceiveV1], *, encrypt_key: str = "",
               verification_token: str = VERIFICATION_TOKEN) -> lark.EventDispatcherHandler:
    """A bot's dispatcher as the SDK samples build it, recording each image event it hands on."""
    return (lark.EventDispatcherHandler.builder(encrypt_key, verification_token)
            .register_p2_im_message_receive_v1(received.append).build())


def deliver(handler: lark.EventDispatcherHandler, body: bytes,
            headers: dict[str, str]) -> lark.RawResponse:
    """POST ``body`` to the bot: Werkzeug parses it, the SDK's Flask adapter makes the RawRequest."""
    with flask.Flask(__name__).test_request_context(CALLBACK_PATH, method="POST", data=body,
                                                    headers=headers):
        request = parse_req()
    assert isinstance(request, lark.RawRequest) and request.body == body
    return handler.do(request)


def plain(payload: dict) -> tuple[bytes, dict[str, str]]:
    body = event_body(payload)
    return body, signed_headers(body, None)


def encrypted(payload: dict, encrypt_key: str = ENCRYPT_KEY,
              signing_key: str | None = ENCRYPT_KEY) -> tuple[bytes, dict[str, str]]:
    body = event_body(encrypt(payload, encrypt_key))
    return body, signed_headers(body, signing_key)


def assert_refused(response: lark.RawResponse, received: list, reason: str | None = None) -> None:
    """The SDK never raises out of do(): it answers 500 with {"msg": <error>} and calls nobody."""
    assert response.status_code == 500
    assert received == []
    if reason is not None:
        assert json.loads(response.content) == {"msg": reason}


def assert_delivered_as(received: list[P2ImMessageReceiveV1], payload: dict) -> None:
    assert len(received) == 1
    event = received[0]
    message, sent = event.event.message, payload["event"]["message"]
    assert isinstance(event, P2ImMessageReceiveV1)
    assert event.schema == "2.0" and event.header.event_type == "im.message.receive_v1"
    assert event.header.event_id == payload["header"]["event_id"]
    assert event.header.token == VERIFICATION_TOKEN
    assert event.header.app_id == APP_ID and event.header.tenant_key == TENANT_KEY
    assert message.message_type == "image"
    assert json.loads(message.content)["image_key"] == IMAGE_KEY
    assert message.chat_type == sent["chat_type"]
    assert message.message_id == sent["message_id"] and message.chat_id == sent["chat_id"]
    sender = payload["event"]["sender"]["sender_id"]
    assert event.event.sender.sender_id.open_id == sender["open_id"]
    assert event.event.sender.sender_id.union_id == sender["union_id"]
    assert event.event.sender.sender_type == "user"


# --- the payload ---------------------------------------------------------------------------


def test_image_event_has_lark_id_shapes_string_times_and_json_string_content() -> None:
    payload = image_event()
    header, message = payload["header"], payload["event"]["message"]
    assert payload["schema"] == "2.0"
    assert re.fullmatch(r"[0-9a-f]{32}", header["event_id"])
    assert header["create_time"] == message["create_time"] == message["update_time"] \
        == "1764151200123"
    assert message["content"] == f'{{"image_key":"{IMAGE_KEY}"}}'
    for value, prefix in [(message["message_id"], "om_"), (message["chat_id"], "oc_"),
                          (payload["event"]["sender"]["sender_id"]["open_id"], "ou_"),
                          (payload["event"]["sender"]["sender_id"]["union_id"], "on_")]:
        assert re.fullmatch(prefix + r"[0-9a-f]{32}", value)
    assert "mentions" not in message and "root_id" not in message


def test_sdk_model_reads_mentions_absent_as_none_and_empty_as_empty_list() -> None:
    payload = image_event()
    assert P2ImMessageReceiveV1(payload).event.message.mentions is None
    payload["event"]["message"]["mentions"] = []
    assert P2ImMessageReceiveV1(payload).event.message.mentions == []


def test_encrypt_is_undone_by_the_sdk_aes_cipher_for_dicts_and_bytes() -> None:
    payload = image_event(sender_user_id="用户")
    sealed = encrypt(payload, ENCRYPT_KEY)
    assert set(sealed) == {"encrypt"}
    assert len(base64.b64decode(sealed["encrypt"])) % 16 == 0
    assert json.loads(AESCipher(ENCRYPT_KEY).decrypt_str(sealed["encrypt"])) == payload
    raw = b"0123456789abcdef"  # a whole block: PKCS7 adds a full block of padding
    assert AESCipher(ENCRYPT_KEY).decrypt(base64.b64decode(encrypt(raw, ENCRYPT_KEY)["encrypt"])) \
        == raw
    assert encrypt(payload, ENCRYPT_KEY) != sealed  # a fresh iv each time


def test_signed_headers_without_encrypt_key_are_the_content_type_only() -> None:
    assert signed_headers(b"{}", None) == signed_headers(b"{}", "") == {
        "Content-Type": "application/json; charset=utf-8"}


def test_signed_headers_use_the_given_timestamp_and_nonce() -> None:
    headers = signed_headers(b"{}", ENCRYPT_KEY, timestamp="1764151200", nonce="n-1")
    assert headers["X-Lark-Request-Timestamp"] == "1764151200"
    assert headers["X-Lark-Request-Nonce"] == "n-1"
    assert re.fullmatch(r"[0-9a-f]{64}", headers["X-Lark-Signature"])


# --- image events through the SDK dispatcher -----------------------------------------------


def test_plain_p2p_image_event_reaches_the_registered_handler() -> None:
    received: list[P2ImMessageReceiveV1] = []
    payload = image_event("p2p")
    response = deliver(dispatcher(received), *plain(payload))
    assert response.status_code == 200
    assert json.loads(response.content) == {"msg": "success"}
    assert_delivered_as(received, payload)


def test_encrypted_signed_image_event_reaches_the_registered_handler() -> None:
    received: list[P2ImMessageReceiveV1] = []
    payload = image_event("p2p")
    response = deliver(dispatcher(received, encrypt_key=ENCRYPT_KEY), *encrypted(payload))
    assert response.status_code == 200 and json.loads(response.content) == {"msg": "success"}
    assert_delivered_as(received, payload)


@pytest.mark.parametrize("sealing", [plain, encrypted], ids=["plain", "encrypted"])
def test_group_chat_image_event_reaches_the_registered_handler(
        sealing: Callable[[dict], tuple[bytes, dict[str, str]]]) -> None:
    received: list[P2ImMessageReceiveV1] = []
    payload = image_event("group")
    key = ENCRYPT_KEY if sealing is encrypted else ""
    assert deliver(dispatcher(received, encrypt_key=key), *sealing(payload)).status_code == 200
    assert_delivered_as(received, payload)
    assert received[0].event.message.chat_type == "group"


# --- url_verification ----------------------------------------------------------------------


def test_plain_url_verification_gets_its_challenge_echoed() -> None:
    response = deliver(dispatcher([]), *plain(url_verification_request(
        verification_token=VERIFICATION_TOKEN, challenge="ajls384kdjx98XX")))
    assert response.status_code == 200
    assert response.content == b'{"challenge":"ajls384kdjx98XX"}'
    assert challenge_answer_ok(response.content, "ajls384kdjx98XX")


def test_encrypted_url_verification_gets_its_challenge_echoed_in_plain_json() -> None:
    request = url_verification_request(verification_token=VERIFICATION_TOKEN, challenge="c-42")
    response = deliver(dispatcher([], encrypt_key=ENCRYPT_KEY), *encrypted(request))
    assert response.status_code == 200
    assert challenge_answer_ok(response.content, "c-42")


def test_url_verification_is_answered_without_any_signature_headers() -> None:
    request = url_verification_request(verification_token=VERIFICATION_TOKEN, challenge="c-7")
    body, headers = encrypted(request, signing_key=None)
    response = deliver(dispatcher([], encrypt_key=ENCRYPT_KEY), body, headers)
    assert challenge_answer_ok(response.content, "c-7")


@pytest.mark.parametrize("reply", [b'{"challenge":"other"}', b'{"msg":"success"}', b"c-1",
                                   b'["c-1"]', b"\xff", b""])
def test_challenge_answer_ok_refuses_anything_but_the_echo(reply: bytes) -> None:
    assert not challenge_answer_ok(reply, "c-1")


# --- what the dispatcher refuses, so our signing and sealing are shown to matter ------------


@pytest.mark.parametrize("sealing", [plain, encrypted], ids=["plain", "encrypted"])
def test_event_with_another_verification_token_is_refused(
        sealing: Callable[[dict], tuple[bytes, dict[str, str]]]) -> None:
    received: list[P2ImMessageReceiveV1] = []
    key = ENCRYPT_KEY if sealing is encrypted else ""
    response = deliver(dispatcher(received, encrypt_key=key),
                       *sealing(image_event(verification_token="not-the-bots-token")))
    assert_refused(response, received, "invalid verification_token")


def test_url_verification_with_another_verification_token_is_refused() -> None:
    response = deliver(dispatcher([], encrypt_key=ENCRYPT_KEY), *encrypted(
        url_verification_request(verification_token="not-the-bots-token", challenge="c-1")))
    assert_refused(response, [], "invalid verification_token")
    assert not challenge_answer_ok(response.content, "c-1")


def test_event_signed_with_another_key_is_refused() -> None:
    received: list[P2ImMessageReceiveV1] = []
    body, headers = encrypted(image_event(), signing_key="another-key")
    response = deliver(dispatcher(received, encrypt_key=ENCRYPT_KEY), body, headers)
    assert_refused(response, received, "signature verification failed")


def test_signature_covers_the_exact_body_bytes() -> None:
    received: list[P2ImMessageReceiveV1] = []
    body, headers = encrypted(image_event())
    respaced = json.dumps(json.loads(body)).encode()  # same JSON, other bytes
    response = deliver(dispatcher(received, encrypt_key=ENCRYPT_KEY), respaced, headers)
    assert_refused(response, received, "signature verification failed")


def test_event_without_signature_headers_is_refused_when_the_bot_has_an_encrypt_key() -> None:
    received: list[P2ImMessageReceiveV1] = []
    body, headers = encrypted(image_event(), signing_key=None)
    assert_refused(deliver(dispatcher(received, encrypt_key=ENCRYPT_KEY), body, headers), received)


def test_event_encrypted_with_another_key_is_refused() -> None:
    received: list[P2ImMessageReceiveV1] = []
    body = event_body(encrypt(image_event(), "another-key"))
    response = deliver(dispatcher(received, encrypt_key=ENCRYPT_KEY), body,
                       signed_headers(body, ENCRYPT_KEY))
    assert_refused(response, received)


def test_encrypted_event_to_a_bot_without_encrypt_key_is_refused() -> None:
    received: list[P2ImMessageReceiveV1] = []
    assert_refused(deliver(dispatcher(received), *encrypted(image_event())), received,
                   "encrypt_key not found")


def test_bot_without_verification_token_refuses_every_event_that_carries_one() -> None:
    # An SDK rule, not ours: an empty configured token must equal the event's token.
    received: list[P2ImMessageReceiveV1] = []
    response = deliver(dispatcher(received, verification_token=""), *plain(image_event()))
    assert_refused(response, received, "invalid verification_token")
