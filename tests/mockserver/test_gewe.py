"""GeWe over a real socket: postImage, forwardImage, downloadImage and every failure family."""

from __future__ import annotations

import base64
import hashlib
import io

import httpx
import pytest
from _support import DEFAULTS, GEWE_APP_ID, GEWE_HEADERS, fixture_callback, receive
from PIL import Image

from chatimg import SentImage
from mockserver import GeweConfig, GeweDevice, LiveServer, MockConfig
from mockserver.data_files import fixture_image

POST = "/gewe/v2/api/message/postImage"
DOWNLOAD = "/gewe/v2/api/message/downloadImage"
FORWARD = "/gewe/v2/api/message/forwardImage"


def post_image(http: httpx.Client, img_url: str = "http://dummyimage.com/400x300",
               to_wxid: str = "34757816141@chatroom") -> dict:
    reply = http.post(POST, json={"appId": GEWE_APP_ID, "toWxid": to_wxid, "imgUrl": img_url},
                      headers=GEWE_HEADERS)
    assert reply.status_code == 200
    return reply.json()


def download(http: httpx.Client, xml: str, image_type: int) -> dict:
    reply = http.post(DOWNLOAD, json={"appId": GEWE_APP_ID, "xml": xml, "type": image_type},
                      headers=GEWE_HEADERS)
    assert reply.status_code == 200
    return reply.json()


def test_post_image_reports_real_facts_of_the_image(http: httpx.Client) -> None:
    data = post_image(http, "http://dummyimage.com/400x300")["data"]
    assert (data["width"], data["height"]) == (400, 300)
    assert data["toWxid"] == "34757816141@chatroom"
    assert data["type"] is None
    assert len(data["aesKey"]) == 32 and int(data["aesKey"], 16) >= 0
    assert data["newMsgId"] > 2**53  # 19-digit ids, beyond float precision, as real ones are


def test_post_image_of_a_data_url_stores_those_exact_bytes(http: httpx.Client) -> None:
    png = fixture_image("square.png")
    reply = post_image(http, "data:image/png;base64," + base64.b64encode(png).decode())
    data = reply["data"]
    assert data["md5"] == hashlib.md5(png).hexdigest()
    assert data["length"] == len(png)
    xml = SentImage.from_data(data).forward_xml()
    file_url = download(http, xml, 2)["data"]["fileUrl"]
    assert httpx.get(file_url).content == png


def test_new_msg_id_is_sent_as_an_exact_integer_on_the_wire(http: httpx.Client) -> None:
    reply = http.post(POST, json={"appId": GEWE_APP_ID, "toWxid": "wxid_a",
                                  "imgUrl": "http://x/1x1"}, headers=GEWE_HEADERS)
    new_msg_id = reply.json()["data"]["newMsgId"]
    assert f'"newMsgId":{new_msg_id},' in reply.text


def test_forward_image_with_post_image_cdn_info_sends_the_same_image(http: httpx.Client) -> None:
    posted = post_image(http)["data"]
    xml = SentImage.from_data(posted).forward_xml()
    reply = http.post(FORWARD, json={"appId": GEWE_APP_ID, "toWxid": "wxid_other", "xml": xml},
                      headers=GEWE_HEADERS).json()
    assert reply["ret"] == 200
    assert reply["data"]["fileId"] == posted["fileId"]
    assert reply["data"]["md5"] == posted["md5"]
    assert reply["data"]["newMsgId"] != posted["newMsgId"]


@pytest.mark.parametrize("hd", [True, False])
def test_received_image_downloads_as_normal_and_thumbnail(http: httpx.Client, hd: bool) -> None:
    message = receive(http, "gewe", fixture="landscape.jpg", hd=hd)
    normal = httpx.get(download(http, message["xml"], 2)["data"]["fileUrl"])
    thumb = httpx.get(download(http, message["xml"], 3)["data"]["fileUrl"])
    assert normal.status_code == thumb.status_code == 200
    normal_size = Image.open(io.BytesIO(normal.content)).size
    thumb_size = Image.open(io.BytesIO(thumb.content)).size
    assert max(normal_size) == 1080  # downscaled from 1600x1200
    assert max(thumb_size) <= 120
    assert f'md5="{hashlib.md5(normal.content).hexdigest()}"' in message["xml"]


def test_received_image_with_hd_downloads_the_original_bytes(http: httpx.Client) -> None:
    message = receive(http, "gewe", fixture="landscape.jpg", hd=True)
    reply = download(http, message["xml"], 1)
    assert httpx.get(reply["data"]["fileUrl"]).content == fixture_image("landscape.jpg")
    assert "cdnbigimgurl" in message["xml"] and "hdlength" in message["xml"]


