"""Every error the client raises, one tree, one base.

Catch ``ChatImageError`` for everything; catch a vendor's class for that vendor's refusals.
No httpx exception ever escapes: transport failures are wrapped, with the httpx error kept as
``__cause__``.

    ChatImageError
    ├── TransportError            no reply at all: connect, timeout, read, write
    ├── ProtocolError             a reply, but not JSON or not the documented shape
    └── ApiError                  the vendor answered and refused (.code)
        ├── GeweError             HTTP 200 with ret != 200 (.ret .msg .data_code .data_msg)
        ├── WidError              code other than "1000" (.code .message)
        └── LarkError             code other than 0 (.code .msg .log_id .http_status)
            ├── LarkInvalidRequest      234001 (also: avatar images cannot be downloaded)
            ├── LarkUnauthorized        234002, 99991661, 99991663, 99991664, 99991671
            ├── LarkFileNotInMessage    234003 (the file_key is not in that message)
            ├── LarkImageDeleted        234005
            ├── LarkImageRejected       234006 too large, 234010 empty, 234011 not an image
            ├── LarkBotNotEnabled       234007
            ├── LarkNotResourceSender   234008
            ├── LarkTenantError         234041, 234042
            ├── LarkSendRefused         230001 bad parameter, 230002 bot not in the chat,
            │                           230006 bot ability not activated (sending a message)
            ├── LarkRateLimited         99991400 or HTTP 429, still refused after the retries
            └── LarkTokenError          the token endpoint refused the app (10003, 10014)

``LarkError.for_code(code, ...)`` builds the subclass that matches a code; ``LarkCode`` names
the documented codes (vendor notes 3.1-3.7; the 230xxx codes come from the send-message
document, as specs/lark.yaml records them).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any, ClassVar


class ChatImageError(Exception):
    """Base of every error raised by ``chatimg``."""


class TransportError(ChatImageError):
    """The request got no reply: connection refused, timeout, broken read or write."""


class ProtocolError(ChatImageError):
    """The reply is not what the vendor documents (not JSON, or missing fields)."""

    def __init__(self, message: str, *, http_status: int | None = None, body: str = ""):
        super().__init__(message if http_status is None else f"{message} (HTTP {http_status})")
        self.http_status = http_status
        self.body = body[:500]  # enough to debug, not a whole HTML error page


class ApiError(ChatImageError):
    """The vendor answered in its own envelope and refused the call; ``code`` is its code."""

    code: Any


# --- GeWe -------------------------------------------------------------------------------

class GeweError(ApiError):
    """GeWe refused: HTTP 200 with ``ret`` other than 200 (vendor notes 1.2).

    Operation failures name the action in ``msg`` and the cause in ``data``
    (``data_code`` is the string ``"-1"``); gateway and parse failures have no ``data``.
    ``attempts`` holds ``(image_type, error)`` for every type a fallback download tried.
    """

    def __init__(self, ret: int, msg: str, data_code: str | None = None,
                 data_msg: str | None = None, *,
                 attempts: tuple[tuple[int, GeweError], ...] = ()):
        cause = f": {data_msg}" if data_msg else ""
        super().__init__(f"GeWe ret {ret}: {msg}{cause}")
        self.code = self.ret = ret
        self.msg = msg
        self.data_code = data_code
        self.data_msg = data_msg
        self.attempts = attempts

    # Texts seen in real replies (vendor notes 1.3); the mock answers the same.
    @property
    def token_rejected(self) -> bool:
        """The ``X-GEWE-TOKEN`` header is missing, unknown or expired."""
        return self.data_msg is None and "X-GEWE-TOKEN" in self.msg

    @property
    def device_not_found(self) -> bool:
        """The ``appId`` names no device of this token."""
        return bool(self.data_msg and self.data_msg.endswith("设备不存在"))

    @property
    def wechat_offline(self) -> bool:
        """The WeChat session of the device is offline."""
        return self.data_msg == "微信已离线"

    @property
    def xml_unparsable(self) -> bool:
        """GeWe could not parse the image XML it was given."""
        return self.data_msg is None and self.msg.endswith("xml解析异常")


# --- wid ----------------------------------------------------------------------------------

class WidError(ApiError):
    """The wid API refused: ``code`` other than ``"1000"`` (``"1001"`` in every reply seen)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"wid code {code}: {message}")
        self.code = code
        self.message = message


# --- Lark ---------------------------------------------------------------------------------

class LarkCode(IntEnum):
    """Lark codes the image, message-resource, send-message and token APIs document."""

    INVALID_REQUEST = 234001
    UNAUTHORIZED = 234002
    FILE_NOT_IN_MESSAGE = 234003
    IMAGE_DELETED = 234005
    IMAGE_TOO_LARGE = 234006
    BOT_NOT_ENABLED = 234007
    NOT_RESOURCE_SENDER = 234008
    IMAGE_EMPTY = 234010
    IMAGE_UNSUPPORTED = 234011
    TENANT_KEY_DELETED = 234041
    TENANT_STORAGE_ERROR = 234042
    SEND_INVALID_PARAM = 230001
    BOT_NOT_IN_CHAT = 230002
    BOT_NOT_ACTIVATED = 230006
    RATE_LIMITED = 99991400
    MISSING_ACCESS_TOKEN = 99991661
    INVALID_TENANT_TOKEN = 99991663
    INVALID_APP_TOKEN = 99991664
    INVALID_ACCESS_TOKEN = 99991671
    TOKEN_INVALID_PARAM = 10003
    APP_NOT_FOUND = 10014  # also "app secret invalid" (vendor notes 3.6)


