"""Failure on demand over a real socket: armed errors (Prefer header and rules), the rules'
own admin routes, the mock's clock and reset."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from _support import (
    APP_A,
    APP_B,
    DEFAULTS,
    GEWE_API,
    GEWE_APP_ID,
    GEWE_TOKEN,
    LARK_TOKEN_PATH,
    PNG,
    TLS,
    WID_AUTHORIZATION,
    gewe_client,
    lark_auth,
    receive,
    wid_client,
)
from _support import lark_client as shared_lark_client

from chatimg import (
    GeweError,
    ImageType,
    LarkBotNotEnabled,
    LarkClient,
    LarkError,
    LarkFileNotInMessage,
    LarkImageDeleted,
    LarkImageRejected,
    LarkInvalidRequest,
    LarkNotResourceSender,
    LarkRateLimited,
    LarkTenantError,
    LarkUnauthorized,
    WidError,
)
from mockserver import LarkApp, LiveServer
from mockserver.vendors.lark.errors import error_table

POST_IMAGE = f"{GEWE_API}/message/postImage"
IMAGES_PATH = "/open-apis/im/v1/images"
SEVEN_DAYS = 7 * 24 * 3600

# Every code the Lark image API documents, and the client's class for it.
LARK_ERRORS = [
    (234001, LarkInvalidRequest), (234002, LarkUnauthorized), (234003, LarkFileNotInMessage),
    (234005, LarkImageDeleted),
    (234006, LarkImageRejected), (234007, LarkBotNotEnabled), (234008, LarkNotResourceSender),
    (234010, LarkImageRejected), (234011, LarkImageRejected), (234041, LarkTenantError),
    (234042, LarkTenantError), (99991661, LarkUnauthorized), (99991663, LarkUnauthorized),
    (99991400, LarkRateLimited),
]


def test_the_lark_cases_are_the_codes_the_spec_lets_a_rule_ask_of_get_image() -> None:
    assert {code for code, _ in LARK_ERRORS} == set(error_table().codes_of("getImage"))


# GeWe failure name -> (msg, data.code, data.msg) as downloadImage answers it
GEWE_DOWNLOAD_ERRORS = {
    "token_missing": ("header:X-GEWE-TOKEN 不可为空", None, None),
    "token_invalid": (f"HTTP HEADER: X-GEWE-TOKEN={GEWE_TOKEN} 不可用或已过期", None, None),
    "device_not_found": ("下载图片失败", "-1", f"[{GEWE_APP_ID}]设备不存在"),
    "wechat_offline": ("下载图片失败", "-1", "微信已离线"),
    "xml_parse_error": ("下载图片xml解析异常", None, None),
    "image_not_found": ("下载图片失败", "-1", "图片不存在或已过期"),
    "no_hd": ("下载图片失败", "-1", "该图片没有高清图片"),
}


class PreferOnImageCalls(httpx.HTTPTransport):
    """A real transport that adds a ``Prefer`` header to the vendor's image calls (not to
    Lark's token endpoint), on every such call or only the first ``times``."""

    def __init__(self, prefer: str, times: int | None = None):
        super().__init__(verify=TLS)
        self.prefer = prefer
        self.left = times

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != LARK_TOKEN_PATH and self.left != 0:
            request.headers["Prefer"] = self.prefer
            self.left = None if self.left is None else self.left - 1
        return super().handle_request(request)