def test_download_of_image_without_hd_fails_with_gewe_envelope(http: httpx.Client) -> None:
    message = receive(http, "gewe", hd=False)
    assert download(http, message["xml"], 1) == {
        "ret": 500, "msg": "下载图片失败", "data": {"code": "-1", "msg": "该图片没有高清图片"}}


def test_group_message_xml_with_sender_prefix_downloads(http: httpx.Client) -> None:
    message = receive(http, "gewe", chatroom="34757816141@chatroom")
    assert message["content"].startswith("wxid_friend01:\n<?xml")
    assert message["fromUser"] == "34757816141@chatroom"
    assert download(http, message["content"], 2)["ret"] == 200


def test_group_prefix_is_refused_when_configured_as_some_gewe_releases_do() -> None:
    config = MockConfig(gewe=GeweConfig(accept_sender_prefix=False))
    with LiveServer(config) as server, httpx.Client(base_url=server.url) as client:
        message = receive(client, "gewe", chatroom="34757816141@chatroom")
        assert download(client, message["content"], 2) == {"ret": 500, "msg": "下载图片xml解析异常"}
        assert download(client, message["xml"], 2)["ret"] == 200


def test_file_url_is_valid_for_seven_days_by_the_mock_clock(http: httpx.Client,
                                                            server: LiveServer) -> None:
    file_url = download(http, receive(http, "gewe")["xml"], 2)["data"]["fileUrl"]
    server.state.clock.advance(7 * 24 * 3600 - 60)
    assert httpx.get(file_url).status_code == 200
    server.state.clock.advance(120)
    expired = httpx.get(file_url)
    assert expired.status_code == 403
    assert b"<Code>AccessDenied</Code>" in expired.content


def test_missing_token_is_refused_in_gewe_envelope(http: httpx.Client) -> None:
    reply = http.post(POST, json={"appId": GEWE_APP_ID, "toWxid": "a", "imgUrl": "http://x/"})
    assert reply.status_code == 200
    assert reply.json() == {"ret": 500, "msg": "header:X-GEWE-TOKEN 不可为空"}


def test_unknown_token_is_quoted_verbatim_in_the_refusal(http: httpx.Client) -> None:
    reply = http.post(POST, json={"appId": GEWE_APP_ID, "toWxid": "a", "imgUrl": "http://x/"},
                      headers={"X-GEWE-TOKEN": "0123abcd"})
    assert reply.json() == {"ret": 500, "msg": "HTTP HEADER: X-GEWE-TOKEN=0123abcd 不可用或已过期"}


@pytest.mark.parametrize("body, field", [
    ({"appId": GEWE_APP_ID, "toWxid": "a"}, "imgUrl"),
    ({"toWxid": "a", "imgUrl": "http://x/"}, "appId"),
])
def test_missing_body_field_is_named_in_gewe_envelope(http: httpx.Client, body: dict,
                                                      field: str) -> None:
    reply = http.post(POST, json=body, headers=GEWE_HEADERS)
    assert reply.status_code == 200
    assert reply.json() == {"ret": 500, "msg": f"body:{field} 不可为空"}


@pytest.mark.parametrize("content, content_type", [
    (b'{"appId": 1, "toWxid": "a", "imgUrl": "u"}', "application/json"),
    (b"{not json", "application/json"),
    (b"", "application/json"),
    (b"appId=a", "application/x-www-form-urlencoded"),
])
def test_malformed_body_gets_gewe_envelope_not_a_500(http: httpx.Client, content: bytes,
                                                     content_type: str) -> None:
    reply = http.post(POST, content=content, headers={**GEWE_HEADERS, "Content-Type": content_type})
    assert reply.status_code == 200
    assert "X-Chatimg-Internal-Error" not in reply.headers  # refused, not crashed
    assert reply.json()["ret"] == 500
    assert reply.json()["msg"].startswith(("参数错误", "body"))


def test_download_type_outside_1_to_3_is_refused(http: httpx.Client) -> None:
    reply = http.post(DOWNLOAD, json={"appId": GEWE_APP_ID, "xml": "<msg/>", "type": 4},
                      headers=GEWE_HEADERS).json()
    assert reply["ret"] == 500 and "type" in reply["msg"]


def test_unknown_device_fails_with_device_not_found(http: httpx.Client) -> None:
    reply = http.post(POST, json={"appId": "wx_NoSuchDevice000000000", "toWxid": "a",
                                  "imgUrl": "http://x/"}, headers=GEWE_HEADERS).json()
    assert reply == {"ret": 500, "msg": "发送消息失败",
                     "data": {"code": "-1", "msg": "[wx_NoSuchDevice000000000]设备不存在"}}


def test_offline_device_fails_with_wechat_offline() -> None:
    config = MockConfig(gewe=GeweConfig(devices=(GeweDevice("wx_Offline", "wxid_bot", online=False),)))
    with LiveServer(config) as server:
        reply = httpx.post(server.url + POST, headers=GEWE_HEADERS, json={
            "appId": "wx_Offline", "toWxid": "a", "imgUrl": "http://x/"}).json()
    assert reply == {"ret": 500, "msg": "发送消息失败", "data": {"code": "-1", "msg": "微信已离线"}}