def _as_code(code: int) -> int:
    try:
        return LarkCode(code)
    except ValueError:
        return code


class LarkError(ApiError):
    """Lark refused: a JSON reply with ``code`` other than 0.

    ``log_id`` comes from the ``X-Tt-Logid`` header, else the body's ``error.log_id``; quote it
    to Lark support. ``detail`` is the body's ``error`` object (troubleshooter, violations).
    """

    codes: ClassVar[frozenset[int]] = frozenset()
    _by_code: ClassVar[dict[int, type[LarkError]]] = {}

    def __init__(self, code: int, msg: str, log_id: str | None = None,
                 http_status: int | None = None, *, detail: Mapping[str, Any] | None = None):
        super().__init__(f"Lark code {code}: {msg}" + (f" (log_id {log_id})" if log_id else ""))
        self.code = _as_code(code)
        self.msg = msg
        self.log_id = log_id
        self.http_status = http_status
        self.detail: Mapping[str, Any] = detail or {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for code in cls.codes:
            LarkError._by_code[code] = cls

    @classmethod
    def for_code(cls, code: int, msg: str, log_id: str | None = None,
                 http_status: int | None = None, *,
                 detail: Mapping[str, Any] | None = None) -> LarkError:
        """The error of the subclass that stands for ``code`` (``LarkError`` if none does)."""
        error_class = cls._by_code.get(code, LarkError)
        return error_class(code, msg, log_id, http_status, detail=detail)


class LarkInvalidRequest(LarkError):
    """234001: a parameter was refused (e.g. resolution too high, or an avatar image key)."""

    codes = frozenset({LarkCode.INVALID_REQUEST})


class LarkUnauthorized(LarkError):
    """The access token is missing, malformed, unknown or expired, even after a fresh one."""

    codes = frozenset({LarkCode.UNAUTHORIZED, LarkCode.MISSING_ACCESS_TOKEN,
                       LarkCode.INVALID_TENANT_TOKEN, LarkCode.INVALID_APP_TOKEN,
                       LarkCode.INVALID_ACCESS_TOKEN})


class LarkFileNotInMessage(LarkError):
    """234003: the file_key does not belong to that message (or the message is not this
    app's), when downloading a message resource."""

    codes = frozenset({LarkCode.FILE_NOT_IN_MESSAGE})


class LarkImageDeleted(LarkError):
    """234005: no such image key, or the image was deleted."""

    codes = frozenset({LarkCode.IMAGE_DELETED})


class LarkImageRejected(LarkError):
    """The upload was refused for its content: over 10 MB, empty, or not a supported image."""

    codes = frozenset({LarkCode.IMAGE_TOO_LARGE, LarkCode.IMAGE_EMPTY,
                       LarkCode.IMAGE_UNSUPPORTED})


class LarkBotNotEnabled(LarkError):
    """234007: the app does not have the bot capability."""

    codes = frozenset({LarkCode.BOT_NOT_ENABLED})


class LarkNotResourceSender(LarkError):
    """234008: another app uploaded the image, or a user sent it: download that one with
    ``LarkClient.download_message_resource``."""

    codes = frozenset({LarkCode.NOT_RESOURCE_SENDER})


class LarkTenantError(LarkError):
    """234041 / 234042: the tenant's key was deleted or its storage failed; ask its admin."""

    codes = frozenset({LarkCode.TENANT_KEY_DELETED, LarkCode.TENANT_STORAGE_ERROR})


class LarkSendRefused(LarkError):
    """Sending a message was refused: 230001 a parameter (e.g. an image_key this app did not
    upload as ``"message"``), 230002 the bot is not in the chat, 230006 the app's bot ability
    is not activated. ``code`` tells which (``LarkCode.BOT_NOT_IN_CHAT`` ...)."""

    codes = frozenset({LarkCode.SEND_INVALID_PARAM, LarkCode.BOT_NOT_IN_CHAT,
                       LarkCode.BOT_NOT_ACTIVATED})


class LarkRateLimited(LarkError):
    """Still rate limited (HTTP 429 or 99991400) when the retry budget ran out.

    ``attempts`` is how many times the request was sent, ``waited`` the seconds slept between
    them, ``retry_after`` the wait the last reply asked for (``x-ogw-ratelimit-reset``).
    """

    codes = frozenset({LarkCode.RATE_LIMITED})
    attempts: int = 1
    waited: float = 0.0
    retry_after: float | None = None


class LarkTokenError(LarkError):
    """The token endpoint refused the app id or secret (HTTP 200 with code 10003 / 10014)."""

    codes = frozenset({LarkCode.TOKEN_INVALID_PARAM, LarkCode.APP_NOT_FOUND})
