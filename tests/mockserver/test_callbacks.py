"""GeWe and wid callbacks over real sockets: registering a bot's URL, what the mock posts to it,
and how it delivers (attempts, retries, replays, journal, reset).

The bot is a real HTTP server on 127.0.0.1 that records every request as it came off the
socket and answers as the test tells it; each received body is held to the callback schema
its spec declares.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from _support import (
    GEWE_DEVICE,
    GEWE_HEADERS,
    GEWE_TOKEN,
    SENDER,
    WID_AUTHORIZATION,
    WID_HEADERS,
    WID_INSTANCE,
    RecordingBot,
    assert_valid,
    callback_validator,
    client_of,
    closed_port_url,
    eventually,
    receive,
    spec_document,
)
from PIL import Image

from contract_tests.strategies import SchemaResolver
from mockserver import GeweConfig, LiveServer, MockConfig, WidConfig
from mockserver.data_files import fixture_image

SET_CALLBACK = "/gewe/v2/api/tools/setCallback"
DOWNLOAD = "/gewe/v2/api/message/downloadImage"
SET_HTTP_CALLBACK_URL = "/setHttpCallbackUrl"
GET_MSG_IMG = "/getMsgImg"
CHATROOM = "34757816141@chatroom"
# Fast enough for tests, slow enough to see: the gaps between attempts the mock must keep.
RETRIES = (0.1, 0.2)
OUTSIDE_URLS = ["http://example.com/cb", "http://10.1.2.3/cb"]
NOT_HTTP_URLS = ["ftp://127.0.0.1/cb", "file:///tmp/cb", "127.0.0.1:8080/cb", "http:///cb"]

T = TypeVar("T")


# --- the mock that retries ----------------------------------------------------------------


@pytest.fixture
def retrying_server(configured: Callable[[MockConfig], LiveServer]) -> LiveServer:
    """A mock that retries on a short schedule (the default waits 1, 5 and 30 s)."""
    return configured(MockConfig(delivery_retry_seconds=RETRIES))


@pytest.fixture
def retrying(retrying_server: LiveServer) -> Iterator[httpx.Client]:
    with client_of(retrying_server) as client:
        yield client


# --- helpers ------------------------------------------------------------------------------


def assert_gewe_callback(payload: Any) -> None:
    assert_valid(callback_validator("gewe", SET_CALLBACK), payload)


def assert_wid_callback(payload: Any) -> None:
    assert_valid(callback_validator("wid", SET_HTTP_CALLBACK_URL), payload)


def set_gewe_callback(http: httpx.Client, url: str, token: str = GEWE_TOKEN) -> dict:
    reply = http.post(SET_CALLBACK, json={"token": token, "callbackUrl": url},
                      headers=GEWE_HEADERS)
    assert reply.status_code == 200
    return reply.json()


def set_wid_callback(http: httpx.Client, url: str) -> dict:
    reply = http.post(SET_HTTP_CALLBACK_URL, json={"httpUrl": url, "type": 2},
                      headers=WID_HEADERS)
    assert reply.status_code == 200
    return reply.json()


SUBSCRIBE = {"gewe": set_gewe_callback, "wid": set_wid_callback}


def deliveries(http: httpx.Client) -> list[dict]:
    reply = http.get("/__admin/deliveries")
    assert reply.status_code == 200
    return reply.json()["deliveries"]


def delivery(http: httpx.Client, delivery_id: str) -> dict:
    (found,) = [d for d in deliveries(http) if d["id"] == delivery_id]
    return found


def settled(http: httpx.Client, delivery_id: str, timeout: float = 5.0) -> dict:
    """The delivery once it is no longer pending."""
    return eventually(lambda: (d := delivery(http, delivery_id))["state"] != "pending" and d,
                      timeout, f"delivery {delivery_id} to settle")


def download(http: httpx.Client, xml: str, image_type: int) -> dict:
    reply = http.post(DOWNLOAD, json={"appId": GEWE_DEVICE.app_id, "xml": xml,
                                      "type": image_type}, headers=GEWE_HEADERS)
    return reply.json()


def xml_attribute(xml: str, name: str) -> str:
    match = re.search(rf'\b{name}="([^"]*)"', xml)
    assert match, f"no {name} in {xml!r}"
    return match.group(1)


# --- registration ---------------------------------------------------------------------------


def test_gewe_set_callback_answers_operation_succeeded(http: httpx.Client,
                                                      bot: RecordingBot) -> None:
    reply = http.post(SET_CALLBACK, json={"token": GEWE_TOKEN, "callbackUrl": bot.url},
                      headers=GEWE_HEADERS)
    assert reply.status_code == 200
    assert reply.json() == {"ret": 200, "msg": "操作成功"}


def test_wid_set_http_callback_url_answers_code_1000(http: httpx.Client,
                                                    bot: RecordingBot) -> None:
    reply = http.post(SET_HTTP_CALLBACK_URL, json={"httpUrl": bot.url, "type": 2},
                      headers=WID_HEADERS)
    assert reply.status_code == 200
    assert reply.json() == {"message": "成功", "code": "1000", "data": None}


def test_gewe_set_callback_with_an_unknown_body_token_registers_nothing(
        http: httpx.Client, bot: RecordingBot) -> None:
    assert set_gewe_callback(http, bot.url, token="not-a-token")["ret"] == 500
    assert receive(http, "gewe")["deliveries"] == []
    assert bot.requests == []


def test_registered_callbacks_are_listed_with_the_credential_masked(
        http: httpx.Client, bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    set_wid_callback(http, bot.url + "/wid")
    listed = http.get("/__admin/subscriptions").json()["subscriptions"]
    assert sorted((s["vendor"], s["url"]) for s in listed) == [
        ("gewe", bot.url), ("wid", bot.url + "/wid")]
    assert not any(secret in json.dumps(listed) for secret in (GEWE_TOKEN, WID_AUTHORIZATION))


@pytest.mark.parametrize("url", OUTSIDE_URLS)
def test_gewe_refuses_a_callback_url_outside_loopback_and_the_allow_list(
        http: httpx.Client, url: str) -> None:
    host = url.split("/")[2]
    assert set_gewe_callback(http, url) == {"ret": 500, "msg": "设置回调地址失败", "data": {
        "code": "-1", "msg": f"{host} is neither loopback nor in callback_allow_hosts"}}


@pytest.mark.parametrize("url", OUTSIDE_URLS)
def test_wid_refuses_a_callback_url_outside_loopback_and_the_allow_list(
        http: httpx.Client, url: str) -> None:
    host = url.split("/")[2]
    assert set_wid_callback(http, url) == {
        "message": f"失败: 回调地址不可用: {host} is neither loopback nor in callback_allow_hosts",
        "code": "1001", "data": None}


@pytest.mark.parametrize("vendor", ["gewe", "wid"])
@pytest.mark.parametrize("url", NOT_HTTP_URLS)
def test_a_callback_url_that_is_not_http_is_refused(http: httpx.Client, vendor: str,
                                                    url: str) -> None:
    reply = SUBSCRIBE[vendor](http, url)
    if vendor == "gewe":
        assert reply["ret"] == 500 and reply["msg"] == "设置回调地址失败"
        assert reply["data"]["msg"] == f"{url!r} is not an http(s) URL"
    else:
        assert reply["code"] == "1001"
        assert reply["message"] == f"失败: 回调地址不可用: {url!r} is not an http(s) URL"
    assert receive(http, vendor)["deliveries"] == []


@pytest.mark.parametrize("vendor", ["gewe", "wid"])
@pytest.mark.parametrize("url", ["http://localhost:9/cb", "http://127.0.0.2:9/cb",
                                 "http://[::1]:9/cb", "https://127.0.0.1/cb"])
def test_any_loopback_callback_url_is_accepted(http: httpx.Client, vendor: str,
                                               url: str) -> None:
    reply = SUBSCRIBE[vendor](http, url)
    assert reply.get("ret", reply.get("code")) in (200, "1000")


def test_a_host_on_callback_allow_hosts_may_be_registered_and_others_still_not(
        configured: Callable[[MockConfig], LiveServer]) -> None:
    server = configured(MockConfig(callback_allow_hosts=("example.com",)))
    with client_of(server) as http:
        # Registration only: nothing is sent, so nothing reaches example.com.
        assert set_gewe_callback(http, "http://example.com/cb") == {"ret": 200, "msg": "操作成功"}
        assert set_wid_callback(http, "https://example.com/cb")["code"] == "1000"
        assert set_gewe_callback(http, "http://10.1.2.3/cb")["ret"] == 500
        assert set_wid_callback(http, "http://api.example.com/cb")["code"] == "1001"


@pytest.mark.parametrize("vendor", ["gewe", "wid"])
@pytest.mark.parametrize("url", ["http://127.0.0.1:abc/cb", "http://[::1/cb"])
def test_a_malformed_callback_url_is_refused_like_any_other(http: httpx.Client, vendor: str,
                                                            url: str) -> None:
    reply = SUBSCRIBE[vendor](http, url)
    if vendor == "gewe":
        assert reply["msg"] == "设置回调地址失败", reply
    else:
        assert reply["message"].startswith("失败: 回调地址不可用: "), reply


def test_an_allowed_host_matches_whatever_its_case_on_the_list(
        configured: Callable[[MockConfig], LiveServer]) -> None:
    with client_of(configured(MockConfig(callback_allow_hosts=("Example.com",)))) as http:
        assert set_gewe_callback(http, "http://example.com/cb")["ret"] == 200


def test_registering_again_replaces_the_callback_url(http: httpx.Client,
                                                     bot: RecordingBot) -> None:
    with RecordingBot() as new_bot:
        set_gewe_callback(http, bot.url)
        set_gewe_callback(http, new_bot.url)
        receive(http, "gewe")
        assert len(new_bot.requests) == 1
    assert bot.requests == []


def test_a_refused_registration_keeps_the_previous_callback(http: httpx.Client,
                                                            bot: RecordingBot) -> None:
    set_wid_callback(http, bot.url)
    assert set_wid_callback(http, "http://example.com/cb")["code"] == "1001"
    receive(http, "wid")
    assert len(bot.requests) == 1


def test_callbacks_go_only_to_the_bot_of_that_vendor(http: httpx.Client,
                                                    bot: RecordingBot) -> None:
    with RecordingBot() as wid_bot:
        set_gewe_callback(http, bot.url)
        set_wid_callback(http, wid_bot.url)
        receive(http, "gewe")
        assert len(bot.requests) == 1 and wid_bot.requests == []


def test_without_a_registered_callback_nothing_is_delivered(http: httpx.Client) -> None:
    assert receive(http, "gewe")["deliveries"] == []
    assert deliveries(http) == []


# --- GeWe AddMsg ----------------------------------------------------------------------------


def test_gewe_private_image_callback_is_an_add_msg_of_type_3(http: httpx.Client,
                                                            bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    message = receive(http, "gewe")
    (request,) = bot.requests
    callback = request.json()
    assert_gewe_callback(callback)
    assert request.headers["Content-Type"].startswith("application/json")
    assert callback == message["callback"]
    assert (callback["TypeName"], callback["Appid"], callback["Wxid"]) == (
        "AddMsg", GEWE_DEVICE.app_id, GEWE_DEVICE.wxid)
    data = callback["Data"]
    assert (data["MsgType"], data["Status"], data["ImgStatus"]) == (3, 3, 2)
    assert data["FromUserName"] == {"string": SENDER}
    assert data["ToUserName"] == {"string": GEWE_DEVICE.wxid}
    assert data["Content"]["string"] == message["xml"]
    assert data["Content"]["string"].startswith('<?xml version="1.0"?>\n<msg>\n\t<img ')
    assert data["MsgId"] == message["msgId"]
    assert data["PushContent"] == f"{SENDER} : [图片]"


def test_gewe_group_image_callback_comes_from_the_chatroom_with_the_sender_prefix(
        http: httpx.Client, bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    message = receive(http, "gewe", chatroom=CHATROOM)
    callback = bot.requests[0].json()
    assert_gewe_callback(callback)
    data = callback["Data"]
    assert data["FromUserName"] == {"string": CHATROOM}
    assert data["Content"]["string"] == f"{SENDER}:\n{message['xml']}"
    assert data["PushContent"] == f"{SENDER} : [图片]"
    assert "<membercount>" in data["MsgSource"]


def test_gewe_callback_img_buf_is_the_base64_jpeg_thumbnail_with_its_length(
        http: httpx.Client, bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    receive(http, "gewe", fixture="transparent.png")  # a PNG: the thumbnail is still a JPEG
    data = bot.requests[0].json()["Data"]
    thumbnail = base64.b64decode(data["ImgBuf"]["buffer"], validate=True)
    assert data["ImgBuf"]["iLen"] == len(thumbnail)
    picture = Image.open(io.BytesIO(thumbnail))
    assert picture.format == "JPEG" and max(picture.size) <= 120
    # As in the vendor's capture, iLen is the XML's cdnthumblength (vendor notes 1.6).
    assert int(xml_attribute(data["Content"]["string"], "cdnthumblength")) == len(thumbnail)


def test_gewe_callback_thumbnail_is_what_download_type_3_serves(http: httpx.Client,
                                                                bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    receive(http, "gewe")
    data = bot.requests[0].json()["Data"]
    file_url = download(http, data["Content"]["string"], 3)["data"]["fileUrl"]
    assert httpx.get(file_url).content == base64.b64decode(data["ImgBuf"]["buffer"])


def test_gewe_callback_new_msg_id_is_an_exact_19_digit_integer_on_the_wire(
        http: httpx.Client, bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    message = receive(http, "gewe")
    raw = bot.requests[0].body
    match = re.search(rb'"NewMsgId":(\d+)[,}]', raw)
    assert match, raw[:300]
    assert len(match.group(1)) == 19
    assert int(match.group(1)) == message["newMsgId"] > 2**53  # past float precision
    assert json.loads(raw)["Data"]["NewMsgId"] == int(match.group(1))


def test_gewe_callback_new_msg_id_is_a_string_when_configured(
        configured: Callable[[MockConfig], LiveServer], bot: RecordingBot) -> None:
    server = configured(MockConfig(gewe=GeweConfig(new_msg_id_as_string=True)))
    with client_of(server) as http:
        set_gewe_callback(http, bot.url)
        message = receive(http, "gewe")
    callback = bot.requests[0].json()
    assert_gewe_callback(callback)
    assert callback["Data"]["NewMsgId"] == str(message["newMsgId"])
    assert re.search(rb'"NewMsgId":"\d{19}"', bot.requests[0].body)


def test_gewe_callback_create_time_is_epoch_seconds(http: httpx.Client,
                                                    bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    message = receive(http, "gewe")
    create_time = bot.requests[0].json()["Data"]["CreateTime"]
    assert isinstance(create_time, int)
    assert create_time == message["createTime"]
    assert abs(create_time - time.time()) < 30


def test_gewe_callback_create_time_follows_the_mock_clock(http: httpx.Client,
                                                          server: LiveServer,
                                                          bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    server.state.clock.advance(86400)
    receive(http, "gewe")
    assert abs(bot.requests[0].json()["Data"]["CreateTime"] - (time.time() + 86400)) < 30


def test_gewe_callback_xml_downloads_hd_normal_and_thumbnail_when_hd_was_kept(
        http: httpx.Client, bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    receive(http, "gewe", fixture="landscape.jpg", hd=True)
    xml = bot.requests[0].json()["Data"]["Content"]["string"]
    served = {image_type: httpx.get(download(http, xml, image_type)["data"]["fileUrl"]).content
              for image_type in (1, 2, 3)}
    assert served[1] == fixture_image("landscape.jpg")
    assert hashlib.md5(served[2]).hexdigest() == xml_attribute(xml, "md5")
    assert len(served[3]) == int(xml_attribute(xml, "cdnthumblength"))


def test_gewe_callback_xml_without_hd_downloads_normal_and_thumbnail_but_not_hd(
        http: httpx.Client, bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    receive(http, "gewe", hd=False)
    xml = bot.requests[0].json()["Data"]["Content"]["string"]
    assert "cdnbigimgurl" not in xml
    assert download(http, xml, 1) == {"ret": 500, "msg": "下载图片失败",
                                      "data": {"code": "-1", "msg": "该图片没有高清图片"}}
    for image_type in (2, 3):
        reply = download(http, xml, image_type)
        assert reply["ret"] == 200
        assert httpx.get(reply["data"]["fileUrl"]).status_code == 200


def test_gewe_group_callback_content_downloads_as_delivered(http: httpx.Client,
                                                            bot: RecordingBot) -> None:
    set_gewe_callback(http, bot.url)
    receive(http, "gewe", chatroom=CHATROOM)
    content = bot.requests[0].json()["Data"]["Content"]["string"]
    reply = download(http, content, 2)
    assert reply["ret"] == 200
    assert hashlib.md5(httpx.get(reply["data"]["fileUrl"]).content).hexdigest() == \
        xml_attribute(content, "md5")


# --- wid ------------------------------------------------------------------------------------


def test_wid_private_image_callback_is_message_type_6(http: httpx.Client,
                                                      bot: RecordingBot) -> None:
    set_wid_callback(http, bot.url)
    message = receive(http, "wid")
    raw = bot.requests[0].body
    callback = json.loads(raw)
    assert_wid_callback(callback)
    assert b'"messageType":6,' in raw  # an int in the old format
    assert callback == message["callback"]
    assert (callback["account"], callback["wcId"]) == (WID_INSTANCE.account, WID_INSTANCE.wc_id)
    data = callback["data"]
    assert "fromGroup" not in data
    assert (data["wId"], data["fromUser"], data["toUser"]) == (
        WID_INSTANCE.w_id, SENDER, WID_INSTANCE.wc_id)
    assert (data["msgId"], data["newMsgId"]) == (message["msgId"], message["newMsgId"])
    assert data["content"] == message["xml"]
    assert data["self"] is False and data["timestamp"] == message["createTime"]


def test_wid_group_image_callback_is_message_type_10_from_the_group(
        http: httpx.Client, bot: RecordingBot) -> None:
    set_wid_callback(http, bot.url)
    message = receive(http, "wid", chatroom=CHATROOM)
    callback = bot.requests[0].json()
    assert_wid_callback(callback)
    assert callback["messageType"] == 10
    data = callback["data"]
    assert (data["fromUser"], data["fromGroup"]) == (SENDER, CHATROOM)
    assert data["content"] == f"{SENDER}:\n{message['xml']}"


def test_wid_callback_new_msg_id_is_an_exact_integer_on_the_wire(http: httpx.Client,
                                                                 bot: RecordingBot) -> None:
    set_wid_callback(http, bot.url)
    message = receive(http, "wid")
    assert f'"newMsgId":{message["newMsgId"]},'.encode() in bot.requests[0].body
    assert len(str(message["newMsgId"])) == 19


@pytest.mark.parametrize("chatroom, message_type", [(None, "60002"), (CHATROOM, "80002")],
                         ids=["private", "group"])
def test_wid_new_format_callback_uses_string_codes(
        configured: Callable[[MockConfig], LiveServer], bot: RecordingBot,
        chatroom: str | None, message_type: str) -> None:
    server = configured(MockConfig(wid=WidConfig(callback_format="new")))
    with client_of(server) as http:
        set_wid_callback(http, bot.url)
        receive(http, "wid", **({"chatroom": chatroom} if chatroom else {}))
    raw = bot.requests[0].body
    callback = json.loads(raw)
    assert_wid_callback(callback)
    assert f'"messageType":"{message_type}"'.encode() in raw
    assert ("fromGroup" in callback["data"]) == (chatroom is not None)


@pytest.mark.parametrize("chatroom", [None, CHATROOM], ids=["private", "group"])
def test_wid_get_msg_img_with_the_callback_fields_serves_the_image(
        http: httpx.Client, bot: RecordingBot, chatroom: str | None) -> None:
    set_wid_callback(http, bot.url)
    receive(http, "wid", fixture="landscape.jpg", **({"chatroom": chatroom} if chatroom else {}))
    data = bot.requests[0].json()["data"]
    reply = http.post(GET_MSG_IMG, headers=WID_HEADERS, json={
        field: data[field] for field in ("wId", "msgId", "fromUser", "toUser", "content")}).json()
    assert reply["code"] == "1000", reply
    image = httpx.get(reply["data"])
    assert image.status_code == 200
    assert hashlib.md5(image.content).hexdigest() == xml_attribute(data["content"], "md5")


# --- delivery mechanics -----------------------------------------------------------------------


def test_deliveries_list_each_attempt_with_status_time_and_the_bots_answer(
        retrying: httpx.Client, bot: RecordingBot) -> None:
    bot.body = b'{"handled":"yes"}'
    set_gewe_callback(retrying, bot.url)
    message = receive(retrying, "gewe")
    (listed,) = deliveries(retrying)
    assert_valid(SchemaResolver(spec_document("admin")).validator(
        spec_document("admin")["components"]["schemas"]["Delivery"]), listed)
    assert listed == message["deliveries"][0]
    assert (listed["vendor"], listed["url"], listed["state"]) == ("gewe", bot.url, "delivered")
    (attempt,) = listed["attempts"]
    assert (attempt["status"], attempt["body"], attempt["error"]) == (
        200, '{"handled":"yes"}', None)
    assert attempt["replay"] is False and attempt["ms"] >= 0


@pytest.mark.parametrize("vendor", ["gewe", "wid"])
def test_a_bot_answering_500_is_retried_on_schedule_until_it_runs_out(
        retrying: httpx.Client, bot: RecordingBot, vendor: str) -> None:
    bot.status = 500
    SUBSCRIBE[vendor](retrying, bot.url)
    first = receive(retrying, vendor)["deliveries"][0]
    assert first["state"] == "pending" and len(first["attempts"]) == 1
    final = settled(retrying, first["id"])
    assert final["state"] == "failed"
    assert [a["status"] for a in final["attempts"]] == [500, 500, 500]
    arrivals = [r.arrived for r in bot.wait_for(3)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(wait <= gap < wait + 1.0 for gap, wait in zip(gaps, RETRIES, strict=True)), gaps
    assert len({r.body for r in bot.requests}) == 1  # every attempt carries the same bytes
    time.sleep(0.3)
    assert len(bot.requests) == 3  # nothing after the schedule ran out


def test_a_bot_taking_a_retry_with_any_2xx_gets_no_more_attempts(
        retrying: httpx.Client, bot: RecordingBot) -> None:
    bot.statuses = [500]
    bot.status = 204
    set_gewe_callback(retrying, bot.url)
    first = receive(retrying, "gewe")["deliveries"][0]
    final = settled(retrying, first["id"])
    assert final["state"] == "delivered"
    assert [a["status"] for a in final["attempts"]] == [500, 204]
    time.sleep(sum(RETRIES) + 0.1)
    assert len(bot.requests) == 2


def test_a_bot_slower_than_the_timeout_is_retried_until_the_schedule_runs_out(
        configured: Callable[[MockConfig], LiveServer], bot: RecordingBot) -> None:
    bot.delay = 0.6
    server = configured(MockConfig(delivery_retry_seconds=RETRIES,
                                   gewe=GeweConfig(callback_timeout_seconds=0.2)))
    with client_of(server) as http:
        set_gewe_callback(http, bot.url)
        first = receive(http, "gewe")["deliveries"][0]
        assert first["state"] == "pending"
        final = settled(http, first["id"])
    assert final["state"] == "failed"
    assert len(final["attempts"]) == 3
    for attempt in final["attempts"]:
        assert attempt["status"] is None and "Timeout" in attempt["error"]
        assert 150 <= attempt["ms"] < 500  # given up on at the timeout, not at the answer


def test_a_bot_that_is_down_is_retried_and_the_delivery_fails(retrying: httpx.Client) -> None:
    set_wid_callback(retrying, closed_port_url("/callback"))
    first = receive(retrying, "wid")["deliveries"][0]
    final = settled(retrying, first["id"])
    assert final["state"] == "failed"
    assert len(final["attempts"]) == 3
    assert all(a["status"] is None and "ConnectError" in a["error"] for a in final["attempts"])


def test_replay_sends_the_exact_same_bytes_again(retrying: httpx.Client,
                                                 bot: RecordingBot) -> None:
    set_gewe_callback(retrying, bot.url)
    first = receive(retrying, "gewe")["deliveries"][0]
    reply = retrying.post(f"/__admin/deliveries/{first['id']}/replay", json={})
    assert reply.status_code == 200
    replayed = reply.json()
    assert replayed["id"] == first["id"] and replayed["state"] == "delivered"
    assert [a["replay"] for a in replayed["attempts"]] == [False, True]
    original, duplicate = bot.wait_for(2)
    assert duplicate.body == original.body
    assert duplicate.headers["Content-Type"] == original.headers["Content-Type"]


def test_replay_of_an_unknown_delivery_is_404(retrying: httpx.Client) -> None:
    reply = retrying.post("/__admin/deliveries/dlv-000000000000/replay", json={})
    assert reply.status_code == 404
    assert "dlv-000000000000" in reply.json()["error"]


def test_no_retry_is_sent_once_a_replay_was_taken(
        configured: Callable[[MockConfig], LiveServer], bot: RecordingBot) -> None:
    bot.statuses = [500]
    with client_of(configured(MockConfig(delivery_retry_seconds=(0.4,)))) as http:
        set_gewe_callback(http, bot.url)
        first = receive(http, "gewe")["deliveries"][0]
        replayed = http.post(f"/__admin/deliveries/{first['id']}/replay", json={}).json()
        assert replayed["state"] == "delivered"
        time.sleep(0.6)  # past the retry that was scheduled after the first attempt
        assert len(bot.requests) == 2


def test_a_failed_replay_leaves_a_delivery_still_being_retried_pending(
        configured: Callable[[MockConfig], LiveServer], bot: RecordingBot) -> None:
    bot.status = 500
    with client_of(configured(MockConfig(delivery_retry_seconds=(0.4,)))) as http:
        set_gewe_callback(http, bot.url)
        first = receive(http, "gewe")["deliveries"][0]
        replayed = http.post(f"/__admin/deliveries/{first['id']}/replay", json={}).json()
        assert replayed["state"] == "pending"


def test_callbacks_appear_in_the_journal_with_the_bots_status(retrying: httpx.Client,
                                                              retrying_server: LiveServer,
                                                              bot: RecordingBot) -> None:
    bot.status = 202
    set_gewe_callback(retrying, bot.url)
    message = receive(retrying, "gewe")
    (entry,) = retrying_server.journal.entries("callback")
    assert (entry.api, entry.method, entry.path, entry.status) == ("gewe", "POST", bot.url, 202)
    assert entry.request_body["Data"]["NewMsgId"] == message["newMsgId"]
    assert entry.response_body == {"taken": True}
    assert message["deliveries"][0]["id"] in entry.scenario


def test_every_attempt_appears_in_the_journal(retrying: httpx.Client,
                                              retrying_server: LiveServer,
                                              bot: RecordingBot) -> None:
    bot.statuses = [500, 503]
    set_wid_callback(retrying, bot.url)
    settled(retrying, receive(retrying, "wid")["deliveries"][0]["id"])
    assert [e.status for e in retrying_server.journal.entries("callback")] == [500, 503, 200]


def test_with_the_journal_off_callbacks_are_not_journaled(
        configured: Callable[[MockConfig], LiveServer], bot: RecordingBot) -> None:
    server = configured(MockConfig(journal=False))
    with client_of(server) as http:
        set_gewe_callback(http, bot.url)
        receive(http, "gewe")
        assert server.journal.entries() == []


def test_wait_false_answers_before_delivery_which_then_completes(
        retrying: httpx.Client, bot: RecordingBot) -> None:
    bot.delay = 0.5
    set_gewe_callback(retrying, bot.url)
    started = time.monotonic()
    first = receive(retrying, "gewe", fixture="tiny.gif", wait=False)["deliveries"][0]
    assert time.monotonic() - started < bot.delay
    assert (first["state"], first["attempts"]) == ("pending", [])
    final = settled(retrying, first["id"])
    assert final["state"] == "delivered" and len(final["attempts"]) == 1


def test_reset_drops_subscriptions_and_deliveries(retrying: httpx.Client,
                                                  bot: RecordingBot) -> None:
    set_gewe_callback(retrying, bot.url)
    set_wid_callback(retrying, bot.url)
    receive(retrying, "gewe")
    assert retrying.post("/__admin/reset").json() == {"reset": True}
    assert deliveries(retrying) == []
    assert receive(retrying, "gewe")["deliveries"] == receive(retrying, "wid")["deliveries"] == []
    assert len(bot.requests) == 1


def test_reset_stops_the_retries_of_a_pending_delivery(retrying: httpx.Client,
                                                       bot: RecordingBot) -> None:
    bot.status = 500
    set_gewe_callback(retrying, bot.url)
    receive(retrying, "gewe")
    retrying.post("/__admin/reset")
    time.sleep(sum(RETRIES) + 0.2)
    assert len(bot.requests) == 1
    assert deliveries(retrying) == []