def test_unparsable_xml_fails_as_gewe_does(http: httpx.Client) -> None:
    assert download(http, "<msg><img", 2) == {"ret": 500, "msg": "下载图片xml解析异常"}


def test_xml_entity_expansion_is_refused_not_expanded(http: httpx.Client) -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><msg><img cdnmidimgurl="&b;"/></msg>')
    assert download(http, bomb, 2) == {"ret": 500, "msg": "下载图片xml解析异常"}


def test_xml_naming_no_known_image_fails_cleanly(http: httpx.Client) -> None:
    doc_xml = fixture_callback("gewe-image.xml")
    assert download(http, doc_xml, 2) == {
        "ret": 500, "msg": "下载图片失败", "data": {"code": "-1", "msg": "图片不存在或已过期"}}


def test_xml_with_wrong_aeskey_does_not_find_the_image(http: httpx.Client) -> None:
    message = receive(http, "gewe")
    forged = message["xml"].replace(message["aesKey"], "0" * 32)
    assert download(http, forged, 2) == {
        "ret": 500, "msg": "下载图片失败", "data": {"code": "-1", "msg": "图片不存在或已过期"}}


def test_forward_of_unknown_image_fails_and_keeps_stored_images(http: httpx.Client) -> None:
    posted = post_image(http)["data"]
    bogus = f'<msg><img aeskey="{"0" * 32}" cdnmidimgurl="30deadbeef" length="1" md5="0"/></msg>'
    reply = http.post(FORWARD, json={"appId": GEWE_APP_ID, "toWxid": "a", "xml": bogus},
                      headers=GEWE_HEADERS).json()
    assert reply == {"ret": 500, "msg": "发送消息失败",
                     "data": {"code": "-1", "msg": "图片不存在或已过期"}}
    xml = SentImage.from_data(posted).forward_xml()
    assert download(http, xml, 2)["ret"] == 200


def test_img_url_that_is_not_an_image_fails_cleanly(http: httpx.Client) -> None:
    text = base64.b64encode(b"hello").decode()
    reply = post_image(http, f"data:text/plain;base64,{text}")
    assert reply["ret"] == 500 and reply["msg"] == "发送消息失败"


def test_placeholder_for_the_same_url_is_the_same_image(http: httpx.Client) -> None:
    first = post_image(http, "http://dummyimage.com/120x80")["data"]
    second = post_image(http, "http://dummyimage.com/120x80")["data"]
    assert first["md5"] == second["md5"]
    assert (first["width"], first["height"]) == (120, 80)


def test_body_over_the_cap_is_refused_in_gewe_envelope_and_journaled(
        http: httpx.Client, server: LiveServer) -> None:
    huge = b'{"appId": "' + b"x" * (DEFAULTS.max_body_bytes + 1) + b'"}'
    reply = http.post(POST, content=huge,
                      headers={**GEWE_HEADERS, "Content-Type": "application/json"})
    assert reply.status_code == 200
    assert "X-Chatimg-Internal-Error" not in reply.headers
    assert reply.json() == {"ret": 500, "msg": "参数错误: the body is larger than "
                                               f"{DEFAULTS.max_body_bytes} bytes"}
    assert server.journal.entries("postImage")[0].request_body["bytes"] == len(huge)


@pytest.mark.parametrize("path", ["/gewe/v2/api/message/postVideo", "/v2/api/message/postVideo"])
def test_unknown_gewe_path_is_a_404_in_gewe_envelope(http: httpx.Client, path: str) -> None:
    reply = http.post(path, json={}, headers=GEWE_HEADERS)
    assert reply.status_code == 404
    assert reply.json() == {"ret": 404, "msg": f"接口不存在: 404 Not Found: POST {path}"}


def test_get_of_a_gewe_operation_is_a_405_in_gewe_envelope(http: httpx.Client) -> None:
    reply = http.get(POST, headers=GEWE_HEADERS)
    assert reply.status_code == 405
    assert reply.json()["ret"] == 405
    assert reply.json()["msg"].startswith("请求方法不支持: 405")


def test_gewe_is_served_under_the_self_hosted_base_v2_api_too(http: httpx.Client,
                                                              server: LiveServer) -> None:
    body = {"appId": GEWE_APP_ID, "toWxid": "wxid_friend01",
            "imgUrl": "http://dummyimage.com/40x30"}
    reply = http.post(POST.replace("/gewe/v2/api/", "/v2/api/"), json=body, headers=GEWE_HEADERS)
    assert reply.json()["ret"] == 200 and reply.json()["data"]["width"] == 40
    assert [e.path for e in server.journal.entries("postImage")] == ["/v2/api/message/postImage"]
