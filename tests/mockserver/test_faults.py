"""Faults over a real socket: slow replies, reset connections, empty, cut and trickled bodies,
asked for with a ``Prefer`` header or armed as a rule, as the wire and the clients see them."""

from __future__ import annotations

import json
import math
import socket
import time
from typing import Any

import httpx
import pytest
from _support import (
    GEWE_API,
    GEWE_APP_ID,
    GEWE_HEADERS,
    GEWE_TOKEN,
    PNG,
    lark_auth,
)

from chatimg import GeweClient, LarkClient, ProtocolError, TransportError
from mockserver import LiveServer

POST_IMAGE = f"{GEWE_API}/message/postImage"
POST_BODY = {"appId": GEWE_APP_ID, "toWxid": "wxid_a", "imgUrl": "http://x/10x10"}
IMAGES_PATH = "/open-apis/im/v1/images"


@pytest.fixture
def lark_headers(http: httpx.Client) -> dict[str, str]:
    return lark_auth(http)


def arm(http: httpx.Client, operation: str, **fault: Any) -> None:
    reply = http.post("/__admin/rules", json={"operation": operation, "fault": fault})
    assert reply.status_code == 201, reply.text


def post_image(http: httpx.Client, prefer: str | None = None, **changes: Any) -> httpx.Response:
    headers = GEWE_HEADERS | ({"Prefer": prefer} if prefer else {})
    return http.post(POST_IMAGE, json={**POST_BODY, **changes}, headers=headers)


