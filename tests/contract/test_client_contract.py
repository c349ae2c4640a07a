"""The client contract holds for chatimg's clients, and it finds clients broken on purpose."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chatimg import WidError
from chatimg._http import json_object
from chatimg.wid import WidClient
from contract_tests.checks import PROFILES, Check, client_checks
from contract_tests.client import Reply, check_client_call
from contract_tests.client_methods import client_calls
from contract_tests.server import ContractViolation

CI = PROFILES["ci"]
CALLS = client_calls()


@pytest.mark.parametrize("check", client_checks(), ids=lambda check: check.name)
def test_client_check_holds(check: Check) -> None:
    check.run(None, CI)


def test_every_client_method_of_the_specs_has_both_checks() -> None:
    names = {check.name for check in client_checks()}
    assert {f"client.{call}.{kind}" for call in CALLS for kind in ("allowed", "off-spec")} == names
    assert set(CALLS) == {
        "gewe.postImage", "gewe.forwardImage", "gewe.downloadImage",
        "gewe.downloadImage.fallback", "wid.getMsgImg", "lark.getTenantAccessToken",
        "lark.uploadImage", "lark.getImage"}


# --- the kit finds clients broken on purpose ----------------------------------------------------

def found(name: str, *, allowed: bool = True, **options: Any) -> str:
    """The violation the check of ``name`` reports (it must report one)."""
    with pytest.raises(ContractViolation) as violation:
        check_client_call(CALLS[name], allowed=allowed, hypothesis_settings=CI, **options)
    return str(violation.value)


def test_an_id_read_through_float_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chatimg.gewe._big_int", lambda data, name: int(float(data[name])))

    message = found("gewe.postImage")

    # The document's own example id, which its page already shows rounded.
    assert "newMsgId 8992614056172360000 came back as new_msg_id=8992614056172359680" in message
    assert "POST /gewe/v2/api/message/postImage -> HTTP 200" in message


def test_a_gewe_client_that_ignores_ret_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chatimg.gewe._data_of",
                        lambda response: json_object(response, "GeWe").get("data"))

    message = found("gewe.forwardImage")

    assert "raised ProtocolError for a reply the spec allows" in message
    assert '"ret": 500' in message


def test_a_gewe_client_that_parses_json_unguarded_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chatimg.gewe.json_object",
                        lambda response, vendor: json.loads(response.content))

    lines = found("gewe.downloadImage", allowed=False).splitlines()

    assert lines == [
        "client.gewe.downloadImage: raised JSONDecodeError, which is not a chatimg.ChatImageError",
        "  POST /gewe/v2/api/message/downloadImage -> HTTP 502 [HTML error page] "
        "{'Content-Type': 'text/html'} b'<html><head><title>502 Bad Gateway</title></head>"
        "<body>nginx</body></html>'",
        "  the client raised JSONDecodeError: Expecting value: line 1 column 1 (char 0)"]


class StringlyWidClient(WidClient):
    """Written from the document's table: ``code`` is the int 1000, so "1000" is a refusal."""

    def get_msg_img(self, msg_id: int | str, from_user: str, to_user: str, content: str, *,
                    hd: bool = False) -> str:
        reply = self._http.post("http://wid.test/getMsgImg", json={"msgId": msg_id}).json()
        if reply["code"] != 1000:
            raise WidError(str(reply["code"]), reply["message"])
        return reply["data"]


def test_a_wid_client_that_wants_an_int_code_is_found() -> None:
    message = found("wid.getMsgImg", make_client=lambda transport: StringlyWidClient(
        "http://wid.test", "authorization", "wid-contract", transport=transport))

    assert "raised WidError, should have returned" in message
    assert '"code": "1000"' in message


def test_a_wid_client_that_misreads_the_url_object_is_found(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chatimg.wid._url_of",
                        lambda data: data if isinstance(data, str) else data["imgUrl"])

    message = found("wid.getMsgImg")

    assert "raised KeyError, which is not a chatimg.ChatImageError" in message
    assert '"data": {"url": ' in message


def test_a_lark_client_that_takes_any_200_for_image_bytes_is_found(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chatimg._lark_replies.is_payload",
                        lambda response: response.is_success)
    monkeypatch.setattr("chatimg._lark_replies.is_image", lambda head: True)

    message = found("lark.getImage", allowed=False)

    assert "returned a result for the vendor's refusal envelope" in message
    assert "HTTP 200 [refusal at an undocumented status]" in message
    assert '"code": 99991661' in message or '"code": 2340' in message


def test_a_lark_client_that_loses_the_code_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    from chatimg import LarkError

    monkeypatch.setattr(LarkError, "for_code", classmethod(
        lambda cls, code, msg, log_id=None, http_status=None, *, detail=None:
        LarkError(http_status or 0, msg, log_id, http_status)))

    message = found("lark.uploadImage")

    assert "should have raised" in message or "should have {" in message
    assert "POST /open-apis/im/v1/images -> HTTP 4" in message


def test_replies_are_served_with_exact_big_ints() -> None:
    reply = Reply.of_json(200, {}, {"newMsgId": 2**63 - 1})
    assert httpx.Response(200, content=reply.body).json()["newMsgId"] == 2**63 - 1
