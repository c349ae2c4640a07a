"""Lark / Feishu over a real socket: tenant token, image upload, image download, every error code."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from _support import APP_A, APP_B, DEFAULTS, LARK_TOKEN_TTL, PNG
from PIL import Image

from mockserver import LarkApp, LarkConfig, LarkErrorOverride, LiveServer, MockConfig
from mockserver.data_files import fixture_image

CREDENTIALS_A = {"app_id": APP_A.app_id, "app_secret": APP_A.app_secret}
CREDENTIALS_B = {"app_id": APP_B.app_id, "app_secret": APP_B.app_secret}
TOKEN = "/open-apis/auth/v3/tenant_access_token/internal"
IMAGES = "/open-apis/im/v1/images"
REUSE_MIN = 30 * 60
MAX_UPLOAD = 10 * 1024 * 1024
LOG_ID = b"X-Tt-Logid"

# The apps of the tenant-state tests: one per flag, next to the default apps.
BOT_DISABLED = LarkApp("cli_mock_bot_disabled", "secret-d", bot_enabled=False)
KEY_DELETED = LarkApp("cli_mock_key_deleted", "secret-k", tenant_master_key_deleted=True)
STORAGE_ERROR = LarkApp("cli_mock_storage_err", "secret-s", tenant_storage_error=True)
TENANT_APPS = {234007: BOT_DISABLED, 234041: KEY_DELETED, 234042: STORAGE_ERROR}

# The texts the vendor document (lark-image-get.md) and the spec's examples give per code.
DOCUMENTED = {
    234001: (400, "Invalid request param."),
    234002: (401, "Unauthorized."),
    234005: (400, "Image has been deleted"),
    234006: (400, "The image exceeds the size limit of 10 MB."),
    234007: (400, "App does not enable bot feature."),
    234008: (400, "The app is not the resource sender"),
    234010: (400, "The image file is empty."),
    234011: (400, "The image format is not supported."),
    234041: (400, "Tenant master key has been deleted, please contact the tenant administrator."),
    234042: (400, "Hybrid deployment tenant storage error, such as full storage space, "
                  "please contact tenant administrator."),
    99991661: (400, "Missing access token for authorization. "
                    "Please make a request with token attached."),
    99991663: (400, "Invalid access token for authorization. "
                    "Please make a request with token attached"),
}


# --- helpers ------------------------------------------------------------------------------


def token_for(http: httpx.Client, credentials: dict = CREDENTIALS_A) -> str:
    reply = http.post(TOKEN, json=credentials)
    assert reply.status_code == 200 and reply.json()["code"] == 0, reply.text
    return reply.json()["tenant_access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(http: httpx.Client, token: str, data: bytes, *, image_type: str = "message",
           filename: str = "image.bin", content_type: str = "application/octet-stream"
           ) -> httpx.Response:
    return http.post(IMAGES, headers=bearer(token), files={
        "image_type": (None, image_type), "image": (filename, data, content_type)})


def uploaded_key(http: httpx.Client, token: str, data: bytes, **options) -> str:
    reply = upload(http, token, data, **options)
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]["image_key"]


def download(http: httpx.Client, token: str, key: str) -> httpx.Response:
    return http.get(f"{IMAGES}/{key}", headers=bearer(token))


def sdk_multipart(fields: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body as lark-oapi's MultipartEncoder sends it: no filename, no part type."""
    boundary = "a3f9c2d1e8b74f0c9d6e5b4a3c2d1e0f"
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    .encode() + value + b"\r\n" for name, value in fields)
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def image_of_size(width: int, height: int, image_format: str) -> bytes:
    """A small file with a large resolution: one flat colour compresses to almost nothing."""
    buffer = io.BytesIO()
    Image.new("P" if image_format == "GIF" else "L", (width, height)).save(buffer, image_format)
    return buffer.getvalue()


def raw_header_names(reply: httpx.Response) -> list[bytes]:
    return [name for name, _ in reply.headers.raw]


