"""``serve --workers 2``: processes that share one SQLite store, under concurrent load."""

from __future__ import annotations

import base64
import io
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from chatimg import SentImage
from mockserver import MockConfig

CONFIG = MockConfig()
GEWE_HEADERS = {"X-GEWE-TOKEN": CONFIG.gewe.tokens[0]}
APP_ID = CONFIG.gewe.devices[0].app_id
LARK_APP = CONFIG.lark.apps[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    def __init__(self, state_dir: Path, workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--workers", str(workers),
             "--port", str(self.port), "--state-dir", str(state_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/__admin/clock", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"serve --workers did not start: {self.process.stdout.read()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path / "state")
    yield server
    server.stop()


def distinct_png(i: int) -> bytes:
    image = Image.new("RGB", (16 + i % 50, 8 + i % 7), (i * 7 % 256, i * 13 % 256, i * 29 % 256))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def gewe_round_trip(url: str, i: int) -> bool:
    png = distinct_png(i)
    with httpx.Client(base_url=url, timeout=30) as client:
        sent = client.post("/gewe/v2/api/message/postImage", headers=GEWE_HEADERS, json={
            "appId": APP_ID, "toWxid": f"wxid_{i}",
            "imgUrl": "data:image/png;base64," + base64.b64encode(png).decode()}).json()["data"]
        xml = SentImage.from_data(sent).forward_xml()
        reply = client.post("/gewe/v2/api/message/downloadImage", headers=GEWE_HEADERS,
                            json={"appId": APP_ID, "type": 2, "xml": xml}).json()
        return client.get(reply["data"]["fileUrl"]).content == png


def lark_round_trip(url: str, i: int) -> bool:
    from chatimg import LarkClient

    png = distinct_png(1000 + i)
    with LarkClient(LARK_APP.app_id, LARK_APP.app_secret, base_url=url) as client:
        return client.download_image(client.upload_image(png)) == png


def test_concurrent_posts_on_two_workers_all_download_back_byte_exact(served: Served) -> None:
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda i: gewe_round_trip(served.url, i), range(160)))
    assert results.count(True) == len(results)


def test_concurrent_lark_uploads_on_two_workers_download_back_byte_exact(tmp_path: Path) -> None:
    # Lark limits each app to 50 calls a second: 40 round trips (80 calls) over 32 connections
    # may be refused with 429, which the client waits out and retries.
    server = Served(tmp_path / "state")
    try:
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(lambda i: lark_round_trip(server.url, i), range(40)))
    finally:
        server.stop()
    assert results.count(True) == len(results)


def test_state_survives_a_restart_of_the_server(tmp_path: Path) -> None:
    first = Served(tmp_path / "state")
    try:
        message = httpx.post(f"{first.url}/__admin/gewe/messages",
                             json={"fromUser": "wxid_u", "hd": True}).json()
    finally:
        first.stop()
    second = Served(tmp_path / "state")
    try:
        reply = httpx.post(f"{second.url}/gewe/v2/api/message/downloadImage",
                           headers=GEWE_HEADERS,
                           json={"appId": APP_ID, "type": 1, "xml": message["xml"]}).json()
        assert reply["ret"] == 200
        assert httpx.get(reply["data"]["fileUrl"]).status_code == 200
    finally:
        second.stop()


def test_clock_and_rules_are_shared_by_all_workers(served: Served) -> None:
    def post_image() -> dict:
        return httpx.post(f"{served.url}/gewe/v2/api/message/postImage", headers=GEWE_HEADERS,
                          json={"appId": APP_ID, "toWxid": "a", "imgUrl": "http://x/4x4"}).json()

    # Every worker reads (and caches) the clock and the rules before they change.
    assert {post_image()["ret"] for _ in range(10)} == {200}
    assert {round(httpx.get(f"{served.url}/__admin/clock").json()["offset"])
            for _ in range(10)} == {0}
    httpx.post(f"{served.url}/__admin/clock", json={"advance": 3600})
    offsets = {round(httpx.get(f"{served.url}/__admin/clock").json()["offset"]) for _ in range(20)}
    assert offsets == {3600}
    httpx.post(f"{served.url}/__admin/rules",
               json={"operation": "postImage", "error": "wechat_offline", "times": 5})
    assert [post_image()["ret"] for _ in range(8)] == [500] * 5 + [200] * 3
