"""GeWe: send, download and forward images (``/message/postImage``, ``downloadImage``,
``forwardImage``), and register where received messages go (``/tools/setCallback``).

GeWe answers every call with HTTP 200; a refusal is ``ret`` other than 200 in the body
(vendor notes 1.2), raised here as ``GeweError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import httpx

from ._errors import GeweError, ProtocolError
from ._http import (
    DEFAULT_TIMEOUT,
    AsyncClientBase,
    ClientBase,
    Flow,
    Send,
    base_url_of,
    json_object,
)
from ._xml import forward_xml, without_sender_prefix

TOKEN_HEADER = "X-GEWE-TOKEN"
OK = 200


class ImageType(IntEnum):
    """downloadImage's ``type``: which copy of a received image to fetch."""

    HD = 1
    NORMAL = 2
    THUMB = 3


# "If a download fails, try the other two types" (downloadImage doc). Order: the requested type,
# then the nearest size, the larger one on a tie, so a fallback stays close to what was asked.
FALLBACK_ORDER: Mapping[ImageType, tuple[ImageType, ...]] = {
    ImageType.HD: (ImageType.HD, ImageType.NORMAL, ImageType.THUMB),
    ImageType.NORMAL: (ImageType.NORMAL, ImageType.HD, ImageType.THUMB),
    ImageType.THUMB: (ImageType.THUMB, ImageType.NORMAL, ImageType.HD),
}


@dataclass(frozen=True)
class SentImage:
    """What postImage and forwardImage answer: the message ids and the image's CDN info.

    ``new_msg_id`` is a 19-digit id, past 2**53: it is read as an exact int.
    """

    to_wxid: str
    create_time: int
    msg_id: int
    new_msg_id: int
    type: Any
    aes_key: str
    file_id: str
    length: int
    width: int
    height: int
    md5: str

    @classmethod
    def from_data(cls, data: Any) -> SentImage:
        """The ``data`` of a postImage or forwardImage reply; ProtocolError if it is not one."""
        return _sent_image(data)

    def forward_xml(self) -> str:
        """The XML forwardImage takes to send this image again without uploading it."""
        return forward_xml(aes_key=self.aes_key, cdn_mid_img_url=self.file_id,
                           length=self.length, md5=self.md5)


@dataclass(frozen=True)
class DownloadedImage:
    """downloadImage's link (valid 7 days; relative on self-hosted GeWe), the type that gave
    it, and every type asked for, in order."""

    file_url: str
    type: ImageType
    tried: tuple[ImageType, ...]


class _GeweCalls:
    """The operations as flows: request building and reply parsing, no I/O."""

    def __init__(self, base_url: str, token: str, app_id: str):
        self.base_url = base_url_of(base_url)
        self.token = token
        self.app_id = app_id

    def post_image(self, to_wxid: str, img_url: str) -> Flow[SentImage]:
        response: httpx.Response = yield Send(
            self._request("postImage", {"toWxid": to_wxid, "imgUrl": img_url}))
        return SentImage.from_data(_data_of(response))

    def forward_image(self, to_wxid: str, image: str | SentImage) -> Flow[SentImage]:
        if isinstance(image, SentImage):
            xml = image.forward_xml()
        else:
            xml = without_sender_prefix(image)
        response: httpx.Response = yield Send(
            self._request("forwardImage", {"toWxid": to_wxid, "xml": xml}))
        return SentImage.from_data(_data_of(response))

    def download_image(self, xml: str, image_type: ImageType,
                       fallback: bool) -> Flow[DownloadedImage]:
        requested = ImageType(image_type)
        order = FALLBACK_ORDER[requested] if fallback else (requested,)
        xml = without_sender_prefix(xml)
        failures: list[tuple[int, GeweError]] = []
        for candidate in order:
            response: httpx.Response = yield Send(
                self._request("downloadImage", {"xml": xml, "type": int(candidate)}))
            try:
                data = _data_of(response)
            except GeweError as error:
                failures.append((candidate, error))
                if not _another_type_may_help(error):
                    break
                continue
            tried = (*(ImageType(t) for t, _ in failures), candidate)
            return DownloadedImage(file_url=_file_url(data), type=candidate, tried=tried)
        last = failures[-1][1]
        last.attempts = tuple(failures)
        raise last

    def set_callback(self, callback_url: str) -> Flow[None]:
        # The token goes in the body as well as the header (Devo919/Gewechat#64, #199).
        response: httpx.Response = yield Send(httpx.Request(
            "POST", f"{self.base_url}/tools/setCallback",
            json={"token": self.token, "callbackUrl": callback_url},
            headers={TOKEN_HEADER: self.token}))
        _data_of(response)

    def _request(self, operation: str, body: dict[str, Any]) -> httpx.Request:
        return httpx.Request("POST", f"{self.base_url}/message/{operation}",
                             json={"appId": self.app_id, **body},
                             headers={TOKEN_HEADER: self.token})


def _another_type_may_help(error: GeweError) -> bool:
    """Only an operation failure about the image itself; token, XML and device failures would
    fail the same way for every type."""
    return error.data_msg is not None and not (error.device_not_found or error.wechat_offline)


