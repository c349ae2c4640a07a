"""What the dashboard reads, over real sockets: its page and files, the admin token as a
browser carries it (a cookie its link sets), the index's link and errors, the fixtures, the
images paged and filtered (without reading their bytes), one image with its message and
deliveries, each stored copy and the grid's thumbnail, and the journal by status, since an
entry, newest first."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import Any

import flask
import httpx
import pytest
from _support import (
    APP_A,
    APP_B,
    GEWE_API,
    GEWE_APP_ID,
    GEWE_HEADERS,
    GEWE_TOKEN,
    PNG,
    W_ID,
    WID_AUTHORIZATION,
    BotRequest,
    RecordingBot,
    client_of,
    lark_auth,
    receive,
)
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from PIL import Image

from mockserver import LiveServer, MockConfig
from mockserver.admin.dashboard import CONTENT_TYPES, ui_folder
from mockserver.admin.images import THUMBNAIL_MAX_SIDE, Thumbnails
from mockserver.data_files import data_dir
from mockserver.storage.records import StoredImage, Variant
from mockserver.storage.store import MemoryStore

ADMIN_TOKEN = "dashboard-s3cret"
TOKEN_HELP = ("the admin routes need the X-Chatimg-Admin-Token header (in a browser: open "
              "/__admin/ui/?token=<admin token>)")
TOKEN_COOKIE = f"chatimg_admin_token={ADMIN_TOKEN}; HttpOnly; SameSite=Strict; Path=/__admin"
UI_FILES = sorted(name for name in (entry.name for entry in ui_folder().iterdir())
                  if PurePosixPath(name).suffix in CONTENT_TYPES and not name.startswith("."))
LARK_IMAGES = "/open-apis/im/v1/images"
LARK_MESSAGES = "/open-apis/im/v1/messages"
ENCRYPT_KEY = "dashboard-encrypt-key"


def get_json(http: httpx.Client, path: str, expect: int = 200, **params: Any) -> Any:
    reply = http.get(path, params=params)
    assert reply.status_code == expect, reply.text
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    return reply.json()


def images(http: httpx.Client, **params: Any) -> dict[str, Any]:
    listed: dict[str, Any] = get_json(http, "/__admin/images", **params)
    return listed


def ids(listed: dict[str, Any]) -> list[str]:
    return [image["imageId"] for image in listed["images"]]


def lark_upload(http: httpx.Client, auth: dict[str, str], data: bytes = PNG) -> str:
    reply = http.post(LARK_IMAGES, headers=auth, data={"image_type": "message"},
                      files={"image": ("picture", data)})
    assert reply.json()["code"] == 0, reply.text
    key: str = reply.json()["data"]["image_key"]
    return key


def decrypt(encrypted: str, key: str) -> bytes:
    """What Lark's AES-256-CBC (key sha256(encrypt key), iv first) hid, as a bot opens it."""
    raw = base64.b64decode(encrypted)
    cipher = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(raw[:16]))
    decryptor = cipher.decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


class LarkBot(RecordingBot):
    """An app's event URL: echoes the url_verification challenge (decrypted with
    ``encrypt_key`` when set), takes every event."""

    def __init__(self, encrypt_key: str | None = None) -> None:
        super().__init__("/lark/events", body=b'{"msg":"success"}')
        self.encrypt_key = encrypt_key

    def opened(self, request: BotRequest) -> Any:
        payload = request.json()
        if "encrypt" in payload and self.encrypt_key:
            return json.loads(decrypt(payload["encrypt"], self.encrypt_key))
        return payload

    def answer(self, request: BotRequest, status: int) -> flask.Response:
        payload = self.opened(request)
        if payload.get("type") == "url_verification":
            return flask.jsonify({"challenge": payload["challenge"]})
        return super().answer(request, status)


@pytest.fixture
def guarded_server(configured: Callable[[MockConfig], LiveServer]) -> LiveServer:
    """A mock with an admin token (started once per module, reset for each test)."""
    return configured(MockConfig(admin_token=ADMIN_TOKEN))


@pytest.fixture
def guarded(guarded_server: LiveServer) -> Iterator[httpx.Client]:
    """A client of a mock with an admin token, which keeps no cookie between requests."""
    with client_of(guarded_server) as client:
        client.cookies = _NoCookies()
        yield client


