"""GeweClient against the mock on a real socket, and against hand-made replies."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from _support import (
    GEWE_API,
    GEWE_APP_ID,
    GEWE_TOKEN,
    fixture_callback,
    gewe_client,
    receive,
)

from chatimg import (
    DownloadedImage,
    GeweClient,
    GeweError,
    ImageType,
    ProtocolError,
    SentImage,
)
from mockserver import GeweConfig, GeweDevice, LiveServer, MockConfig
from mockserver.data_files import fixture_image

OFFLINE_APP_ID = "wx_OfflineDevice0000001"


@pytest.fixture(scope="module")
def offline_server() -> Iterator[LiveServer]:
    config = MockConfig(gewe=GeweConfig(devices=(
        GeweDevice(OFFLINE_APP_ID, "wxid_offlinebot", online=False),)))
    with LiveServer(config) as server:
        yield server


def stub_client(handler: Callable[[httpx.Request], httpx.Response]) -> GeweClient:
    return GeweClient("http://gewe.test" + GEWE_API, GEWE_TOKEN, GEWE_APP_ID,
                      transport=httpx.MockTransport(handler))


def md5_attribute(xml: str) -> str:
    match = re.search(r'\bmd5="([0-9a-f]{32})"', xml)
    assert match, xml
    return match.group(1)


# --- postImage ------------------------------------------------------------------------------


def test_post_image_returns_every_field_of_the_sent_image(gewe: GeweClient) -> None:
    sent = gewe.post_image("34757816141@chatroom", "http://dummyimage.com/400x300")
    assert sent.to_wxid == "34757816141@chatroom"
    assert (sent.width, sent.height) == (400, 300)
    assert sent.type is None
    assert re.fullmatch(r"[0-9a-f]{32}", sent.aes_key)
    assert re.fullmatch(r"[0-9a-f]{32}", sent.md5)
    assert re.fullmatch(r"[0-9a-f]+", sent.file_id)
    assert sent.length > 0 and sent.create_time > 0 and sent.msg_id > 0


def test_new_msg_id_equals_the_exact_integer_in_the_raw_reply(server: LiveServer,
                                                              wire: Any) -> None:
    with gewe_client(server, transport=wire) as client:
        sent = client.post_image("wxid_a", "http://dummyimage.com/10x10")
    on_the_wire = re.search(r'"newMsgId":\s*(\d+)', wire.exchanges[-1].text)
    assert on_the_wire is not None
    assert sent.new_msg_id > 2**53
    assert sent.new_msg_id == int(on_the_wire.group(1))


def test_new_msg_id_beyond_float_precision_is_read_exactly() -> None:
    raw = ('{"ret":200,"msg":"操作成功","data":{"toWxid":"wxid_a","createTime":1704163145,'
           '"msgId":640356095,"newMsgId":8992614056172360123,"type":null,'
           '"aesKey":"7678796e6d70626e6b626c6f7375616b","fileId":"3052","length":1096,'
           '"width":400,"height":400,"md5":"e6355eab0393facbd6a2cde3f990ef60"}}')
    client = stub_client(lambda request: httpx.Response(200, text=raw))
    assert client.post_image("wxid_a", "http://x/1x1").new_msg_id == 8992614056172360123


def test_post_image_with_unknown_token_raises_gewe_error_quoting_it(server: LiveServer) -> None:
    with GeweClient(server.url + GEWE_API, "0123abcd", GEWE_APP_ID) as client:
        with pytest.raises(GeweError) as caught:
            client.post_image("wxid_a", "http://x/1x1")
    assert caught.value.ret == 500
    assert caught.value.msg == "HTTP HEADER: X-GEWE-TOKEN=0123abcd 不可用或已过期"
    assert caught.value.token_rejected and caught.value.data_code is None


def test_post_image_without_token_raises_gewe_error_naming_the_header(server: LiveServer) -> None:
    with GeweClient(server.url + GEWE_API, "", GEWE_APP_ID) as client:
        with pytest.raises(GeweError) as caught:
            client.post_image("wxid_a", "http://x/1x1")
    assert caught.value.msg == "header:X-GEWE-TOKEN 不可为空"
    assert caught.value.token_rejected


def test_post_image_for_unknown_device_raises_device_not_found(server: LiveServer) -> None:
    with GeweClient(server.url + GEWE_API, GEWE_TOKEN, "wx_NoSuchDevice000000000") as client:
        with pytest.raises(GeweError) as caught:
            client.post_image("wxid_a", "http://x/1x1")
    error = caught.value
    assert (error.ret, error.msg, error.data_code) == (500, "发送消息失败", "-1")
    assert error.data_msg == "[wx_NoSuchDevice000000000]设备不存在"
    assert error.device_not_found and not error.wechat_offline


def test_post_image_on_offline_device_raises_wechat_offline(offline_server: LiveServer) -> None:
    with GeweClient(offline_server.url + GEWE_API, GEWE_TOKEN, OFFLINE_APP_ID) as client:
        with pytest.raises(GeweError) as caught:
            client.post_image("wxid_a", "http://x/1x1")
    assert (caught.value.msg, caught.value.data_msg) == ("发送消息失败", "微信已离线")
    assert caught.value.wechat_offline


def test_trailing_slash_of_base_url_is_ignored(server: LiveServer) -> None:
    with GeweClient(server.url + GEWE_API + "/", GEWE_TOKEN, GEWE_APP_ID) as client:
        assert client.post_image("wxid_a", "http://dummyimage.com/8x8").width == 8


@pytest.mark.parametrize("status, body", [
    (502, "<html>Bad Gateway</html>"),
    (200, "[]"),
    (200, '{"msg": "no ret"}'),
    (200, '{"ret": "200", "msg": "ret as a string"}'),
    (200, '{"ret": 200, "msg": "ok", "data": {"toWxid": "wxid_a"}}'),
])
def test_reply_outside_the_documented_shape_raises_protocol_error(status: int, body: str) -> None:
    client = stub_client(lambda request: httpx.Response(status, text=body))
    with pytest.raises(ProtocolError):
        client.post_image("wxid_a", "http://x/1x1")


# --- forwardImage ---------------------------------------------------------------------------


def test_forward_image_of_a_sent_image_sends_the_same_image(gewe: GeweClient) -> None:
    sent = gewe.post_image("wxid_a", "http://dummyimage.com/400x300")
    forwarded = gewe.forward_image("wxid_b", sent)
    assert forwarded.to_wxid == "wxid_b"
    assert (forwarded.file_id, forwarded.md5) == (sent.file_id, sent.md5)
    assert forwarded.new_msg_id != sent.new_msg_id


def test_forward_image_accepts_the_xml_of_a_received_image(gewe: GeweClient,
                                                           server: LiveServer) -> None:
    message = receive(server, "gewe")
    forwarded = gewe.forward_image("wxid_b", message["xml"])
    assert forwarded.md5 == md5_attribute(message["xml"])


def test_forward_of_an_image_gewe_does_not_know_raises(gewe: GeweClient) -> None:
    unknown = SentImage(to_wxid="wxid_a", create_time=0, msg_id=1, new_msg_id=2, type=None,
                        aes_key="0" * 32, file_id="30deadbeef", length=1, width=1, height=1,
                        md5="0" * 32)
    with pytest.raises(GeweError) as caught:
        gewe.forward_image("wxid_b", unknown)
    assert caught.value.data_msg == "图片不存在或已过期"


def test_forward_xml_carries_the_cdn_info_with_attributes_escaped() -> None:
    sent = SentImage(to_wxid="wxid_a", create_time=0, msg_id=1, new_msg_id=2, type=None,
                     aes_key='a"<&b', file_id="3052ab", length=1096, width=1, height=1,
                     md5="e6355eab0393facbd6a2cde3f990ef60")
    img = ElementTree.fromstring(sent.forward_xml()).find("img")
    assert img is not None and img.attrib == {
        "aeskey": 'a"<&b', "cdnmidimgurl": "3052ab", "length": "1096",
        "md5": "e6355eab0393facbd6a2cde3f990ef60"}


# --- downloadImage --------------------------------------------------------------------------


def test_download_image_returns_a_link_to_the_normal_copy(gewe: GeweClient,
                                                          server: LiveServer) -> None:
    message = receive(server, "gewe", fixture="landscape.jpg")
    downloaded = gewe.download_image(message["xml"])
    assert (downloaded.type, downloaded.tried) == (ImageType.NORMAL, (ImageType.NORMAL,))
    content = httpx.get(downloaded.file_url).content
    assert hashlib.md5(content).hexdigest() == md5_attribute(message["xml"])


def test_download_image_of_hd_copy_gives_the_original_bytes(gewe: GeweClient,
                                                            server: LiveServer) -> None:
    message = receive(server, "gewe", fixture="landscape.jpg", hd=True)
    downloaded = gewe.download_image(message["xml"], ImageType.HD, fallback=True)
    assert downloaded.tried == (ImageType.HD,)
    original = fixture_image("landscape.jpg")
    assert httpx.get(downloaded.file_url).content == original


def test_download_image_falls_back_to_normal_when_hd_is_missing(gewe: GeweClient,
                                                                server: LiveServer) -> None:
    message = receive(server, "gewe", sender="wxid_x", hd=False)
    downloaded = gewe.download_image(message["xml"], ImageType.HD, fallback=True)
    assert downloaded == DownloadedImage(downloaded.file_url, ImageType.NORMAL,
                                         (ImageType.HD, ImageType.NORMAL))
    assert httpx.get(downloaded.file_url).status_code == 200


def test_download_of_missing_hd_without_fallback_raises_the_no_hd_error(
        gewe: GeweClient, server: LiveServer) -> None:
    message = receive(server, "gewe", hd=False)
    with pytest.raises(GeweError) as caught:
        gewe.download_image(message["xml"], ImageType.HD)
    assert (caught.value.msg, caught.value.data_code) == ("下载图片失败", "-1")
    assert caught.value.data_msg == "该图片没有高清图片"
    assert caught.value.attempts == ((ImageType.HD, caught.value),)


def test_download_of_unknown_image_with_fallback_raises_the_last_error_after_every_type(
        gewe: GeweClient) -> None:
    unknown = fixture_callback("gewe-image.xml")
    with pytest.raises(GeweError) as caught:
        gewe.download_image(unknown, ImageType.NORMAL, fallback=True)
    assert caught.value.data_msg == "图片不存在或已过期"
    assert [t for t, _ in caught.value.attempts] == [ImageType.NORMAL, ImageType.HD,
                                                     ImageType.THUMB]
    assert caught.value.attempts[-1][1] is caught.value


def test_download_of_unparsable_xml_raises_without_trying_other_types(gewe: GeweClient) -> None:
    with pytest.raises(GeweError) as caught:
        gewe.download_image("<msg><img", ImageType.HD, fallback=True)
    assert caught.value.msg == "下载图片xml解析异常" and caught.value.xml_unparsable
    assert len(caught.value.attempts) == 1


def test_download_on_offline_device_raises_without_trying_other_types(
        offline_server: LiveServer) -> None:
    with GeweClient(offline_server.url + GEWE_API, GEWE_TOKEN, OFFLINE_APP_ID) as client:
        with pytest.raises(GeweError) as caught:
            client.download_image("<msg/>", ImageType.HD, fallback=True)
    assert caught.value.wechat_offline
    assert len(caught.value.attempts) == 1


def test_download_of_group_message_sends_the_xml_without_the_sender_prefix(
        server: LiveServer) -> None:
    sent_xml: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_xml.append(json.loads(request.content)["xml"])
        return httpx.Response(200, json={"ret": 200, "msg": "操作成功",
                                         "data": {"fileUrl": "http://files/1.png"}})

    group = receive(server, "gewe", chatroom="34757816141@chatroom")
    stub_client(handler).download_image(group["content"])
    assert group["content"].startswith("wxid_friend01:\n")
    assert sent_xml == [group["xml"]]


@pytest.mark.parametrize("requested, order", [
    (ImageType.HD, [1, 2, 3]), (ImageType.NORMAL, [2, 1, 3]), (ImageType.THUMB, [3, 2, 1]),
])
def test_fallback_tries_the_nearest_size_first(requested: ImageType, order: list[int]) -> None:
    types_asked: list[int] = []

    def no_copy_of_any_type(request: httpx.Request) -> httpx.Response:
        types_asked.append(json.loads(request.content)["type"])
        return httpx.Response(200, json={"ret": 500, "msg": "下载图片失败",
                                         "data": {"code": "-1", "msg": "没有图片"}})

    with pytest.raises(GeweError):
        stub_client(no_copy_of_any_type).download_image("<msg/>", requested, fallback=True)
    assert types_asked == order


def test_requests_carry_the_token_header_and_the_app_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ret": 200, "msg": "操作成功",
                                         "data": {"fileUrl": "http://files/1.png"}})

    stub_client(handler).download_image("<msg/>", ImageType.THUMB)
    assert str(seen[0].url) == "http://gewe.test/gewe/v2/api/message/downloadImage"
    assert seen[0].headers["X-GEWE-TOKEN"] == GEWE_TOKEN
    assert json.loads(seen[0].content) == {"appId": GEWE_APP_ID, "xml": "<msg/>", "type": 3}
