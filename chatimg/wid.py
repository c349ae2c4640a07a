"""The WeChat instance ("wid", 微控 / E云管家) API: ``POST /getMsgImg`` and
``POST /setHttpCallbackUrl``.

Replies are ``{code, message, data}`` with HTTP 200. The document's examples and real clients
use the string ``"1000"`` for success; its table says an int. Both are accepted, as are both
documented shapes of ``data``: the URL itself (local document) or ``{"url": ...}`` (public one).
"""

from __future__ import annotations

from typing import Any

import httpx

from ._errors import ProtocolError, WidError
from ._http import (
    DEFAULT_TIMEOUT,
    AsyncClientBase,
    ClientBase,
    Flow,
    Send,
    base_url_of,
    json_object,
)

SUCCESS = "1000"
NORMAL, HD = 0, 1  # getMsgImg's optional type (public document only); clients send 0
HOSTED_CALLBACK_TYPE = 2  # setHttpCallbackUrl's type, as hosted clients send it (vendor notes 2.3)


class _WidCalls:
    """getMsgImg and setHttpCallbackUrl as flows: request building and reply parsing, no I/O."""

    def __init__(self, base_url: str, authorization: str, w_id: str):
        self.base_url = base_url_of(base_url)
        self.authorization = authorization
        self.w_id = w_id

    def get_msg_img(self, msg_id: int | str, from_user: str, to_user: str, content: str,
                    hd: bool) -> Flow[str]:
        body = {"wId": self.w_id, "msgId": msg_id, "fromUser": from_user, "toUser": to_user,
                "content": content, "type": HD if hd else NORMAL}
        response: httpx.Response = yield Send(self._request("getMsgImg", body))
        return _url_of(_data_of(response))

    def set_callback_url(self, http_url: str, callback_type: int | None) -> Flow[None]:
        body: dict[str, Any] = {"httpUrl": http_url}
        if callback_type is not None:
            body["type"] = callback_type
        response: httpx.Response = yield Send(self._request("setHttpCallbackUrl", body))
        _data_of(response)

    def _request(self, operation: str, body: dict[str, Any]) -> httpx.Request:
        return httpx.Request("POST", f"{self.base_url}/{operation}", json=body,
                             headers={"Authorization": self.authorization})


def _data_of(response: httpx.Response) -> Any:
    """The reply's ``data``, or its refusal raised as ``WidError``."""
    payload = json_object(response, "wid")
    code = payload.get("code")
    if not isinstance(code, str | int) or isinstance(code, bool):
        raise ProtocolError("wid reply has no code", http_status=response.status_code,
                            body=response.text)
    if str(code) != SUCCESS:
        # The document's table names the text field "msg", its examples "message".
        message = payload.get("message", payload.get("msg", ""))
        raise WidError(str(code), str(message))
    return payload.get("data")


def _url_of(data: Any) -> str:
    url = data.get("url") if isinstance(data, dict) else data
    if not isinstance(url, str) or not url:
        raise ProtocolError(f"wid reply's data is neither a URL nor {{url}}: {data!r}")
    return url


class WidClient(ClientBase):
    """The wid API for one WeChat instance (``w_id``), with the login's ``authorization``.

    ``base_url`` is the service root, e.g. ``http://localhost:18081`` for a private deployment;
    ``transport`` replaces the network (``httpx.WSGITransport``, ``httpx.MockTransport``).
    """

    def __init__(self, base_url: str, authorization: str, w_id: str, *,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None):
        self._calls = _WidCalls(base_url, authorization, w_id)
        super().__init__(timeout=timeout, transport=transport)

    def get_msg_img(self, msg_id: int | str, from_user: str, to_user: str, content: str, *,
                    hd: bool = False) -> str:
        """The URL of a received image, from its callback's ids and XML ``content``."""
        return self._run(self._calls.get_msg_img(msg_id, from_user, to_user, content, hd))

    def set_callback_url(self, http_url: str, type: int | None = HOSTED_CALLBACK_TYPE) -> None:
        """Have the instance's messages POSTed to ``http_url``.

        ``type`` is sent as hosted clients send it (2); ``None`` leaves it out, as the
        document's own example does. The vendor drops a callback the bot has not taken within
        6 s. Read them with ``chatimg.inbound.parse_wid_callback``; one may come twice.
        """
        self._run(self._calls.set_callback_url(http_url, type))


class AsyncWidClient(AsyncClientBase):
    """``WidClient`` for asyncio; same arguments, same flow, awaitable methods."""

    def __init__(self, base_url: str, authorization: str, w_id: str, *,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
                 transport: httpx.AsyncBaseTransport | None = None):
        self._calls = _WidCalls(base_url, authorization, w_id)
        super().__init__(timeout=timeout, transport=transport)

    async def get_msg_img(self, msg_id: int | str, from_user: str, to_user: str, content: str,
                          *, hd: bool = False) -> str:
        """See ``WidClient.get_msg_img``."""
        return await self._run(self._calls.get_msg_img(msg_id, from_user, to_user, content, hd))

    async def set_callback_url(self, http_url: str,
                               type: int | None = HOSTED_CALLBACK_TYPE) -> None:
        """See ``WidClient.set_callback_url``."""
        await self._run(self._calls.set_callback_url(http_url, type))
