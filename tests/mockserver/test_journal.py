"""The request journal over a real socket: what is kept of each vendor call, what is never
kept, the admin routes that read it, the Python helpers tests use, and the admin token."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _support import (
    APP_A,
    DEFAULTS,
    GEWE_APP_ID,
    GEWE_HEADERS,
    GEWE_TOKEN,
    PNG,
    WID_AUTHORIZATION,
    client_of,
    lark_auth,
    lark_token,
    receive,
)
from hypothesis import given
from hypothesis import strategies as st

from chatimg import GeweClient
from mockserver import LiveServer, MockConfig
from mockserver.runtime.journal import (
    BODY_TEXT_LIMIT,
    RAW_TEXT_LIMIT,
    JournalWriter,
    Secrets,
    capture_body,
    mask,
    query,
    summarise_body,
    summarised,
)
from mockserver.storage.records import JournalEntry
from mockserver.storage.sqlite import SqliteStore
from mockserver.vendors.lark.api import LarkApi

POST_IMAGE = "/gewe/v2/api/message/postImage"
DOWNLOAD_IMAGE = "/gewe/v2/api/message/downloadImage"
SET_CALLBACK = "/gewe/v2/api/tools/setCallback"
IMAGES_PATH = "/open-apis/im/v1/images"
ADMIN_TOKEN = "s3cret"


def post_image(http: httpx.Client, to_wxid: str = "wxid_a", **headers: str) -> httpx.Response:
    return http.post(POST_IMAGE, json={"appId": GEWE_APP_ID, "toWxid": to_wxid,
                                       "imgUrl": "http://x/10x10"},
                     headers={**GEWE_HEADERS, **headers})


def get_msg_img(http: httpx.Client, authorization: str = WID_AUTHORIZATION) -> httpx.Response:
    message = receive(http, "wid", fixture="square.png")
    return http.post("/getMsgImg", headers={"Authorization": authorization}, json={
        "wId": message["account"], "msgId": message["msgId"], "fromUser": message["fromUser"],
        "toUser": message["toUser"], "content": message["content"]})


def lark_upload(http: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return http.post(IMAGES_PATH, headers=headers, data={"image_type": "message"},
                     files={"image": ("square.png", PNG)})


def journal(http: httpx.Client, **query: object) -> list[dict]:
    reply = http.get("/__admin/journal", params=query)
    assert reply.status_code == 200, reply.text
    return reply.json()["entries"]


# --- what an entry holds ----------------------------------------------------------------------


def test_vendor_call_is_recorded_with_its_request_and_reply(http: httpx.Client) -> None:
    post_image(http, "wxid_b")
    [entry] = journal(http)
    assert {key: entry[key] for key in ("api", "operation", "method", "path", "query", "status",
                                        "vendorCode", "scenario")} == {
        "api": "gewe", "operation": "postImage", "method": "POST", "path": POST_IMAGE,
        "query": "", "status": 200, "vendorCode": 200, "scenario": None}
    assert entry["requestBody"] == {"appId": GEWE_APP_ID, "toWxid": "wxid_b",
                                    "imgUrl": "http://x/10x10"}
    assert entry["responseBody"]["data"]["toWxid"] == "wxid_b"
    assert entry["requestHeaders"]["Content-Type"] == "application/json"
    assert entry["durationMs"] > 0


def test_each_vendors_own_result_code_is_recorded(http: httpx.Client) -> None:
    post_image(http)
    post_image(http, **{"X-GEWE-TOKEN": "wrong-token"})
    get_msg_img(http)
    get_msg_img(http, "wrong")
    headers = lark_auth(http)
    image_key = lark_upload(http, headers).json()["data"]["image_key"]
    http.get(f"{IMAGES_PATH}/img_v3_nosuch", headers=headers)
    http.get(f"{IMAGES_PATH}/{image_key}", headers=headers)
    assert [(e["operation"], e["status"], e["vendorCode"]) for e in journal(http)] == [
        ("postImage", 200, 200), ("postImage", 200, 500),
        ("getMsgImg", 200, "1000"), ("getMsgImg", 200, "1001"),
        ("getTenantAccessToken", 200, 0), ("uploadImage", 200, 0),
        ("getImage", 400, 234005), ("getImage", 200, None)]


def test_scenario_that_applied_is_recorded(http: httpx.Client) -> None:
    rule = http.post("/__admin/rules", json={"operation": "postImage",
                                             "error": "device_not_found", "times": 1}).json()
    post_image(http)
    post_image(http, Prefer="error=wechat_offline")
    post_image(http)
    assert [e["scenario"] for e in journal(http)] == [
        f"rule {rule['id']}", "Prefer header", None]


def test_recorded_duration_includes_an_armed_latency(http: httpx.Client) -> None:
    post_image(http, Prefer="fault=latency, ms=120")
    assert journal(http)[0]["durationMs"] >= 120


def test_binary_bodies_are_recorded_as_their_size(http: httpx.Client) -> None:
    headers = lark_auth(http)
    upload = lark_upload(http, headers)
    http.get(f"{IMAGES_PATH}/{upload.json()['data']['image_key']}", headers=headers)
    _, uploaded, downloaded = journal(http)
    assert uploaded["requestBody"] == {"bytes": int(upload.request.headers["Content-Length"]),
                                       "content_type": "multipart/form-data"}
    assert downloaded["responseBody"] == {"bytes": len(PNG), "content_type": "image/png"}


def test_long_strings_in_a_recorded_body_are_cut(http: httpx.Client) -> None:
    long_url = "http://x/10x10?padding=" + "a" * 5000
    http.post(POST_IMAGE, json={"appId": GEWE_APP_ID, "toWxid": "wxid_a", "imgUrl": long_url},
              headers=GEWE_HEADERS)
    recorded = journal(http)[0]["requestBody"]["imgUrl"]
    assert recorded == long_url[:2000] + "…"


def test_admin_calls_are_not_recorded(http: httpx.Client) -> None:
    http.post("/__admin/gewe/messages", json={"fromUser": "wxid_a", "fixture": "square.png"})
    http.get("/__admin/images")
    http.post("/__admin/clock", json={"advance": 1})
    http.get("/__admin/rules")
    assert journal(http) == []


def test_file_link_downloads_are_recorded_as_get_file(http: httpx.Client) -> None:
    message = receive(http, "gewe", sender="wxid_a", fixture="square.png")
    reply = http.post(DOWNLOAD_IMAGE, json={"appId": GEWE_APP_ID, "xml": message["xml"],
                                            "type": 2}, headers=GEWE_HEADERS)
    http.get(reply.json()["data"]["fileUrl"])
    entry = journal(http)[-1]
    assert (entry["api"], entry["operation"], entry["status"]) == ("admin", "getFile", 200)


# --- what an entry never holds ----------------------------------------------------------------


def test_credential_headers_are_masked_in_the_journal(http: httpx.Client) -> None:
    post_image(http)
    get_msg_img(http)
    headers = lark_auth(http)
    lark_upload(http, headers)
    recorded = [e["requestHeaders"] for e in journal(http)]
    assert recorded[0]["X-Gewe-Token"].startswith("***")
    assert recorded[1]["Authorization"].startswith("***")
    assert recorded[3]["Authorization"].startswith("***")
    token = headers["Authorization"].removeprefix("Bearer ")
    assert token not in str(recorded)


def test_request_headers_are_kept_as_werkzeug_names_them(server: LiveServer,
                                                         http: httpx.Client) -> None:
    sent = post_image(http, **{"X-Trace-Id": "t1", "X-Empty": "",
                               "Cookie": "session=0123456789"}).request.headers
    [entry] = server.journal.entries("postImage")
    assert {name: entry.request_headers[name] for name in (
        "X-Trace-Id", "X-Empty", "Cookie", "Content-Type", "Content-Length")} == {
        "X-Trace-Id": "t1", "X-Empty": "", "Cookie": mask("session=0123456789"),
        "Content-Type": "application/json", "Content-Length": sent["Content-Length"]}


def test_no_wechat_credential_appears_anywhere_in_the_journal_output(
        http: httpx.Client) -> None:
    post_image(http)
    get_msg_img(http)
    output = http.get("/__admin/journal").text
    assert GEWE_TOKEN not in output
    assert WID_AUTHORIZATION not in output


def test_no_lark_token_or_app_secret_appears_anywhere_in_the_journal_output(
        http: httpx.Client) -> None:
    headers = lark_auth(http)
    lark_upload(http, headers)
    output = http.get("/__admin/journal").text
    assert headers["Authorization"].removeprefix("Bearer ") not in output
    assert APP_A.app_secret not in output


def test_armed_token_invalid_does_not_put_the_gewe_token_in_the_journal(
        http: httpx.Client) -> None:
    post_image(http, Prefer="error=token_invalid")
    assert GEWE_TOKEN not in http.get("/__admin/journal").text


# --- what the store holds, and what readers see of it ----------------------------------------


def stored(server: LiveServer) -> list[JournalEntry]:
    """The journal's records as its store holds them, before a reader summarises them."""
    writer = server.state.journal_writer
    writer.settle()
    return writer.store.records(JournalEntry)


