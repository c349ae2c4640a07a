"""Reading what the vendors POST to a bot: image messages in GeWe and wid callbacks and Lark
events, so a bot does not pick the fields out by hand.

Pure functions over the JSON body, already parsed into a ``dict``; no web framework, no I/O.
Each returns the image message, or None for anything else (text, other callback or event
types, a url_verification); a payload that claims to be an image but lacks what one carries
raises ``ProtocolError``. The vendors send the same message more than once: de-duplicate on
``new_msg_id`` (GeWe, wid) or ``event_id`` (Lark). A Lark app with an Encrypt Key gets its
events encrypted: pass the key as ``encrypt_key=``. Checking Lark's signature headers, which
need the raw bytes, is left to the caller.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ProtocolError
from ._lark_decryption import NOT_DECRYPTED, decrypt_lark_body
from ._xml import without_sender_prefix

GEWE_ADD_MSG = "AddMsg"
GEWE_IMAGE = 3  # Data.MsgType of an image (vendor notes 1.6)
# messageType of images, private / group: old ints 6 / 10, newer (E云管家) string codes
# "60002" / "80002" (vendor notes 2.3). Compared as text, so either spelling matches.
WID_IMAGE_TYPES = frozenset({"6", "10", "60002", "80002"})
LARK_MESSAGE_EVENT = "im.message.receive_v1"


@dataclass(frozen=True)
class GeweImageMessage:
    """An image in a GeWe ``AddMsg`` callback.

    ``from_user`` is ``Data.FromUserName``: the friend's wxid, or the group's id in a group;
    a reply to the chat goes there. ``sender`` is who sent the image (in a group, the wxid
    GeWe puts before the XML), ``chatroom`` the group or None. ``xml`` is the image XML with
    that prefix cut, as ``GeweClient.download_image`` takes it. ``new_msg_id`` is exact (19
    digits) whether the callback had a number or a string. ``thumbnail`` is ``ImgBuf``'s
    JPEG (empty when absent).
    """

    app_id: str
    bot_wxid: str | None
    msg_id: int
    new_msg_id: int
    from_user: str
    to_user: str
    sender: str
    chatroom: str | None
    xml: str
    create_time: int | None
    thumbnail: bytes


@dataclass(frozen=True)
class WidImageMessage:
    """An image in a wid callback, old (``messageType`` 6 / 10) or new ("60002" / "80002").

    ``from_user`` is ``data.fromUser``, the sender; ``chatroom`` is ``data.fromGroup`` in
    groups, else None. ``content`` is the XML as delivered (prefixed with the sender in
    groups), ``xml`` the same with the prefix cut. ``self_sent`` marks the account's own
    messages (``data.self``). ``get_msg_img`` takes ``msg_id``, ``from_user``, ``to_user`` and
    ``xml``.
    """

    w_id: str
    wc_id: str
    account: str | None
    message_type: int | str
    msg_id: int
    new_msg_id: int
    from_user: str
    to_user: str
    chatroom: str | None
    content: str
    xml: str
    timestamp: int | None
    self_sent: bool


@dataclass(frozen=True)
class LarkImageMessage:
    """An image in a Lark ``im.message.receive_v1`` event (schema 2.0).

    ``image_key`` comes out of the content's JSON string; download the image with
    ``LarkClient.download_message_resource(message_id, image_key)``. ``token`` is the
    event's verification token, for a bot that checks it itself. ``create_time`` is Lark's
    string of epoch milliseconds.
    """

    event_id: str
    app_id: str | None
    tenant_key: str | None
    token: str | None
    message_id: str
    chat_id: str
    chat_type: str
    image_key: str
    sender_open_id: str | None
    create_time: str | None


def parse_gewe_callback(payload: Mapping[str, Any]) -> GeweImageMessage | None:
    """The image in a GeWe callback body, or None for other messages and callback types."""
    _check_object(payload, "GeWe callback")
    if payload.get("TypeName") != GEWE_ADD_MSG:
        return None
    # Some integrations also accept a lowercase data key (vendor notes 1.2).
    data = payload.get("Data", payload.get("data"))
    if not isinstance(data, Mapping):
        raise ProtocolError("GeWe AddMsg callback has no Data object")
    if data.get("MsgType") != GEWE_IMAGE:
        return None
    content = _wrapped(data, "Content")
    from_user = _wrapped(data, "FromUserName")
    xml = without_sender_prefix(content)
    chatroom = from_user if from_user.endswith("@chatroom") else None
    sender = _prefix_sender(content, xml) if chatroom else from_user
    return GeweImageMessage(
        app_id=_text(payload, "Appid", "GeWe callback"),
        bot_wxid=_optional_text(payload, "Wxid"),
        msg_id=_id(data, "MsgId", "GeWe callback"),
        new_msg_id=_id(data, "NewMsgId", "GeWe callback"),
        from_user=from_user, to_user=_wrapped(data, "ToUserName"),
        sender=sender or from_user, chatroom=chatroom, xml=xml,
        create_time=_optional_id(data, "CreateTime", "GeWe callback"),
        thumbnail=_thumbnail(data.get("ImgBuf")))


def parse_wid_callback(payload: Mapping[str, Any]) -> WidImageMessage | None:
    """The image in a wid callback body (either format), or None for other message types."""
    _check_object(payload, "wid callback")
    message_type = payload.get("messageType")
    if isinstance(message_type, bool) or not isinstance(message_type, int | str) or \
            str(message_type) not in WID_IMAGE_TYPES:
        return None
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise ProtocolError("wid image callback has no data object")
    content = _text(data, "content", "wid callback")
    return WidImageMessage(
        w_id=_text(data, "wId", "wid callback"), wc_id=_text(payload, "wcId", "wid callback"),
        account=_optional_text(payload, "account"), message_type=message_type,
        msg_id=_id(data, "msgId", "wid callback"),
        new_msg_id=_id(data, "newMsgId", "wid callback"),
        from_user=_text(data, "fromUser", "wid callback"),
        to_user=_text(data, "toUser", "wid callback"),
        chatroom=_optional_text(data, "fromGroup"), content=content,
        xml=without_sender_prefix(content),
        timestamp=_optional_id(data, "timestamp", "wid callback"),
        self_sent=data.get("self") is True)


def parse_lark_event(payload: Mapping[str, Any], *, encrypt_key: str | None = None
                     ) -> LarkImageMessage | None:
    """The image in a Lark event body (schema 2.0), or None for other events, other message
    types and url_verification (encrypted or not).

    An encrypted body (``{"encrypt": ...}``) is decrypted with ``encrypt_key``, the app's
    Encrypt Key; without one it raises ProtocolError, as it does when the key is wrong. A plain
    body is read as is, key or not, as lark-oapi reads it.
    """
    payload = decrypt_lark_event(payload, encrypt_key)
    header, event = payload.get("header"), payload.get("event")
    if payload.get("schema") != "2.0" or not isinstance(header, Mapping):
        return None  # url_verification, or a schema 1.0 event
    if header.get("event_type") != LARK_MESSAGE_EVENT:
        return None
    if not isinstance(event, Mapping) or not isinstance(event.get("message"), Mapping):
        raise ProtocolError("Lark message event has no event.message object")
    message = event["message"]
    if message.get("message_type") != "image":
        return None
    content = _text(message, "content", "Lark event")
    image_key = lark_image_key(content)
    if image_key is None:
        raise ProtocolError(f"Lark image message content has no image_key: {content[:200]!r}")
    sender = event.get("sender")
    sender_id = sender.get("sender_id") if isinstance(sender, Mapping) else None
    return LarkImageMessage(
        event_id=_text(header, "event_id", "Lark event"),
        app_id=_optional_text(header, "app_id"), tenant_key=_optional_text(header, "tenant_key"),
        token=_optional_text(header, "token"),
        message_id=_text(message, "message_id", "Lark event"),
        chat_id=_text(message, "chat_id", "Lark event"),
        chat_type=_text(message, "chat_type", "Lark event"), image_key=image_key,
        sender_open_id=(_optional_text(sender_id, "open_id")
                        if isinstance(sender_id, Mapping) else None),
        create_time=_optional_text(message, "create_time"))


def decrypt_lark_event(payload: Mapping[str, Any], encrypt_key: str | None
                       ) -> Mapping[str, Any]:
    """The plain body of a Lark event: ``{"encrypt": ...}`` decrypted with ``encrypt_key``
    (the app's Encrypt Key), any other body as it is.

    A bot needs it for an encrypted url_verification, whose ``challenge`` it must echo. An
    encrypted body without a key, or one that does not decrypt to a JSON object with it (a wrong
    key, a broken ciphertext), raises ProtocolError.
    """
    _check_object(payload, "Lark event")
    if "encrypt" not in payload:
        return payload
    if not encrypt_key:
        raise ProtocolError("the Lark event is encrypted: pass the app's Encrypt Key as "
                            "encrypt_key= to decrypt it")
    encrypted = payload["encrypt"]
    if not isinstance(encrypted, str) or not encrypted:
        raise ProtocolError(f"the Lark event has no encrypt string: {encrypted!r:.100}")
    try:
        body = json.loads(decrypt_lark_body(encrypted, encrypt_key).decode("utf-8"))
    except ValueError:  # not UTF-8, or not JSON: what a wrong key leaves, mostly
        raise ProtocolError(NOT_DECRYPTED) from None
    if not isinstance(body, dict):
        raise ProtocolError(f"the decrypted Lark event is not a JSON object: "
                            f"{type(body).__name__}")
    return body


def lark_image_key(content: str) -> str | None:
    """The ``image_key`` of an image message's content, a JSON *string* such as
    ``{"image_key":"img_v3_…"}`` (vendor notes 3.8); None if it holds none."""
    try:
        parsed = json.loads(content)
    except (TypeError, ValueError):
        return None
    key = parsed.get("image_key") if isinstance(parsed, dict) else None
    return key if isinstance(key, str) and key else None


# --- fields ---------------------------------------------------------------------------------

def _check_object(payload: Any, what: str) -> None:
    if not isinstance(payload, Mapping):
        raise ProtocolError(f"{what} is not a JSON object: {type(payload).__name__}")


def _text(data: Mapping[str, Any], name: str, what: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{what} has no {name} string: {value!r:.100}")
    return value


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def _wrapped(data: Mapping[str, Any], name: str) -> str:
    """GeWe wraps strings as ``{"string": ...}`` (vendor notes 1.6)."""
    wrapper = data.get(name)
    value = wrapper.get("string") if isinstance(wrapper, Mapping) else None
    if not isinstance(value, str):
        raise ProtocolError(f"GeWe callback's {name} is not {{\"string\": ...}}: "
                            f"{wrapper!r:.100}")
    return value


def _id(data: Mapping[str, Any], name: str, what: str) -> int:
    """An id as a JSON number or, in some captures, a string of digits (vendor notes 1.5);
    read exactly either way."""
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 30:
        return int(value)
    raise ProtocolError(f"{what}'s {name} is not an integer: {value!r:.100}")


def _optional_id(data: Mapping[str, Any], name: str, what: str) -> int | None:
    return None if data.get(name) is None else _id(data, name, what)


def _prefix_sender(content: str, xml: str) -> str | None:
    """The wxid before ``:\\n`` that group messages put ahead of the XML."""
    prefix = content[:len(content) - len(xml)].strip()
    if not prefix.endswith(":"):
        return None
    return prefix[:-1].strip() or None


def _thumbnail(image_buffer: Any) -> bytes:
    encoded = image_buffer.get("buffer") if isinstance(image_buffer, Mapping) else None
    if not isinstance(encoded, str) or not encoded:
        return b""
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"GeWe callback's ImgBuf.buffer is not base64: {exc}") from None