class Sleeps(list[float]):
    """The client's sleep: records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def lark_client(server: LiveServer, app: LarkApp = APP_A, **options: Any) -> LarkClient:
    """The shared LarkClient, recording its waits instead of waiting."""
    return shared_lark_client(server, app, **{"sleep": Sleeps(), **options})


def arm(http: httpx.Client, **rule: Any) -> dict:
    reply = http.post("/__admin/rules", json=rule)
    assert reply.status_code == 201, reply.text
    return reply.json()


def lark_upload(http: httpx.Client, headers: dict[str, str]) -> str:
    reply = http.post(IMAGES_PATH, headers=headers, data={"image_type": "message"},
                      files={"image": ("square.png", PNG)})
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]["image_key"]


def gewe_post(http: httpx.Client) -> dict:
    reply = http.post(POST_IMAGE, json={"appId": GEWE_APP_ID, "toWxid": "wxid_a",
                                        "imgUrl": "http://x/10x10"},
                      headers={"X-GEWE-TOKEN": GEWE_TOKEN})
    return reply.json()


@pytest.fixture
def lark_headers(http: httpx.Client) -> dict[str, str]:
    """A valid tenant token of app A, fetched before any rule is armed."""
    return lark_auth(http)


@pytest.fixture
def image_key(http: httpx.Client, lark_headers: dict[str, str]) -> str:
    """An image app A uploaded."""
    return lark_upload(http, lark_headers)


# --- armed Lark errors through LarkClient ---------------------------------------------------


@pytest.mark.parametrize("code, error_class", LARK_ERRORS)
def test_prefer_error_makes_lark_download_raise_the_typed_error(
        server: LiveServer, image_key: str, code: int, error_class: type[LarkError]) -> None:
    with lark_client(server, transport=PreferOnImageCalls(f"error={code}")) as client:
        with pytest.raises(error_class) as raised:
            client.download_image(image_key)
    assert raised.value.code == code
    assert raised.value.log_id


@pytest.mark.parametrize("code, error_class", LARK_ERRORS)
def test_rule_makes_lark_upload_raise_the_typed_error(
        server: LiveServer, http: httpx.Client, code: int, error_class: type[LarkError]) -> None:
    arm(http, operation="uploadImage", error=str(code))
    with lark_client(server) as client, pytest.raises(error_class) as raised:
        client.upload_image(PNG)
    assert raised.value.code == code


def test_armed_rate_limit_answers_429_with_the_rate_limit_headers(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    reply = http.get(f"{IMAGES_PATH}/{image_key}", headers={**lark_headers,
                                                            "Prefer": "error=99991400"})
    assert reply.status_code == 429
    assert reply.json()["code"] == 99991400
    assert reply.headers["x-ogw-ratelimit-limit"] == "50"
    assert int(reply.headers["x-ogw-ratelimit-reset"]) >= 1


def test_armed_rate_limit_is_retried_by_the_client_until_its_attempts_run_out(
        server: LiveServer, http: httpx.Client, image_key: str) -> None:
    arm(http, operation="getImage", error="99991400")
    sleeps = Sleeps()
    with lark_client(server, sleep=sleeps) as client, pytest.raises(LarkRateLimited) as raised:
        client.download_image(image_key)
    assert raised.value.attempts == 4  # RateLimitPolicy's default
    assert sleeps == [1.0, 1.0, 1.0]  # x-ogw-ratelimit-reset each time
    server.journal.assert_called("getImage", times=4)


def test_prefer_99991663_on_one_request_is_absorbed_by_the_clients_token_retry(
        server: LiveServer, image_key: str) -> None:
    with lark_client(server, transport=PreferOnImageCalls("error=99991663", times=1)) as client:
        assert client.download_image(image_key) == PNG
    assert [e.status for e in server.journal.entries("getImage")] == [400, 200]


def test_99991663_rule_for_one_call_is_absorbed_by_the_clients_token_retry(
        server: LiveServer, http: httpx.Client, image_key: str) -> None:
    arm(http, operation="getImage", error="99991663", times=1)
    with lark_client(server) as client:
        assert client.download_image(image_key) == PNG
    calls = server.journal.assert_called("getImage", times=2)
    assert [(e.status, e.vendor_code) for e in calls] == [(400, 99991663), (200, None)]


def test_99991663_rule_for_two_calls_outlasts_the_retry_and_raises_unauthorized(
        server: LiveServer, http: httpx.Client, image_key: str) -> None:
    arm(http, operation="getImage", error="99991663", times=2)
    with lark_client(server) as client, pytest.raises(LarkUnauthorized) as raised:
        client.download_image(image_key)
    assert raised.value.code == 99991663
    server.journal.assert_called("getImage", times=2)


# --- armed GeWe and wid errors through their clients ----------------------------------------


@pytest.mark.parametrize("name", GEWE_DOWNLOAD_ERRORS)
def test_prefer_error_makes_gewe_download_raise_gewe_error(
        server: LiveServer, http: httpx.Client, name: str) -> None:
    message = receive(http, "gewe", fixture="square.png")
    with gewe_client(server, transport=PreferOnImageCalls(f"error={name}")) as client:
        with pytest.raises(GeweError) as raised:
            client.download_image(message["xml"], ImageType.NORMAL)
    error = raised.value
    assert (error.ret, error.msg, error.data_code, error.data_msg) == (
        500, *GEWE_DOWNLOAD_ERRORS[name])


@pytest.mark.parametrize("name", GEWE_DOWNLOAD_ERRORS)
def test_rule_makes_gewe_download_raise_gewe_error(
        server: LiveServer, http: httpx.Client, name: str) -> None:
    message = receive(http, "gewe", fixture="square.png")
    arm(http, operation="downloadImage", error=name)
    with gewe_client(server) as client, pytest.raises(GeweError) as raised:
        client.download_image(message["xml"], ImageType.NORMAL)
    error = raised.value
    assert (error.ret, error.msg, error.data_code, error.data_msg) == (
        500, *GEWE_DOWNLOAD_ERRORS[name])


@pytest.mark.parametrize("name, reading", [
    ("token_missing", "token_rejected"), ("token_invalid", "token_rejected"),
    ("device_not_found", "device_not_found"), ("wechat_offline", "wechat_offline"),
    ("xml_parse_error", "xml_unparsable"),
])
def test_armed_gewe_errors_are_recognised_by_the_clients_readings(
        server: LiveServer, http: httpx.Client, name: str, reading: str) -> None:
    arm(http, operation="postImage", error=name)
    with gewe_client(server) as client, pytest.raises(GeweError) as raised:
        client.post_image("wxid_a", "http://x/10x10")
    assert getattr(raised.value, reading) is True


def test_armed_gewe_error_on_post_image_names_the_send_action(
        server: LiveServer, http: httpx.Client) -> None:
    arm(http, operation="postImage", error="wechat_offline")
    with gewe_client(server) as client, pytest.raises(GeweError) as raised:
        client.post_image("wxid_a", "http://x/10x10")
    assert (raised.value.msg, raised.value.data_msg) == ("发送消息失败", "微信已离线")


def test_no_hd_rule_for_one_call_is_absorbed_by_the_clients_fallback(
        server: LiveServer, http: httpx.Client) -> None:
    message = receive(http, "gewe", fixture="square.png", hd=True)
    arm(http, operation="downloadImage", error="no_hd", times=1)
    with gewe_client(server) as client:
        got = client.download_image(message["xml"], ImageType.HD, fallback=True)
    assert (got.type, got.tried) == (ImageType.NORMAL, (ImageType.HD, ImageType.NORMAL))


def test_prefer_error_1001_makes_wid_client_raise_wid_error(
        server: LiveServer, http: httpx.Client) -> None:
    message = receive(http, "wid", fixture="square.png")
    with wid_client(server, transport=PreferOnImageCalls("error=1001")) as client:
        with pytest.raises(WidError) as raised:
            client.get_msg_img(message["msgId"], message["fromUser"], message["toUser"],
                               message["content"])
    assert (raised.value.code, raised.value.message) == ("1001", "失败")


def test_rule_1001_makes_wid_client_raise_wid_error(server: LiveServer, http: httpx.Client) -> None:
    message = receive(http, "wid", fixture="square.png")
    arm(http, operation="getMsgImg", error="1001")
    with wid_client(server) as client, pytest.raises(WidError) as raised:
        client.get_msg_img(message["msgId"], message["fromUser"], message["toUser"],
                           message["content"])
    assert raised.value.code == "1001"


def test_prefer_header_spelled_code_as_prism_does_is_honoured(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    reply = http.get(f"{IMAGES_PATH}/{image_key}", headers={**lark_headers,
                                                            "Prefer": "code=234041"})
    assert reply.json()["code"] == 234041


def test_prefer_header_affects_only_the_request_that_carries_it(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    refused = http.get(f"{IMAGES_PATH}/{image_key}", headers={**lark_headers,
                                                              "Prefer": "error=234005"})
    plain = http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers)
    assert (refused.status_code, plain.status_code) == (400, 200)
    assert plain.content == PNG


@pytest.mark.parametrize("path, headers, body, envelope_text", [
    (POST_IMAGE, {"X-GEWE-TOKEN": GEWE_TOKEN},
     {"appId": GEWE_APP_ID, "toWxid": "wxid_a", "imgUrl": "http://x/1x1"}, "msg"),
    ("/getMsgImg", {"Authorization": WID_AUTHORIZATION}, {}, "message"),
])
def test_unknown_prefer_error_is_answered_in_the_wechat_envelope_naming_the_known_errors(
        http: httpx.Client, path: str, headers: dict, body: dict, envelope_text: str) -> None:
    reply = http.post(path, json=body, headers={**headers, "Prefer": "error=no_such_error"})
    assert reply.status_code == 200
    text = reply.json()[envelope_text]
    assert "no_such_error" in text
    assert ("wechat_offline" in text) if path == POST_IMAGE else ("1001" in text)


def test_unknown_prefer_error_is_answered_by_lark_as_234001_naming_the_known_codes(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    reply = http.get(f"{IMAGES_PATH}/{image_key}", headers={**lark_headers,
                                                            "Prefer": "error=777"})
    assert reply.status_code == 400
    assert reply.json()["code"] == 234001
    violation = reply.json()["error"]["field_violations"][0]
    assert violation["field"] == "Prefer"
    assert "777" in violation["description"] and "234005" in violation["description"]


# --- rules: how many calls, which calls ---------------------------------------------------


def test_rule_with_times_answers_exactly_that_many_calls_then_stops(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    arm(http, operation="getImage", error="234042", times=3)
    codes = [http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers).status_code
             for _ in range(4)]
    assert codes == [400, 400, 400, 200]


def test_listed_rule_counts_down_its_remaining_calls_and_goes_when_used_up(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    rule = arm(http, operation="getImage", error="234042", times=2)
    assert rule["remaining"] == 2
    http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers)
    assert http.get("/__admin/rules").json()["rules"] == [{
        "id": rule["id"], "operation": "getImage", "match": {}, "action": {"error": "234042"},
        "remaining": 1}]
    http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers)
    assert http.get("/__admin/rules").json()["rules"] == []


def test_rule_without_times_holds_for_every_call_until_deleted(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    rule = arm(http, operation="getImage", error="234041")
    assert rule["remaining"] is None
    held = [http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers).status_code
            for _ in range(3)]
    assert http.delete(f"/__admin/rules/{rule['id']}").json() == {"deleted": rule["id"]}
    after = http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers)
    assert held == [400, 400, 400]
    assert after.status_code == 200


def test_deleting_an_unknown_rule_answers_404(http: httpx.Client) -> None:
    reply = http.delete("/__admin/rules/rule-nosuch")
    assert reply.status_code == 404
    assert "rule-nosuch" in reply.json()["error"]


def test_rule_matching_an_image_key_hits_only_that_key(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    other_key = lark_upload(http, lark_headers)
    arm(http, operation="getImage", match={"image_key": image_key}, error="234005")
    assert http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers).json()["code"] == 234005
    assert http.get(f"{IMAGES_PATH}/{other_key}", headers=lark_headers).content == PNG


def test_rule_matching_a_token_expires_only_that_token(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    token_a = lark_headers["Authorization"].removeprefix("Bearer ")
    headers_b = lark_auth(http, APP_B)
    key_b = lark_upload(http, headers_b)
    arm(http, operation="lark.*", match={"token": token_a}, error="99991663")
    refused = http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers)
    assert (refused.status_code, refused.json()["code"]) == (400, 99991663)
    assert http.get(f"{IMAGES_PATH}/{key_b}", headers=headers_b).content == PNG


def test_rule_matching_an_app_id_hits_only_that_gewe_device(http: httpx.Client) -> None:
    arm(http, operation="postImage", match={"appId": "wx_SomeOtherDevice0001"},
        error="wechat_offline")
    assert gewe_post(http)["ret"] == 200
    arm(http, operation="postImage", match={"appId": GEWE_APP_ID}, error="wechat_offline")
    assert gewe_post(http)["data"]["msg"] == "微信已离线"


def test_rule_for_lark_star_hits_every_lark_image_operation_and_no_other_vendor(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    arm(http, operation="lark.*", error="234042")
    upload = http.post(IMAGES_PATH, headers=lark_headers, data={"image_type": "message"},
                       files={"image": ("square.png", PNG)})
    download = http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers)
    assert (upload.json()["code"], download.json()["code"]) == (234042, 234042)
    assert gewe_post(http)["ret"] == 200


def test_lark_star_error_rule_leaves_the_token_endpoint_answering_200_as_its_spec_says(
        http: httpx.Client) -> None:
    arm(http, operation="lark.*", error="234042")
    reply = http.post(LARK_TOKEN_PATH, json={"app_id": APP_A.app_id,
                                             "app_secret": APP_A.app_secret})
    assert reply.status_code == 200


def test_rule_for_star_applies_its_fault_to_every_vendor(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    message = receive(http, "wid", fixture="square.png")
    arm(http, operation="*", fault={"fault": "empty"})
    gewe = http.post(POST_IMAGE, json={"appId": GEWE_APP_ID, "toWxid": "wxid_a",
                                       "imgUrl": "http://x/1x1"},
                     headers={"X-GEWE-TOKEN": GEWE_TOKEN})
    wid = http.post("/getMsgImg", headers={"Authorization": WID_AUTHORIZATION}, json={
        "wId": message["account"], "msgId": message["msgId"], "fromUser": message["fromUser"],
        "toUser": message["toUser"], "content": message["content"]})
    lark = http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers)
    assert [(r.status_code, r.content) for r in (gewe, wid, lark)] == [(200, b"")] * 3


def test_older_rule_answers_before_a_newer_one(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    arm(http, operation="getImage", error="234041", times=1)
    arm(http, operation="getImage", error="234042", times=1)
    codes = [http.get(f"{IMAGES_PATH}/{image_key}", headers=lark_headers).json()["code"]
             for _ in range(2)]
    assert codes == [234041, 234042]


# --- rules that cannot be armed ------------------------------------------------------------


@pytest.mark.parametrize("rule, words", [
    ({"operation": "getImage", "error": "nope"}, ["'nope'", "known: 234001"]),
    ({"operation": "downloadImage", "error": "234005"}, ["'234005'", "no_hd"]),
    ({"operation": "getMsgImg", "error": "1002"}, ["'1002'", "known: 1001"]),
    ({"operation": "*", "error": "nope"}, ["cannot answer error", "'nope'", "234005", "1001"]),
    ({"operation": "getImages", "error": "234005"}, ["no operation 'getImages'"]),
    ({"operation": "getImage", "fault": {"fault": "explode"}}, ["explode", "latency"]),
    ({"operation": "getImage", "fault": {"fault": "latency", "ms": -1}}, ["ms"]),
    ({"operation": "getImage", "fault": {"fault": "reset", "ms": 3}},
     ["takes no parameter 'ms'"]),
    ({"operation": "getImage", "fault": {"fault": "truncate", "fraction": 1}},
     ["fraction", "greater than or equal to the maximum of 1"]),
    ({"operation": "getImage"}, ["exactly one of error", "or fault"]),
    ({"operation": "getImage", "error": "234005", "fault": {"fault": "reset"}},
     ["exactly one of error", "or fault"]),
    ({"operation": "gewe.postImage", "error": "wechat_offline"}, ["no operation"]),
    ({"operation": "foo.*", "fault": {"fault": "reset"}}, ["no operation 'foo.*'"]),
    ({"operation": "getImage", "error": "234005", "times": 0}, ["times"]),
], ids=["lark-name", "gewe-name", "wid-name", "star-error", "operation", "fault-kind",
        "negative-ms", "stray-parameter", "whole-fraction", "no-action", "both-actions",
        "dotted-operation", "unknown-api", "zero-times"])
def test_rule_that_cannot_apply_is_refused_with_400_saying_why(
        http: httpx.Client, rule: dict, words: list[str]) -> None:
    reply = http.post("/__admin/rules", json=rule)
    assert reply.status_code == 400
    message = reply.json()["error"]
    assert all(word in message for word in words), message
    assert http.get("/__admin/rules").json()["rules"] == []


@pytest.mark.parametrize("operation", ["foo.*", "gewe.postImage"])
def test_fault_rule_for_an_unknown_operation_is_refused(http: httpx.Client,
                                                        operation: str) -> None:
    reply = http.post("/__admin/rules", json={"operation": operation,
                                              "fault": {"fault": "reset"}})
    assert reply.status_code == 400


def test_error_rule_for_an_api_dot_operation_name_is_refused(http: httpx.Client) -> None:
    reply = http.post("/__admin/rules", json={"operation": "gewe.postImage",
                                              "error": "wechat_offline"})
    assert reply.status_code == 400


# --- the clock ------------------------------------------------------------------------------


def test_advancing_the_clock_seven_days_expires_a_gewe_file_url(
        server: LiveServer, http: httpx.Client) -> None:
    message = receive(http, "gewe", fixture="square.png")
    with gewe_client(server) as client:
        file_url = client.download_image(message["xml"], ImageType.NORMAL).file_url
    assert http.get(file_url).status_code == 200
    assert http.post("/__admin/clock", json={"advance": SEVEN_DAYS}).status_code == 200
    expired = http.get(file_url)
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text


def test_setting_the_clock_moves_the_mocks_now_to_that_epoch(http: httpx.Client) -> None:
    moved = http.post("/__admin/clock", json={"set": 2_000_000_000}).json()
    read = http.get("/__admin/clock").json()
    assert 2_000_000_000 <= moved["now"] <= read["now"] < 2_000_000_000 + 5
    assert read["offset"] == pytest.approx(2_000_000_000 - time.time(), abs=5)


def test_clock_starts_at_wall_time(http: httpx.Client) -> None:
    clock = http.get("/__admin/clock").json()
    assert clock["offset"] == 0
    assert clock["now"] == pytest.approx(time.time(), abs=5)


@pytest.mark.parametrize("body", [{}, {"advance": 1, "set": 2}])
def test_moving_the_clock_needs_exactly_one_of_advance_and_set(http: httpx.Client,
                                                               body: dict) -> None:
    reply = http.post("/__admin/clock", json=body)
    assert reply.status_code == 400
    assert "exactly one of advance" in reply.json()["error"]


def issue_token_at_half_second(http: httpx.Client) -> tuple[dict[str, str], int]:
    """A token issued when the mock's clock is at x.5 s, and the ``expire`` it announced."""
    http.post("/__admin/clock", json={"set": 1_900_000_000.5})
    grant = http.post(LARK_TOKEN_PATH, json={"app_id": APP_A.app_id,
                                             "app_secret": APP_A.app_secret}).json()
    return {"Authorization": f"Bearer {grant['tenant_access_token']}"}, grant["expire"]


