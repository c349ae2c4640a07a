"""Download links (GeWe fileUrl, wid image URLs): signed, so handing one out stores nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from mockserver import LiveServer, MockConfig

DEFAULTS = MockConfig()
GEWE_APP_ID = DEFAULTS.gewe.devices[0].app_id
HEADERS = {"X-GEWE-TOKEN": DEFAULTS.gewe.tokens[0]}


def file_url(http: httpx.Client, image_type: int = 2) -> str:
    message = http.post("/__admin/gewe/messages", json={"fromUser": "wxid_friend01"}).json()
    reply = http.post("/gewe/v2/api/message/downloadImage", headers=HEADERS,
                      json={"appId": GEWE_APP_ID, "xml": message["xml"], "type": image_type})
    return reply.json()["data"]["fileUrl"]


def altered(url: str, position: int) -> str:
    """``url`` with one hex digit of its file name changed (counted from the name's start)."""
    start = url.index("/__files/") + len("/__files/") + position
    return url[:start] + ("0" if url[start] != "0" else "1") + url[start + 1:]


def test_a_link_serves_the_image_with_its_type_and_name(http: httpx.Client) -> None:
    url = file_url(http)
    served = httpx.get(url)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    name = url.split("/__files/")[1].split("?")[0]
    assert served.headers["Content-Disposition"] == f'inline; filename="{name}"'


@pytest.mark.parametrize("position", [0, 63, 65, -5], ids=["digest", "digest end", "expiry",
                                                           "signature"])
def test_a_link_altered_anywhere_is_no_such_key(http: httpx.Client, position: int) -> None:
    url = file_url(http)
    name_end = url.index("?") if "?" in url else len(url)
    name_length = name_end - url.index("/__files/") - len("/__files/")
    forged = httpx.get(altered(url, position % name_length))
    assert forged.status_code == 404
    assert b"<Code>NoSuchKey</Code>" in forged.content


@pytest.mark.parametrize("name", ["nothing-here.png", "0" * 64 + "-0-" + "0" * 32 + ".jpg",
                                  "a" * 300 + ".jpg"], ids=["other", "unsigned", "long"])
def test_a_name_that_is_no_link_of_this_mock_is_no_such_key(http: httpx.Client,
                                                              name: str) -> None:
    assert http.get(f"/__files/{name}").status_code == 404


def test_links_issued_before_a_reset_no_longer_open(http: httpx.Client) -> None:
    url = file_url(http)
    assert httpx.get(url).status_code == 200
    assert http.post("/__admin/reset").is_success
    assert httpx.get(url).status_code == 404


def test_handing_out_links_writes_nothing_to_the_store(tmp_path: Path) -> None:
    with LiveServer(MockConfig(state_dir=str(tmp_path))) as server, \
            httpx.Client(base_url=server.url, timeout=10) as http:
        file_url(http)  # the first makes the signing key

        def rows() -> int:
            with sqlite3.connect(tmp_path / "state.sqlite3") as database:
                (count,) = database.execute("SELECT count(*) FROM records").fetchone()
            database.close()
            return count

        before = rows()
        message = http.post("/__admin/gewe/messages", json={"fromUser": "wxid_b"}).json()
        after_message = rows()
        urls = {http.post("/gewe/v2/api/message/downloadImage", headers=HEADERS, json={
            "appId": GEWE_APP_ID, "xml": message["xml"], "type": 2}).json()["data"]["fileUrl"]
            for _ in range(5)}
        assert after_message > before  # (the count does see writes)
        assert rows() == after_message
        assert all(httpx.get(url).status_code == 200 for url in urls)
