"""The client contract of contract_tests.client, for the methods added for inbound messages:
for any reply the spec allows, the typed result carrying its values or the vendor's typed
error; for any reply it does not allow, a ChatImageError and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from chatimg import (
    GeweError,
    LarkCode,
    LarkError,
    LarkRateLimited,
    SentMessage,
    WidError,
)
from contract_tests.checks import PROFILES
from contract_tests.client import (
    ClientCall,
    Outcome,
    Reply,
    check_client_call,
    gewe_client,
    lark_client,
    wid_client,
)
from contract_tests.server import ContractViolation

CI = PROFILES["ci"]
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
TOKEN = Reply.of_json(200, {}, {"code": 0, "msg": "ok", "tenant_access_token": "t-contract",
                                "expire": 7200})
MESSAGE_ID, FILE_KEY = "om_contract", "img_contract"


def _problem(outcome: Outcome, kind: type, **fields: Any) -> str | None:
    if not isinstance(outcome.error, kind):
        return f"should have raised {kind.__name__} with {fields}, {outcome}"
    wrong = {name: getattr(outcome.error, name) for name, value in fields.items()
             if getattr(outcome.error, name) != value}
    return f"{kind.__name__} should have {fields}, has {wrong}" if wrong else None


def _returned(outcome: Outcome, expected: Any) -> str | None:
    if outcome.error is not None or outcome.result != expected:
        return f"{outcome}, should have returned {expected!r:.200}"
    return None


def verify_gewe_ack(call: ClientCall, reply: Reply, outcome: Outcome) -> str | None:
    if call.validator().is_valid(reply.data):
        cause = reply.data.get("data") or {}
        return _problem(outcome, GeweError, ret=reply.data["ret"], msg=reply.data["msg"],
                        data_code=cause.get("code"), data_msg=cause.get("msg"))
    return _returned(outcome, None)


def verify_wid_ack(call: ClientCall, reply: Reply, outcome: Outcome) -> str | None:
    if call.validator().is_valid(reply.data):
        return _problem(outcome, WidError, code=reply.data["code"],
                        message=reply.data["message"])
    return _returned(outcome, None)


def verify_lark_refusal(reply: Reply, outcome: Outcome) -> str | None:
    code, detail = reply.data["code"], reply.data.get("error")
    limited = reply.status == 429 or code == LarkCode.RATE_LIMITED  # retried, then raised
    logged = detail.get("log_id") if isinstance(detail, dict) else None
    return _problem(outcome, LarkRateLimited if limited else type(LarkError.for_code(code, "")),
                    code=code, http_status=reply.status,
                    log_id=reply.headers.get("X-Tt-Logid")
                    or (logged if isinstance(logged, str) else None))


def verify_resource(call: ClientCall, reply: Reply, outcome: Outcome) -> str | None:
    if reply.status == 200:
        return _returned(outcome, reply.body)
    return verify_lark_refusal(reply, outcome)


def verify_sent(call: ClientCall, reply: Reply, outcome: Outcome) -> str | None:
    if reply.status != 200:
        return verify_lark_refusal(reply, outcome)
    data = reply.data["data"]
    create_time, body = data.get("create_time"), data.get("body") or {}
    return _returned(outcome, SentMessage(
        data["message_id"], data["chat_id"], data["msg_type"],
        create_time if isinstance(create_time, str) else None,
        body.get("content") if isinstance(body.get("content"), str) else None))


CALLS = {call.name: call for call in [
    ClientCall("gewe.setCallback", "gewe", "/gewe/v2/api/tools/setCallback", "post",
               "/gewe/v2/api/tools/setCallback", gewe_client,
               lambda client: client.set_callback("http://127.0.0.1:8080/cb"), type(None),
               verify_gewe_ack),
    ClientCall("wid.setHttpCallbackUrl", "wid", "/setHttpCallbackUrl", "post",
               "/setHttpCallbackUrl", wid_client,
               lambda client: client.set_callback_url("http://127.0.0.1:8080/cb"), type(None),
               verify_wid_ack),
    ClientCall("lark.getMessageResource", "lark",
               "/open-apis/im/v1/messages/{message_id}/resources/{file_key}", "get",
               f"/open-apis/im/v1/messages/{MESSAGE_ID}/resources/{FILE_KEY}", lark_client,
               lambda client: client.download_message_resource(MESSAGE_ID, FILE_KEY), bytes,
               verify_resource, fixed={TOKEN_PATH: TOKEN}),
    ClientCall("lark.sendMessage", "lark", "/open-apis/im/v1/messages", "post",
               "/open-apis/im/v1/messages", lark_client,
               lambda client: client.send_image("ou_contract", FILE_KEY), SentMessage,
               verify_sent, fixed={TOKEN_PATH: TOKEN}),
]}


@pytest.mark.parametrize("allowed", [True, False], ids=["allowed", "off-spec"])
@pytest.mark.parametrize("name", CALLS)
def test_new_client_method_holds_to_the_client_contract(name: str, allowed: bool) -> None:
    check_client_call(CALLS[name], allowed=allowed, hypothesis_settings=CI)


def test_the_check_finds_a_send_image_that_reads_create_time_as_a_number(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def numeric_create_time(response: Any) -> SentMessage:
        data = response.json()["data"]
        return SentMessage(data["message_id"], data["chat_id"], data["msg_type"],
                           str(int(data["create_time"])), data["body"]["content"])

    monkeypatch.setattr("chatimg.lark._sent_message", numeric_create_time)

    with pytest.raises(ContractViolation, match=r"not a chatimg\.ChatImageError"):
        check_client_call(CALLS["lark.sendMessage"], hypothesis_settings=CI)
