"""Routes no operation has: the index at /, and 404s in the envelope of the path's owner."""

from __future__ import annotations

import httpx
import pytest
from _support import GEWE_HEADERS
from flask import Response

from mockserver import LiveServer, MockConfig, create_app
from mockserver.errors import INTERNAL_ERROR_HEADER


def test_index_lists_each_apis_base_urls_operations_and_spec(http: httpx.Client,
                                                              server: LiveServer) -> None:
    index = http.get("/").json()
    apis = index["apis"]
    assert set(apis) == {"gewe", "wid", "lark", "admin"}
    assert apis["gewe"]["base_urls"] == [f"{server.url}/gewe/v2/api", f"{server.url}/v2/api"]
    assert apis["lark"]["base_urls"] == [server.url]
    assert apis["admin"]["base_urls"] == [f"{server.url}/__admin"]
    (get_image,) = [op for op in apis["lark"]["operations"] if op["operationId"] == "getImage"]
    assert (get_image["method"], get_image["path"]) == (
        "GET", "/open-apis/im/v1/images/{image_key}")
    assert "234005" in get_image["errors"]  # (what a rule may ask of it)
    assert apis["wid"]["spec"] == f"{server.url}/__admin/specs/wid.yaml"


def test_index_is_not_journaled(http: httpx.Client, server: LiveServer) -> None:
    http.get("/")
    assert server.journal.entries() == []


@pytest.mark.parametrize("method, path", [
    ("GET", "/favicon.ico"),
    ("POST", "/v2/message/postImage"),
    ("PUT", "/v3/api/message/postImage"),
])
def test_a_path_no_api_owns_is_a_plain_json_404(http: httpx.Client, method: str,
                                                path: str) -> None:
    reply = http.request(method, path)
    assert reply.status_code == 404
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json()["error"].endswith(f"{method} {path}; GET / lists the routes")


def test_an_unknown_admin_route_is_a_404_pointing_at_the_index(http: httpx.Client) -> None:
    reply = http.get("/__admin/nope")
    assert reply.status_code == 404
    assert reply.json() == {"error": "404 Not Found: GET /__admin/nope; GET / lists the routes"}


def test_an_error_of_the_mock_after_the_view_still_answers_in_the_vendors_envelope() -> None:
    """Flask turns an exception raised outside a view (here an after_request hook) into a
    500 HTTPException: it must reach the bot as the marked internal error, not as an HTML 500."""
    app = create_app(MockConfig())

    @app.after_request
    def broken(response: Response) -> Response:
        raise KeyError("a bug")

    reply = app.test_client().post("/gewe/v2/api/message/postImage", json={},
                                   headers=GEWE_HEADERS)
    assert reply.headers[INTERNAL_ERROR_HEADER] == "KeyError"
    assert reply.get_json() == {"ret": 500, "msg": "参数错误: internal error of the mock: KeyError"}
