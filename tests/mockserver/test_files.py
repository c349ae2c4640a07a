"""Download links (GeWe fileUrl, wid image URLs): signed, so handing one out stores nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from _support import GEWE_APP_ID, GEWE_HEADERS, receive

from mockserver import LiveServer, MockConfig
from mockserver.runtime.file_links import SIGNING_KEY
from mockserver.storage.records import Setting


def file_url(http: httpx.Client, image_type: int = 2) -> str:
    message = receive(http, "gewe")
    reply = http.post("/gewe/v2/api/message/downloadImage", headers=GEWE_HEADERS,
                      json={"appId": GEWE_APP_ID, "xml": message["xml"], "type": image_type})
    return reply.json()["data"]["fileUrl"]


def name_of(url: str) -> str:
    return url.split("/__files/")[1].split("?")[0]


def test_a_link_serves_the_image_with_its_type_and_name(http: httpx.Client) -> None:
    url = file_url(http)
    served = httpx.get(url)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["Content-Disposition"] == f'inline; filename="{name_of(url)}"'


def test_a_link_altered_anywhere_is_no_such_key_though_its_bytes_are_here(
        http: httpx.Client) -> None:
    message = receive(http, "gewe")
    normal, thumb = (name_of(http.post(
        "/gewe/v2/api/message/downloadImage", headers=GEWE_HEADERS,
        json={"appId": GEWE_APP_ID, "xml": message["xml"], "type": image_type},
    ).json()["data"]["fileUrl"]) for image_type in (2, 3))
    digest, expires, signature = normal.split(".")[0].split("-")
    thumb_digest = thumb.split("-")[0]
    forgeries = {
        "another stored image's digest": f"{thumb_digest}-{expires}-{signature}.jpg",
        "a later expiry": f"{digest}-{int(expires) + 1000}-{signature}.jpg",
        "never expiring": f"{digest}-never-{signature}.jpg",
        "another type": f"{digest}-{expires}-{signature}.png",
        "no signature": f"{digest}-{expires}-{'0' * 32}.jpg",
    }
    assert http.get(f"/__files/{normal}").status_code == 200
    for what, name in forgeries.items():
        forged = http.get(f"/__files/{name}")
        assert (forged.status_code, what) == (404, what)
        assert b"<Code>NoSuchKey</Code>" in forged.content


@pytest.mark.parametrize("name", ["nothing-here.png", "a" * 300 + ".jpg"], ids=["other", "long"])
def test_a_name_that_is_no_link_of_this_mock_is_no_such_key(http: httpx.Client,
                                                              name: str) -> None:
    assert http.get(f"/__files/{name}").status_code == 404


def test_links_issued_before_a_reset_no_longer_open_though_the_same_bytes_are_back(
        http: httpx.Client) -> None:
    url = file_url(http)
    assert httpx.get(url).status_code == 200
    assert http.post("/__admin/reset").is_success
    again = file_url(http)  # the same picture, so the same bytes under the same digest
    assert name_of(again).split("-")[0] == name_of(url).split("-")[0]
    assert httpx.get(again).status_code == 200
    assert httpx.get(url).status_code == 404


def test_checking_a_link_after_a_reset_writes_no_key(http: httpx.Client,
                                                     server: LiveServer) -> None:
    url = file_url(http)
    assert http.post("/__admin/reset").is_success
    assert httpx.get(url).status_code == 404
    assert server.state.store.load(Setting, SIGNING_KEY) is None


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
        message = receive(http, "gewe", sender="wxid_b")
        after_message = rows()
        urls = {http.post("/gewe/v2/api/message/downloadImage", headers=GEWE_HEADERS, json={
            "appId": GEWE_APP_ID, "xml": message["xml"], "type": 2}).json()["data"]["fileUrl"]
            for _ in range(5)}
        assert after_message > before  # (the count does see writes)
        assert rows() == after_message
        assert all(httpx.get(url).status_code == 200 for url in urls)
