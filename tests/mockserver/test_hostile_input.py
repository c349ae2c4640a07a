"""Hostile values in request bodies, over a real socket: refused in the vendor's envelope
before anything is stored, like a careful vendor's JSON parser refuses them, and never able to
break a later call or the journal."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _support import (
    APP_A,
    GEWE_APP_ID,
    GEWE_HEADERS,
    LARK_TOKEN_PATH,
    W_ID,
    WID_AUTHORIZATION,
    lark_token,
)

from mockserver import LiveServer, MockConfig
from mockserver.http.app import INTERNAL_ERROR_HEADER
from mockserver.runtime.clock import LATEST
from mockserver.storage.records import JournalEntry

POST_IMAGE = "/gewe/v2/api/message/postImage"
MESSAGES_PATH = "/open-apis/im/v1/messages?receive_id_type=open_id"
JSON = {"Content-Type": "application/json"}
TOO_DEEP = b"[" * 100_000

# A value Python's json takes and a careful vendor's parser refuses, and the reason given.
HOSTILE_VALUES = {
    "NaN": (b"NaN", "NaN is not a JSON number"),
    "Infinity": (b"Infinity", "Infinity is not a JSON number"),
    "-Infinity": (b"-Infinity", "-Infinity is not a JSON number"),
    "a number beyond a double": (b"1e999", "1e999 is beyond the range of a double"),
    "an unpaired surrogate escape": (b'"\\ud800"', "unpaired surrogate"),
    "an unpaired low surrogate escape": (b'"a\\uDC00b"', "unpaired surrogate"),
    "nesting that exhausts the stack": (TOO_DEEP, "nested too deeply"),
    "an integer of 5000 digits": (b"9" * 5000, "a number has more than 4300 digits"),
}


def strict_json(text: str) -> Any:
    """JSON as a careful client reads it: NaN and Infinity are not JSON."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def gewe_body(extra: bytes = b"1", to_wxid: bytes = b'"wxid_a"') -> bytes:
    return (b'{"appId": "%s", "toWxid": %s, "imgUrl": "http://x/10x10", "note": %s}'
            % (GEWE_APP_ID.encode(), to_wxid, extra))


def post_image(http: httpx.Client, body: bytes, **headers: str) -> httpx.Response:
    return http.post(POST_IMAGE, content=body, headers={**JSON, **GEWE_HEADERS, **headers})


def journal(http: httpx.Client) -> list[dict[str, Any]]:
    reply = http.get("/__admin/journal")
    assert reply.status_code == 200, reply.text
    entries: list[dict[str, Any]] = strict_json(reply.text)["entries"]
    return entries


def assert_no_internal_error(reply: httpx.Response) -> None:
    assert INTERNAL_ERROR_HEADER not in reply.headers, reply.text


@pytest.fixture
def client(any_store: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=any_store.url, timeout=30) as http:
        yield http


# --- JSON a careful vendor refuses, in every vendor's envelope ----------------------------------

hostile = pytest.mark.parametrize("value, reason", HOSTILE_VALUES.values(),
                                  ids=HOSTILE_VALUES.keys())
hostile_value = pytest.mark.parametrize("value", [value for value, _ in HOSTILE_VALUES.values()],
                                        ids=HOSTILE_VALUES.keys())


@hostile
def test_gewe_refuses_non_standard_json_with_its_envelope(
        http: httpx.Client, value: bytes, reason: str) -> None:
    reply = post_image(http, gewe_body(value))
    assert_no_internal_error(reply)
    assert reply.status_code == 200
    assert reply.json()["ret"] == 500 and reason in reply.json()["msg"], reply.text


@hostile
def test_wid_refuses_non_standard_json_with_its_envelope(
        http: httpx.Client, value: bytes, reason: str) -> None:
    body = (b'{"wId": "%s", "msgId": 1, "fromUser": "wxid_a", "toUser": "wxid_b", '
            b'"content": "<msg/>", "note": %s}' % (W_ID.encode(), value))
    reply = http.post("/getMsgImg", content=body,
                      headers={**JSON, "Authorization": WID_AUTHORIZATION})
    assert_no_internal_error(reply)
    assert reply.json()["code"] == "1001" and reason in reply.json()["message"], reply.text


@hostile_value
def test_lark_token_endpoint_refuses_non_standard_json_with_10003(
        http: httpx.Client, value: bytes) -> None:
    body = b'{"app_id": "%s", "app_secret": "%s", "note": %s}' % (
        APP_A.app_id.encode(), APP_A.app_secret.encode(), value)
    reply = http.post(LARK_TOKEN_PATH, content=body, headers=JSON)
    assert_no_internal_error(reply)
    assert reply.json()["code"] == 10003, reply.text


@hostile
def test_lark_refuses_non_standard_json_as_an_invalid_parameter(
        http: httpx.Client, value: bytes, reason: str) -> None:
    body = b'{"receive_id": "ou_a", "msg_type": "image", "content": "{}", "note": %s}' % value
    reply = http.post(MESSAGES_PATH, content=body,
                      headers={**JSON, "Authorization": f"Bearer {lark_token(http)}"})
    assert_no_internal_error(reply)
    assert reply.status_code == 400
    [violation] = reply.json()["error"]["field_violations"]
    assert reply.json()["code"] == 230001 and reason in violation["description"], reply.text


