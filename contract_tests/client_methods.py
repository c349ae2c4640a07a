"""The methods of ``chatimg``'s clients that map to a spec operation, held to the client
contract (``client``): the operation each calls, and what each must make of a reply the spec
allows, in the reply's values or the vendor's typed error."""

from __future__ import annotations

import json
from typing import Any

from chatimg import (
    FALLBACK_ORDER,
    DownloadedImage,
    GeweError,
    ImageType,
    LarkCode,
    LarkError,
    LarkRateLimited,
    LarkTokenError,
    SentImage,
    WidError,
)

from .client import ClientCall, Outcome, Reply, Verify, gewe_client, lark_client, wid_client

XML = '<?xml version="1.0"?>\n<msg><img aeskey="00" cdnmidimgurl="00" length="1" md5="00"/></msg>'
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
IMAGES_PATH = "/open-apis/im/v1/images"


def _expect(outcome: Outcome, kind: type, **fields: Any) -> str | None:
    if not isinstance(outcome.error, kind):
        return f"should have raised {kind.__name__} with {fields}"
    wrong = {name: getattr(outcome.error, name) for name, value in fields.items()
             if getattr(outcome.error, name) != value}
    return f"{kind.__name__} should have {fields}, has {wrong}" if wrong else None


def _returned(outcome: Outcome, expected: Any) -> str | None:
    if outcome.error is not None:
        return f"raised {type(outcome.error).__name__}, should have returned {expected!r:.200}"
    if outcome.result != expected:
        return f"returned {outcome.result!r:.200}, should have returned {expected!r:.200}"
    return None


def _gewe_refusal(outcome: Outcome, body: dict[str, Any]) -> str | None:
    cause = body.get("data") or {}
    return _expect(outcome, GeweError, ret=body["ret"], msg=body["msg"],
                   data_code=cause.get("code"), data_msg=cause.get("msg"))


SENT_FIELDS = {"to_wxid": "toWxid", "create_time": "createTime", "msg_id": "msgId",
               "new_msg_id": "newMsgId", "type": "type", "aes_key": "aesKey", "file_id": "fileId",
               "length": "length", "width": "width", "height": "height", "md5": "md5"}


def _verify_sent(call: ClientCall, reply: Reply, outcome: Outcome) -> str | None:
    if call.validator().is_valid(reply.data):
        return _gewe_refusal(outcome, reply.data)
    if outcome.error is not None:
        return f"raised {type(outcome.error).__name__} for a success reply"
    for attribute, key in SENT_FIELDS.items():  # exact, and of the same type: no float ids
        value, got = reply.data["data"][key], getattr(outcome.result, attribute)
        if got != value or type(got) is not type(value):
            return f"{key} {value!r} came back as {attribute}={got!r}"
    return None


def _verify_download(requested: ImageType, fallback: bool) -> Verify:
    order = FALLBACK_ORDER[requested] if fallback else (requested,)

    def verify(call: ClientCall, reply: Reply, outcome: Outcome) -> str | None:
        tried = tuple(ImageType(json.loads(request.content)["type"])
                      for request in outcome.requests(call.served_path))
        if tried != order[:len(tried)]:
            return f"asked for types {tried}, not in the order {order}"
        if call.validator().is_valid(reply.data):
            attempts = tuple(kind for kind, _ in getattr(outcome.error, "attempts", ()))
            return _gewe_refusal(outcome, reply.data) or (
                None if attempts == tried else f"GeweError.attempts has {attempts}, not {tried}")
        return _returned(outcome, DownloadedImage(reply.data["data"]["fileUrl"], tried[-1], tried))
    return verify


def _verify_wid(call: ClientCall, reply: Reply, outcome: Outcome) -> str | None:
    body = reply.data
    if call.validator().is_valid(body):
        return _expect(outcome, WidError, code=body["code"], message=body["message"])
    return _returned(outcome, body["data"]["url"] if isinstance(body["data"], dict)
                     else body["data"])