def test_a_json_body_is_kept_as_its_text_until_read(any_store: LiveServer) -> None:
    with client_of(any_store) as client:
        sent = post_image(client, "wxid_text").request.content.decode()
    [record] = stored(any_store)
    assert (record.request_body, record.request_content_type) == (sent, "application/json")
    [entry] = any_store.journal.entries("postImage")
    assert entry.request_body["toWxid"] == "wxid_text"
    assert (entry.vendor_code, entry.request_content_type, entry.response_content_type) == (
        200, None, None)


def test_a_body_with_a_credential_is_never_stored_unmasked(any_store: LiveServer) -> None:
    escaped = json.dumps({"token": GEWE_TOKEN, "callbackUrl": "http://127.0.0.1:9/b"},
                         separators=(",", ":")).replace("-", "\\u002d")
    with client_of(any_store) as client:
        client.post(SET_CALLBACK, headers=GEWE_HEADERS,
                    json={"token": GEWE_TOKEN, "callbackUrl": "http://127.0.0.1:9/a"})
        client.post(SET_CALLBACK, content=escaped, headers={
            "X-GEWE-TOKEN": GEWE_TOKEN, "Content-Type": "application/json"})
        post_image(client, Prefer="error=token_invalid")  # the reply quotes the token
        token = lark_token(client)
    kept = repr(stored(any_store))
    for secret in (GEWE_TOKEN, APP_A.app_secret, token):
        assert secret not in kept
    assert "\\u002d" not in kept  # the escaped token was masked, not kept as sent
    callbacks = any_store.journal.entries("setCallback")
    assert [e.request_body["token"] for e in callbacks] == [mask(GEWE_TOKEN)] * 2
    [grant] = any_store.journal.entries("getTenantAccessToken")
    assert grant.response_body["tenant_access_token"] == mask(token)
    assert grant.vendor_code == 0


