"""Lark / Feishu images: upload (``POST /open-apis/im/v1/images``), download
(``GET /open-apis/im/v1/images/{image_key}``), download what users sent
(``GET /open-apis/im/v1/messages/{message_id}/resources/{file_key}``) and send an image
(``POST /open-apis/im/v1/messages``), with the tenant token handled for the caller.

The token is fetched on first use, kept until shortly before it expires, and fetched again
once when a call is refused for its token (as the Go SDK does). Rate limits (HTTP 429 or
99991400) are waited out as ``x-ogw-ratelimit-reset`` asks, within a ``RateLimitPolicy``.
A download of an image that answers success with bytes that are not one (empty, a proxy's
page) raises ``ProtocolError``, and nothing of them reaches a file.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal
from urllib.parse import quote

import httpx

from . import _lark_replies as replies
from ._errors import ProtocolError
from ._http import (
    DEFAULT_TIMEOUT,
    AsyncClientBase,
    ClientBase,
    Flow,
    Send,
    Sink,
    Sleep,
    base_url_of,
    json_object,
)
from ._lark_token import TenantTokenCache

FEISHU = "https://open.feishu.cn"
LARK = "https://open.larksuite.com"
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
IMAGES_PATH = "/open-apis/im/v1/images"
MESSAGES_PATH = "/open-apis/im/v1/messages"

ImageSource = bytes | str | os.PathLike[str] | IO[bytes]
UploadType = Literal["message", "avatar"]
ResourceType = Literal["image", "file"]
ReceiveIdType = Literal["open_id", "user_id", "union_id", "email", "chat_id"]
Target = str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True)
class RateLimitPolicy:
    """How long to wait out a rate limit before raising ``LarkRateLimited``.

    Each wait is what ``x-ogw-ratelimit-reset`` says; without it, ``backoff`` seconds doubled
    on each retry. A wait that would take the total past ``max_total_wait`` is not started.
    """

    max_attempts: int = 4
    max_total_wait: float = 30.0
    backoff: float = 1.0

    def delay(self, response: httpx.Response, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th send was rate limited."""
        reset = replies.retry_after(response)
        return reset if reset is not None else self.backoff * 2 ** (attempt - 1)


@dataclass(frozen=True)
class SentMessage:
    """What sending a message answers: its id, the chat it went to, and its content.

    ``create_time`` is Lark's string of epoch milliseconds, kept as sent; ``create_time_ms``
    reads it as a number.
    """

    message_id: str
    chat_id: str
    msg_type: str
    create_time: str | None = None
    content: str | None = None

    @property
    def create_time_ms(self) -> int | None:
        """``create_time`` as an int, or None when it is absent or not digits."""
        text = self.create_time
        return int(text) if text and text.isascii() and text.isdigit() else None


