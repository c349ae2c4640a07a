"""The kit holds a bot's webhook to what vendors expect, and finds bots that break it."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator

import lark_oapi as lark
import pytest
from flask import Flask, request
from hypothesis import Phase, settings
from lark_oapi.adapter.flask import parse_req, parse_resp

from contract_tests.checks import PROFILES, webhook_checks
from contract_tests.report import report
from contract_tests.server import ContractViolation
from contract_tests.target import Credentials, Target
from contract_tests.webhooks import (
    Webhook,
    check_answers_events,
    check_url_verification,
)
from mockserver import LiveServer, MockConfig

CI = PROFILES["ci"]


@pytest.fixture
def bot() -> Iterator[Callable[[Flask], str]]:
    servers: list[LiveServer] = []

    def serve(app: Flask) -> str:
        servers.append(LiveServer(app=app).start())
        return f"{servers[-1].url}/events"

    yield serve
    for server in servers:
        server.stop()


def robust_wechat_bot() -> Flask:
    app = Flask("robust")
    seen: set[str] = set()

    @app.post("/events")
    def events() -> tuple[str, int]:
        payload = request.get_json(silent=True) or {}
        data = payload.get("Data") or payload.get("data") or {}
        message_id = str(data.get("NewMsgId") or data.get("newMsgId"))
        seen.add(message_id)
        return "ok", 200

    return app


def lark_sdk_bot(encrypt_key: str | None) -> Flask:
    handler = (lark.EventDispatcherHandler.builder(encrypt_key or "", "mock-verification-token")
               .register_p2_im_message_receive_v1(lambda event: None).build())
    app = Flask("lark-bot")

    @app.post("/events")
    def events():  # type: ignore[no-untyped-def]
        return parse_resp(handler.do(parse_req()))

    return app


@pytest.mark.parametrize("vendor", ["gewe", "wid"])
def test_a_robust_bot_passes(bot, vendor: str) -> None:
    check_answers_events(Webhook(vendor, bot(robust_wechat_bot())), CI)


@pytest.mark.parametrize("encrypt_key", [None, "bot-encrypt-key"])
def test_a_bot_on_lark_oapi_passes_events_and_url_verification(bot, encrypt_key) -> None:
    webhook = Webhook("lark", bot(lark_sdk_bot(encrypt_key)), encrypt_key=encrypt_key)
    check_url_verification(webhook)
    check_answers_events(webhook, CI)


def test_a_bot_that_chokes_on_unknown_fields_is_found(bot) -> None:
    app = Flask("strict")

    @app.post("/events")
    def events() -> tuple[str, int]:
        known = {"TypeName", "Appid", "Wxid", "Data"}
        extra = set(request.get_json()) - known
        return (f"unknown {sorted(extra)}", 500) if extra else ("ok", 200)

    with pytest.raises(ContractViolation) as found:
        check_answers_events(Webhook("gewe", bot(app)), CI)
    assert "answered HTTP 500" in str(found.value) and "unknown [" in str(found.value)


def test_a_bot_that_refuses_duplicates_is_found(bot) -> None:
    app = Flask("no-duplicates")
    seen: set[bytes] = set()

    @app.post("/events")
    def events() -> tuple[str, int]:
        if request.get_data() in seen:
            return "duplicate", 409
        seen.add(request.get_data())
        return "ok", 200

    with pytest.raises(ContractViolation, match="HTTP 409"):
        check_answers_events(Webhook("wid", bot(app)), CI)


def test_a_bot_slower_than_the_vendor_timeout_is_found(bot) -> None:
    app = Flask("slow")

    @app.post("/events")
    def events() -> tuple[str, int]:
        time.sleep(0.5)
        return "ok", 200

    with pytest.raises(ContractViolation, match=r"lark gives up after 0\.3 s"):
        check_answers_events(Webhook("lark", bot(app), timeout_seconds=0.3),
                             settings(CI, max_examples=2, phases=[Phase.generate]))


def test_a_lark_bot_that_does_not_echo_the_challenge_is_found(bot) -> None:
    app = Flask("no-echo")

    @app.post("/events")
    def events() -> tuple[str, int]:
        return json.dumps({"ok": True}), 200

    with pytest.raises(ContractViolation, match="did not echo"):
        check_url_verification(Webhook("lark", bot(app)))


def test_the_report_names_the_webhook_checks(bot) -> None:
    checks = webhook_checks([Webhook("lark", bot(lark_sdk_bot(None)))])
    out = io.StringIO()
    status = report(Target("(no server)", Credentials.from_config(MockConfig())), checks, "ci",
                    out)
    assert status == 0, out.getvalue()
    assert "PASS  webhook.lark " in out.getvalue()
    assert "PASS  webhook.lark.url_verification" in out.getvalue()
