"""chatimg.inbound decrypts the events of a Lark app that has an Encrypt Key: bodies the mock
encrypts (built here and delivered over HTTP), bodies built by lark-oapi's conventions, and
refuses a missing key, a wrong one and broken ciphertexts with ProtocolError only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from _support import BotRequest, RecordingBot

from chatimg import (
    LarkImageMessage,
    ProtocolError,
    decrypt_lark_event,
    parse_lark_event,
)
from chatimg._lark_decryption import decrypt_lark_body
from mockserver import LiveServer, MockConfig
from mockserver.vendors.lark.events import encrypt, image_message_event, url_verification_request

APP_A = MockConfig().lark.apps[0]
ENCRYPT_KEY = "mock-encrypt-key-0001"


def image_event() -> dict[str, Any]:
    return image_message_event(
        app_id=APP_A.app_id, tenant_key="2ca1d211f64f6438", verification_token="vt",
        message_id="om_1", chat_id="oc_1", chat_type="group", sender_open_id="ou_1",
        sender_user_id="u_1", sender_union_id="on_1", image_key="img_v3_1",
        create_time_ms=1609073151345, event_id="ev_1")


def lark_oapi_encrypt(plaintext: bytes, encrypt_key: str) -> dict[str, str]:
    """``{"encrypt": ...}`` by lark-oapi's rules, with the AES of pycryptodome, which lark-oapi
    decrypts with: sha256(key), random iv ahead of the ciphertext, PKCS7, standard base64."""
    aes = pytest.importorskip("Crypto.Cipher.AES")
    iv = os.urandom(16)
    pad = 16 - len(plaintext) % 16
    cipher = aes.new(hashlib.sha256(encrypt_key.encode("utf-8")).digest(), aes.MODE_CBC, iv)
    sealed = iv + cipher.encrypt(plaintext + bytes([pad]) * pad)
    return {"encrypt": base64.b64encode(sealed).decode("ascii")}


# --- what the mock encrypts ------------------------------------------------------------------


def test_event_the_mock_encrypts_reads_as_the_plain_one() -> None:
    event = image_event()

    message = parse_lark_event(encrypt(event, ENCRYPT_KEY), encrypt_key=ENCRYPT_KEY)

    assert isinstance(message, LarkImageMessage)
    assert message == parse_lark_event(event)
    assert (message.event_id, message.message_id, message.image_key) == (
        "ev_1", "om_1", "img_v3_1")


def test_encrypted_url_verification_reads_as_none_like_a_plain_one() -> None:
    request = url_verification_request(verification_token="vt", challenge="c-123")

    assert parse_lark_event(encrypt(request, ENCRYPT_KEY), encrypt_key=ENCRYPT_KEY) is None
    assert decrypt_lark_event(encrypt(request, ENCRYPT_KEY), ENCRYPT_KEY) == request


def test_plain_body_is_read_as_is_when_a_key_is_given() -> None:
    event = image_event()

    assert decrypt_lark_event(event, ENCRYPT_KEY) is event
    assert parse_lark_event(event, encrypt_key=ENCRYPT_KEY) == parse_lark_event(event)


class EncryptedLarkBot(RecordingBot):
    """A bot's event URL for an app with an Encrypt Key: echoes the encrypted challenge."""

    def __init__(self, encrypt_key: str) -> None:
        super().__init__("/lark/events")
        self.encrypt_key = encrypt_key

    def answer(self, request: BotRequest, status: int) -> flask.Response:
        body = decrypt_lark_event(request.json(), self.encrypt_key)
        if body.get("type") == "url_verification":
            return flask.Response(json.dumps({"challenge": body["challenge"]}), 200,
                                  content_type="application/json")
        return super().answer(request, status)


@pytest.fixture
def encrypted_bot(server: LiveServer) -> Iterator[EncryptedLarkBot]:
    with EncryptedLarkBot(ENCRYPT_KEY) as bot:
        subscribed = server.subscribe_lark_events(bot.url, encrypt_key=ENCRYPT_KEY)
        assert subscribed["encrypted"] is True  # so the bot echoed the encrypted challenge
        yield bot