class _NoCookies(httpx.Cookies):
    """A jar that forgets what it is given: each test sends its cookies itself."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


@pytest.fixture
def store_http(any_store: LiveServer) -> Iterator[httpx.Client]:
    with client_of(any_store) as client:
        yield client


# --- the page -----------------------------------------------------------------------------


def test_the_page_is_the_index_file_shipped_with_the_mock(http: httpx.Client) -> None:
    reply = http.get("/__admin/ui/")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["Cache-Control"] == "no-cache"
    assert reply.content == (ui_folder() / "index.html").read_bytes()


@pytest.mark.parametrize("name", UI_FILES)
def test_each_file_of_the_page_is_served_as_on_disk_with_its_type(http: httpx.Client,
                                                                 name: str) -> None:
    reply = http.get(f"/__admin/ui/{name}")
    assert reply.status_code == 200
    assert reply.content == (ui_folder() / name).read_bytes()
    assert reply.headers["Content-Type"] == CONTENT_TYPES[PurePosixPath(name).suffix]
    assert reply.headers["Cache-Control"] == "no-cache"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_the_pages_files_are_html_css_js_and_images() -> None:
    assert "index.html" in UI_FILES
    assert {PurePosixPath(name).suffix for name in UI_FILES} <= {".html", ".css", ".js", ".svg",
                                                                 ".png"}


def test_a_file_the_browser_has_is_not_sent_again(http: httpx.Client) -> None:
    first = http.get("/__admin/ui/")
    again = http.get("/__admin/ui/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("name", [
    "nope.js", "dashboard.py", "routes.py", "__init__.py", ".hidden.css", "..", "%2E%2E",
    "..%2Froutes.py", "..%2F..%2Fconfig.py", "%2Fetc%2Fpasswd", "ui", "index.html%00.js",
])
def test_a_name_that_is_no_file_of_the_page_is_a_json_404(http: httpx.Client, name: str) -> None:
    reply = http.get(f"/__admin/ui/{name}")
    assert reply.status_code == 404
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert set(reply.json()) == {"error"}


def test_the_page_without_its_slash_is_sent_to_it(http: httpx.Client) -> None:
    reply = http.get("/__admin/ui")
    assert reply.status_code == 308
    assert reply.headers["Location"].endswith("/__admin/ui/")


# --- the admin token in a browser ---------------------------------------------------------


def test_the_page_without_the_token_is_a_json_401_saying_how_to_open_it(
        guarded: httpx.Client) -> None:
    reply = guarded.get("/__admin/ui/")
    assert reply.status_code == 401
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reply.json() == {"error": TOKEN_HELP}


def test_every_admin_route_refuses_with_the_same_words(guarded: httpx.Client) -> None:
    assert guarded.get("/__admin/images").json() == {"error": TOKEN_HELP}


def test_the_link_with_the_token_keeps_it_in_a_cookie_and_leaves_the_address(
        guarded: httpx.Client) -> None:
    reply = guarded.get("/__admin/ui/", params={"token": ADMIN_TOKEN})
    assert reply.status_code == 303
    assert reply.headers["Location"] == "/__admin/ui/"
    assert reply.headers.get_list("Set-Cookie") == [TOKEN_COOKIE]
    assert reply.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("token", ["", "guess", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1]])
def test_the_link_with_a_wrong_token_is_a_json_401_and_sets_no_cookie(
        guarded: httpx.Client, token: str) -> None:
    reply = guarded.get("/__admin/ui/", params={"token": token},
                        headers={"X-Chatimg-Admin-Token": ADMIN_TOKEN})
    assert reply.status_code == 401
    assert reply.json() == {"error": TOKEN_HELP}
    assert "Set-Cookie" not in reply.headers


@pytest.mark.parametrize("path", ["/__admin/ui/", "/__admin/ui/dashboard.js", "/__admin/images",
                                  "/__admin/journal", "/__admin/fixtures"])
def test_the_cookie_opens_the_page_and_the_admin_routes(guarded: httpx.Client,
                                                        path: str) -> None:
    reply = guarded.get(path, headers={"Cookie": f"chatimg_admin_token={ADMIN_TOKEN}"})
    assert reply.status_code == 200, reply.text


def test_a_wrong_cookie_is_refused(guarded: httpx.Client) -> None:
    reply = guarded.get("/__admin/images", headers={"Cookie": "chatimg_admin_token=guess"})
    assert reply.status_code == 401
    assert reply.json() == {"error": TOKEN_HELP}


def test_the_cookie_the_link_set_opens_the_admin_routes(guarded_server: LiveServer) -> None:
    with client_of(guarded_server) as browser:  # keeps the cookie, as a browser does
        browser.get("/__admin/ui/", params={"token": ADMIN_TOKEN})
        assert browser.get("/__admin/clock").status_code == 200
        assert browser.get("/__admin/ui/").status_code == 200


def test_a_change_with_the_cookie_must_come_from_the_mocks_own_pages(
        guarded: httpx.Client, guarded_server: LiveServer) -> None:
    cookie = {"Cookie": f"chatimg_admin_token={ADMIN_TOKEN}"}
    own = guarded.post("/__admin/clock", json={"advance": 1},
                       headers={**cookie, "Origin": guarded_server.url})
    assert own.status_code == 200, own.text
    foreign = guarded.post("/__admin/clock", json={"advance": 1},
                           headers={**cookie, "Origin": "http://127.0.0.1:1"})
    assert foreign.status_code == 401
    assert "not from http://127.0.0.1:1" in foreign.json()["error"]
    with_the_header = guarded.post("/__admin/clock", json={"advance": 1}, headers={
        "X-Chatimg-Admin-Token": ADMIN_TOKEN, "Origin": "http://127.0.0.1:1"})
    assert with_the_header.status_code == 200


def test_behind_a_proxy_that_ends_tls_the_public_url_is_the_mocks_own_origin(
        configured: Callable[[MockConfig], LiveServer]) -> None:
    public = "https://mock.staging.example"
    served = configured(MockConfig(admin_token=ADMIN_TOKEN, public_url=public))
    cookie = {"Cookie": f"chatimg_admin_token={ADMIN_TOKEN}"}
    with client_of(served) as http:
        from_the_page = http.post("/__admin/clock", json={"advance": 1},
                                  headers={**cookie, "Origin": public})
        assert from_the_page.status_code == 200, from_the_page.text
        foreign = http.post("/__admin/clock", json={"advance": 1},
                            headers={**cookie, "Origin": "https://elsewhere.example"})
        assert foreign.status_code == 401


def test_the_cookie_is_compared_in_constant_time(guarded: httpx.Client,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    guarded.get("/__admin/images", headers={"Cookie": "chatimg_admin_token=guessed-token"})
    guarded.get("/__admin/ui/", params={"token": "linked-token"})
    assert (b"guessed-token", ADMIN_TOKEN.encode()) in compared
    assert (b"linked-token", ADMIN_TOKEN.encode()) in compared


def test_without_an_admin_token_the_link_goes_to_the_page_and_sets_no_cookie(
        http: httpx.Client) -> None:
    reply = http.get("/__admin/ui/", params={"token": "anything"})
    assert reply.status_code == 303
    assert reply.headers["Location"] == "/__admin/ui/"
    assert "Set-Cookie" not in reply.headers


def test_the_link_is_not_journaled_and_a_cookie_sent_to_a_vendor_is_masked(
        guarded: httpx.Client, guarded_server: LiveServer) -> None:
    guarded.get("/__admin/ui/", params={"token": ADMIN_TOKEN})
    guarded.post(f"{GEWE_API}/message/postImage", json={}, headers={
        **GEWE_HEADERS, "Cookie": f"chatimg_admin_token={ADMIN_TOKEN}"})
    (entry,) = guarded_server.journal.entries()
    assert entry.operation == "postImage"
    assert entry.request_headers["Cookie"].startswith("***")
    assert ADMIN_TOKEN not in json.dumps(entry.request_headers)


# --- the index and the fixtures -------------------------------------------------------------


def test_the_index_links_the_dashboard(http: httpx.Client, server: LiveServer) -> None:
    assert get_json(http, "/")["dashboard"] == f"{server.url}/__admin/ui/"


def test_the_index_names_the_errors_a_rule_may_ask_of_each_operation(http: httpx.Client) -> None:
    apis = get_json(http, "/")["apis"]
    errors = {api: {op["operationId"]: op["errors"] for op in index["operations"]}
              for api, index in apis.items()}
    assert "no_hd" in errors["gewe"]["downloadImage"]
    assert "no_hd" not in errors["gewe"]["postImage"]
    assert errors["wid"]["getMsgImg"] == ["1001"]
    assert "234005" in errors["lark"]["getImage"]
    assert set(map(len, errors["admin"].values())) == {0}


def test_every_error_the_index_names_can_be_armed(http: httpx.Client) -> None:
    apis = get_json(http, "/")["apis"]
    for api in ("gewe", "wid", "lark"):
        for operation in apis[api]["operations"]:
            for error in operation["errors"][:2]:
                reply = http.post("/__admin/rules", json={
                    "operation": operation["operationId"], "error": error})
                assert reply.status_code == 201, reply.text


def test_fixtures_are_the_kits_fixture_pictures(http: httpx.Client) -> None:
    on_disk = {entry.name for entry in (data_dir("fixtures") / "images").iterdir()
               if entry.is_file()}
    listed = get_json(http, "/__admin/fixtures")["fixtures"]
    assert listed == sorted(on_disk - {"not-an-image.txt"})  # (the one kept for refusals)
    assert "landscape.jpg" in listed


def test_each_fixture_listed_can_be_sent_by_name(http: httpx.Client) -> None:
    for name in get_json(http, "/__admin/fixtures")["fixtures"]:
        reply = http.post("/__admin/wid/messages", json={"fromUser": "wxid_a", "fixture": name})
        assert reply.status_code == 201, reply.text


# --- the images ----------------------------------------------------------------------------


@pytest.fixture
def mixed(store_http: httpx.Client, any_store: LiveServer) -> dict[str, list[str]]:
    """Images of every vendor and origin, made a second apart by the mock's clock:
    image ids by what made them, in the order they were made."""
    made: dict[str, list[str]] = {"gewe-in": [], "wid-in": [], "lark-in": [], "lark-sent": []}
    auth = lark_auth(store_http)
    for round_ in range(3):
        made["gewe-in"].append(receive(store_http, "gewe", hd=round_ != 1)["fileId"])
        store_http.post("/__admin/clock", json={"advance": 1})
        made["wid-in"].append(receive(store_http, "wid", fixture="square.png")["fileId"])
        store_http.post("/__admin/clock", json={"advance": 1})
        reply = store_http.post("/__admin/lark/messages", json={"fixture": "tiny.gif"})
        made["lark-in"].append(reply.json()["image_key"])
        store_http.post("/__admin/clock", json={"advance": 1})
        made["lark-sent"].append(lark_upload(store_http, auth))
        store_http.post("/__admin/clock", json={"advance": 1})
    return made


def test_images_without_parameters_are_all_in_store_order_with_their_total(
        store_http: httpx.Client, mixed: dict[str, list[str]]) -> None:
    listed = images(store_http)
    assert listed["total"] == len(listed["images"]) == 12
    made_order = [image for round_ in zip(*mixed.values(), strict=True) for image in round_]
    assert ids(listed) == made_order


def test_a_summary_has_its_time_and_the_urls_of_its_thumbnail_and_largest_copy(
        store_http: httpx.Client, mixed: dict[str, list[str]]) -> None:
    by_id = {image["imageId"]: image for image in images(store_http)["images"]}
    with_hd, without_hd = by_id[mixed["gewe-in"][0]], by_id[mixed["gewe-in"][1]]
    lark_image = by_id[mixed["lark-sent"][0]]
    base = f"/__admin/images/gewe/{with_hd['imageId']}"
    assert with_hd["thumbnailUrl"] == f"{base}/thumbnail"
    assert with_hd["url"] == f"{base}/hd"
    assert without_hd["url"].endswith("/normal")
    assert lark_image["url"] == f"/__admin/images/lark/{lark_image['imageId']}/original"
    assert set(with_hd["variants"]) == {"hd", "normal", "thumb"}
    assert lark_image["createdAt"] > with_hd["createdAt"] > 1.7e9


@pytest.mark.parametrize("filters, groups", [
    ({"vendor": "gewe"}, ["gewe-in"]),
    ({"vendor": "lark"}, ["lark-in", "lark-sent"]),
    ({"vendor": "lark", "origin": "sent"}, ["lark-sent"]),
    ({"origin": "received"}, ["gewe-in", "wid-in", "lark-in"]),
    ({"account": W_ID}, ["wid-in"]),
    ({"account": APP_A.app_id, "origin": "received"}, ["lark-in"]),
    ({"account": "nobody"}, []),
])
def test_images_of_a_vendor_account_or_origin(store_http: httpx.Client,
                                              mixed: dict[str, list[str]],
                                              filters: dict[str, str], groups: list[str]) -> None:
    listed = images(store_http, **filters)
    assert sorted(ids(listed)) == sorted(i for group in groups for i in mixed[group])
    assert listed["total"] == len(listed["images"])


def test_a_page_of_images_is_newest_first_and_the_total_counts_them_all(
        store_http: httpx.Client, mixed: dict[str, list[str]]) -> None:
    everything = ids(images(store_http))
    pages = [images(store_http, limit=5, offset=offset) for offset in (0, 5, 10)]
    assert [page["total"] for page in pages] == [12, 12, 12]
    assert [len(page["images"]) for page in pages] == [5, 5, 2]
    assert [i for page in pages for i in ids(page)] == everything[::-1]
    assert images(store_http, limit=5, offset=12) == {"images": [], "total": 12}


def test_a_page_of_one_vendors_images(store_http: httpx.Client,
                                      mixed: dict[str, list[str]]) -> None:
    page = images(store_http, vendor="gewe", limit=2)
    assert ids(page) == mixed["gewe-in"][::-1][:2]
    assert page["total"] == 3
    assert ids(images(store_http, vendor="gewe", offset=2)) == mixed["gewe-in"][:1]


def test_images_made_in_the_same_instant_page_newest_stored_first(
        store_http: httpx.Client, any_store: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(any_store.state.clock, "now", lambda: 1_800_000_000.0)  # (stopped)
    stored = [receive(store_http, "wid", fixture="tiny.gif")["fileId"] for _ in range(3)]
    listed = images(store_http, limit=3)
    assert {image["createdAt"] for image in listed["images"]} == {1_800_000_000.0}
    assert ids(listed) == stored[::-1]


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 201}, {"limit": "ten"}, {"offset": -1}, {"vendor": "slack"},
    {"origin": "forwarded"}, {"account": ""},
])
def test_an_impossible_image_query_is_a_json_400(http: httpx.Client,
                                                 params: dict[str, Any]) -> None:
    assert set(get_json(http, "/__admin/images", 400, **params)) == {"error"}


def test_listing_images_reads_none_of_their_bytes(store_http: httpx.Client,
                                                  any_store: LiveServer,
                                                  mixed: dict[str, list[str]],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []
    store = any_store.state.store
    real = store.get_blob
    monkeypatch.setattr(store, "get_blob", lambda digest: read.append(digest) or real(digest))
    assert images(store_http, limit=24)["total"] == 12
    assert images(store_http)["total"] == 12
    assert read == []
    store_http.get(images(store_http, limit=1)["images"][0]["url"])
    assert len(read) == 1  # (the spy sees reads)


def by_account(http: httpx.Client, **params: Any) -> dict[tuple[str, str, str], Any]:
    """GET /__admin/images/by-account: each group's reply by (vendor, account, origin), in
    the order given."""
    reply = get_json(http, "/__admin/images/by-account", **params)
    assert reply["limit"] == params.get("limit", 12)
    return {(g["vendor"], g["account"], g["origin"]): g for g in reply["groups"]}


def test_by_account_is_every_configured_account_both_ways_each_newest_first(
        store_http: httpx.Client, mixed: dict[str, list[str]]) -> None:
    groups = by_account(store_http, limit=2)
    assert list(groups) == [(vendor, account, origin) for vendor, account in [
        ("gewe", GEWE_APP_ID), ("wid", W_ID), ("lark", APP_A.app_id), ("lark", APP_B.app_id)]
        for origin in ("sent", "received")]
    made = {("gewe", GEWE_APP_ID, "received"): mixed["gewe-in"],
            ("wid", W_ID, "received"): mixed["wid-in"],
            ("lark", APP_A.app_id, "received"): mixed["lark-in"],
            ("lark", APP_A.app_id, "sent"): mixed["lark-sent"]}
    for key, group in groups.items():
        expected = made.get(key, [])
        assert (ids(group), group["total"]) == (expected[::-1][:2], len(expected)), key
    # the same pages as GET /__admin/images gives one group at a time
    vendor, account, origin = ("lark", APP_A.app_id, "sent")
    assert groups[vendor, account, origin]["images"] == images(
        store_http, vendor=vendor, account=account, origin=origin, limit=2)["images"]


def test_by_account_shows_the_images_of_an_account_no_longer_configured_last(
        store_http: httpx.Client, any_store: LiveServer) -> None:
    receive(store_http, "wid")
    stored = any_store.state.store.records(StoredImage)[0]
    gone = dataclasses.replace(stored, image_id="3057-of-a-gone-device", owner="wx_gone")
    any_store.state.store.save(gone)
    groups = by_account(store_http)
    assert list(groups)[-1] == ("wid", "wx_gone", "received")
    assert ids(groups["wid", "wx_gone", "received"]) == [gone.image_id]
    assert len(groups) == 9


def test_by_account_reads_none_of_the_images_bytes(store_http: httpx.Client,
                                                   any_store: LiveServer,
                                                   mixed: dict[str, list[str]],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = any_store.state.store
    monkeypatch.setattr(store, "get_blob", lambda digest: pytest.fail("read bytes"))
    assert sum(group["total"] for group in by_account(store_http).values()) == 12


@pytest.mark.parametrize("limit", [0, 201, "ten"])
def test_an_impossible_by_account_limit_is_a_json_400(http: httpx.Client, limit: Any) -> None:
    assert set(get_json(http, "/__admin/images/by-account", 400, limit=limit)) == {"error"}


# --- one image ----------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", ["gewe", "wid"])
def test_a_received_wechat_image_comes_with_its_message_and_delivery(
        store_http: httpx.Client, bot: RecordingBot, vendor: str) -> None:
    if vendor == "gewe":
        store_http.post(f"{GEWE_API}/tools/setCallback", headers=GEWE_HEADERS,
                        json={"token": GEWE_TOKEN, "callbackUrl": bot.url})
    else:
        store_http.post("/setHttpCallbackUrl", headers={"Authorization": WID_AUTHORIZATION},
                        json={"httpUrl": bot.url, "type": 2})
    received = receive(store_http, vendor, sender="wxid_sender", chatroom="123@chatroom")
    detail = get_json(store_http, f"/__admin/images/{vendor}/{received['fileId']}")
    listed = images(store_http)["images"][0]
    assert {key: detail[key] for key in listed} == listed
    assert detail["message"] == {
        "xml": received["xml"], "fromUser": "123@chatroom", "toUser": received["toUser"],
        "newMsgId": received["newMsgId"], "direction": "in",
        "createTime": received["createTime"]}
    assert detail["deliveries"] == received["deliveries"] == get_json(
        store_http, "/__admin/deliveries")["deliveries"]
    assert len(detail["deliveries"]) == 1


def test_an_image_the_bot_sent_on_gewe_comes_with_its_message_and_no_delivery(
        store_http: httpx.Client) -> None:
    reply = store_http.post(f"{GEWE_API}/message/postImage", headers=GEWE_HEADERS, json={
        "appId": GEWE_APP_ID, "toWxid": "wxid_friend", "imgUrl": "http://x/64x48"}).json()
    detail = get_json(store_http, f"/__admin/images/gewe/{reply['data']['fileId']}")
    message = detail["message"]
    assert (message["direction"], message["toUser"]) == ("out", "wxid_friend")
    assert message["newMsgId"] == reply["data"]["newMsgId"]
    assert reply["data"]["fileId"] in message["xml"]  # (downloadImage takes it)
    assert detail["deliveries"] == []


@pytest.mark.parametrize("encrypt_key", [None, ENCRYPT_KEY])
def test_a_received_lark_image_comes_with_the_event_the_bot_was_sent(
        store_http: httpx.Client, encrypt_key: str | None) -> None:
    with LarkBot(encrypt_key) as bot:
        subscribed = store_http.put(f"/__admin/lark/apps/{APP_A.app_id}/events", json={
            "url": bot.url, **({"encrypt_key": encrypt_key} if encrypt_key else {})})
        assert subscribed.status_code == 200, subscribed.text
        reply = store_http.post("/__admin/lark/messages", json={"fixture": "square.png",
                                                                "chat_type": "group"}).json()
        delivered = bot.opened(bot.wait_for(2)[1])
    detail = get_json(store_http, f"/__admin/images/lark/{reply['image_key']}")
    assert detail["message"] == {
        "message_id": reply["message_id"], "chat_id": reply["chat_id"], "chat_type": "group",
        "sender": delivered["event"]["sender"]["sender_id"]["open_id"], "direction": "in",
        "event": delivered}
    assert delivered == reply["event"]
    assert [d["id"] for d in detail["deliveries"]] == [d["id"] for d in reply["deliveries"]]


def test_a_lark_image_uploaded_then_sent_comes_with_the_message_it_went_in(
        store_http: httpx.Client) -> None:
    auth = lark_auth(store_http)
    key = lark_upload(store_http, auth)
    assert get_json(store_http, f"/__admin/images/lark/{key}")["message"] is None
    sent = store_http.post(LARK_MESSAGES, params={"receive_id_type": "chat_id"}, headers=auth,
                           json={"receive_id": "oc_dashboard", "msg_type": "image",
                                 "content": json.dumps({"image_key": key})}).json()
    detail = get_json(store_http, f"/__admin/images/lark/{key}")
    assert detail["message"] == {
        "message_id": sent["data"]["message_id"], "chat_id": "oc_dashboard",
        "chat_type": "group", "sender": APP_A.app_id, "direction": "out", "event": None}
    assert detail["deliveries"] == []


@pytest.mark.parametrize("path", ["/__admin/images/gewe/3057nothing",
                                  "/__admin/images/slack/3057nothing",
                                  "/__admin/images/gewe/3057nothing/thumbnail"])
def test_an_unknown_image_is_a_json_404(http: httpx.Client, path: str) -> None:
    assert set(get_json(http, path, 404)) == {"error"}


def test_an_image_is_found_under_its_own_vendor_only(http: httpx.Client) -> None:
    received = receive(http, "wid")
    get_json(http, f"/__admin/images/wid/{received['fileId']}")
    get_json(http, f"/__admin/images/gewe/{received['fileId']}", 404)


# --- the bytes of each copy -----------------------------------------------------------------


def test_each_copy_is_served_with_its_type_and_the_bytes_its_summary_describes(
        store_http: httpx.Client, mixed: dict[str, list[str]]) -> None:
    for image in images(store_http)["images"]:
        for name, variant in image["variants"].items():
            reply = store_http.get(f"/__admin/images/{image['vendor']}/{image['imageId']}/{name}")
            assert reply.status_code == 200
            assert reply.headers["Content-Type"] == variant["contentType"]
            assert hashlib.md5(reply.content).hexdigest() == variant["md5"]
            assert len(reply.content) == variant["length"]


def test_a_copy_is_the_very_file_a_bot_downloads(http: httpx.Client) -> None:
    received = receive(http, "gewe")
    link = http.post(f"{GEWE_API}/message/downloadImage", headers=GEWE_HEADERS, json={
        "appId": GEWE_APP_ID, "xml": received["xml"], "type": 1}).json()["data"]["fileUrl"]
    shown = http.get(f"/__admin/images/gewe/{received['fileId']}/hd")
    assert shown.content == http.get(link).content


def test_the_thumbnail_of_a_wechat_image_is_its_own(store_http: httpx.Client) -> None:
    received = receive(store_http, "gewe")
    (image,) = images(store_http)["images"]
    thumbnail = store_http.get(image["thumbnailUrl"])
    assert thumbnail.status_code == 200
    assert hashlib.md5(thumbnail.content).hexdigest() == image["variants"]["thumb"]["md5"]
    assert thumbnail.headers["Content-Type"] == "image/jpeg"
    assert received["fileId"] in image["thumbnailUrl"]


def test_the_thumbnail_of_an_image_without_one_is_a_small_jpeg_made_once(
        store_http: httpx.Client, any_store: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    key = lark_upload(store_http, lark_auth(store_http),
                      (data_dir("fixtures") / "images" / "landscape.jpg").read_bytes())
    (image,) = images(store_http)["images"]
    first = store_http.get(image["thumbnailUrl"])
    assert first.status_code == 200 and first.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(first.content)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert max(thumbnail.size) == THUMBNAIL_MAX_SIDE
        assert thumbnail.size[0] > thumbnail.size[1]  # (the landscape's shape)
    read: list[str] = []
    store = any_store.state.store
    monkeypatch.setattr(store, "get_blob", lambda digest: read.append(digest))
    assert store_http.get(f"/__admin/images/lark/{key}/thumbnail").content == first.content
    assert read == []


def test_a_copy_the_image_does_not_have_is_a_json_404_naming_those_it_has(
        http: httpx.Client) -> None:
    received = receive(http, "wid", hd=False)
    error = get_json(http, f"/__admin/images/wid/{received['fileId']}/hd", 404)["error"]
    assert error.endswith("has no copy 'hd'; it has normal, thumb, thumbnail")


def test_the_thumbnail_cache_keeps_only_the_latest() -> None:
    store = MemoryStore()
    sources = []
    for side in (300, 310, 320):
        data = Image.new("RGB", (side, side // 2), "teal")
        out = io.BytesIO()
        data.save(out, "PNG")
        digest = store.put_blob(out.getvalue())
        sources.append(Variant(digest, len(out.getvalue()), side, side // 2, "image/png", ""))
    thumbnails = Thumbnails(size=2)
    made = [thumbnails.of(store, source) for source in sources]
    store.clear()  # the bytes are gone: only what the cache holds can still be answered
    assert [thumbnails.of(store, source) for source in sources] == [None, *made[1:]]


# --- the journal ----------------------------------------------------------------------------


@pytest.fixture
def statuses(store_http: httpx.Client) -> list[int]:
    """Calls answered 200 (a token), 400 (a Lark image that is not there), 404 (a file link
    that is not there), in this order, twice: their statuses."""
    for _ in range(2):
        auth = lark_auth(store_http)
        store_http.get(f"{LARK_IMAGES}/img_v3_nothing", headers=auth)
        store_http.get("/__files/nothing")
    return [200, 400, 404] * 2


def entries(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = get_json(http, "/__admin/journal", **params)["entries"]
    return listed


def test_journal_by_status_or_class_of_status(store_http: httpx.Client,
                                              statuses: list[int]) -> None:
    assert [e["status"] for e in entries(store_http)] == statuses
    assert [e["status"] for e in entries(store_http, status="404")] == [404, 404]
    assert [e["status"] for e in entries(store_http, status="4xx")] == [400, 404, 400, 404]
    assert [e["status"] for e in entries(store_http, status="4XX")] == [400, 404, 400, 404]
    assert [e["operation"] for e in entries(store_http, status="2xx")] == [
        "getTenantAccessToken"] * 2
    assert entries(store_http, status="503") == []


def test_journal_newest_first(store_http: httpx.Client, statuses: list[int]) -> None:
    oldest_first = entries(store_http)
    assert entries(store_http, order="newest") == oldest_first[::-1]
    assert entries(store_http, order="oldest") == oldest_first
    assert entries(store_http, order="newest", limit=2) == oldest_first[::-1][:2]
    assert entries(store_http, limit=2) == oldest_first[-2:]  # (as before: the last N)
    assert entries(store_http, order="newest", limit=1, status="4xx") == oldest_first[-1:]


def test_journal_after_an_entry_is_what_came_since(store_http: httpx.Client,
                                                   statuses: list[int]) -> None:
    everything = entries(store_http)
    seen = everything[2]["id"]
    assert entries(store_http, after=seen) == everything[3:]
    assert entries(store_http, after=seen, order="newest") == everything[3:][::-1]
    assert entries(store_http, after=seen, order="newest", limit=2) == everything[:2:-1][:2]
    assert entries(store_http, after=everything[-1]["id"]) == []
    assert all(e["id"] > seen for e in entries(store_http, after=seen))


def test_journal_ids_sort_in_time_order(store_http: httpx.Client, statuses: list[int]) -> None:
    listed = entries(store_http)
    assert [e["id"] for e in listed] == sorted(e["id"] for e in listed)
    assert [e["time"] for e in listed] == sorted(e["time"] for e in listed)


@pytest.mark.parametrize("params", [{"status": "4x"}, {"status": "600"}, {"status": "xx"},
                                    {"status": "40"}, {"order": "random"}, {"after": ""}])
def test_an_impossible_journal_query_is_a_json_400(http: httpx.Client,
                                                   params: dict[str, str]) -> None:
    assert set(get_json(http, "/__admin/journal", 400, **params)) == {"error"}