def test_a_huge_body_is_not_stored_whole(any_store: LiveServer) -> None:
    long_url = "http://x/10x10?padding=" + "a" * (RAW_TEXT_LIMIT * 2)
    with client_of(any_store) as client:
        client.post(POST_IMAGE, json={"appId": GEWE_APP_ID, "toWxid": "wxid_a", "imgUrl": long_url},
                    headers=GEWE_HEADERS)
    [record] = stored(any_store)
    assert len(repr(record)) < RAW_TEXT_LIMIT
    assert record.request_body["imgUrl"] == long_url[:BODY_TEXT_LIMIT] + "…"


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "sqlite"])
def test_the_journal_keeps_its_newest_journal_limit_entries(tmp_path: Path, shared: bool) -> None:
    config = MockConfig(journal_limit=3, state_dir=str(tmp_path) if shared else None)
    with LiveServer(config) as limited, client_of(limited) as client:
        for to_wxid in ("wxid_1", "wxid_2", "wxid_3", "wxid_4", "wxid_5"):
            post_image(client, to_wxid)
        assert [e.request_body["toWxid"] for e in limited.journal.entries()] == [
            "wxid_3", "wxid_4", "wxid_5"]


ENTRY = JournalEntry(
    entry_id="1", time=0.0, api="gewe", operation="postImage", method="POST", path="/",
    query="", request_headers={}, request_body=None, status=200, vendor_code=200,
    response_body=None, duration_ms=0.0)


def test_a_shared_journal_grows_a_tenth_past_its_limit_at_most_and_is_trimmed_when_read(
        tmp_path: Path) -> None:
    writer = JournalWriter(SqliteStore(tmp_path), limit=20)
    for number in range(100):
        writer.add(dataclasses.replace(ENTRY, entry_id=f"{number:03d}"))
        writer.flush()
        assert len(writer.store.records(JournalEntry)) <= 20 + 2
    assert [e.entry_id for e in query(writer)] == [f"{n:03d}" for n in range(80, 100)]
    assert len(writer.store.records(JournalEntry)) == 20
    writer.stop()
    writer.store.close()


