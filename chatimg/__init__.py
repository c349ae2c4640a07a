"""Clients for the image APIs of GeWe, the WeChat instance ("wid") API and Lark / Feishu.

Built on httpx. Every client takes its base URL, credentials, ``timeout`` and ``transport``
as arguments, so it runs against the real service, the ``mockserver`` on a socket, or an
in-process app (``httpx.WSGITransport``). Every failure is a ``ChatImageError``; see
``chatimg._errors`` for the tree. ``chatimg.inbound`` reads the image messages the vendors
POST to a bot (GeWe and wid callbacks, Lark events, plain or encrypted).
"""

from ._errors import (
    ApiError,
    ChatImageError,
    GeweError,
    LarkBotNotEnabled,
    LarkCode,
    LarkError,
    LarkFileNotInMessage,
    LarkImageDeleted,
    LarkImageRejected,
    LarkInvalidRequest,
    LarkNotResourceSender,
    LarkRateLimited,
    LarkSendRefused,
    LarkTenantError,
    LarkTokenError,
    LarkUnauthorized,
    ProtocolError,
    TransportError,
    WidError,
)
from .gewe import (
    FALLBACK_ORDER,
    AsyncGeweClient,
    DownloadedImage,
    GeweClient,
    ImageType,
    SentImage,
)
from .inbound import (
    GeweImageMessage,
    LarkImageMessage,
    WidImageMessage,
    decrypt_lark_event,
    parse_gewe_callback,
    parse_lark_event,
    parse_wid_callback,
)
from .lark import (
    FEISHU,
    LARK,
    AsyncLarkClient,
    LarkClient,
    RateLimitPolicy,
    SentMessage,
)
from .wid import AsyncWidClient, WidClient

__all__ = [
    "FALLBACK_ORDER", "FEISHU", "LARK",
    "ApiError", "AsyncGeweClient", "AsyncLarkClient", "AsyncWidClient", "ChatImageError",
    "DownloadedImage", "GeweClient", "GeweError", "GeweImageMessage", "ImageType",
    "LarkBotNotEnabled", "LarkClient", "LarkCode", "LarkError", "LarkFileNotInMessage",
    "LarkImageDeleted", "LarkImageMessage", "LarkImageRejected", "LarkInvalidRequest",
    "LarkNotResourceSender", "LarkRateLimited", "LarkSendRefused", "LarkTenantError",
    "LarkTokenError", "LarkUnauthorized", "ProtocolError", "RateLimitPolicy", "SentImage",
    "SentMessage", "TransportError", "WidClient", "WidError", "WidImageMessage",
    "decrypt_lark_event", "parse_gewe_callback", "parse_lark_event", "parse_wid_callback",
]