def timed(call: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def raw_post_image(server: LiveServer, prefer: str) -> bytes:
    """Everything the server sends for one postImage, read off the socket until it closes."""
    body = json.dumps(POST_BODY).encode()
    head = (f"POST {POST_IMAGE} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GEWE-TOKEN: {GEWE_TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Prefer: {prefer}\r\nConnection: close\r\n\r\n").encode()
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def split_reply(raw: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")[1:]
    headers = {name.lower(): value.strip() for name, _, value in
               (line.partition(":") for line in lines)}
    return headers, body


# --- latency ------------------------------------------------------------------------------


def test_prefer_latency_delays_the_reply_by_at_least_its_ms(http: httpx.Client) -> None:
    reply, elapsed = timed(lambda: post_image(http, "fault=latency, ms=200"))
    assert reply.json()["ret"] == 200
    assert elapsed >= 0.2


def test_latency_rule_slows_the_client_call_which_still_succeeds(
        http: httpx.Client, gewe: GeweClient) -> None:
    arm(http, "postImage", fault="latency", ms=150)
    sent, elapsed = timed(lambda: gewe.post_image("wxid_a", "http://x/10x10"))
    assert (sent.width, sent.height) == (10, 10)
    assert elapsed >= 0.15


def test_random_latency_waits_between_its_bounds(server: LiveServer, http: httpx.Client) -> None:
    elapsed = [timed(lambda: post_image(http, "fault=latency; min_ms=60; max_ms=120"))[1]
               for _ in range(3)]
    server_side = [e.duration_ms for e in server.journal.entries("postImage")]
    assert all(seconds >= 0.06 for seconds in elapsed)
    assert all(60 <= ms <= 120 + 50 for ms in server_side), server_side  # 50 ms for the handler


def test_random_latency_rule_waits_between_its_bounds(server: LiveServer,
                                                      http: httpx.Client) -> None:
    arm(http, "postImage", fault="latency", min_ms=60, max_ms=120)
    elapsed = [timed(lambda: post_image(http))[1] for _ in range(3)]
    server_side = [e.duration_ms for e in server.journal.entries("postImage")]
    assert all(seconds >= 0.06 for seconds in elapsed)
    assert all(60 <= ms <= 120 + 50 for ms in server_side), server_side


# --- reset ----------------------------------------------------------------------------------


def test_reset_fault_makes_the_client_raise_transport_error(
        http: httpx.Client, gewe: GeweClient) -> None:
    arm(http, "postImage", fault="reset")
    with pytest.raises(TransportError) as raised:
        gewe.post_image("wxid_a", "http://x/10x10")
    assert isinstance(raised.value.__cause__, httpx.RemoteProtocolError | httpx.ReadError)


def test_reset_fault_is_a_dropped_connection_to_raw_httpx(http: httpx.Client) -> None:
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
        post_image(http, "fault=reset")


def test_reset_fault_sends_not_a_single_byte(server: LiveServer) -> None:
    assert raw_post_image(server, "fault=reset") == b""


def test_server_keeps_serving_after_a_reset(http: httpx.Client) -> None:
    for _ in range(3):
        with pytest.raises(httpx.TransportError):
            post_image(http, "fault=reset")
    assert post_image(http).json()["ret"] == 200


# --- empty ----------------------------------------------------------------------------------


def test_empty_fault_keeps_the_status_and_drops_the_body(
        http: httpx.Client, lark_headers: dict[str, str]) -> None:
    reply = http.get(f"{IMAGES_PATH}/img_v3_nosuch", headers={**lark_headers,
                                                              "Prefer": "fault=empty"})
    assert reply.status_code == 400  # the 234005 it would have answered
    assert reply.content == b""
    assert reply.headers["Content-Length"] == "0"
    assert reply.headers["X-Tt-Logid"]


def test_empty_reply_makes_the_client_raise_protocol_error(
        http: httpx.Client, gewe: GeweClient) -> None:
    arm(http, "postImage", fault="empty")
    with pytest.raises(ProtocolError) as raised:
        gewe.post_image("wxid_a", "http://x/10x10")
    assert raised.value.http_status == 200


# --- truncate -------------------------------------------------------------------------------


@pytest.mark.parametrize("prefer, fraction", [("fault=truncate", 0.5),
                                              ("fault=truncate, fraction=0.25", 0.25)])
def test_truncate_sends_that_fraction_of_the_bytes_content_length_promises(
        server: LiveServer, prefer: str, fraction: float) -> None:
    headers, body = split_reply(raw_post_image(server, prefer))
    promised = int(headers["content-length"])
    assert len(body) == int(promised * fraction) < promised


def test_truncated_download_makes_the_client_raise_transport_error(
        http: httpx.Client, lark: LarkClient) -> None:
    image_key = lark.upload_image(PNG)
    arm(http, "getImage", fault="truncate")
    with pytest.raises(TransportError) as raised:
        lark.download_image(image_key)
    assert "RemoteProtocolError" in str(raised.value)


# --- trickle --------------------------------------------------------------------------------


def test_trickle_delivers_the_whole_download_to_the_client_slowly(
        http: httpx.Client, lark: LarkClient) -> None:
    image_key = lark.upload_image(PNG)
    arm(http, "getImage", fault="trickle", chunk=512, interval_ms=40)
    data, elapsed = timed(lambda: lark.download_image(image_key))
    assert data == PNG
    assert elapsed >= (math.ceil(len(PNG) / 512) - 1) * 0.040


def test_prefer_trickle_sends_the_full_body_in_timed_chunks(http: httpx.Client) -> None:
    with http.stream("POST", POST_IMAGE, json=POST_BODY, headers={
            "X-GEWE-TOKEN": GEWE_TOKEN, "Prefer": "fault=trickle, chunk=100, interval_ms=30"}
            ) as reply:
        started = time.perf_counter()
        body = reply.read()
        elapsed = time.perf_counter() - started
    assert len(body) == int(reply.headers["Content-Length"])
    assert json.loads(body)["ret"] == 200
    # The clock starts once the headers are in, a moment after the first gap may have begun:
    # one gap of slack, so the bound holds on a loaded machine and still needs the trickle.
    assert elapsed >= (math.ceil(len(body) / 100) - 2) * 0.030


# --- faults on refused calls, and faults that cannot be asked for ---------------------------


def test_prefer_fault_applies_to_a_call_refused_for_its_credentials(http: httpx.Client) -> None:
    reply, elapsed = timed(lambda: http.post(POST_IMAGE, json=POST_BODY, headers={
        "Prefer": "fault=latency, ms=150"}))
    assert reply.json() == {"ret": 500, "msg": "header:X-GEWE-TOKEN 不可为空"}
    assert elapsed >= 0.15


def test_prefer_empty_fault_applies_to_a_lark_call_without_a_token(http: httpx.Client) -> None:
    reply = http.get(f"{IMAGES_PATH}/img_v3_any", headers={"Prefer": "fault=empty"})
    assert (reply.status_code, reply.content) == (400, b"")  # 99991661's status, no body


def test_rule_fault_applies_to_a_call_refused_by_validation(http: httpx.Client) -> None:
    arm(http, "postImage", fault="latency", ms=150)
    reply, elapsed = timed(lambda: http.post(POST_IMAGE, json={"appId": GEWE_APP_ID},
                                             headers=GEWE_HEADERS))
    assert reply.json()["ret"] == 500
    assert elapsed >= 0.15


def test_rule_fault_applies_to_a_call_refused_for_its_credentials(http: httpx.Client) -> None:
    arm(http, "gewe.*", fault="latency", ms=150)
    reply, elapsed = timed(lambda: http.post(POST_IMAGE, json=POST_BODY))
    assert reply.json()["ret"] == 500
    assert elapsed >= 0.15


def test_prefer_error_and_fault_apply_together(
        http: httpx.Client, lark_headers: dict[str, str]) -> None:
    reply, elapsed = timed(lambda: http.get(f"{IMAGES_PATH}/img_v3_any", headers={
        **lark_headers, "Prefer": "error=234042, fault=latency, ms=150"}))
    assert reply.json()["code"] == 234042
    assert elapsed >= 0.15


@pytest.mark.parametrize("prefer, words", [
    ("fault=explode", ["unknown fault 'explode'", "latency"]),
    ("fault=latency, ms=soon", ["ms must be a number", "'soon'"]),
    ("fault=latency, ms=-5", ["must not be negative"]),
    ("fault=reset, ms=5", ["takes no parameter 'ms'"]),
    ("fault=truncate, fraction=1", ["below 1"]),
])
def test_unusable_prefer_fault_is_refused_in_the_vendor_envelope_saying_why(
        http: httpx.Client, prefer: str, words: list[str]) -> None:
    reply = post_image(http, prefer)
    assert reply.status_code == 200
    assert reply.json()["ret"] == 500
    assert all(word in reply.json()["msg"] for word in words), reply.json()["msg"]