def _verify_lark(call: ClientCall, reply: Reply, outcome: Outcome) -> str | None:
    if reply.status == 200:
        return _returned(outcome, reply.data["data"]["image_key"] if reply.is_json else reply.body)
    code, detail = reply.data["code"], reply.data.get("error")
    limited = reply.status == 429 or code == LarkCode.RATE_LIMITED  # retried, then raised
    logged = detail.get("log_id") if isinstance(detail, dict) else None
    return _expect(outcome, LarkRateLimited if limited else type(LarkError.for_code(code, "")),
                   code=code, http_status=reply.status, log_id=reply.headers.get("X-Tt-Logid")
                   or (logged if isinstance(logged, str) else None))


def _verify_token(call: ClientCall, reply: Reply, outcome: Outcome) -> str | None:
    if call.validator().is_valid(reply.data):
        return _expect(outcome, LarkTokenError, code=reply.data["code"])
    if outcome.error is not None:
        return f"raised {type(outcome.error).__name__} for a granted token"
    sent = [r.headers.get("Authorization") for r in outcome.requests(IMAGES_PATH)]
    granted = f"Bearer {reply.data['tenant_access_token']}"
    return None if sent == [granted] else f"sent Authorization {sent}, not {granted!r}"


def client_calls() -> dict[str, ClientCall]:
    """The client methods that map to a spec operation, by name (``"gewe.postImage"``)."""
    gewe, key = "/gewe/v2/api/message/", "img_contract"
    token = Reply.of_json(200, {}, {"code": 0, "msg": "ok", "tenant_access_token": "t-contract",
                                    "expire": 7200})
    uploaded = Reply.of_json(200, {}, {"code": 0, "msg": "success", "data": {"image_key": key}})

    def on_gewe(name: str, path: str, **rest: Any) -> ClientCall:
        return ClientCall(f"gewe.{name}", "gewe", gewe + path, "post", gewe + path, gewe_client,
                          **rest)

    def on_lark(name: str, path: str, served: str, method: str = "post", **rest: Any) -> ClientCall:
        return ClientCall(f"lark.{name}", "lark", path, method, served, lark_client, **rest)

    calls = [
        on_gewe("postImage", "postImage", returns=SentImage, verify=_verify_sent,
                invoke=lambda c: c.post_image("wxid_contract", "http://img.test/a.png")),
        on_gewe("forwardImage", "forwardImage", returns=SentImage, verify=_verify_sent,
                invoke=lambda c: c.forward_image("wxid_contract", XML)),
        on_gewe("downloadImage", "downloadImage", returns=DownloadedImage,
                invoke=lambda c: c.download_image(XML, ImageType.NORMAL),
                verify=_verify_download(ImageType.NORMAL, False)),
        on_gewe("downloadImage.fallback", "downloadImage", returns=DownloadedImage, attempts=3,
                invoke=lambda c: c.download_image(XML, ImageType.HD, fallback=True),
                verify=_verify_download(ImageType.HD, True)),
        ClientCall("wid.getMsgImg", "wid", "/getMsgImg", "post", "/getMsgImg", wid_client,
                   lambda c: c.get_msg_img(1114390854, "wxid_from", "wxid_to", XML), str,
                   _verify_wid),
        on_lark("getTenantAccessToken", TOKEN_PATH, TOKEN_PATH, fixed={IMAGES_PATH: uploaded},
                invoke=lambda c: c.upload_image(b"image bytes"), returns=str,
                verify=_verify_token),
        on_lark("uploadImage", IMAGES_PATH, IMAGES_PATH, fixed={TOKEN_PATH: token},
                invoke=lambda c: c.upload_image(b"image bytes"), returns=str,
                verify=_verify_lark),
        on_lark("getImage", IMAGES_PATH + "/{image_key}", f"{IMAGES_PATH}/{key}", "get",
                fixed={TOKEN_PATH: token}, invoke=lambda c: c.download_image(key),
                returns=bytes, verify=_verify_lark),
    ]
    return {call.name: call for call in calls}
