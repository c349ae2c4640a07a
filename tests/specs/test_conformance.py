"""The mock answers as its specs say.

Schemathesis generates requests from each spec (its examples, boundary values, then random
data, valid and invalid), sends them to the mock on a real socket with the mock's credentials,
and holds every reply to the spec: a documented status, content type and headers, a body of
the documented schema, no 5xx, and no internal error of the mock. Every operation of the four
specs is tested. The callbacks in the specs are requests the mock makes, not replies it gives:
the callback tests of the mock hold them to their schemas.

The mock is reset before each generated request, so no armed rule, clock move or rate-limit
window of one request changes the answer to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mockserver import LiveServer, MockConfig
from mockserver.admin.routes import ADMIN_PREFIX
from mockserver.errors import INTERNAL_ERROR_HEADER
from mockserver.specs import read_spec

GEWE = schemathesis.openapi.from_dict(read_spec("gewe"))
WID = schemathesis.openapi.from_dict(read_spec("wid"))
LARK = schemathesis.openapi.from_dict(read_spec("lark"))
ADMIN = schemathesis.openapi.from_dict(read_spec("admin"))


def not_an_internal_error(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                          case: schemathesis.Case) -> None:
    """A bug of the mock still answers in the vendor's envelope (HTTP 200 for GeWe and wid),
    so only the header the mock adds tells it from a refusal."""
    error = response.headers.get(INTERNAL_ERROR_HEADER.lower())  # names come lowercased
    assert error is None, f"internal error of the mock: {', '.join(error)}"


CHECKS = [not_a_server_error, not_an_internal_error, status_code_conformance,
          content_type_conformance, response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def lark_token(live_server: LiveServer) -> str:
    """A tenant token of the first app; tokens are signed, so it outlives the resets."""
    live_server.state.reset()  # the mock's clock, which judges the token, back to wall time
    app = live_server.state.config.lark.apps[0]
    reply = httpx.post(f"{live_server.url}/open-apis/auth/v3/tenant_access_token/internal",
                       json={"app_id": app.app_id, "app_secret": app.app_secret})
    token: str = reply.json()["tenant_access_token"]
    return token


@GEWE.parametrize()
def test_gewe_replies_conform_to_the_gewe_spec(case: schemathesis.Case,
                                               live_server: LiveServer) -> None:
    live_server.state.reset()
    token = live_server.state.config.gewe.tokens[0]
    case.call_and_validate(base_url=live_server.url, headers={"X-GEWE-TOKEN": token},
                           checks=CHECKS)


@WID.parametrize()
def test_wid_replies_conform_to_the_wid_spec(case: schemathesis.Case,
                                             live_server: LiveServer) -> None:
    live_server.state.reset()
    authorization = live_server.state.config.wid.authorizations[0]
    case.call_and_validate(base_url=live_server.url, headers={"Authorization": authorization},
                           checks=CHECKS)


@LARK.parametrize()
def test_lark_replies_conform_to_the_lark_spec(case: schemathesis.Case, live_server: LiveServer,
                                               lark_token: str) -> None:
    live_server.state.reset()
    case.call_and_validate(base_url=live_server.url,
                           headers={"Authorization": f"Bearer {lark_token}"}, checks=CHECKS)


@ADMIN.parametrize()
def test_admin_replies_conform_to_the_admin_spec(case: schemathesis.Case,
                                                 live_server: LiveServer) -> None:
    live_server.state.reset()
    case.call_and_validate(base_url=live_server.url, checks=CHECKS)


@pytest.fixture(scope="module")
def capped_mock() -> Iterator[LiveServer]:
    with LiveServer(MockConfig(max_body_bytes=64)) as server:
        yield server


@pytest.mark.parametrize("operation_id, request_parts, status", [
    pytest.param("getJournal", {"query": {"operation": ""}}, 400, id="journal-empty-operation"),
    pytest.param("getJournal", {"query": {"limit": 0}}, 400, id="journal-limit-0"),
    pytest.param("getFile", {"path_parameters": {"file_id": "x"}, "query": {"Expires": "null"}},
                 400, id="file-expires-not-an-integer"),
    pytest.param("replayDelivery", {"path_parameters": {"delivery_id": "x"},
                                    "body": {"wait": {}}}, 400, id="replay-wait-not-a-boolean"),
    pytest.param("receiveLarkImage", {"body": {"app_id": "cli_unknown"}}, 404,
                 id="lark-message-unknown-app"),
    pytest.param("resetState", {"body": {"padding": "x" * 64}, "media_type": "application/json"},
                 400, id="body-over-max-body-bytes"),
])
def test_admin_refusal_answers_a_documented_status(operation_id: str,
                                                   request_parts: dict[str, Any], status: int,
                                                   capped_mock: LiveServer) -> None:
    case = ADMIN.find_operation_by_id(operation_id).Case(**request_parts)

    response = case.call_and_validate(base_url=capped_mock.url, checks=CHECKS)

    assert response.status_code == status


@pytest.fixture(scope="module")
def guarded_mock() -> Iterator[LiveServer]:
    with LiveServer(MockConfig(admin_token="admin-secret")) as server:
        yield server


ADMIN_ROUTES = [operation for result in ADMIN.get_all_operations()
                if (operation := result.ok()).path.startswith(ADMIN_PREFIX)]


@pytest.mark.parametrize("operation", ADMIN_ROUTES, ids=lambda operation: operation.label)
def test_admin_route_without_the_admin_token_answers_a_documented_401(
        operation: schemathesis.APIOperation, guarded_mock: LiveServer) -> None:
    case = operation.Case(path_parameters={p.name: "x" for p in operation.path_parameters})

    response = case.call_and_validate(base_url=guarded_mock.url, checks=CHECKS)

    assert response.status_code == 401