class _LarkCalls:
    """Token, upload, downloads and sending as flows: requests, replies and retries, no I/O."""

    def __init__(self, app_id: str, app_secret: str, base_url: str,
                 clock: Callable[[], float], refresh_margin: float, rate_limit: RateLimitPolicy):
        self.app_id = app_id
        self.app_secret = app_secret
        self.base_url = base_url_of(base_url)
        self.tokens = TenantTokenCache(clock, refresh_margin)
        self.rate_limit = rate_limit

    def upload_image(self, image: ImageSource, image_type: UploadType) -> Flow[str]:
        filename, content = _read_image(image)

        def request(token: str) -> httpx.Request:
            # httpx writes form fields before files: image_type, then image, as the SDK does.
            return httpx.Request("POST", self.base_url + IMAGES_PATH, headers=_bearer(token),
                                 data={"image_type": image_type},
                                 files={"image": (filename, content)})

        response = yield from self._authorized(request)
        return replies.image_key_of(response)

    def download_image(self, image_key: str, sink: Sink | None = None) -> Flow[bytes]:
        url = f"{self.base_url}{IMAGES_PATH}/{quote(image_key, safe='')}"
        return (yield from self._image(
            lambda token: httpx.Request("GET", url, headers=_bearer(token)), sink))

    def download_message_resource(self, message_id: str, file_key: str, resource_type: str,
                                  sink: Sink | None = None) -> Flow[bytes]:
        url = (f"{self.base_url}{MESSAGES_PATH}/{quote(message_id, safe='')}"
               f"/resources/{quote(file_key, safe='')}")

        def request(token: str) -> httpx.Request:
            return httpx.Request("GET", url, params={"type": resource_type},
                                 headers=_bearer(token))

        if resource_type == "image":
            return (yield from self._image(request, sink))
        response = yield from self._authorized(request, sink)
        return b"" if sink is not None else response.content

    def _image(self, request_for: Callable[[str], httpx.Request],
               sink: Sink | None) -> Flow[bytes]:
        """The image's bytes, or b"" once they went to ``sink``; a success that is not an image
        raises ProtocolError and none of it reaches the sink."""
        kept = io.BytesIO()
        image = replies.ImageSink(kept if sink is None else sink)
        response = yield from self._authorized(request_for, image)
        image.finish(response)
        return kept.getvalue()

    def send_image(self, receive_id: str, image_key: str, receive_id_type: str,
                   uuid: str | None) -> Flow[SentMessage]:
        body: dict[str, Any] = {
            "receive_id": receive_id, "msg_type": "image",
            # content is a JSON *string*, not an object (send-message document)
            "content": json.dumps({"image_key": image_key}, separators=(",", ":"))}
        if uuid is not None:
            body["uuid"] = uuid
        response = yield from self._authorized(
            lambda token: httpx.Request("POST", self.base_url + MESSAGES_PATH,
                                        params={"receive_id_type": receive_id_type},
                                        json=body, headers=_bearer(token)))
        return _sent_message(response)

    def _authorized(self, request_for: Callable[[str], httpx.Request],
                    sink: Sink | None = None) -> Flow[httpx.Response]:
        token = yield from self._token()
        response = yield from self._send(lambda: request_for(token), sink)
        if replies.is_token_rejected(response):
            self.tokens.drop(token)
            token = yield from self._token()
            response = yield from self._send(lambda: request_for(token), sink)
        if (error := replies.error_of(response)) is not None:
            raise error
        return response

    def _token(self) -> Flow[str]:
        token = self.tokens.current()
        if token is None:
            body = {"app_id": self.app_id, "app_secret": self.app_secret}
            response = yield from self._send(
                lambda: httpx.Request("POST", self.base_url + TOKEN_PATH, json=body))
            token, expire = replies.token_grant(response)
            self.tokens.store(token, expire)
        return token

    def _send(self, request_for: Callable[[], httpx.Request],
              sink: Sink | None = None) -> Flow[httpx.Response]:
        attempt, waited = 1, 0.0
        while True:
            response: httpx.Response = yield Send(request_for(), sink=sink,
                                                  stream_if=replies.is_payload)
            if not replies.is_rate_limited(response):
                return response
            delay = self.rate_limit.delay(response, attempt)
            if (attempt >= self.rate_limit.max_attempts
                    or waited + delay > self.rate_limit.max_total_wait):
                raise replies.rate_limited_error(response, attempts=attempt, waited=waited)
            yield Sleep(delay)
            attempt, waited = attempt + 1, waited + delay


def _sent_message(response: httpx.Response) -> SentMessage:
    payload = json_object(response, "Lark")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ProtocolError("Lark send reply has no data object", body=response.text)
    message_id, chat_id, msg_type = (data.get(name) for name in
                                     ("message_id", "chat_id", "msg_type"))
    if not (isinstance(message_id, str) and isinstance(chat_id, str)
            and isinstance(msg_type, str)):
        raise ProtocolError("Lark send reply lacks message_id, chat_id or msg_type",
                            body=response.text)
    create_time, body = data.get("create_time"), data.get("body")
    content = body.get("content") if isinstance(body, dict) else None
    return SentMessage(message_id, chat_id, msg_type,
                       create_time=create_time if isinstance(create_time, str) else None,
                       content=content if isinstance(content, str) else None)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _read_image(image: ImageSource) -> tuple[str, bytes]:
    """The part's file name and bytes. Read whole: Lark caps images at 10 MB, and a retry
    must be able to send them again."""
    if isinstance(image, bytes | bytearray | memoryview):
        return "image", bytes(image)
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        return path.name, path.read_bytes()
    name = getattr(image, "name", None)
    return (Path(name).name if isinstance(name, str) else "image"), image.read()