def test_event_the_mock_delivers_encrypted_is_decrypted_and_parsed(
        server: LiveServer, encrypted_bot: EncryptedLarkBot) -> None:
    received = server.send_image("lark", chat_type="p2p")

    challenge, delivered = encrypted_bot.wait_for(2)
    wire_body = delivered.json()

    assert list(challenge.json()) == list(wire_body) == ["encrypt"]
    message = parse_lark_event(wire_body, encrypt_key=ENCRYPT_KEY)
    assert message is not None and message.chat_type == "p2p"
    assert (message.app_id, message.message_id, message.chat_id, message.image_key) == (
        received["app_id"], received["message_id"], received["chat_id"], received["image_key"])
    with pytest.raises(ProtocolError, match="encrypt_key"):
        parse_lark_event(wire_body)


# --- lark-oapi's conventions -----------------------------------------------------------------


@pytest.mark.parametrize("encrypt_key", [ENCRYPT_KEY, "密钥 with spaces"], ids=["ascii", "utf-8"])
def test_body_encrypted_by_lark_oapis_conventions_round_trips(encrypt_key: str) -> None:
    decryptor = pytest.importorskip("lark_oapi.core.utils.decryptor")
    plaintext = json.dumps(image_event(), ensure_ascii=False).encode("utf-8")
    body = lark_oapi_encrypt(plaintext, encrypt_key)
    assert decryptor.AESCipher(encrypt_key).decrypt_str(body["encrypt"]) == plaintext.decode()

    assert decrypt_lark_event(body, encrypt_key) == image_event()
    assert parse_lark_event(body, encrypt_key=encrypt_key) == parse_lark_event(image_event())


def test_sample_lark_oapi_decrypts_to_hello_world_decrypts_the_same() -> None:
    decryptor = pytest.importorskip("lark_oapi.core.utils.decryptor")
    sample = "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="
    assert decryptor.AESCipher("test key").decrypt_str(sample) == "hello world"

    assert decrypt_lark_body(sample, "test key") == b"hello world"
    with pytest.raises(ProtocolError, match="did not decrypt"):
        decrypt_lark_event({"encrypt": sample}, "test key")  # not JSON


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("encrypt_key", [None, ""], ids=["none", "empty"])
def test_encrypted_body_without_a_key_raises_protocol_error_naming_encrypt_key(
        encrypt_key: str | None) -> None:
    body = encrypt(image_event(), ENCRYPT_KEY)

    with pytest.raises(ProtocolError, match=r"encrypted: pass .* as encrypt_key="):
        parse_lark_event(body, encrypt_key=encrypt_key)


def test_wrong_key_raises_protocol_error() -> None:
    for attempt in range(20):  # fresh ivs and keys: not one wrong key decrypts by luck
        body = encrypt(image_event(), f"{ENCRYPT_KEY}-{attempt}")
        with pytest.raises(ProtocolError, match="did not decrypt with this encrypt_key"):
            parse_lark_event(body, encrypt_key=ENCRYPT_KEY)


def sealed(body: dict[str, str]) -> bytes:
    return base64.b64decode(body["encrypt"])


def reencoded(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.mark.parametrize("encrypted", [
    "not base64!!",
    "密文",
    "aGVsbG8gd29ybGQ=",  # base64, but 11 bytes: no iv and block
    reencoded(os.urandom(16)),  # an iv and nothing after it
    reencoded(sealed(encrypt(image_event(), ENCRYPT_KEY))[:-5]),  # cut mid-block
    reencoded(sealed(encrypt(image_event(), ENCRYPT_KEY))[:-16]),  # last block lost
    reencoded(sealed(encrypt(image_event(), ENCRYPT_KEY))[:-1] + b"\x00"),  # padding broken
    "",
    42,
    None,
], ids=["not-base64", "not-ascii", "too-short", "iv-only", "cut-mid-block", "block-lost",
        "padding-broken", "empty", "number", "null"])
def test_broken_ciphertext_raises_protocol_error(encrypted: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_lark_event({"encrypt": encrypted}, encrypt_key=ENCRYPT_KEY)


@pytest.mark.parametrize("plaintext", [b"[1, 2]", b"\xff\xfe not utf-8", b""],
                         ids=["json-array", "not-utf-8", "empty"])
def test_plaintext_that_is_no_json_object_raises_protocol_error(plaintext: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_lark_event(encrypt(plaintext, ENCRYPT_KEY), encrypt_key=ENCRYPT_KEY)


def test_import_chatimg_does_not_load_cryptography() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, chatimg; print('cryptography' in sys.modules)"],
        capture_output=True, text=True, check=True, timeout=60)

    assert loaded.stdout.strip() == "False"
