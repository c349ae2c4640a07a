"""Lark / Feishu inbound events, built as Lark POSTs them to a bot's request URL.

Pure functions: no Flask, no I/O. The wire rules are those lark-oapi 1.7.5 checks in
``lark_oapi/event/dispatcher_handler.py`` (``EventDispatcherHandler.do``):

- The body is the schema 2.0 event, or ``{"encrypt": base64(iv + AES-256-CBC(json))}`` when the
  app has an encrypt key; the AES key is sha256(encrypt key), the padding PKCS7
  (``core/utils/decryptor.py``).
- With an encrypt key, every request but ``url_verification`` must carry
  ``X-Lark-Signature = sha256(timestamp + nonce + encrypt_key + raw body)`` hex, with
  ``X-Lark-Request-Timestamp`` and ``X-Lark-Request-Nonce``; the SDK reads these names from a
  plain dict, so their capitalisation matters. Without a key it checks no signature.
- The verification token travels inside the (decrypted) body: ``header.token`` for events,
  ``token`` for ``url_verification``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
import uuid
from typing import Any, Literal

EVENT_TYPE = "im.message.receive_v1"
URL_VERIFICATION = "url_verification"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
TIMESTAMP_HEADER = "X-Lark-Request-Timestamp"
NONCE_HEADER = "X-Lark-Request-Nonce"
SIGNATURE_HEADER = "X-Lark-Signature"


def lark_id(prefix: str) -> str:
    """A fresh id in Lark's shape: ``om_`` message, ``oc_`` chat, ``ou_`` open, ``on_`` union."""
    return f"{prefix}_{uuid.uuid4().hex}"


def image_message_event(*, app_id: str, tenant_key: str, verification_token: str,
                        message_id: str, chat_id: str, chat_type: Literal["p2p", "group"],
                        sender_open_id: str, sender_user_id: str, sender_union_id: str,
                        image_key: str, create_time_ms: int, event_id: str | None = None,
                        root_id: str | None = None, parent_id: str | None = None,
                        thread_id: str | None = None, user_agent: str | None = None
                        ) -> dict[str, Any]:
    """The schema 2.0 ``im.message.receive_v1`` payload for one image a user sent.

    Times are strings of epoch milliseconds, and ``content`` is a JSON *string*, as Lark sends
    them (vendor notes 3.8). An image carries no @-mentions, so ``mentions`` is left out, as
    Lark leaves it out of messages without any; the SDK model reads that as None. ``root_id``,
    ``parent_id`` and ``thread_id`` (replies and threads only) and ``user_agent`` (only for apps
    granted the client user-agent scope) appear only when given.
    """
    millis = str(create_time_ms)
    message: dict[str, Any] = {"message_id": message_id}
    if root_id is not None:
        message["root_id"] = root_id
    if parent_id is not None:
        message["parent_id"] = parent_id
    message.update({"create_time": millis, "update_time": millis, "chat_id": chat_id})
    if thread_id is not None:
        message["thread_id"] = thread_id
    message.update({
        "chat_type": chat_type,
        "message_type": "image",
        # Lark writes the content without spaces: {"image_key":"img_v3_..."}.
        "content": json.dumps({"image_key": image_key}, separators=(",", ":")),
    })
    if user_agent is not None:
        message["user_agent"] = user_agent
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id or uuid.uuid4().hex,
            "token": verification_token,
            "create_time": millis,
            "event_type": EVENT_TYPE,
            "tenant_key": tenant_key,
            "app_id": app_id,
        },
        "event": {
            "sender": {
                "sender_id": {"union_id": sender_union_id, "user_id": sender_user_id,
                              "open_id": sender_open_id},
                "sender_type": "user",
                "tenant_key": tenant_key,
            },
            "message": message,
        },
    }


def url_verification_request(*, verification_token: str, challenge: str) -> dict[str, str]:
    """What Lark POSTs when a request URL is saved: the bot must echo ``challenge``."""
    return {"challenge": challenge, "token": verification_token, "type": URL_VERIFICATION}


def event_body(payload: dict[str, Any]) -> bytes:
    """The bytes to POST (and sign): compact UTF-8 JSON, non-ASCII kept as is."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encrypt(payload: dict[str, Any] | bytes, encrypt_key: str) -> dict[str, str]:
    """``{"encrypt": ...}``, exactly what lark-oapi's ``AESCipher.decrypt_str`` undoes.

    base64(iv + AES-256-CBC(PKCS7(json))), key = sha256(encrypt_key), random 16-byte iv.
    Needs the ``cryptography`` package, imported here so the module loads without it.
    """
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    plaintext = payload if isinstance(payload, bytes) else event_body(payload)
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    iv = os.urandom(16)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return {"encrypt": base64.b64encode(iv + ciphertext).decode("ascii")}


def signature(body: bytes, encrypt_key: str, timestamp: str, nonce: str) -> str:
    """sha256 hex of timestamp + nonce + encrypt_key + raw body, as the SDK recomputes it."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()


def signed_headers(body: bytes, encrypt_key: str | None, *, timestamp: str | None = None,
                   nonce: str | None = None) -> dict[str, str]:
    """Headers for POSTing ``body``; signed only when the app has an encrypt key.

    The SDK verifies the signature only when it holds an encrypt key, and then a missing header
    fails the request (it concatenates None). ``body`` must be the exact bytes sent.
    """
    headers = {"Content-Type": JSON_CONTENT_TYPE}
    if not encrypt_key:
        return headers
    timestamp = timestamp if timestamp is not None else str(int(time.time()))
    nonce = nonce if nonce is not None else secrets.token_hex(8)
    headers[TIMESTAMP_HEADER] = timestamp
    headers[NONCE_HEADER] = nonce
    headers[SIGNATURE_HEADER] = signature(body, encrypt_key, timestamp, nonce)
    return headers


def challenge_answer_ok(reply_body: bytes, challenge: str) -> bool:
    """Whether a bot's reply to ``url_verification`` is the JSON ``{"challenge": ...}`` Lark needs."""
    try:
        answer = json.loads(reply_body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(answer, dict) and answer.get("challenge") == challenge
