"""The official SDKs, pointed at the mock, work unchanged (sdk-notes: their wire quirks)."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from _support import APP_A, APP_B, GEWE_APP_ID, GEWE_TOKEN, PNG, receive

from mockserver import LiveServer

lark = pytest.importorskip("lark_oapi")
gewechat = pytest.importorskip("gewechat_client")
from lark_oapi.api.im.v1 import (  # noqa: E402
    CreateImageRequest,
    CreateImageRequestBody,
    GetImageRequest,
)


def lark_client(server: LiveServer, app=APP_A):
    return (lark.Client.builder().app_id(app.app_id).app_secret(app.app_secret)
            .domain(server.url).log_level(lark.LogLevel.ERROR).build())


def upload(client, data: bytes, image_type: str = "message"):
    body = CreateImageRequestBody.builder().image_type(image_type).image(io.BytesIO(data)).build()
    return client.im.v1.image.create(CreateImageRequest.builder().request_body(body).build())


def get_image(client, key: str):
    return client.im.v1.image.get(GetImageRequest.builder().image_key(key).build())


def test_lark_oapi_uploads_and_downloads_byte_exact(server: LiveServer) -> None:
    client = lark_client(server)
    created = upload(client, PNG)  # a bare BytesIO part: no filename, no part Content-Type
    assert created.success(), (created.code, created.msg)
    fetched = get_image(client, created.data.image_key)
    assert fetched.success()
    assert fetched.file.read() == PNG
    assert fetched.file_name == f"{created.data.image_key}.png"


def test_lark_oapi_sees_code_msg_and_log_id_of_a_deleted_image(server: LiveServer) -> None:
    client = lark_client(server)
    key = upload(client, PNG).data.image_key
    httpx.delete(f"{server.url}/__admin/lark/images/{key}")
    fetched = get_image(client, key)
    assert not fetched.success()
    assert (fetched.code, fetched.msg) == (234005, "Image has been deleted")
    assert fetched.get_log_id() and len(fetched.get_log_id()) == 34
    assert json.loads(fetched.raw.content)["error"]["log_id"] == fetched.get_log_id()


def test_lark_oapi_cannot_download_an_image_of_another_app(server: LiveServer) -> None:
    key = upload(lark_client(server, APP_B), PNG).data.image_key
    fetched = get_image(lark_client(server), key)
    assert fetched.code == 234008


def test_lark_oapi_reports_upload_refusals_with_their_codes(server: LiveServer) -> None:
    client = lark_client(server)
    assert upload(client, b"not an image").code == 234011
    assert upload(client, b"").code == 234010


def test_lark_oapi_token_refusal_raises_its_exception(server: LiveServer) -> None:
    from lark_oapi.core.exception import ObtainAccessTokenException

    client = (lark.Client.builder().app_id("cli_unknown00000000").app_secret("x")
              .domain(server.url).log_level(lark.LogLevel.ERROR).build())
    with pytest.raises(ObtainAccessTokenException) as raised:
        get_image(client, "img_v3_any")
    assert raised.value.code == 10014


def test_lark_oapi_cached_token_survives_a_restart_of_the_mock() -> None:
    with LiveServer() as first:
        client = lark_client(first)
        assert upload(client, PNG).success()
    with LiveServer() as second:  # a new process state; the SDK keeps its cached token
        client = lark_client(second)
        assert upload(client, PNG).success()


def gewe(server: LiveServer):
    return gewechat.GewechatClient(f"{server.url}/gewe/v2/api", GEWE_TOKEN)


def test_gewechat_client_posts_and_forwards_an_image(server: LiveServer) -> None:
    client = gewe(server)
    sent = client.post_image(GEWE_APP_ID, "34757816141@chatroom", "http://dummyimage.com/400x400")
    assert sent["ret"] == 200 and sent["data"]["width"] == 400
    data = sent["data"]
    xml = (f'<?xml version="1.0"?><msg><img aeskey="{data["aesKey"]}" '
           f'cdnmidimgurl="{data["fileId"]}" length="{data["length"]}" md5="{data["md5"]}"/></msg>')
    forwarded = client.forward_image(GEWE_APP_ID, "wxid_other", xml)
    assert forwarded["ret"] == 200 and forwarded["data"]["md5"] == data["md5"]


def test_gewechat_client_works_at_the_base_its_readme_shows(server: LiveServer) -> None:
    client = gewechat.GewechatClient(f"{server.url}/v2/api", GEWE_TOKEN)
    sent = client.post_image(GEWE_APP_ID, "wxid_friend01", "http://dummyimage.com/40x30")
    assert sent["ret"] == 200 and sent["data"]["height"] == 30


@pytest.mark.parametrize("image_type", [1, 2, 3])
def test_gewechat_client_downloads_each_type_of_a_received_image(server: LiveServer,
                                                                 image_type: int) -> None:
    message = receive(server, "gewe", hd=True)
    reply = gewe(server).download_image(GEWE_APP_ID, message["xml"], image_type)
    assert httpx.get(reply["data"]["fileUrl"]).status_code == 200


def test_gewechat_client_raises_with_the_gewe_envelope_as_message(server: LiveServer) -> None:
    with pytest.raises(RuntimeError) as raised:
        gewe(server).download_image(GEWE_APP_ID, "<msg><img", 2)
    assert json.loads(str(raised.value)) == {"ret": 500, "msg": "下载图片xml解析异常"}