CONFIGURED = Secrets(DEFAULTS.secrets(), fields=LarkApi.secret_fields)


def through_journal(data: bytes, content_type: str | None) -> tuple[Any, JournalEntry]:
    """The JSON text an entry keeps of a body, request and reply (None: summarised at once),
    and the entry as a reader sees it."""
    body, kept_type = capture_body(data, content_type, CONFIGURED)
    entry = JournalEntry(
        entry_id="1", time=0.0, api="lark", operation="op", method="POST", path="/", query="",
        request_headers={}, request_body=body, status=200, vendor_code="recorded",
        response_body=body, duration_ms=0.0, request_content_type=kept_type,
        response_content_type=kept_type)
    return (body if kept_type is not None else None), summarised(entry, {"lark": lark_code},
                                                                  CONFIGURED.fields)


def lark_code(payload: Any) -> Any:
    return payload.get("code") if isinstance(payload, dict) else None


def holds_no_credential(text: str | None) -> bool:
    return text is None or not any(secret in text
                                   for secret in (*CONFIGURED.values, *CONFIGURED.fields))


REPRESENTATIVE_BODIES = {
    "JSON with long strings": (json.dumps({"imgUrl": "x" * 5000, "list": ["y" * 3000, 1, None],
                                           "msg": "操作成功"}, ensure_ascii=False).encode(),
                               "application/json; charset=utf-8"),
    "JSON without a content type": (b'[{"a": 1}, "b"]', None),
    "JSON that is not": (b'{"a": ', "application/json"),
    "JSON with a byte order mark": (b'\xef\xbb\xbf{"a": 1}', "application/json"),
    "JSON in UTF-16": (f'{{"token": "{GEWE_TOKEN}"}}'.encode("utf-16-le"), "application/json"),
    "JSON not in UTF-8": (b'{"a": "\xff"}', "application/json"),
    "text": (("line " * 1000).encode(), "text/plain; charset=utf-8"),
    "XML": (b"<msg><img aeskey=\"k\"/></msg>", "application/xml"),
    "binary": (b"\x89PNG\r\n\x1a\n" + bytes(300), "image/png"),
    "empty": (b"", "application/json"),
    "Lark token reply": (json.dumps({"code": 0, "msg": "ok", "expire": 7200,
                                     "tenant_access_token": "t-g1044abcdefghijklmnop"}).encode(),
                         "application/json; charset=utf-8"),
    "Lark error reply": (b'{"code":234005,"msg":"Image has been deleted"}', "application/json"),
    "a configured secret in a string": (json.dumps({"token": GEWE_TOKEN}).encode(),
                                        "application/json"),
    "a secret spelt with escapes": (b'{"token": "gewe\\u002dmock\\u002dtoken"}',
                                    "application/json"),
}


@pytest.mark.parametrize("data, content_type", REPRESENTATIVE_BODIES.values(),
                         ids=REPRESENTATIVE_BODIES.keys())
def test_summaries_made_when_read_are_those_made_when_recorded(
        data: bytes, content_type: str | None) -> None:
    expected = summarise_body(data, content_type, CONFIGURED.values, CONFIGURED.fields)
    text, entry = through_journal(data, content_type)
    assert (entry.request_body, entry.response_body) == (expected, expected)
    assert entry.vendor_code == ("recorded" if text is None else lark_code(expected))
    assert holds_no_credential(text)


def test_common_json_bodies_wait_as_text() -> None:
    for name in ("JSON with long strings", "JSON without a content type", "Lark error reply"):
        assert through_journal(*REPRESENTATIVE_BODIES[name])[0] is not None, name


def test_a_secret_json_must_escape_is_found_as_the_body_spells_it() -> None:
    secret = 'pa"ss\\word'
    data = json.dumps({"a": f"x {secret}"}).encode()
    assert capture_body(data, "application/json", Secrets([secret])) == (
        {"a": f"x {mask(secret)}"}, None)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40)
    | st.sampled_from([GEWE_TOKEN, "x" * (BODY_TEXT_LIMIT + 1), f"a{APP_A.app_secret}b"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["a", "token", "app_secret", "tenant_access_token"]) | st.text(max_size=8),
        children, max_size=4),
    max_leaves=12)