def test_lark_token_still_works_a_second_before_its_expire(http: httpx.Client) -> None:
    headers, expire = issue_token_at_half_second(http)
    key = lark_upload(http, headers)
    http.post("/__admin/clock", json={"advance": expire - 1})
    assert http.get(f"{IMAGES_PATH}/{key}", headers=headers).status_code == 200


def test_lark_token_answers_99991663_once_its_expire_has_passed(http: httpx.Client) -> None:
    headers, expire = issue_token_at_half_second(http)
    key = lark_upload(http, headers)
    http.post("/__admin/clock", json={"advance": expire})
    reply = http.get(f"{IMAGES_PATH}/{key}", headers=headers)
    assert reply.status_code == 400, "the token is still accepted"
    assert reply.json()["code"] == 99991663


def test_lark_token_answers_99991663_a_second_after_its_expire(http: httpx.Client) -> None:
    headers, expire = issue_token_at_half_second(http)
    key = lark_upload(http, headers)
    http.post("/__admin/clock", json={"advance": expire + 1})
    reply = http.get(f"{IMAGES_PATH}/{key}", headers=headers)
    assert (reply.status_code, reply.json()["code"]) == (400, 99991663)


def test_lark_client_gets_a_new_token_when_the_clock_expired_its_own(
        server: LiveServer, http: httpx.Client) -> None:
    with lark_client(server) as client:
        key = client.upload_image(PNG)
        http.post("/__admin/clock", json={"advance": DEFAULTS.lark.token_ttl_seconds + 1})
        assert client.download_image(key) == PNG
    server.journal.assert_called("getTenantAccessToken", times=2)


# --- reset --------------------------------------------------------------------------------


def test_reset_drops_images_rules_journal_and_clock_offset_in_one_call(
        http: httpx.Client, lark_headers: dict[str, str], image_key: str) -> None:
    receive(http, "gewe", fixture="square.png")
    arm(http, operation="getImage", error="234005")
    http.post("/__admin/clock", json={"advance": 3600})
    assert http.get("/__admin/journal").json()["entries"]

    assert http.post("/__admin/reset").json() == {"reset": True}

    assert http.get("/__admin/images").json()["images"] == []
    assert http.get("/__admin/rules").json()["rules"] == []
    assert http.get("/__admin/journal").json()["entries"] == []
    assert http.get("/__admin/clock").json()["offset"] == 0


def test_a_rule_for_every_operation_leaves_the_mocks_own_routes_alone(http: httpx.Client) -> None:
    http.post("/__admin/rules", json={"operation": "*", "fault": {"fault": "empty"}, "times": 2})
    assert http.get("/__admin/rules").json()["rules"][0]["remaining"] == 2
    assert http.get("/__admin/credentials").json()["gewe"]