def assert_lark_error(reply: httpx.Response, code: int, status: int | None = None) -> dict:
    """The error envelope: JSON, the code, and the log id in body and header alike."""
    assert reply.headers["Content-Type"].startswith("application/json"), reply.headers
    body = reply.json()
    assert body["code"] == code, body
    assert reply.status_code == (status if status is not None else DOCUMENTED[code][0])
    assert LOG_ID in raw_header_names(reply)
    assert body["error"]["log_id"] == reply.headers["X-Tt-Logid"]
    return body


@pytest.fixture(scope="module")
def tenant_live_server() -> Iterator[LiveServer]:
    config = MockConfig(lark=LarkConfig(apps=(APP_A, APP_B, *TENANT_APPS.values())))
    with LiveServer(config) as server:
        yield server


@pytest.fixture
def tenants(tenant_live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client on a mock whose config adds one app per tenant flag to the default apps."""
    tenant_live_server.state.reset()
    with httpx.Client(base_url=tenant_live_server.url, timeout=10) as client:
        yield client


# --- tenant_access_token ------------------------------------------------------------------


def test_token_success_has_code_0_msg_ok_a_t_token_and_an_int_expire(http: httpx.Client) -> None:
    reply = http.post(TOKEN, json=CREDENTIALS_A)
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"code", "msg", "tenant_access_token", "expire"}
    assert body["code"] == 0 and body["msg"] == "ok"
    assert body["tenant_access_token"].startswith("t-")
    assert type(body["expire"]) is int and 0 < body["expire"] <= LARK_TOKEN_TTL


def test_newly_issued_token_reports_expire_7200(http: httpx.Client) -> None:
    assert http.post(TOKEN, json=CREDENTIALS_A).json()["expire"] == LARK_TOKEN_TTL


def test_token_is_reused_with_its_remaining_expire_while_30_minutes_are_left(
        http: httpx.Client, server: LiveServer) -> None:
    first = http.post(TOKEN, json=CREDENTIALS_A).json()
    server.state.clock.advance(600)
    second = http.post(TOKEN, json=CREDENTIALS_A).json()
    assert second["tenant_access_token"] == first["tenant_access_token"]
    assert second["expire"] < first["expire"]
    assert LARK_TOKEN_TTL - 600 - 5 <= second["expire"] <= LARK_TOKEN_TTL - 600


def test_token_is_renewed_under_30_minutes_left_and_the_old_one_works_until_it_expires(
        http: httpx.Client, server: LiveServer) -> None:
    old = token_for(http)
    key = uploaded_key(http, old, PNG)
    server.state.clock.advance(LARK_TOKEN_TTL - REUSE_MIN + 1)
    renewed = http.post(TOKEN, json=CREDENTIALS_A).json()
    assert renewed["tenant_access_token"] != old
    assert renewed["expire"] == LARK_TOKEN_TTL  # a full lifetime
    assert download(http, old, key).status_code == 200  # still inside its 2 hours
    server.state.clock.advance(REUSE_MIN)
    assert_lark_error(download(http, old, key), 99991663)
    assert download(http, renewed["tenant_access_token"], key).status_code == 200


def test_token_request_without_content_type_is_read_as_json_as_the_sdk_sends_it(
        http: httpx.Client) -> None:
    reply = http.post(TOKEN, content=json.dumps(CREDENTIALS_A).encode())
    assert "content-type" not in reply.request.headers
    assert reply.status_code == 200
    assert reply.json()["code"] == 0
    assert reply.json()["tenant_access_token"].startswith("t-")


@pytest.mark.parametrize("content", [
    pytest.param(json.dumps({"app_secret": APP_A.app_secret}).encode(), id="missing-app_id"),
    pytest.param(json.dumps({"app_id": "", "app_secret": APP_A.app_secret}).encode(),
                 id="empty-app_id"),
    pytest.param(json.dumps({"app_id": APP_A.app_id, "app_secret": ""}).encode(),
                 id="empty-app_secret"),
    pytest.param(b"", id="empty-body"),
    pytest.param(b"{not json", id="not-json"),
    pytest.param(b"[1, 2]", id="json-array"),
    pytest.param(b"\xff\xfe{}", id="not-utf8"),
])
def test_token_malformed_request_is_refused_with_10003_on_http_200(http: httpx.Client,
                                                                    content: bytes) -> None:
    reply = http.post(TOKEN, content=content, headers={"Content-Type": "application/json"})
    assert reply.status_code == 200
    assert reply.json() == {"code": 10003, "msg": "invalid param", "data": {}}


def test_token_for_unknown_app_id_is_10014_app_id_not_exists(http: httpx.Client) -> None:
    reply = http.post(TOKEN, json={"app_id": "cli_doesnotexist0001", "app_secret": "x"})
    assert reply.status_code == 200
    assert reply.json() == {"code": 10014, "msg": "app id not exists"}


def test_token_for_wrong_secret_is_10014_app_secret_invalid(http: httpx.Client) -> None:
    reply = http.post(TOKEN, json={"app_id": APP_A.app_id, "app_secret": "not-the-secret"})
    assert reply.status_code == 200
    assert reply.json() == {"code": 10014, "msg": "app secret invalid"}


# --- upload -------------------------------------------------------------------------------


def test_upload_returns_code_0_and_an_img_key(http: httpx.Client) -> None:
    reply = upload(http, token_for(http), PNG, filename="square.png",
                   content_type="image/png")
    assert reply.status_code == 200
    body = reply.json()
    assert body["code"] == 0 and body["msg"] == "success"
    assert body["data"]["image_key"].startswith("img_")


@pytest.mark.parametrize("name, content_type", [
    ("square.png", "image/png"),
    ("transparent.png", "image/png"),
    ("landscape.jpg", "image/jpeg"),
    ("tiny.gif", "image/gif"),
    ("photo.webp", "image/webp"),
])
def test_uploaded_image_downloads_byte_exact_with_its_content_type(
        http: httpx.Client, name: str, content_type: str) -> None:
    token = token_for(http)
    data = fixture_image(name)
    reply = download(http, token, uploaded_key(http, token, data, filename=name))
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == content_type
    assert reply.content == data


@pytest.mark.parametrize("name", ["square.png", "landscape.jpg", "tiny.gif", "photo.webp"])
def test_image_part_without_filename_or_type_as_the_sdk_sends_it_is_stored_byte_exact(
        http: httpx.Client, name: str) -> None:
    token = token_for(http)
    data = fixture_image(name)
    body, content_type = sdk_multipart([("image_type", b"message"), ("image", data)])
    reply = http.post(IMAGES, content=body,
                      headers={**bearer(token), "Content-Type": content_type})
    assert reply.status_code == 200, reply.text
    assert download(http, token, reply.json()["data"]["image_key"]).content == data


def test_tiff_upload_is_stored_and_served_as_jpeg(http: httpx.Client) -> None:
    token = token_for(http)
    key = uploaded_key(http, token, fixture_image("scan.tiff"), filename="scan.tiff",
                       content_type="image/tiff")
    reply = download(http, token, key)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(reply.content)).format == "JPEG"


def test_empty_file_is_refused_with_234010(http: httpx.Client) -> None:
    assert_lark_error(upload(http, token_for(http), b""), 234010)


def test_file_one_byte_over_10_mb_is_refused_with_234006(http: httpx.Client) -> None:
    assert_lark_error(upload(http, token_for(http), b"\0" * (MAX_UPLOAD + 1)), 234006)


def test_body_over_the_16_mb_cap_is_refused_with_234006(http: httpx.Client) -> None:
    data = b"\0" * (DEFAULTS.max_body_bytes + 1)
    assert_lark_error(upload(http, token_for(http), data), 234006)


def test_file_that_is_not_an_image_is_refused_with_234011(http: httpx.Client) -> None:
    reply = upload(http, token_for(http), fixture_image("not-an-image.txt"), filename="a.png",
                   content_type="image/png")
    assert_lark_error(reply, 234011)


def test_unknown_image_type_is_234001_naming_the_field(http: httpx.Client) -> None:
    reply = upload(http, token_for(http), PNG, image_type="sticker")
    violations = assert_lark_error(reply, 234001)["error"]["field_violations"]
    assert violations[0]["field"] == "image_type"


def test_missing_image_part_is_234001_naming_the_field(http: httpx.Client) -> None:
    reply = http.post(IMAGES, headers=bearer(token_for(http)),
                      files={"image_type": (None, "message")})
    violations = assert_lark_error(reply, 234001)["error"]["field_violations"]
    assert violations[0]["field"] == "image"


@pytest.mark.parametrize("image_type, width, image_format, accepted", [
    ("message", 2000, "GIF", True),
    ("message", 2001, "GIF", False),
    ("message", 4097, "PNG", True),  # only GIFs and avatars have the lower limits
    ("avatar", 4096, "PNG", True),
    ("avatar", 4097, "PNG", False),
])
def test_resolution_limits_gif_2000_and_avatar_4096_are_234001(
        http: httpx.Client, image_type: str, width: int, image_format: str,
        accepted: bool) -> None:
    data = image_of_size(width, 8, image_format)
    assert len(data) < 64 * 1024
    reply = upload(http, token_for(http), data, image_type=image_type)
    if accepted:
        assert reply.status_code == 200, reply.text
        return
    violation = assert_lark_error(reply, 234001)["error"]["field_violations"][0]
    assert violation["field"] == "image"
    assert violation["value"] == f"{width}x8"
    limit = 4096 if image_type == "avatar" else 2000
    assert f"{limit}x{limit}" in violation["description"]


# --- download -----------------------------------------------------------------------------


def test_download_of_unknown_key_is_234005(http: httpx.Client) -> None:
    assert_lark_error(download(http, token_for(http), "img_v3_0000-unknown-0000g"), 234005)


def test_download_of_a_deleted_image_is_234005(http: httpx.Client) -> None:
    token = token_for(http)
    key = uploaded_key(http, token, PNG)
    deleted = http.delete(f"/__admin/lark/images/{key}")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": key}
    assert_lark_error(download(http, token, key), 234005)


def test_download_of_another_apps_image_is_234008(http: httpx.Client) -> None:
    key = uploaded_key(http, token_for(http, CREDENTIALS_B), PNG)
    assert_lark_error(download(http, token_for(http, CREDENTIALS_A), key), 234008)


def test_download_of_an_avatar_image_is_234001(http: httpx.Client) -> None:
    token = token_for(http)
    key = uploaded_key(http, token, PNG, image_type="avatar")
    violations = assert_lark_error(download(http, token, key), 234001)["error"]["field_violations"]
    assert violations[0]["field"] == "image_key"


@pytest.mark.parametrize("key", ["notakey", "image_v3_abc", "img_v3_has.dot"])
def test_download_of_a_key_not_shaped_img_is_234001(http: httpx.Client, key: str) -> None:
    body = assert_lark_error(download(http, token_for(http), key), 234001)
    assert body["error"]["field_violations"][0]["field"] == "image_key"


@pytest.mark.parametrize("code", sorted(TENANT_APPS))
@pytest.mark.parametrize("operation", ["upload", "download"])
def test_tenant_state_of_the_app_refuses_upload_and_download(tenants: httpx.Client, code: int,
                                                             operation: str) -> None:
    app = TENANT_APPS[code]
    token = token_for(tenants, {"app_id": app.app_id, "app_secret": app.app_secret})
    if operation == "upload":
        reply = upload(tenants, token, PNG)
    else:
        reply = download(tenants, token, "img_v3_any-key-0000g")
    assert_lark_error(reply, code)


def test_bot_disabled_app_is_refused_with_234007() -> None:
    app = LarkApp("cli_mock_nobot00000001", "secret-n", bot_enabled=False)
    with LiveServer(MockConfig(lark=LarkConfig(apps=(app,)))) as server:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            token = token_for(http, {"app_id": app.app_id, "app_secret": app.app_secret})
            assert_lark_error(download(http, token, "img_v3_anything0000g"), 234007)


def test_request_without_authorization_is_99991661(http: httpx.Client) -> None:
    assert_lark_error(http.get(f"{IMAGES}/img_v3_anything0000g"), 99991661)


def test_authorization_that_is_not_bearer_is_234002_on_http_401(http: httpx.Client) -> None:
    reply = http.get(f"{IMAGES}/img_v3_anything0000g",
                     headers={"Authorization": "Basic Y2xpOnNlY3JldA=="})
    assert_lark_error(reply, 234002, status=401)


def test_unknown_token_is_99991663(http: httpx.Client) -> None:
    reply = download(http, "t-" + "0" * 40, "img_v3_anything0000g")
    assert_lark_error(reply, 99991663)


def test_expired_token_is_99991663(http: httpx.Client, server: LiveServer) -> None:
    token = token_for(http)
    key = uploaded_key(http, token, PNG)
    server.state.clock.advance(LARK_TOKEN_TTL + 1)
    assert_lark_error(download(http, token, key), 99991663)


def test_error_overrides_change_the_status_of_99991663() -> None:
    config = MockConfig(lark=LarkConfig(error_overrides={99991663: LarkErrorOverride(status=401)}))
    with LiveServer(config) as server:
        reply = httpx.get(f"{server.url}{IMAGES}/img_v3_anything0000g",
                          headers=bearer("t-unknown"))
    body = assert_lark_error(reply, 99991663, status=401)
    assert body["msg"] == DOCUMENTED[99991663][1]  # only the status was overridden


def test_error_overrides_change_the_text_and_keep_the_status() -> None:
    config = MockConfig(lark=LarkConfig(error_overrides={
        234010: LarkErrorOverride(msg="file size is 0")}))
    with LiveServer(config) as server:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            reply = upload(http, token_for(http), b"")
    assert assert_lark_error(reply, 234010, status=400)["msg"] == "file size is 0"


# --- headers and envelopes ----------------------------------------------------------------


def test_token_reply_has_header_spelled_x_tt_logid(http: httpx.Client) -> None:
    assert LOG_ID in raw_header_names(http.post(TOKEN, json=CREDENTIALS_A))


def test_token_refusal_has_header_spelled_x_tt_logid(http: httpx.Client) -> None:
    reply = http.post(TOKEN, json={"app_id": "cli_nope", "app_secret": "x"})
    assert reply.json()["code"] == 10014
    assert LOG_ID in raw_header_names(reply)


def test_upload_and_download_replies_have_header_spelled_x_tt_logid(http: httpx.Client) -> None:
    token = token_for(http)
    uploaded = upload(http, token, PNG)
    downloaded = download(http, token, uploaded.json()["data"]["image_key"])
    assert LOG_ID in raw_header_names(uploaded)
    assert LOG_ID in raw_header_names(downloaded)


def test_each_reply_has_its_own_log_id(http: httpx.Client) -> None:
    first = download(http, token_for(http), "img_v3_unknown0000g")
    second = download(http, token_for(http), "img_v3_unknown0000g")
    assert first.headers["X-Tt-Logid"] != second.headers["X-Tt-Logid"]


def test_download_has_a_content_disposition_with_a_filename(http: httpx.Client) -> None:
    token = token_for(http)
    key = uploaded_key(http, token, fixture_image("landscape.jpg"))
    disposition = download(http, token, key).headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{key}.jpg"'


@pytest.mark.parametrize("method, path", [
    ("GET", "/open-apis/im/v1/chats/oc_1/members"),
    ("POST", "/open-apis/im/v1/images/img_v3_anything0000g"),
    ("GET", "/open-apis/"),
])
def test_unknown_open_apis_path_answers_json_404_not_html(http: httpx.Client, method: str,
                                                          path: str) -> None:
    reply = http.request(method, path, headers=bearer(token_for(http)))
    assert reply.status_code == 404
    assert "Allow" not in reply.headers  # (a 405 has it; Lark answers 404)
    assert reply.headers["Content-Type"].startswith("application/json")
    assert b"<html" not in reply.content.lower()
    assert reply.json()["error"]["log_id"] == reply.headers["X-Tt-Logid"]
    assert LOG_ID in raw_header_names(reply)


# --- one scenario per documented error code -----------------------------------------------


def _scenario_234001(http: httpx.Client) -> httpx.Response:
    return upload(http, token_for(http), PNG, image_type="sticker")


def _scenario_234002(http: httpx.Client) -> httpx.Response:
    return http.get(f"{IMAGES}/img_v3_x0000g", headers={"Authorization": "Basic eDp5"})


def _scenario_234005(http: httpx.Client) -> httpx.Response:
    return download(http, token_for(http), "img_v3_never-uploaded0000g")


def _scenario_234006(http: httpx.Client) -> httpx.Response:
    return upload(http, token_for(http), b"\0" * (MAX_UPLOAD + 1))


def _tenant_scenario(code: int) -> Callable[[httpx.Client], httpx.Response]:
    app = TENANT_APPS[code]

    def scenario(http: httpx.Client) -> httpx.Response:
        token = token_for(http, {"app_id": app.app_id, "app_secret": app.app_secret})
        return download(http, token, "img_v3_x0000g")

    return scenario


def _scenario_234008(http: httpx.Client) -> httpx.Response:
    key = uploaded_key(http, token_for(http, CREDENTIALS_B), fixture_image("tiny.gif"))
    return download(http, token_for(http, CREDENTIALS_A), key)


def _scenario_234010(http: httpx.Client) -> httpx.Response:
    return upload(http, token_for(http), b"")


def _scenario_234011(http: httpx.Client) -> httpx.Response:
    return upload(http, token_for(http), b"%PDF-1.4 not an image")


def _scenario_99991661(http: httpx.Client) -> httpx.Response:
    return http.post(IMAGES, files={"image_type": (None, "message"),
                                    "image": ("a.png", PNG)})


def _scenario_99991663(http: httpx.Client) -> httpx.Response:
    return upload(http, "t-revoked", PNG)


ERROR_SCENARIOS = {
    234001: _scenario_234001, 234002: _scenario_234002, 234005: _scenario_234005,
    234006: _scenario_234006, 234007: _tenant_scenario(234007), 234008: _scenario_234008,
    234010: _scenario_234010, 234011: _scenario_234011, 234041: _tenant_scenario(234041),
    234042: _tenant_scenario(234042), 99991661: _scenario_99991661,
    99991663: _scenario_99991663,
}


@pytest.mark.parametrize("code", sorted(ERROR_SCENARIOS))
def test_documented_error_code_has_its_status_text_and_envelope(tenants: httpx.Client,
                                                                code: int) -> None:
    reply = ERROR_SCENARIOS[code](tenants)
    status, msg = DOCUMENTED[code]
    body = assert_lark_error(reply, code, status)
    assert body["msg"] == msg
    assert set(body) == {"code", "msg", "error"}
    assert f"code={code}" in body["error"]["troubleshooter"]


@pytest.mark.parametrize("content, expected", [
    pytest.param(json.dumps({"app_id": APP_A.app_id}).encode(),
                 {"code": 10003, "msg": "invalid param", "data": {}}, id="10003"),
    pytest.param(json.dumps({"app_id": "cli_nobody0000000001", "app_secret": "s"}).encode(),
                 {"code": 10014, "msg": "app id not exists"}, id="10014"),
])
def test_documented_token_error_code_comes_on_http_200(http: httpx.Client, content: bytes,
                                                       expected: dict) -> None:
    reply = http.post(TOKEN, content=content, headers={"Content-Type": "application/json"})
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json() == expected
    assert LOG_ID in raw_header_names(reply)
