"""The wid instance API over a real socket: getMsgImg for received images, and every failure."""

from __future__ import annotations

import hashlib
import io
from functools import partial

import httpx
import pytest
from _support import WID_AUTHORIZATION, WID_HEADERS, WID_INSTANCE, fixture_callback
from _support import receive as receive_from
from PIL import Image

from mockserver import LiveServer, MockConfig, WidConfig
from mockserver.data_files import fixture_image

GET_MSG_IMG = "/getMsgImg"
SENDER = "wxid_i6qsbbjenjuj22"  # the sender of wid's documents

# A user sends the bot an image; the reply is the message as the bot receives it.
receive = partial(receive_from, vendor="wid", sender=SENDER)


def request_for(message: dict, **changes) -> dict:
    """The getMsgImg body a bot builds from a received message."""
    return {"wId": message["account"], "msgId": message["msgId"],
            "fromUser": message["fromUser"], "toUser": message["toUser"],
            "content": message["content"], **changes}


def get_msg_img(http: httpx.Client, body: dict, headers: dict | None = None) -> dict:
    reply = http.post(GET_MSG_IMG, json=body, headers=WID_HEADERS if headers is None else headers)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    return reply.json()


def assert_failure(reply: dict, *words: str) -> None:
    """wid's one failure envelope, with a message that names the problem."""
    assert set(reply) == {"code", "message", "data"}
    assert reply["code"] == "1001"
    assert reply["data"] is None
    assert reply["message"].startswith("失败")
    for word in words:
        assert word in reply["message"], reply["message"]


# --- success ------------------------------------------------------------------------------


def test_received_image_message_names_account_msg_id_users_content_and_xml(
        http: httpx.Client) -> None:
    message = receive(http, fixture="square.png")
    assert message["account"] == WID_INSTANCE.w_id
    assert message["toUser"] == WID_INSTANCE.wc_id
    assert message["fromUser"] == SENDER
    assert isinstance(message["msgId"], int)
    assert message["content"] == message["xml"]
    assert message["xml"].startswith("<?xml") and "<img " in message["xml"]


def test_get_msg_img_answers_1000_with_the_url_as_a_string(http: httpx.Client) -> None:
    reply = get_msg_img(http, request_for(receive(http)))
    assert reply["code"] == "1000"
    assert reply["message"] == "成功"
    assert isinstance(reply["data"], str) and reply["data"].startswith("http")


def test_url_serves_the_normal_copy_named_in_the_xml(http: httpx.Client) -> None:
    message = receive(http, fixture="landscape.jpg", hd=True)
    image = httpx.get(get_msg_img(http, request_for(message))["data"])
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(image.content)).size) == 1080  # 1600x1200 scaled down
    assert f'md5="{hashlib.md5(image.content).hexdigest()}"' in message["xml"]


def test_type_0_is_the_normal_copy(http: httpx.Client) -> None:
    message = receive(http, fixture="landscape.jpg", hd=True)
    normal = httpx.get(get_msg_img(http, request_for(message, type=0))["data"]).content
    assert f'md5="{hashlib.md5(normal).hexdigest()}"' in message["xml"]


def test_type_1_gives_the_hd_original_bytes_when_hd_was_kept(http: httpx.Client) -> None:
    message = receive(http, fixture="landscape.jpg", hd=True)
    reply = get_msg_img(http, request_for(message, type=1))
    assert reply["code"] == "1000"
    assert httpx.get(reply["data"]).content == fixture_image("landscape.jpg")


def test_type_1_fails_with_1001_when_no_hd_copy_was_kept(http: httpx.Client) -> None:
    message = receive(http, fixture="landscape.jpg", hd=False)
    assert_failure(get_msg_img(http, request_for(message, type=1)), "高清")


@pytest.mark.parametrize("as_type", [int, str], ids=["int", "string"])
def test_msg_id_is_accepted_as_int_and_as_string(http: httpx.Client, as_type: type) -> None:
    message = receive(http)
    reply = get_msg_img(http, request_for(message, msgId=as_type(message["msgId"])))
    assert reply["code"] == "1000"


def test_documents_example_content_names_no_stored_image(http: httpx.Client) -> None:
    body = {"wId": WID_INSTANCE.w_id, "msgId": 1114390854, "fromUser": SENDER,
            "toUser": WID_INSTANCE.wc_id, "content": fixture_callback("wid-image.xml")}
    assert_failure(get_msg_img(http, body), "图片不存在")


def test_data_shape_object_answers_url_in_an_object() -> None:
    with LiveServer(MockConfig(wid=WidConfig(data_shape="object"))) as server:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            message = receive(http, fixture="square.png")
            reply = get_msg_img(http, request_for(message))
            assert reply["code"] == "1000"
            assert set(reply["data"]) == {"url"}
            image = http.get(reply["data"]["url"])
    assert image.status_code == 200
    assert image.content == fixture_image("square.png")  # 400x400 fits: the normal copy as is


