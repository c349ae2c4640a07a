"""``serve --workers 2``: processes that share one SQLite store, under concurrent load."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from _support import APP_A, GEWE_APP_ID, GEWE_HEADERS, ServedMock, receive
from PIL import Image

from chatimg import LarkClient, LarkError, SentImage


def serve_two_workers(state_dir: Path, *options: str) -> ServedMock:
    return ServedMock("--workers", "2", "--state-dir", str(state_dir), *options)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedMock]:
    server = serve_two_workers(tmp_path / "state")
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
            "appId": GEWE_APP_ID, "toWxid": f"wxid_{i}",
            "imgUrl": "data:image/png;base64," + base64.b64encode(png).decode()}).json()["data"]
        xml = SentImage.from_data(sent).forward_xml()
        reply = client.post("/gewe/v2/api/message/downloadImage", headers=GEWE_HEADERS,
                            json={"appId": GEWE_APP_ID, "type": 2, "xml": xml}).json()
        return client.get(reply["data"]["fileUrl"]).content == png


def lark_round_trip(url: str, i: int) -> bool:
    from chatimg import LarkClient

    png = distinct_png(1000 + i)
    with LarkClient(APP_A.app_id, APP_A.app_secret, base_url=url) as client:
        return client.download_image(client.upload_image(png)) == png


def test_concurrent_posts_on_two_workers_all_download_back_byte_exact(served: ServedMock) -> None:
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda i: gewe_round_trip(served.url, i), range(160)))
    assert results.count(True) == len(results)


def test_concurrent_lark_uploads_on_two_workers_download_back_byte_exact(tmp_path: Path) -> None:
    # Lark limits each app to 50 calls a second: 40 round trips (80 calls) over 32 connections
    # may be refused with 429, which the client waits out and retries.
    server = serve_two_workers(tmp_path / "state")
    try:
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(lambda i: lark_round_trip(server.url, i), range(40)))
    finally:
        server.stop()
    assert results.count(True) == len(results)


def test_state_survives_a_restart_of_the_server(tmp_path: Path) -> None:
    first = serve_two_workers(tmp_path / "state")
    try:
        message = receive(first, "gewe", sender="wxid_u", hd=True)
    finally:
        first.stop()
    second = serve_two_workers(tmp_path / "state")
    try:
        reply = httpx.post(f"{second.url}/gewe/v2/api/message/downloadImage",
                           headers=GEWE_HEADERS,
                           json={"appId": GEWE_APP_ID, "type": 1, "xml": message["xml"]}).json()
        assert reply["ret"] == 200
        assert httpx.get(reply["data"]["fileUrl"]).status_code == 200
    finally:
        second.stop()


def test_clock_and_rules_are_shared_by_all_workers(served: ServedMock) -> None:
    def post_image() -> dict:
        return httpx.post(f"{served.url}/gewe/v2/api/message/postImage", headers=GEWE_HEADERS,
                          json={"appId": GEWE_APP_ID, "toWxid": "a",
                                "imgUrl": "http://x/4x4"}).json()

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


def test_a_reset_racing_uploads_leaves_no_image_without_its_bytes(tmp_path: Path) -> None:
    """An image downloads whole, or (a reset took it) is gone whole: never 234042, which
    means its record was found but not its bytes."""
    config = tmp_path / "mock.yaml"
    config.write_text("lark: {rate_limit_per_second: 0, rate_limit_per_minute: 0}\n")
    server = serve_two_workers(tmp_path / "state", "--config", str(config))
    stop = threading.Event()

    def upload_and_download(worker: int) -> set[int]:
        with LarkClient(APP_A.app_id, APP_A.app_secret, base_url=server.url) as client:
            outcomes = set()
            for i in range(100):
                png = distinct_png(worker * 1000 + i)  # new bytes each time: new blobs
                try:
                    outcomes.add(200 if client.download_image(client.upload_image(png)) == png
                                 else 0)
                except LarkError as error:
                    outcomes.add(error.code)
            return outcomes

    def reset() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                http.post("/__admin/reset")

    try:
        resetter = threading.Thread(target=reset)
        resetter.start()
        with ThreadPoolExecutor(8) as pool:
            outcomes = set().union(*pool.map(upload_and_download, range(8)))
    finally:
        stop.set()
        server.stop()
    assert outcomes <= {200, 234005}
