"""WidClient against the mock on a real socket, and against both documented reply forms."""

from __future__ import annotations

import hashlib
import json
import re
from functools import partial

import httpx
import pytest
from _support import PNG, W_ID, WID_AUTHORIZATION, fixture_callback
from _support import receive as receive_from

from chatimg import ProtocolError, WidClient, WidError
from mockserver import LiveServer, MockConfig, WidConfig

SENDER = "wxid_i6qsbbjenjuj22"  # the sender of wid's documents
URL = "https://weikong-1301028514.cos.ap-shanghai.myqcloud.com//msgImg/05e18a08-1584928377894.png"


# A user sends the bot an image; the mock answers the callback's message.
receive = partial(receive_from, vendor="wid", sender=SENDER, fixture="square.png")


def get(wid: WidClient, message: dict, *, hd: bool = False) -> str:
    return wid.get_msg_img(message["msgId"], message["fromUser"], message["toUser"],
                           message["content"], hd=hd)


def stub_client(reply: dict) -> WidClient:
    return WidClient("http://wid.test", WID_AUTHORIZATION, W_ID,
                     transport=httpx.MockTransport(lambda request: httpx.Response(200, json=reply)))


def test_get_msg_img_returns_a_url_of_the_normal_copy(wid: WidClient, server: LiveServer) -> None:
    message = receive(server)
    content = httpx.get(get(wid, message)).content
    md5 = re.search(r'\bmd5="([0-9a-f]{32})"', message["content"])
    assert md5 is not None and hashlib.md5(content).hexdigest() == md5.group(1)


def test_get_msg_img_in_hd_returns_the_original_bytes(wid: WidClient, server: LiveServer) -> None:
    message = receive(server, hd=True)
    assert httpx.get(get(wid, message, hd=True)).content == PNG


def test_get_msg_img_accepts_the_msg_id_as_a_string(wid: WidClient, server: LiveServer) -> None:
    message = receive(server)
    assert get(wid, {**message, "msgId": str(message["msgId"])}).startswith(server.url)


def test_get_msg_img_in_hd_of_image_without_hd_raises(wid: WidClient, server: LiveServer) -> None:
    message = receive(server, hd=False)
    with pytest.raises(WidError) as caught:
        get(wid, message, hd=True)
    assert caught.value.code == "1001"
    assert "高清" in caught.value.message


def test_wrong_authorization_raises_wid_error(server: LiveServer) -> None:
    message = receive(server)
    with WidClient(server.url, "wrong", W_ID) as client:
        with pytest.raises(WidError) as caught:
            get(client, message)
    assert caught.value.code == "1001"
    assert "Authorization" in caught.value.message


def test_image_unknown_to_the_instance_raises_wid_error(wid: WidClient) -> None:
    doc_xml = fixture_callback("wid-image.xml")
    with pytest.raises(WidError) as caught:
        wid.get_msg_img(1114390854, SENDER, "wxid_wl9qchkanp9u22", doc_xml)
    assert caught.value.message == "失败: 图片不存在或已过期"


def test_object_form_of_data_from_the_public_document_gives_the_url() -> None:
    config = MockConfig(wid=WidConfig(data_shape="object"))
    with LiveServer(config) as server, WidClient(server.url, WID_AUTHORIZATION, W_ID) as client:
        url = get(client, receive(server))
        assert httpx.get(url).status_code == 200


@pytest.mark.parametrize("code", ["1000", 1000])
@pytest.mark.parametrize("data", [URL, {"url": URL}])
def test_both_documented_codes_and_data_shapes_give_the_url(code: object, data: object) -> None:
    client = stub_client({"message": "成功", "code": code, "data": data})
    assert client.get_msg_img(1, "wxid_a", "wxid_b", "<msg/>") == URL


def test_failure_in_the_document_tables_form_raises_wid_error() -> None:
    client = stub_client({"msg": "失败", "code": 10001, "data": None})
    with pytest.raises(WidError) as caught:
        client.get_msg_img(1, "wxid_a", "wxid_b", "<msg/>")
    assert (caught.value.code, caught.value.message) == ("10001", "失败")


@pytest.mark.parametrize("reply", [
    {"message": "成功", "code": "1000", "data": None},
    {"message": "成功", "code": "1000", "data": {"link": URL}},
    {"message": "no code", "data": URL},
])
def test_reply_outside_the_documented_shape_raises_protocol_error(reply: dict) -> None:
    with pytest.raises(ProtocolError):
        stub_client(reply).get_msg_img(1, "wxid_a", "wxid_b", "<msg/>")


def test_request_sends_the_instance_the_authorization_and_type() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"message": "成功", "code": "1000", "data": URL})

    with WidClient("http://wid.test/", WID_AUTHORIZATION, W_ID,
                   transport=httpx.MockTransport(handler)) as client:
        client.get_msg_img(7, "wxid_a", "wxid_b", "<msg/>", hd=True)
    assert str(seen[0].url) == "http://wid.test/getMsgImg"
    assert seen[0].headers["Authorization"] == WID_AUTHORIZATION
    assert json.loads(seen[0].content) == {"wId": W_ID, "msgId": 7, "fromUser": "wxid_a",
                                           "toUser": "wxid_b", "content": "<msg/>", "type": 1}