@hostile
def test_admin_routes_refuse_non_standard_json_with_400(
        http: httpx.Client, value: bytes, reason: str) -> None:
    body = (b'{"operation": "postImage", "match": {"toWxid": %s}, "error": "wechat_offline"}'
            % value)
    reply = http.post("/__admin/rules", content=body, headers=JSON)
    assert_no_internal_error(reply)
    assert reply.status_code == 400 and reason in reply.json()["error"], reply.text
    assert http.get("/__admin/rules").json()["rules"] == []


def test_an_encoded_surrogate_is_refused_as_invalid_utf8(http: httpx.Client) -> None:
    reply = post_image(http, gewe_body(to_wxid=b'"\xed\xa0\x80"'))
    assert_no_internal_error(reply)
    assert reply.json()["ret"] == 500 and "can't decode" in reply.json()["msg"], reply.text


def test_a_lone_surrogate_is_refused_before_the_image_is_stored(http: httpx.Client) -> None:
    reply = post_image(http, gewe_body(to_wxid=b'"\\ud800"'))
    assert_no_internal_error(reply)
    assert reply.json()["ret"] == 500
    assert http.get("/__admin/images").json()["images"] == []


def test_a_surrogate_pair_escape_is_an_ordinary_character(http: httpx.Client) -> None:
    reply = post_image(http, gewe_body(to_wxid=b'"wxid_\\ud83d\\ude00"'))
    assert reply.json()["ret"] == 200, reply.text
    assert reply.json()["data"]["toWxid"] == "wxid_\N{GRINNING FACE}"


