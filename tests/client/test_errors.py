"""The error tree: documented Lark codes by name, and no raw httpx exception ever escapes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

import chatimg
from chatimg import (
    ApiError,
    ChatImageError,
    GeweClient,
    GeweError,
    LarkBotNotEnabled,
    LarkClient,
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
    WidClient,
    WidError,
)

# Every code the vendor notes document for these APIs, and the class it raises.
DOCUMENTED_LARK_CODES: dict[int, type[LarkError]] = {
    234001: LarkInvalidRequest, 234002: LarkUnauthorized, 234005: LarkImageDeleted,
    234006: LarkImageRejected, 234007: LarkBotNotEnabled, 234008: LarkNotResourceSender,
    234010: LarkImageRejected, 234011: LarkImageRejected, 234041: LarkTenantError,
    234042: LarkTenantError, 99991400: LarkRateLimited, 99991661: LarkUnauthorized,
    99991663: LarkUnauthorized, 10003: LarkTokenError, 10014: LarkTokenError,
}

Call = Callable[[str, httpx.BaseTransport | None, float], object]


def call_gewe(base: str, transport: httpx.BaseTransport | None, timeout: float) -> object:
    with GeweClient(base + "/gewe/v2/api", "token", "wx_app", transport=transport,
                    timeout=timeout) as client:
        return client.post_image("wxid_a", "http://x/1x1")


def call_wid(base: str, transport: httpx.BaseTransport | None, timeout: float) -> object:
    with WidClient(base, "authorization", "w_id", transport=transport,
                   timeout=timeout) as client:
        return client.get_msg_img(1, "wxid_a", "wxid_b", "<msg/>")


def call_lark(base: str, transport: httpx.BaseTransport | None, timeout: float) -> object:
    with LarkClient("cli_a", "secret", base_url=base, transport=transport,
                    timeout=timeout) as client:
        return client.download_image("img_v3_key")


CALLS = pytest.mark.parametrize("call", [call_gewe, call_wid, call_lark],
                                ids=["gewe", "wid", "lark"])


@pytest.mark.parametrize("code, error_class", DOCUMENTED_LARK_CODES.items())
def test_each_documented_lark_code_has_a_name_and_a_class(code: int,
                                                           error_class: type[LarkError]) -> None:
    error = LarkError.for_code(code, "msg", "log", 400)
    assert type(error) is error_class and isinstance(error, LarkError)
    assert error.code == LarkCode(code) and error.code.name


def test_named_codes_equal_the_documented_numbers() -> None:
    assert LarkCode.IMAGE_DELETED == 234005
    assert LarkCode.NOT_RESOURCE_SENDER == 234008
    assert LarkCode.INVALID_TENANT_TOKEN == 99991663


@pytest.mark.parametrize("error_class", [GeweError, WidError, LarkError])
def test_vendor_errors_are_api_errors(error_class: type) -> None:
    assert issubclass(error_class, ApiError) and issubclass(error_class, ChatImageError)


def test_every_exported_exception_is_a_chat_image_error() -> None:
    exported = [getattr(chatimg, name) for name in chatimg.__all__]
    exceptions = [e for e in exported if isinstance(e, type) and issubclass(e, BaseException)]
    assert GeweError in exceptions and LarkTokenError in exceptions
    assert all(issubclass(e, ChatImageError) for e in exceptions)


@CALLS
def test_closed_port_raises_transport_error_not_an_httpx_error(call: Call,
                                                               closed_port: int) -> None:
    with pytest.raises(TransportError) as caught:
        call(f"http://127.0.0.1:{closed_port}", None, 5)
    assert not isinstance(caught.value, httpx.HTTPError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@CALLS
def test_server_that_never_answers_raises_transport_error_on_timeout(call: Call,
                                                                     silent_port: int) -> None:
    with pytest.raises(TransportError) as caught:
        call(f"http://127.0.0.1:{silent_port}", None, 0.2)
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)


@CALLS
def test_connection_dropped_mid_reply_raises_transport_error(call: Call) -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    with pytest.raises(TransportError, match="RemoteProtocolError"):
        call("http://vendor.test", httpx.MockTransport(drop), 5)


@CALLS
def test_html_error_page_raises_protocol_error(call: Call) -> None:
    page = httpx.MockTransport(lambda request: httpx.Response(
        503, text="<html>busy</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(ProtocolError) as caught:
        call("http://vendor.test", page, 5)
    assert caught.value.http_status == 503 and "busy" in caught.value.body


@pytest.mark.parametrize("make", [
    lambda url: GeweClient(url, "token", "wx_app"),
    lambda url: WidClient(url, "authorization", "w_id"),
    lambda url: LarkClient("cli_a", "secret", base_url=url),
], ids=["gewe", "wid", "lark"])
@pytest.mark.parametrize("url", ["api.geweapi.com/gewe/v2/api", "ftp://host", "http://[::1"])
def test_base_url_that_is_not_an_http_url_is_refused_at_construction(
        make: Callable[[str], object], url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        make(url)