def _data_of(response: httpx.Response) -> Any:
    payload = json_object(response, "GeWe")
    ret = payload.get("ret")
    if not isinstance(ret, int) or isinstance(ret, bool):
        raise ProtocolError("GeWe reply has no integer ret", http_status=response.status_code,
                            body=response.text)
    if ret != OK:
        data = payload.get("data")
        cause = data if isinstance(data, dict) else {}
        code, msg = cause.get("code"), cause.get("msg")
        raise GeweError(ret, str(payload.get("msg", "")), None if code is None else str(code),
                        None if msg is None else str(msg))
    return payload.get("data")


def _sent_image(data: Any) -> SentImage:
    if not isinstance(data, dict):
        raise ProtocolError(f"GeWe reply's data is not an object: {data!r}")
    try:
        return SentImage(
            to_wxid=_field(data, "toWxid", str), create_time=_field(data, "createTime", int),
            msg_id=_field(data, "msgId", int), new_msg_id=_big_int(data, "newMsgId"),
            type=data.get("type"), aes_key=_field(data, "aesKey", str),
            file_id=_field(data, "fileId", str), length=_field(data, "length", int),
            width=_field(data, "width", int), height=_field(data, "height", int),
            md5=_field(data, "md5", str))
    except KeyError as exc:
        raise ProtocolError(f"GeWe reply's data lacks {exc.args[0]}: {data!r}") from None


def _file_url(data: Any) -> str:
    url = data.get("fileUrl") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url:
        raise ProtocolError(f"GeWe downloadImage reply has no fileUrl: {data!r}")
    return url


def _field(data: Mapping[str, Any], name: str, kind: type) -> Any:
    value = data[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProtocolError(f"GeWe reply's {name} is not {kind.__name__}: {value!r}")
    return value


def _big_int(data: Mapping[str, Any], name: str) -> int:
    """Ids past 2**53 come as JSON numbers or, in some captures, strings (vendor notes 1.5)."""
    value = data[name]
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 30:
        return int(value)
    return int(_field(data, name, int))


class GeweClient(ClientBase):
    """GeWe's image API for one device (``app_id``) of one account (``token``).

    ``base_url`` is the API root the operations hang under: ``http://api.geweapi.com/gewe/v2/api``
    for the hosted service, ``http://<host>:2531/v2/api`` for the self-hosted image.
    ``transport`` replaces the network (``httpx.WSGITransport``, ``httpx.MockTransport``).
    """

    def __init__(self, base_url: str, token: str, app_id: str, *,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None):
        self._calls = _GeweCalls(base_url, token, app_id)
        super().__init__(timeout=timeout, transport=transport)

    def post_image(self, to_wxid: str, img_url: str) -> SentImage:
        """Send the image at ``img_url`` to a friend's wxid or a ``…@chatroom`` group."""
        return self._run(self._calls.post_image(to_wxid, img_url))

    def download_image(self, xml: str, type: ImageType = ImageType.NORMAL, *,
                       fallback: bool = False) -> DownloadedImage:
        """A link to a received image, from its callback XML (a group's sender prefix is cut).

        Not every image has every copy; with ``fallback`` the other types are tried when the
        requested one fails (order in ``FALLBACK_ORDER``). If all fail, the last ``GeweError``
        is raised with every ``(type, error)`` in its ``attempts``.
        """
        return self._run(self._calls.download_image(xml, type, fallback))

    def forward_image(self, to_wxid: str, xml_or_sent_image: str | SentImage) -> SentImage:
        """Send an image again without uploading it: pass a received message's XML, or what
        ``post_image`` returned (its CDN info is assembled into the XML)."""
        return self._run(self._calls.forward_image(to_wxid, xml_or_sent_image))

    def set_callback(self, callback_url: str) -> None:
        """Have GeWe POST the account's messages (``AddMsg`` callbacks) to ``callback_url``.

        The registration is per token, not per device. Read the callbacks with
        ``chatimg.inbound.parse_gewe_callback``; the same one may come twice.
        """
        self._run(self._calls.set_callback(callback_url))


class AsyncGeweClient(AsyncClientBase):
    """``GeweClient`` for asyncio; same arguments, same flows, awaitable methods."""

    def __init__(self, base_url: str, token: str, app_id: str, *,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
                 transport: httpx.AsyncBaseTransport | None = None):
        self._calls = _GeweCalls(base_url, token, app_id)
        super().__init__(timeout=timeout, transport=transport)

    async def post_image(self, to_wxid: str, img_url: str) -> SentImage:
        """See ``GeweClient.post_image``."""
        return await self._run(self._calls.post_image(to_wxid, img_url))

    async def download_image(self, xml: str, type: ImageType = ImageType.NORMAL, *,
                             fallback: bool = False) -> DownloadedImage:
        """See ``GeweClient.download_image``."""
        return await self._run(self._calls.download_image(xml, type, fallback))

    async def forward_image(self, to_wxid: str, xml_or_sent_image: str | SentImage) -> SentImage:
        """See ``GeweClient.forward_image``."""
        return await self._run(self._calls.forward_image(to_wxid, xml_or_sent_image))

    async def set_callback(self, callback_url: str) -> None:
        """See ``GeweClient.set_callback``."""
        await self._run(self._calls.set_callback(callback_url))
