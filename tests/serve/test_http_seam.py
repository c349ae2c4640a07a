"""The HTTP seam of ``chatimg-mock serve``: what reaches the mock over a real socket from
clients that send too much, too slowly, or more than a server's limits allow.

Each test runs against the servers users run: the default (one gunicorn process with
threads), ``--workers 2``, and Werkzeug's server (``--threads 1``).
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _support import GEWE_APP_ID, GEWE_TOKEN, ServedMock

CAP = 1024 * 1024
STALL_SECONDS = 1.0
GEWE_POST = "/gewe/v2/api/message/postImage"
GEWE_HEADERS = {"X-GEWE-TOKEN": GEWE_TOKEN, "Content-Type": "application/json"}
GEWE_BODY = json.dumps({"appId": GEWE_APP_ID, "toWxid": "wxid_friend01",
                        "imgUrl": "http://dummyimage.com/40x30"}).encode()
SERVERS = {"default": [], "workers": ["--workers", "2"], "werkzeug": ["--threads", "1"]}


def serving(tmp_path: Path, options: list[str]) -> ServedMock:
    """The mock with a small cap and a short stall, as ``options`` serve it."""
    config = tmp_path / "mock.yaml"
    config.write_text(f"max_body_bytes: {CAP}\nrequest_timeout_seconds: {STALL_SECONDS}\n")
    return ServedMock("--config", str(config), *options)


def connect(served: ServedMock) -> socket.socket:
    return socket.create_connection(("127.0.0.1", served.port), timeout=30)


@pytest.fixture(params=list(SERVERS), scope="module")
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ServedMock]:
    server = serving(tmp_path_factory.mktemp(request.param), SERVERS[request.param])
    yield server
    output = server.stop()
    assert "Traceback" not in output


def read_reply(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


# --- bodies over the cap -------------------------------------------------------------------

def test_a_client_that_sends_a_body_over_the_cap_whole_reads_the_envelope(
        served: ServedMock) -> None:
    body = GEWE_BODY[:-1] + b" " * (2 * CAP) + b"}"
    request = urllib.request.Request(served.url + GEWE_POST, data=body, headers=GEWE_HEADERS)
    with urllib.request.urlopen(request, timeout=30) as reply:  # no broken pipe
        assert json.loads(reply.read()) == {
            "ret": 500, "msg": f"参数错误: the body is larger than {CAP} bytes"}


def chunked(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start:start + 64 * 1024]


@pytest.mark.parametrize("size, answer", [(CAP + 1, 500), (2 * CAP, 500), (CAP, 200)])
def test_a_chunked_body_over_the_cap_is_refused_not_cut_and_served(
        served: ServedMock, size: int, answer: int) -> None:
    body = GEWE_BODY[:-1] + b" " * (size - len(GEWE_BODY)) + b"}"
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    connection.request("POST", GEWE_POST, body=chunked(body), headers=GEWE_HEADERS,
                       encode_chunked=True)
    assert json.loads(connection.getresponse().read())["ret"] == answer
    connection.close()


def test_invalid_json_is_quoted_short_not_echoed_whole(served: ServedMock) -> None:
    reply = httpx.post(served.url + GEWE_POST, content=b'{"toWxid": ' + b"x" * 500_000,
                       headers=GEWE_HEADERS)
    assert len(reply.content) < 500
    assert reply.json()["msg"].startswith("参数错误: the request body cannot be read: "
                                          "it is not JSON")


# --- slow clients --------------------------------------------------------------------------

def half_sent(served: ServedMock) -> socket.socket:
    sock = connect(served)
    sock.sendall(f"POST {GEWE_POST} HTTP/1.1\r\nHost: x\r\n"
                 f"X-GEWE-TOKEN: {GEWE_TOKEN}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(GEWE_BODY)}\r\n\r\n".encode() + GEWE_BODY[:10])
    return sock


def test_forty_half_sent_requests_leave_a_normal_call_answered_at_once(
        served: ServedMock) -> None:
    stalled = [half_sent(served) for _ in range(40)]
    try:
        started = time.monotonic()
        reply = httpx.post(served.url + GEWE_POST, content=GEWE_BODY, headers=GEWE_HEADERS,
                           timeout=30)
        took = time.monotonic() - started
        assert reply.json()["ret"] == 200
        assert took < STALL_SECONDS  # answered before any stalled request timed out
    finally:
        for sock in stalled:
            sock.close()


def test_a_stalled_body_times_out_in_the_vendors_envelope(served: ServedMock) -> None:
    with half_sent(served) as sock:
        reply = read_reply(sock)
    _, _, body = reply.partition(b"\r\n\r\n")
    assert json.loads(body) == {
        "ret": 500, "msg": "参数错误: the request body stopped before its end: "
                           "the client stalled or went away"}


def test_a_body_trickled_a_byte_at_a_time_times_out_too(served: ServedMock) -> None:
    with half_sent(served) as sock:
        started = time.monotonic()
        sock.settimeout(0.3)
        reply = b""
        for byte in GEWE_BODY[10:40]:  # a byte each 0.3 s: no stall, but hardly any progress
            sock.sendall(bytes([byte]))
            try:
                reply = sock.recv(65536)
                break
            except TimeoutError:
                pass
        took = time.monotonic() - started
        sock.settimeout(5)
        while reply and b"}" not in reply and (more := sock.recv(65536)):  # (the body may
            reply += more                                                   # come apart)
    assert b"the request body stopped before its end" in reply
    assert took < 3 * STALL_SECONDS  # not the 9 s the trickle would take


@pytest.mark.parametrize("chunks", [b"zz\r\nxx\r\n0\r\n\r\n", b"4\r\n{}{}XX0\r\n\r\n"],
                         ids=["bad size", "no terminator"])
def test_a_malformed_chunked_body_is_refused_not_an_internal_error(
        served: ServedMock, chunks: bytes) -> None:
    with connect(served) as sock:
        sock.sendall(f"POST {GEWE_POST} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     f"X-GEWE-TOKEN: {GEWE_TOKEN}\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     .encode() + chunks)
        head, _, body = read_reply(sock).partition(b"\r\n\r\n")
    if served.process.args[-1] == "1" and not body:  # Werkzeug's server: it drops the
        return                                       # connection, as its own refusal
    assert b"X-Chatimg-Internal-Error" not in head
    assert json.loads(body)["ret"] == 500


def test_stalled_headers_close_the_connection(served: ServedMock) -> None:
    with connect(served) as sock:
        sock.sendall(f"POST {GEWE_POST} HTTP/1.1\r\nHost: x\r\n".encode())
        started = time.monotonic()
        assert sock.recv(1000) == b""  # closed, as nginx closes it: no reply to read
        assert time.monotonic() - started < STALL_SECONDS + 5


# --- what a server refuses before the app ----------------------------------------------------

def test_a_6_kb_lark_image_key_gets_the_lark_envelope(served: ServedMock) -> None:
    reply = httpx.get(f"{served.url}/open-apis/im/v1/images/img_v3_{'a' * 6000}g")
    assert reply.json()["code"] == 99991661  # no token: the app saw it, and answered as Lark


@pytest.mark.parametrize("headers", [
    {"X-Long": "x" * 70_000},
    {f"X-H{i}": "v" for i in range(1100)},
], ids=["one header over 64 KiB", "over 1000 headers"])
def test_headers_over_the_limits_are_refused_in_json(served: ServedMock,
                                                     headers: dict[str, str]) -> None:
    reply = httpx.get(f"{served.url}/__admin/clock", headers=headers)
    assert reply.status_code in (400, 431)
    assert reply.headers["Content-Type"] == "application/json"
    assert "error" in reply.json()


def test_a_request_line_over_the_limit_is_refused_in_json(served: ServedMock) -> None:
    with connect(served) as sock:  # (httpx refuses to send so long a URL)
        sock.sendall(f"GET /open-apis/im/v1/images/img_{'a' * 70_000} HTTP/1.1\r\n"
                     "Host: x\r\n\r\n".encode())
        head, _, body = read_reply(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 ")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"].startswith("414 ")


def test_a_doubled_slash_before_admin_reaches_the_admin_route(served: ServedMock) -> None:
    with connect(served) as sock:
        sock.sendall(b"GET //__admin/clock HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = read_reply(sock).partition(b"\r\n\r\n")
    assert b"application/json" in head
    assert "now" in json.loads(body)
