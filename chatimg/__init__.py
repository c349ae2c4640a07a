"""Clients for the image APIs of GeWe, the WeChat instance ("wid") API and Lark / Feishu.

Built on httpx. Every client takes its base URL, credentials, ``timeout`` and ``transport``
as arguments, so it runs against the real service, the ``mockserver`` on a socket, or an
in-process app (``httpx.WSGITransport``). Every failure is a ``ChatImageError``; see
``chatimg._errors`` for the tree.
"""

from ._errors import (
    ApiError,
    ChatImageError,
    GeweError,
    LarkBotNotEnabled,
    LarkCode,
    LarkError,
    LarkImageDeleted,
    LarkImageRejected,
    LarkInvalidRequest,
    LarkNotResourceSender,
    LarkRateLimited,
    LarkTenantError,
    LarkTokenError,
    LarkUnauthorized,
    ProtocolError,
    TransportError,
    WidError,
)
from .gewe import FALLBACK_ORDER, AsyncGeweClient, DownloadedImage, GeweClient, ImageType, SentImage
from .lark import FEISHU, LARK, AsyncLarkClient, LarkClient, RateLimitPolicy
from .wid import AsyncWidClient, WidClient

__all__ = [
    "FALLBACK_ORDER", "FEISHU", "LARK",
    "ApiError", "AsyncGeweClient", "AsyncLarkClient", "AsyncWidClient", "ChatImageError",
    "DownloadedImage", "GeweClient", "GeweError", "ImageType", "LarkBotNotEnabled", "LarkClient",
    "LarkCode", "LarkError", "LarkImageDeleted", "LarkImageRejected", "LarkInvalidRequest",
    "LarkNotResourceSender", "LarkRateLimited", "LarkTenantError", "LarkTokenError",
    "LarkUnauthorized", "ProtocolError", "RateLimitPolicy", "SentImage", "TransportError",
    "WidClient", "WidError",
]