class _FileTarget:
    """A path written as chunks arrive. Opened on the first chunk and removed if the download
    fails midway, so a refused download leaves no empty or partial file behind."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._file: IO[bytes] | None = None

    def write(self, chunk: bytes) -> int:
        if self._file is None:
            self._file = self.path.open("wb")
        return self._file.write(chunk)

    def __enter__(self) -> _FileTarget:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._file is not None:
            self._file.close()
            if exc is not None:
                self.path.unlink(missing_ok=True)
        elif exc is None:  # an empty file (type "file") is still a file
            self.path.write_bytes(b"")


def _sink_for(target: Target) -> AbstractContextManager[Sink]:
    if isinstance(target, str | os.PathLike):
        return _FileTarget(target)
    return nullcontext(target)


class LarkClient(ClientBase):
    """Lark's image and image-message APIs as one app (``app_id``, ``app_secret``) of its tenant.

    ``base_url`` is ``FEISHU`` (default) or ``LARK``. The token is fetched again
    ``refresh_margin`` seconds before Lark says it expires (at most a tenth of its life), by
    ``clock``; rate limits are waited out with ``sleep`` within ``rate_limit``. Both are
    injectable so tests need not wait; ``transport`` replaces the network
    (``httpx.WSGITransport``, ``httpx.MockTransport``).
    """

    def __init__(self, app_id: str, app_secret: str, *, base_url: str = FEISHU,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None,
                 rate_limit: RateLimitPolicy | None = None, refresh_margin: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._calls = _LarkCalls(app_id, app_secret, base_url, clock, refresh_margin,
                                 rate_limit or RateLimitPolicy())
        super().__init__(timeout=timeout, transport=transport, sleep=sleep)

    def upload_image(self, image: ImageSource, image_type: UploadType = "message") -> str:
        """Upload an image (bytes, a path, or a binary file) and return its ``image_key``.

        ``image_type`` is ``"message"`` (to send in messages) or ``"avatar"``.
        """
        return self._run(self._calls.upload_image(image, image_type))

    def download_image(self, image_key: str) -> bytes:
        """The bytes of an image this app uploaded as ``"message"``.

        Images users sent come through ``download_message_resource`` instead; asking here for
        one raises ``LarkNotResourceSender``. A reply whose bytes are not an image (JPEG, PNG,
        GIF, WEBP, BMP, ICO, TIFF, HEIC / HEIF / AVIF) raises ``ProtocolError``.
        """
        return self._run(self._calls.download_image(image_key))

    def download_image_to(self, image_key: str, target: Target) -> None:
        """Stream an image into ``target``: a path (no file is left if the download fails)
        or a binary file opened for writing."""
        with _sink_for(target) as sink:
            self._run(self._calls.download_image(image_key, sink))

    def download_message_resource(self, message_id: str, file_key: str,
                                  type: ResourceType = "image") -> bytes:
        """The bytes of a file in a message, e.g. an image a user sent the bot.

        For an image message, ``file_key`` is the ``image_key`` of the event's content
        (``chatimg.inbound.parse_lark_event`` reads both). A key that is not in that message
        raises ``LarkFileNotInMessage``. The bot must be in the chat. With ``type="image"``,
        bytes that are not an image raise ``ProtocolError``, as in ``download_image``.
        """
        return self._run(self._calls.download_message_resource(message_id, file_key, type))

    def download_message_resource_to(self, message_id: str, file_key: str, target: Target,
                                     type: ResourceType = "image") -> None:
        """Stream a message's file into ``target``, as ``download_image_to`` does."""
        with _sink_for(target) as sink:
            self._run(self._calls.download_message_resource(message_id, file_key, type, sink))

    def send_image(self, receive_id: str, image_key: str,
                   receive_id_type: ReceiveIdType = "open_id", *,
                   uuid: str | None = None) -> SentMessage:
        """Send an image this app uploaded (as ``"message"``) to a user or a chat.

        ``receive_id_type`` says what ``receive_id`` is: ``"open_id"`` (``ou_…``), ``"chat_id"``
        (``oc_…``), ... A ``uuid`` (at most 50 characters) makes Lark send the message once
        however often it is asked within an hour. Refusals raise ``LarkSendRefused``.
        """
        return self._run(self._calls.send_image(receive_id, image_key, receive_id_type, uuid))


class AsyncLarkClient(AsyncClientBase):
    """``LarkClient`` for asyncio; same arguments (``sleep`` is awaitable), same flows."""

    def __init__(self, app_id: str, app_secret: str, *, base_url: str = FEISHU,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
                 transport: httpx.AsyncBaseTransport | None = None,
                 rate_limit: RateLimitPolicy | None = None, refresh_margin: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] | None = None):
        self._calls = _LarkCalls(app_id, app_secret, base_url, clock, refresh_margin,
                                 rate_limit or RateLimitPolicy())
        super().__init__(timeout=timeout, transport=transport, sleep=sleep)

    async def upload_image(self, image: ImageSource, image_type: UploadType = "message") -> str:
        """See ``LarkClient.upload_image``."""
        return await self._run(self._calls.upload_image(image, image_type))

    async def download_image(self, image_key: str) -> bytes:
        """See ``LarkClient.download_image``."""
        return await self._run(self._calls.download_image(image_key))

    async def download_image_to(self, image_key: str, target: Target) -> None:
        """See ``LarkClient.download_image_to``."""
        with _sink_for(target) as sink:
            await self._run(self._calls.download_image(image_key, sink))

    async def download_message_resource(self, message_id: str, file_key: str,
                                        type: ResourceType = "image") -> bytes:
        """See ``LarkClient.download_message_resource``."""
        return await self._run(self._calls.download_message_resource(message_id, file_key, type))

    async def download_message_resource_to(self, message_id: str, file_key: str,
                                           target: Target, type: ResourceType = "image") -> None:
        """See ``LarkClient.download_message_resource_to``."""
        with _sink_for(target) as sink:
            await self._run(self._calls.download_message_resource(message_id, file_key, type,
                                                                  sink))

    async def send_image(self, receive_id: str, image_key: str,
                         receive_id_type: ReceiveIdType = "open_id", *,
                         uuid: str | None = None) -> SentMessage:
        """See ``LarkClient.send_image``."""
        return await self._run(self._calls.send_image(receive_id, image_key, receive_id_type,
                                                      uuid))
