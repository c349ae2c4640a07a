"""LarkClient against the mock on a real socket: token, upload, download, every error it gives."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from _support import APP_A, APP_B, FIXTURE_IMAGES, LARK_TOKEN_TTL, PNG, lark_client

from chatimg import (
    LarkBotNotEnabled,
    LarkClient,
    LarkCode,
    LarkImageDeleted,
    LarkImageRejected,
    LarkInvalidRequest,
    LarkNotResourceSender,
    LarkTokenError,
)
from mockserver import LarkApp, LarkConfig, LiveServer, MockConfig
from mockserver.data_files import fixture_image

MAX_UPLOAD = 10 * 1024 * 1024
TOKEN = "POST /open-apis/auth/v3/tenant_access_token/internal"
LOG_ID = re.compile(r"\d{14}[0-9A-F]{20}")


class FrozenClock:
    """The client's clock, standing still unless a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- upload and download ------------------------------------------------------------------


def test_uploaded_image_downloads_as_the_same_bytes(lark: LarkClient) -> None:
    image_key = lark.upload_image(PNG)
    assert image_key.startswith("img_")
    assert lark.download_image(image_key) == PNG


@pytest.mark.parametrize("as_what", ["path", "str", "file"])
def test_upload_takes_a_path_or_an_open_file(lark: LarkClient, as_what: str) -> None:
    path = FIXTURE_IMAGES / "square.png"
    if as_what == "file":
        with path.open("rb") as file:
            image_key = lark.upload_image(file)
    else:
        image_key = lark.upload_image(path if as_what == "path" else str(path))
    assert lark.download_image(image_key) == PNG


def test_download_image_to_a_path_writes_the_image(lark: LarkClient, tmp_path: Path) -> None:
    image_key = lark.upload_image(PNG)
    lark.download_image_to(image_key, tmp_path / "out.png")
    assert (tmp_path / "out.png").read_bytes() == PNG


def test_download_image_to_an_open_file_writes_the_image(lark: LarkClient) -> None:
    image_key = lark.upload_image(PNG)
    sink = io.BytesIO()
    lark.download_image_to(image_key, sink)
    assert sink.getvalue() == PNG


def test_failed_download_to_a_path_leaves_no_file(lark: LarkClient, tmp_path: Path) -> None:
    with pytest.raises(LarkImageDeleted):
        lark.download_image_to("img_v3_unknown", tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


def test_tiff_upload_downloads_as_jpeg(lark: LarkClient) -> None:
    image_key = lark.upload_image(FIXTURE_IMAGES / "scan.tiff")
    assert lark.download_image(image_key)[:3] == b"\xff\xd8\xff"


# --- the token --------------------------------------------------------------------------------


def test_token_is_fetched_once_for_many_calls(server: LiveServer, wire: Any) -> None:
    with lark_client(server, transport=wire) as client:
        client.download_image(client.upload_image(PNG))
        client.upload_image(PNG)
    assert wire.paths().count(TOKEN) == 1
    assert len(wire.exchanges) == 4


def test_expired_token_is_refreshed_once_and_the_call_succeeds(server: LiveServer,
                                                               wire: Any) -> None:
    with lark_client(server, transport=wire, clock=FrozenClock()) as client:
        image_key = client.upload_image(PNG)
        server.state.clock.advance(LARK_TOKEN_TTL + 100)  # the mock's token expired; the client can't know
        data = client.download_image(image_key)
    assert data == PNG
    downloads = [e for e in wire.exchanges if e.method == "GET"]
    assert [e.status for e in downloads] == [400, 200]
    assert f'"code":{LarkCode.INVALID_TENANT_TOKEN}' in downloads[0].text
    assert wire.paths().count(TOKEN) == 2


def test_token_due_for_refresh_by_the_clients_clock_is_fetched_again(server: LiveServer,
                                                                      wire: Any) -> None:
    clock = FrozenClock()
    with lark_client(server, transport=wire, clock=clock) as client:
        client.upload_image(PNG)
        clock.now += LARK_TOKEN_TTL - 60  # inside the refresh margin (5 min)
        server.state.clock.advance(LARK_TOKEN_TTL - 60)
        client.upload_image(PNG)
    assert wire.paths().count(TOKEN) == 2
    assert [e.status for e in wire.exchanges] == [200, 200, 200, 200]


def test_wrong_secret_raises_token_error(server: LiveServer) -> None:
    with lark_client(server, LarkApp(APP_A.app_id, "not-the-secret")) as client:
        with pytest.raises(LarkTokenError) as caught:
            client.upload_image(PNG)
    assert (caught.value.code, caught.value.http_status) == (10014, 200)
    assert caught.value.msg == "app secret invalid"


def test_unknown_app_id_raises_token_error(server: LiveServer) -> None:
    with lark_client(server, LarkApp("cli_nobody", "secret")) as client:
        with pytest.raises(LarkTokenError) as caught:
            client.download_image("img_v3_x")
    assert (caught.value.code, caught.value.msg) == (LarkCode.APP_NOT_FOUND, "app id not exists")


# --- refusals ---------------------------------------------------------------------------------


def test_download_of_unknown_image_raises_image_deleted_with_log_id(lark: LarkClient) -> None:
    with pytest.raises(LarkImageDeleted) as caught:
        lark.download_image("img_v3_unknown")
    error = caught.value
    assert (error.code, error.http_status) == (LarkCode.IMAGE_DELETED, 400)
    assert error.msg == "Image has been deleted"
    assert error.log_id is not None and LOG_ID.fullmatch(error.log_id)


def test_download_of_deleted_image_raises_image_deleted(lark: LarkClient,
                                                        server: LiveServer) -> None:
    image_key = lark.upload_image(PNG)
    assert httpx.delete(f"{server.url}/__admin/lark/images/{image_key}").status_code == 200
    with pytest.raises(LarkImageDeleted):
        lark.download_image(image_key)


def test_download_of_another_apps_image_raises_not_resource_sender(lark: LarkClient,
                                                                   server: LiveServer) -> None:
    with lark_client(server, APP_B) as other_app:
        image_key = other_app.upload_image(PNG)
    with pytest.raises(LarkNotResourceSender) as caught:
        lark.download_image(image_key)
    assert caught.value.code == 234008


def test_download_of_avatar_image_raises_invalid_request(lark: LarkClient) -> None:
    image_key = lark.upload_image(PNG, image_type="avatar")
    with pytest.raises(LarkInvalidRequest) as caught:
        lark.download_image(image_key)
    assert caught.value.code == 234001
    assert caught.value.detail["field_violations"][0]["field"] == "image_key"


@pytest.mark.parametrize("content, code", [
    (b"", 234010),
    (b"\0" * (MAX_UPLOAD + 1), 234006),
    (fixture_image("not-an-image.txt"), 234011),
], ids=["empty", "over-10MB", "not-an-image"])
def test_refused_upload_raises_image_rejected_with_its_code(lark: LarkClient, content: bytes,
                                                            code: int) -> None:
    with pytest.raises(LarkImageRejected) as caught:
        lark.upload_image(content)
    assert caught.value.code == code


def test_app_without_bot_feature_raises_bot_not_enabled() -> None:
    app = LarkApp("cli_mock_no_bot", "secret-n", bot_enabled=False)
    with LiveServer(MockConfig(lark=LarkConfig(apps=(app,)))) as server:
        with lark_client(server, app) as client:
            with pytest.raises(LarkBotNotEnabled) as caught:
                client.upload_image(PNG)
    assert caught.value.code == 234007