@given(value=JSON_VALUES, ascii_only=st.booleans(),
       content_type=st.sampled_from([None, "application/json", "text/plain"]))
def test_any_json_reads_back_as_it_was_summarised_when_recorded(
        value: Any, ascii_only: bool, content_type: str | None) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    text, entry = through_journal(data, content_type)
    assert entry.request_body == summarise_body(data, content_type, CONFIGURED.values, CONFIGURED.fields)
    assert holds_no_credential(text)


# --- reading and clearing it over HTTP --------------------------------------------------------


def test_journal_filters_by_operation(http: httpx.Client) -> None:
    post_image(http)
    get_msg_img(http)
    assert [e["operation"] for e in journal(http, operation="getMsgImg")] == ["getMsgImg"]


def test_journal_filters_by_api(http: httpx.Client) -> None:
    post_image(http)
    get_msg_img(http)
    lark_auth(http)
    assert [e["api"] for e in journal(http, api="wid")] == ["wid"]


def test_journal_limit_keeps_the_last_entries_oldest_first(http: httpx.Client) -> None:
    for to_wxid in ("wxid_1", "wxid_2", "wxid_3"):
        post_image(http, to_wxid)
    assert [e["requestBody"]["toWxid"] for e in journal(http, limit=2)] == ["wxid_2", "wxid_3"]


def test_deleting_the_journal_clears_it_and_says_how_many_went(http: httpx.Client) -> None:
    post_image(http)
    post_image(http)
    assert http.delete("/__admin/journal").json() == {"cleared": 2}
    assert journal(http) == []


# --- the Python helpers -----------------------------------------------------------------------


def test_entries_select_by_operation_and_body_fields(server: LiveServer,
                                                     http: httpx.Client) -> None:
    post_image(http, "wxid_x")
    post_image(http, "wxid_y")
    get_msg_img(http)
    found = server.journal.entries("postImage", toWxid="wxid_y")
    assert [(e.operation, e.request_body["toWxid"]) for e in found] == [("postImage", "wxid_y")]


def test_assert_called_passes_with_the_matching_entries(server: LiveServer,
                                                        http: httpx.Client) -> None:
    post_image(http, "x")
    post_image(http, "x")
    post_image(http, "y")
    found = server.journal.assert_called("postImage", times=2, toWxid="x")
    assert [e.status for e in found] == [200, 200]


def test_assert_called_fails_with_a_message_listing_the_journal_and_the_near_misses(
        server: LiveServer, http: httpx.Client) -> None:
    post_image(http, "x")
    post_image(http, "y")
    with pytest.raises(AssertionError) as raised:
        server.journal.assert_called("postImage", times=2, toWxid="x")
    assert str(raised.value) == (
        "expected postImage 2 time(s) with {'toWxid': 'x'}, found 1; the journal holds:\n"
        f"  POST {POST_IMAGE} (postImage) -> 200 code=200\n"
        f"  POST {POST_IMAGE} (postImage) -> 200 code=200\n"
        "near misses: 1 postImage call(s) with another body\n"
        f"  POST {POST_IMAGE} -> 200 code=200\n"
        "    toWxid: expected 'x', got 'y'\n"
        f'    body: {{"appId": "{GEWE_APP_ID}", "toWxid": "y", "imgUrl": "http://x/10x10"}}')


def test_assert_called_without_times_fails_when_never_called(server: LiveServer) -> None:
    with pytest.raises(AssertionError, match=r"expected getImage at least once with any body, "
                                             r"found 0; the journal holds:\n  \(nothing\)"):
        server.journal.assert_called("getImage")


def test_assert_not_called_passes_when_no_call_matches(server: LiveServer,
                                                       http: httpx.Client) -> None:
    post_image(http, "x")
    server.journal.assert_not_called("postImage", toWxid="y")
    server.journal.assert_not_called("getImage")


def test_assert_not_called_fails_when_a_call_matches(server: LiveServer,
                                                     http: httpx.Client) -> None:
    post_image(http, "x")
    with pytest.raises(AssertionError, match=r"expected postImage 0 time\(s\).*found 1"):
        server.journal.assert_not_called("postImage", toWxid="x")


