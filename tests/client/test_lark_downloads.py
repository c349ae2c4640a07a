"""A Lark image download brings an image or raises: a 2xx whose bytes are not one (empty, an
HTML page, a JSON envelope) is a ProtocolError saying what came, for every download method,
streamed or not, sync or async, and nothing of it reaches a file or a sink."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from _support import APP_A, LARK_TOKEN_PATH, PNG, lark_client

from chatimg import AsyncLarkClient, LarkClient, ProtocolError
from mockserver import LiveServer
from mockserver.data_files import fixture_image

USER = "ou_84aad35d084aa403a838cf73ee18467"
HTML_PAGE = b"<!DOCTYPE html><html><body>Please sign in to the Wi-Fi</body></html>"

# The formats Lark takes (image-upload document), as their first bytes show them.
IMAGES = {
    "jpeg": fixture_image("landscape.jpg"),
    "png": PNG,
    "gif": fixture_image("tiny.gif"),
    "webp": fixture_image("photo.webp"),
    "tiff": fixture_image("scan.tiff"),
    "tiff-big-endian": b"MM\x00*\x00\x00\x00\x08" + bytes(32),
    "bmp": b"BM" + (70).to_bytes(4, "little") + bytes(64),
    "ico": b"\x00\x00\x01\x00\x01\x00" + bytes(32),
    "heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(16),
    "heif": b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic" + bytes(16),
    "avif": b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(16),
}
NOT_IMAGES = {
    "html-page": (HTML_PAGE, "text/html; charset=utf-8", "text/html"),
    "json-success": (b'{"code":0,"msg":"success"}', "application/json", "application/json"),
    "text-as-png": (b"This file is not an image.", "image/png", "image/png"),
    "wav-in-riff": (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(16), "image/webp", "image/webp"),
    "mp4-in-ftyp": (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + bytes(16), "image/heic",
                    "image/heic"),
    "png-signature-cut-short": (PNG[:4], "image/png", "image/png"),
    "text-without-a-type": (b"not an image", None, "no stated type"),
}


def async_lark_client(server: LiveServer) -> AsyncLarkClient:
    return AsyncLarkClient(APP_A.app_id, APP_A.app_secret, base_url=server.url, timeout=10)


@contextmanager
def lark_answering(body: bytes, content_type: str | None) -> Iterator[LiveServer]:
    """A Lark on a real socket that grants a token and answers every download with HTTP 200,
    ``body`` and ``content_type`` (None: no Content-Type), as a proxy in the way can."""
    def download(rest: str) -> flask.Response:
        reply = flask.Response(body, 200)
        if content_type is None:
            del reply.headers["Content-Type"]
        else:
            reply.headers["Content-Type"] = content_type
        return reply

    app = flask.Flask("lark_answering")
    app.add_url_rule(LARK_TOKEN_PATH, "token", methods=["POST"], view_func=lambda: {
        "code": 0, "msg": "ok", "tenant_access_token": "t-stub", "expire": 7200})
    app.add_url_rule("/open-apis/im/v1/<path:rest>", "download", view_func=download)
    with LiveServer(app=app) as server:
        yield server


def arm(server: LiveServer, operation: str, **fault: Any) -> None:
    """Every ``operation`` call from now on answers with ``fault`` (a rule of the mock)."""
    answer = httpx.post(server.url + "/__admin/rules",
                        json={"operation": operation, "fault": fault})
    assert answer.status_code == 201, answer.text


def user_sends(server: LiveServer) -> tuple[str, str]:
    """A user sends the app an image: its message_id and image_key."""
    message = server.send_image("lark", image=PNG, sender_open_id=USER)
    return message["message_id"], message["image_key"]


def assert_empty_body_error(error: ProtocolError) -> None:
    assert error.http_status == 200
    assert "empty body" in str(error)


# --- the mock's empty fault: HTTP 200 and no bytes ----------------------------------------------


def test_empty_image_download_raises_protocol_error(lark: LarkClient,
                                                    server: LiveServer) -> None:
    image_key = lark.upload_image(PNG)
    arm(server, "getImage", fault="empty")

    with pytest.raises(ProtocolError) as caught:
        lark.download_image(image_key)

    assert_empty_body_error(caught.value)
    assert str(caught.value) == "Lark answered an image download with an empty body (HTTP 200)"


def test_empty_image_streamed_to_a_path_raises_and_leaves_no_file(
        lark: LarkClient, server: LiveServer, tmp_path: Path) -> None:
    image_key = lark.upload_image(PNG)
    arm(server, "getImage", fault="empty")

    with pytest.raises(ProtocolError) as caught:
        lark.download_image_to(image_key, tmp_path / "out.png")

    assert_empty_body_error(caught.value)
    assert not (tmp_path / "out.png").exists()


def test_empty_image_streamed_to_an_open_file_raises(lark: LarkClient,
                                                     server: LiveServer) -> None:
    image_key = lark.upload_image(PNG)
    arm(server, "getImage", fault="empty")

    with pytest.raises(ProtocolError) as caught:
        lark.download_image_to(image_key, io.BytesIO())

    assert_empty_body_error(caught.value)


def test_empty_message_resource_image_raises_protocol_error(lark: LarkClient,
                                                            server: LiveServer) -> None:
    message_id, image_key = user_sends(server)
    arm(server, "getMessageResource", fault="empty")

    with pytest.raises(ProtocolError) as caught:
        lark.download_message_resource(message_id, image_key)

    assert_empty_body_error(caught.value)


def test_empty_message_resource_image_streamed_to_a_path_leaves_no_file(
        lark: LarkClient, server: LiveServer, tmp_path: Path) -> None:
    message_id, image_key = user_sends(server)
    arm(server, "getMessageResource", fault="empty")

    with pytest.raises(ProtocolError) as caught:
        lark.download_message_resource_to(message_id, image_key, tmp_path / "got.png")

    assert_empty_body_error(caught.value)
    assert not (tmp_path / "got.png").exists()


def test_empty_message_resource_of_type_file_is_an_empty_file(
        lark: LarkClient, server: LiveServer, tmp_path: Path) -> None:
    message_id, image_key = user_sends(server)
    arm(server, "getMessageResource", fault="empty")

    data = lark.download_message_resource(message_id, image_key, type="file")
    lark.download_message_resource_to(message_id, image_key, tmp_path / "got", type="file")

    assert data == b""
    assert (tmp_path / "got").read_bytes() == b""


def test_async_empty_downloads_raise_protocol_error_and_leave_no_file(
        server: LiveServer, tmp_path: Path) -> None:
    with lark_client(server) as lark:
        image_key = lark.upload_image(PNG)
    message_id, file_key = user_sends(server)
    arm(server, "getImage", fault="empty")
    arm(server, "getMessageResource", fault="empty")

    async def outcomes() -> list[Any]:
        async with async_lark_client(server) as client:
            return await asyncio.gather(
                client.download_image(image_key),
                client.download_image_to(image_key, tmp_path / "out.png"),
                client.download_message_resource(message_id, file_key),
                client.download_message_resource_to(message_id, file_key, tmp_path / "got.png"),
                return_exceptions=True)

    raised = asyncio.run(outcomes())

    for error in raised:
        assert isinstance(error, ProtocolError), error
        assert_empty_body_error(error)
    assert list(tmp_path.iterdir()) == []


def test_image_trickled_in_one_byte_chunks_streams_whole(lark: LarkClient, server: LiveServer,
                                                         tmp_path: Path) -> None:
    image_key = lark.upload_image(PNG)
    arm(server, "getImage", fault="trickle", chunk=1, interval_ms=0)

    lark.download_image_to(image_key, tmp_path / "out.png")

    assert (tmp_path / "out.png").read_bytes() == PNG


# --- a 200 whose bytes are not an image -------------------------------------------------------


@pytest.mark.parametrize("image", IMAGES.values(), ids=IMAGES.keys())
def test_every_format_lark_takes_downloads_as_its_bytes(image: bytes) -> None:
    with lark_answering(image, "application/octet-stream") as server, \
            lark_client(server) as client:
        data = client.download_image("img_v3_key")

    assert data == image


@pytest.mark.parametrize("body, content_type, said", NOT_IMAGES.values(), ids=NOT_IMAGES.keys())
def test_download_of_bytes_that_are_not_an_image_raises_saying_what_came(
        body: bytes, content_type: str | None, said: str) -> None:
    with lark_answering(body, content_type) as server, lark_client(server) as client:
        with pytest.raises(ProtocolError) as caught:
            client.download_image("img_v3_key")

    assert str(caught.value) == (f"Lark answered an image download with {len(body)} bytes of "
                                 f"{said}, not an image (HTTP 200)")
    assert caught.value.http_status == 200
    assert caught.value.body == body.decode("utf-8", "replace")


@pytest.mark.parametrize("body, content_type", [
    (HTML_PAGE, "text/html"), (b'{"code":0,"msg":"success"}', "application/json")],
    ids=["html-page", "json-success"])
def test_bytes_that_are_not_an_image_reach_neither_a_path_nor_an_open_file(
        body: bytes, content_type: str, tmp_path: Path) -> None:
    sink = io.BytesIO()
    with lark_answering(body, content_type) as server, lark_client(server) as client:
        with pytest.raises(ProtocolError):
            client.download_image_to("img_v3_key", tmp_path / "out.png")
        with pytest.raises(ProtocolError):
            client.download_message_resource_to("om_x", "img_v3_key", sink)

    assert not (tmp_path / "out.png").exists()
    assert sink.getvalue() == b""


def test_message_resource_image_of_an_html_page_raises_but_a_file_is_returned() -> None:
    with lark_answering(HTML_PAGE, "text/html") as server, lark_client(server) as client:
        with pytest.raises(ProtocolError) as caught:
            client.download_message_resource("om_x", "img_v3_key", type="image")
        data = client.download_message_resource("om_x", "file_v3_key", type="file")

    assert "not an image" in str(caught.value)
    assert data == HTML_PAGE


def test_async_download_of_an_html_page_raises_and_writes_nothing() -> None:
    sink = io.BytesIO()

    async def download(server: LiveServer) -> None:
        async with async_lark_client(server) as client:
            await client.download_image_to("img_v3_key", sink)

    with lark_answering(HTML_PAGE, "text/html") as server:
        with pytest.raises(ProtocolError) as caught:
            asyncio.run(download(server))

    assert f"{len(HTML_PAGE)} bytes of text/html, not an image" in str(caught.value)
    assert sink.getvalue() == b""