def test_a_body_nested_too_deeply_logs_no_traceback(
        http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        reply = post_image(http, TOO_DEEP)
        journal(http)
    assert reply.json()["ret"] == 500
    assert [r.getMessage() for r in caplog.records] == []


def test_a_lark_call_nested_too_deeply_is_not_answered_404(http: httpx.Client) -> None:
    reply = http.post(MESSAGES_PATH, content=TOO_DEEP,
                      headers={**JSON, "Authorization": f"Bearer {lark_token(http)}"})
    assert (reply.status_code, reply.json()["code"]) == (400, 230001), reply.text


# --- the journal stays readable, whatever a request held -------------------------------------

@hostile_value
def test_the_journal_stays_readable_after_a_refused_body(
        any_store: LiveServer, client: httpx.Client, value: bytes) -> None:
    post_image(client, gewe_body(value))
    post_image(client, gewe_body())
    assert [e["status"] for e in journal(client)] == [200, 200]


def test_the_journal_shows_a_lone_surrogate_as_its_escape(
        any_store: LiveServer, client: httpx.Client) -> None:
    post_image(client, gewe_body(to_wxid=b'"\\ud800"'))
    [entry] = journal(client)
    assert entry["requestBody"]["toWxid"] == "\\ud800"


def test_the_journal_cuts_a_deeply_nested_body_it_accepted(
        any_store: LiveServer, client: httpx.Client) -> None:
    depth = 400  # within the parser's reach, beyond what a reader's stack can walk
    reply = post_image(client, gewe_body(b"[" * depth + b"]" * depth))
    assert reply.json()["ret"] == 200, reply.text
    [entry] = journal(client)
    note, levels = entry["requestBody"]["note"], 0
    while isinstance(note, list):
        [note], levels = note, levels + 1
    assert note == "…" and levels < depth


def test_an_entry_the_store_cannot_hold_is_dropped_and_later_ones_still_arrive(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    unstorable = JournalEntry(
        entry_id="0", time=0.0, api="gewe", operation="postImage", method="POST", path="/",
        query="", request_headers={}, request_body={"toWxid": "\ud800"}, status=200,
        vendor_code=200, response_body=None, duration_ms=0.0)
    with LiveServer(MockConfig(state_dir=str(tmp_path))) as server, \
            httpx.Client(base_url=server.url, timeout=30) as http, \
            caplog.at_level(logging.WARNING, logger="mockserver.runtime.journal"):
        server.state.journal_writer.add(unstorable)
        post_image(http, gewe_body())
        post_image(http, gewe_body(to_wxid=b'"wxid_later"'))
        kept = [e["requestBody"]["toWxid"] for e in journal(http)]
    assert kept == ["wxid_a", "wxid_later"]
    assert [r.getMessage() for r in caplog.records] == [
        "journal entry 0 dropped: the store cannot hold it"]



# --- numbers that would break later calls ----------------------------------------------------

@pytest.mark.parametrize("body, reason", [
    (b'{"advance": 1e999}', "beyond the range of a double"),
    (b'{"set": Infinity}', "Infinity is not a JSON number"),
    (b'{"advance": NaN}', "NaN is not a JSON number"),
    (b'{"advance": 1e308}', "must stay between 0 (1970) and 253402300799 (the end of 9999)"),
    (b'{"set": 99999999999999999999}', "must stay between"),
    (b'{"advance": 99999999999999999999}', "must stay between"),
    (b'{"set": -1}', "must stay between"),
    (b'{"advance": -100000000000}', "must stay between"),
], ids=["advance-overflow", "set-infinity", "advance-nan", "advance-1e308", "set-huge-int",
        "advance-huge-int", "set-before-1970", "advance-before-1970"])
def test_a_clock_move_out_of_range_is_refused_and_later_calls_still_work(
        http: httpx.Client, body: bytes, reason: str) -> None:
    reply = http.post("/__admin/clock", content=body, headers=JSON)
    assert reply.status_code == 400 and reason in reply.json()["error"], reply.text
    assert strict_json(http.get("/__admin/clock").text)["offset"] == 0
    assert post_image(http, gewe_body()).json()["ret"] == 200
    assert lark_token(http)


@pytest.mark.parametrize("move", [{"set": LATEST}, {"set": 0}, {"advance": -1e9}],
                         ids=["last-second-of-9999", "epoch", "back-31-years"])
def test_the_clock_works_anywhere_in_its_range(http: httpx.Client, move: dict) -> None:
    assert http.post("/__admin/clock", json=move).status_code == 200
    reply = post_image(http, gewe_body())
    assert reply.json()["ret"] == 200, reply.text
    assert abs(reply.json()["data"]["createTime"] - strict_json(
        http.get("/__admin/clock").text)["now"]) < 60
    assert lark_token(http)


UNUSABLE_FAULTS = [  # (the admin spec bounds them: the Prefer header's are checked in code)
    ({"fault": "latency", "ms": 60_000}, "fault.ms is not valid: 60000 is greater than the "
                                         "maximum of 30000"),
    ({"fault": "latency", "max_ms": 1e300}, "fault.max_ms is not valid"),
    ({"fault": "trickle", "interval_ms": 30_001}, "fault.interval_ms is not valid"),
    ({"fault": "trickle", "chunk": 1.5}, "fault.chunk is not valid: 1.5 is not of type"),
    ({"fault": "trickle", "chunk": 2 ** 21}, "fault.chunk is not valid: 2097152 is greater"),
]


@pytest.mark.parametrize("fault, reason", UNUSABLE_FAULTS,
                         ids=["ms", "max_ms", "interval_ms", "fractional-chunk", "huge-chunk"])
def test_a_rule_with_a_fault_number_out_of_bounds_is_refused(
        http: httpx.Client, fault: dict, reason: str) -> None:
    reply = http.post("/__admin/rules", json={"operation": "postImage", "fault": fault})
    assert reply.status_code == 400 and reason in reply.json()["error"], reply.text
    assert http.get("/__admin/rules").json()["rules"] == []


@pytest.mark.parametrize("fault", [b'{"fault": "latency", "ms": NaN}',
                                   b'{"fault": "trickle", "chunk": 1e999}'], ids=["nan", "inf"])
def test_a_rule_with_a_non_finite_fault_number_is_refused(http: httpx.Client,
                                                          fault: bytes) -> None:
    reply = http.post("/__admin/rules", content=b'{"operation": "postImage", "fault": %s}'
                      % fault, headers=JSON)
    assert reply.status_code == 400, reply.text
    assert post_image(http, gewe_body()).json()["ret"] == 200


@pytest.mark.parametrize("prefer, reason", [
    ("fault=latency, ms=NaN", "ms must be a finite number"),
    ("fault=latency, ms=inf", "ms must be a finite number"),
    ("fault=truncate, fraction=nan", "fraction must be a finite number"),
    ("fault=trickle, chunk=1e999", "chunk must be a finite number"),
    ("fault=trickle, chunk=0", "whole number of bytes"),
    ("fault=trickle, chunk=2.5", "whole number of bytes"),
    ("fault=latency, ms=30001", "at most 30000 ms"),
], ids=["nan-ms", "inf-ms", "nan-fraction", "overflowing-chunk", "zero-chunk",
        "fractional-chunk", "too-long"])
def test_a_prefer_fault_number_out_of_bounds_is_refused_in_the_vendor_envelope(
        http: httpx.Client, prefer: str, reason: str) -> None:
    reply = post_image(http, gewe_body(), Prefer=prefer)
    assert_no_internal_error(reply)
    assert reply.json()["ret"] == 500 and reason in reply.json()["msg"], reply.text


@pytest.mark.parametrize("path, body", [
    ("/gewe/v2/api/message/downloadImage", {"appId": GEWE_APP_ID, "xml": "x", "type": "x" * 10**6}),
    (POST_IMAGE, {"appId": GEWE_APP_ID, "imgUrl": "x", "toWxid": ["y" * 10**6]}),
    ("/__admin/rules", {"operation": "postImage", "error": ["e" * 10**6]}),
], ids=["gewe-type", "gewe-toWxid", "admin-rule"])
def test_a_refusal_quotes_a_huge_value_short(http: httpx.Client, path: str, body: dict) -> None:
    reply = http.post(path, json=body, headers=GEWE_HEADERS)
    assert len(reply.content) < 400, reply.text[:400]
    assert "is not of type" in reply.text