def test_group_content_with_sender_prefix_downloads(http: httpx.Client) -> None:
    message = receive(http, fixture="square.png", chatroom="34757816141@chatroom")
    assert message["content"] == f"{SENDER}:\n{message['xml']}"
    assert message["fromUser"] == "34757816141@chatroom"
    reply = get_msg_img(http, request_for(message))
    assert reply["code"] == "1000"
    assert httpx.get(reply["data"]).content == fixture_image("square.png")


# --- failures -----------------------------------------------------------------------------


def test_missing_authorization_fails_with_1001(http: httpx.Client) -> None:
    reply = get_msg_img(http, request_for(receive(http)), headers={})
    assert_failure(reply, "Authorization")


def test_wrong_authorization_fails_with_1001(http: httpx.Client) -> None:
    reply = get_msg_img(http, request_for(receive(http)), headers={"Authorization": "wrong"})
    assert_failure(reply, "Authorization")


def test_authorization_with_a_scheme_word_is_not_accepted(http: httpx.Client) -> None:
    reply = get_msg_img(http, request_for(receive(http)),
                        headers={"Authorization": f"Bearer {WID_AUTHORIZATION}"})
    assert_failure(reply, "Authorization")


def test_unknown_wid_fails_naming_the_instance(http: httpx.Client) -> None:
    reply = get_msg_img(http, request_for(receive(http), wId="00000000-0000-0000-0000-000000000000"))
    assert_failure(reply, "00000000-0000-0000-0000-000000000000")


@pytest.mark.parametrize("field", ["wId", "msgId", "fromUser", "toUser", "content"])
def test_missing_required_field_fails_naming_it(http: httpx.Client, field: str) -> None:
    body = request_for(receive(http))
    del body[field]
    assert_failure(get_msg_img(http, body), field, "不可为空")


@pytest.mark.parametrize("field", ["wId", "fromUser", "toUser", "content"])
def test_empty_required_field_fails_naming_it(http: httpx.Client, field: str) -> None:
    assert_failure(get_msg_img(http, request_for(receive(http), **{field: ""})), field)


@pytest.mark.parametrize("msg_id", [1114390854.5, 1114390854.0], ids=["fraction", "whole"])
def test_msg_id_as_float_fails_naming_it(http: httpx.Client, msg_id: float) -> None:
    assert_failure(get_msg_img(http, request_for(receive(http), msgId=msg_id)), "msgId")


def test_type_other_than_0_or_1_fails_naming_it(http: httpx.Client) -> None:
    assert_failure(get_msg_img(http, request_for(receive(http), type=2)), "type")


def test_content_that_is_not_xml_fails_naming_content(http: httpx.Client) -> None:
    assert_failure(get_msg_img(http, request_for(receive(http), content="hello")), "content")


def test_xml_without_an_img_element_fails_naming_content(http: httpx.Client) -> None:
    body = request_for(receive(http), content='<?xml version="1.0"?><msg><voicemsg/></msg>')
    assert_failure(get_msg_img(http, body), "content", "<img>")


def test_xml_entity_bomb_is_refused_not_expanded(http: httpx.Client) -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><msg><img cdnmidimgurl="&b;"/></msg>')
    assert_failure(get_msg_img(http, request_for(receive(http), content=bomb)), "content")


def test_xml_with_a_wrong_aeskey_does_not_find_the_image(http: httpx.Client) -> None:
    message = receive(http)
    aes_key = message["aesKey"]
    forged = message["content"].replace(aes_key, "0" * len(aes_key))
    assert_failure(get_msg_img(http, request_for(message, content=forged)), "图片不存在")


@pytest.mark.parametrize("content", [b"{not json", b""], ids=["not-json", "empty"])
def test_body_that_is_not_json_fails_in_the_wid_envelope(http: httpx.Client,
                                                        content: bytes) -> None:
    reply = http.post(GET_MSG_IMG, content=content,
                      headers={**WID_HEADERS, "Content-Type": "application/json"})
    assert reply.status_code == 200
    assert_failure(reply.json(), "body")


def test_body_that_is_not_utf8_fails_as_an_unreadable_body(http: httpx.Client) -> None:
    reply = http.post(GET_MSG_IMG, content=b"\xff\xfe{}",
                      headers={**WID_HEADERS, "Content-Type": "application/json"})
    assert reply.status_code == 200
    assert_failure(reply.json(), "body")
    assert "接口不存在" not in reply.json()["message"]


def test_get_of_get_msg_img_is_a_405_in_the_wid_envelope(http: httpx.Client) -> None:
    reply = http.get(GET_MSG_IMG, headers=WID_HEADERS)
    assert reply.status_code == 405
    assert reply.headers["Allow"] == "POST, OPTIONS"
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json()["code"] == "1001"
    assert reply.json()["message"].startswith("失败: 请求方法不支持: 405")


def test_an_unknown_root_path_is_a_plain_json_404_not_a_wid_failure(http: httpx.Client) -> None:
    reply = http.post("/getMsgVideo", headers=WID_HEADERS)
    assert reply.status_code == 404
    assert reply.json() == {"error": "404 Not Found: POST /getMsgVideo; GET / lists the routes"}