def test_journal_view_clear_empties_the_journal(server: LiveServer, http: httpx.Client) -> None:
    post_image(http)
    server.journal.clear()
    assert journal(http) == []


def test_plugin_mock_offers_the_same_journal(chatimg_mock: LiveServer,
                                             chatimg_gewe: GeweClient) -> None:
    chatimg_gewe.post_image("wxid_plugin", "http://x/10x10")
    chatimg_mock.journal.assert_called("postImage", times=1, toWxid="wxid_plugin")
    chatimg_mock.journal.assert_not_called("downloadImage")
    with pytest.raises(AssertionError, match="the journal holds"):
        chatimg_mock.journal.assert_called("postImage", times=2)


# --- the admin token --------------------------------------------------------------------------


@pytest.fixture
def guarded(configured: Callable[[MockConfig], LiveServer]) -> Iterator[httpx.Client]:
    """A client of a mock with an admin token (started once per module, reset each test)."""
    with client_of(configured(MockConfig(admin_token=ADMIN_TOKEN))) as client:
        yield client


ADMIN_CALLS = [("GET", "/__admin/journal", None), ("DELETE", "/__admin/journal", None),
               ("GET", "/__admin/rules", None), ("GET", "/__admin/clock", None),
               ("POST", "/__admin/clock", {"advance": 1}), ("POST", "/__admin/reset", None),
               ("GET", "/__admin/images", None),
               ("POST", "/__admin/gewe/messages", {"fromUser": "wxid_a"})]


@pytest.mark.parametrize("method, path, body", ADMIN_CALLS)
def test_admin_route_without_the_admin_token_answers_401(
        guarded: httpx.Client, method: str, path: str, body: dict | None) -> None:
    reply = guarded.request(method, path, json=body)
    assert reply.status_code == 401
    assert "X-Chatimg-Admin-Token" in reply.json()["error"]


def test_admin_route_with_a_wrong_admin_token_answers_401(guarded: httpx.Client) -> None:
    reply = guarded.get("/__admin/journal", headers={"X-Chatimg-Admin-Token": "guess"})
    assert reply.status_code == 401


@pytest.mark.parametrize("method, path, body", ADMIN_CALLS)
def test_admin_route_with_the_admin_token_works(
        guarded: httpx.Client, method: str, path: str, body: dict | None) -> None:
    reply = guarded.request(method, path, json=body,
                            headers={"X-Chatimg-Admin-Token": ADMIN_TOKEN})
    assert reply.status_code in (200, 201), reply.text


def test_file_links_work_without_the_admin_token(guarded: httpx.Client) -> None:
    message = guarded.post("/__admin/gewe/messages", json={"fromUser": "wxid_a"},
                           headers={"X-Chatimg-Admin-Token": ADMIN_TOKEN}).json()
    reply = guarded.post(DOWNLOAD_IMAGE, json={"appId": GEWE_APP_ID, "xml": message["xml"],
                                               "type": 2}, headers=GEWE_HEADERS)
    file_link = guarded.get(reply.json()["data"]["fileUrl"])
    assert file_link.status_code == 200
    assert file_link.headers["Content-Type"] == "image/jpeg"


def test_vendor_apis_need_no_admin_token(guarded: httpx.Client) -> None:
    assert post_image(guarded).json()["ret"] == 200
    assert lark_upload(guarded, lark_auth(guarded)).json()["code"] == 0


def test_journal_of_an_unknown_operation_is_refused_naming_the_known_ones(
        http: httpx.Client) -> None:
    reply = http.get("/__admin/journal", params={"operation": "postImages"})
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("no operation 'postImages' is journaled; known: ")
    assert "postImage, " in reply.json()["error"] and "callback" in reply.json()["error"]


@pytest.mark.parametrize("operation", ["callback", "getFile", "getImage"])
def test_journal_of_a_known_operation_is_listed(http: httpx.Client, operation: str) -> None:
    assert http.get("/__admin/journal", params={"operation": operation}).status_code == 200


def test_assert_called_with_an_operation_no_entry_can_have_names_the_known_ones(
        server: LiveServer) -> None:
    with pytest.raises(ValueError, match="no operation 'postImg' is journaled; known: "):
        server.journal.assert_not_called("postImg")
