"""The contract kit passes against the mock and finds deliberate breaks, with a minimal example."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator

import pytest
from flask import Flask, Response, request

from contract_tests.checks import all_checks
from contract_tests.report import report
from contract_tests.target import Credentials, Target
from mockserver import LiveServer, MockConfig, create_app
from mockserver.storage.records import Record, StoredImage
from mockserver.storage.store import MemoryStore

CONFIG = MockConfig()
LARK_APPS = [(a.app_id, a.app_secret) for a in CONFIG.lark.apps]


def run_report(server: LiveServer, pattern: str) -> tuple[int, str]:
    target = Target(server.url, Credentials.from_config(CONFIG))
    checks = [c for c in all_checks(LARK_APPS) if c.name.startswith(pattern)]
    assert checks, pattern
    out = io.StringIO()
    try:
        return report(target, checks, "ci", out), out.getvalue()
    finally:
        target.close()


def app_rewriting(path: str, change: Callable[[dict], None]) -> Flask:
    """The mock, with the JSON replies of one path changed after the fact."""
    app = create_app(CONFIG)

    @app.after_request
    def rewrite(response: Response) -> Response:
        if request.path == path and response.is_json:
            payload = json.loads(response.get_data())
            change(payload)
            response.set_data(json.dumps(payload))
        return response

    return app


@pytest.fixture
def served() -> Iterator[Callable[[Flask], LiveServer]]:
    servers: list[LiveServer] = []

    def serve(app: Flask) -> LiveServer:
        servers.append(LiveServer(app=app).start())
        return servers[-1]

    yield serve
    for server in servers:
        server.stop()


def test_every_check_holds_against_the_mock(server: LiveServer) -> None:
    status, text = run_report(server, "")
    assert status == 0, text
    assert " 0 failed" in text


def test_a_reply_missing_a_required_field_is_found(served) -> None:
    def drop_md5(payload: dict) -> None:
        if payload.get("ret") == 200:
            del payload["data"]["md5"]

    server = served(app_rewriting("/gewe/v2/api/message/postImage", drop_md5))
    status, text = run_report(server, "gewe.postImage.valid")
    assert status == 1
    assert "FAIL  gewe.postImage.valid" in text
    assert "'md5' is a required property" in text
    assert "POST /gewe/v2/api/message/postImage [valid]" in text  # the minimal request


def test_an_int_where_the_spec_says_string_is_found(served) -> None:
    def int_code(payload: dict) -> None:
        payload["code"] = int(payload["code"])  # the document's table says int; the wire says string

    server = served(app_rewriting("/getMsgImg", int_code))
    status, text = run_report(server, "wid.getMsgImg.refused")
    assert status == 1
    assert "is not of type 'string'" in text
    assert "POST /getMsgImg [" in text


def test_an_internal_error_of_the_mock_is_found_though_in_the_vendors_envelope(served) -> None:
    """The mock answers its own bugs in the vendor's envelope, marked by a header: a refusal
    check would pass them as refusals if the kit did not read that header."""
    app = create_app(CONFIG)

    @app.after_request
    def broken(response: Response) -> Response:
        if request.path == "/gewe/v2/api/message/postImage":
            raise KeyError("a bug")
        return response

    status, text = run_report(served(app), "gewe.postImage.refused")
    assert status == 1, text
    assert "the mock failed internally: KeyError" in text


class ForgetfulStore(MemoryStore):
    """Keeps the first image and quietly loses every later one (until it is reset)."""

    def save_many(self, records: Iterable[Record], blobs: Iterable[bytes] = ()) -> None:
        super().save_many([record for record in records if not self._forgets(record)], blobs)

    def _forgets(self, record: Record) -> bool:
        return record.kind == "image" and len(self.records(StoredImage)) >= 1 and \
            self.load(StoredImage, record.key) is None


@pytest.mark.parametrize("check", ["lark.stateful", "gewe.stateful"])
def test_a_server_that_loses_stored_images_is_found(served, check: str) -> None:
    server = served(create_app(CONFIG, store=ForgetfulStore()))
    status, text = run_report(server, check)
    assert status == 1, text
    assert f"FAIL  {check}" in text
    assert "state." in text or "StateLost" in text or "234005" in text


def test_stateful_checks_hold_on_the_sqlite_store(served, tmp_path) -> None:
    from mockserver.storage.sqlite import SqliteStore

    server = served(create_app(CONFIG, store=SqliteStore(tmp_path / "state")))
    status, text = run_report(server, "")
    assert status == 0, text
