"""GeWe: postImage, downloadImage, forwardImage.

GeWe answers everything with HTTP 200; failures have ``ret`` 500. Operation failures name the
action in ``msg`` and the cause in ``data`` (``{"code": "-1", "msg": ...}``); gateway and parse
failures carry no ``data`` (vendor notes 1.2, 1.3, from real replies).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from flask import Request, Response

from ...errors import RequestProblem, VendorError
from ...incoming import request_origin
from ...media import images
from ...runtime.file_links import issue_file_url
from ...specs import Operation
from ...storage.records import ImageMessage, StoredImage, image_key
from ..base import Call, Handler, MessageOfImage, VendorApi, credential_in, json_response
from ..wechat.cdn import find_image, message_of_image, new_image, new_msg_ids
from ..wechat.message_xml import ImageXmlError, parse_image_xml
from ..wechat.replies import NO_ROUTE, UNAVAILABLE
from ..wechat.user_side import user_sends_image
from .image_sources import ImageSourceError, image_bytes_for_url
from .settings import GeweConfig, GeweDevice

TOKEN_HEADER = "X-GEWE-TOKEN"
OK_MSG = "操作成功"
SEND_FAILED = "发送消息失败"
DOWNLOAD_FAILED = "下载图片失败"
# downloadImage type -> the stored copy, and its name in failure texts
DOWNLOAD_TYPES = {1: ("hd", "高清"), 2: ("normal", "常规"), 3: ("thumb", "缩略")}
# operation -> (the action that failed, the XML parse failure), as GeWe words them
FAILURE_TEXTS = {
    "setCallback": ("设置回调地址失败", ""),
    "postImage": (SEND_FAILED, "发送图片xml解析异常"),
    "forwardImage": (SEND_FAILED, "转发图片xml解析异常"),
    "downloadImage": (DOWNLOAD_FAILED, "下载图片xml解析异常"),
}


class GeweError(VendorError):
    """``{"ret": 500, "msg": msg[, "data": {"code": "-1", "msg": cause}]}`` with HTTP 200;
    a path GeWe has no API at answers with its status as both ``ret`` and HTTP status."""

    def __init__(self, msg: str, cause: str | None = None, *, status: int = 200):
        super().__init__(msg if cause is None else f"{msg}: {cause}")
        self.msg = msg
        self.cause = cause
        self.status = status

    def to_response(self) -> Response:
        payload: dict[str, object] = {"ret": 500 if self.status == 200 else self.status,
                                      "msg": self.msg}
        if self.cause is not None:
            payload["data"] = {"code": "-1", "msg": self.cause}
        return json_response(payload, self.status)


def token_missing() -> GeweError:
    return GeweError(f"header:{TOKEN_HEADER} 不可为空")


def token_invalid(token: str) -> GeweError:
    return GeweError(f"HTTP HEADER: {TOKEN_HEADER}={token} 不可用或已过期")


# Failures seen in real replies (vendor notes 1.3), by the names rules and Prefer headers use.
ARMED_ERRORS: dict[str, Callable[..., GeweError]] = {
    "token_missing": lambda **_: token_missing(),
    "token_invalid": lambda context, **_: token_invalid(context.get("token") or "?"),
    "device_not_found": lambda action_failed, context, **_: GeweError(
        action_failed, f"[{context.get('appId', '')}]设备不存在"),
    "wechat_offline": lambda action_failed, **_: GeweError(action_failed, "微信已离线"),
    "xml_parse_error": lambda parse_failed, **_: GeweError(parse_failed or "xml解析异常"),
    "image_not_found": lambda action_failed, **_: GeweError(action_failed, "图片不存在或已过期"),
    "no_hd": lambda config_message, **_: GeweError(DOWNLOAD_FAILED, config_message),
}


def _msg_source(group: bool) -> str:
    if group:
        return ("<msgsource>\n\t<silence>0</silence>\n\t<membercount>3</membercount>\n"
                "\t<signature>v1_mock</signature>\n</msgsource>\n")
    return "<msgsource>\n\t<alnode>\n\t\t<fr>1</fr>\n\t</alnode>\n</msgsource>\n"


def ok(data: object) -> Response:
    return json_response({"ret": 200, "msg": OK_MSG, "data": data})


class GeweApi(VendorApi):
    spec_name = "gewe"
    settings_type = GeweConfig
    settings: GeweConfig
    # The hosted service's base is /gewe/v2/api; the self-hosted container serves the same
    # API at /v2/api, the base gewechat-client's README shows (vendor notes 1.1, sdk-notes).
    base_paths = ("/gewe/v2/api", "/v2/api")
    path_aliases: ClassVar[Mapping[str, str]] = {"/v2/api/": "/gewe/v2/api/"}
    path_prefixes = ("/gewe/",)  # (and /v2/api/, resolved to /gewe/v2/api/ before routing)

    def handlers(self) -> Mapping[str, Handler]:
        return {"postImage": self.post_image, "downloadImage": self.download_image,
                "forwardImage": self.forward_image, "setCallback": self.set_callback}

    def admin_handlers(self) -> Mapping[str, Handler]:
        devices = {d.app_id: d.wxid for d in self.settings.devices}
        return {"receiveGeweImage": user_sends_image(self, devices, self.image_callback)}

    def image_message(self, image: StoredImage) -> MessageOfImage | None:
        return message_of_image(self.state, image)

    def callback_refused(self, reason: str) -> GeweError:
        return GeweError(FAILURE_TEXTS["setCallback"][0], reason)

    def set_callback(self, call: Call) -> Response:
        token = call.body["token"]
        if not credential_in(token, self.settings.tokens):
            raise token_invalid(token)
        self.subscribe(token, call.body["callbackUrl"])
        return json_response({"ret": 200, "msg": OK_MSG})

    def image_callback(self, message: ImageMessage) -> dict[str, Any]:
        """The ``AddMsg`` callback of a received image (vendor notes 1.6, from captures)."""
        device = next(d for d in self.settings.devices if d.app_id == message.account)
        image = self.state.store.load(StoredImage, image_key("gewe", message.image_id))
        thumb = (self.state.store.get_blob(image.variants["thumb"].digest) if image else None
                 ) or b""
        group = message.from_user.endswith("@chatroom")
        new_msg_id: int | str = message.new_msg_id
        if self.settings.new_msg_id_as_string:
            new_msg_id = str(new_msg_id)
        sender = message.extra.get("sender", message.from_user)
        return {
            "TypeName": "AddMsg", "Appid": device.app_id, "Wxid": device.wxid,
            "Data": {
                "MsgId": message.msg_id, "FromUserName": {"string": message.from_user},
                "ToUserName": {"string": message.to_user}, "MsgType": 3,
                "Content": {"string": message.xml}, "Status": 3, "ImgStatus": 2,
                "ImgBuf": {"iLen": len(thumb), "buffer": base64.b64encode(thumb).decode()},
                "CreateTime": message.create_time,
                "MsgSource": _msg_source(group), "PushContent": f"{sender} : [图片]",
                "NewMsgId": new_msg_id, "MsgSeq": message.msg_id % 10**9,
            },
        }

    credential_header = TOKEN_HEADER
    secret_headers = (TOKEN_HEADER,)

    def admit(self, operation: Operation, request: Request) -> str:
        token = request.headers.get(TOKEN_HEADER)
        if not token:
            raise token_missing()
        if not credential_in(token, self.settings.tokens):
            raise token_invalid(token)
        return token

    def error_names(self, operation: Operation) -> tuple[str, ...]:
        if operation.operation_id == "downloadImage":
            return tuple(ARMED_ERRORS)
        if operation.operation_id == "setCallback":
            return ("token_missing", "token_invalid")
        return tuple(name for name in ARMED_ERRORS if name != "no_hd")

    def armed_error(self, operation: Operation, name: str, context: Mapping[str, Any]
                    ) -> GeweError:
        action_failed, parse_failed = FAILURE_TEXTS[operation.operation_id]
        return ARMED_ERRORS[name](action_failed=action_failed, parse_failed=parse_failed,
                                  context=context, config_message=self._no_such_type("高清"))

    def reply_code(self, payload: Any) -> Any:
        return payload.get("ret") if isinstance(payload, dict) else None

    def no_route(self, status: int, detail: str) -> GeweError:
        return GeweError(f"{NO_ROUTE[status == 405]}: {detail}", status=status)

    def unavailable(self, detail: str) -> GeweError:
        return GeweError(f"{UNAVAILABLE}: {detail}", status=503)

    def rejection(self, operation: Operation | None, problem: RequestProblem) -> GeweError:
        if problem.missing and problem.field:
            return GeweError(f"{problem.location}:{problem.field} 不可为空")
        if problem.missing:
            return GeweError(f"{problem.location} 不可为空")
        return GeweError(f"参数错误: {problem.detail}")

    def _device(self, app_id: str, action_failed: str) -> GeweDevice:
        for device in self.settings.devices:
            if device.app_id == app_id:
                if not device.online:
                    raise GeweError(action_failed, "微信已离线")
                return device
        raise GeweError(action_failed, f"[{app_id}]设备不存在")

    def post_image(self, call: Call) -> Response:
        body = call.body
        device = self._device(body["appId"], SEND_FAILED)
        try:
            data = image_bytes_for_url(self.state, body["imgUrl"],
                                       own_origin=request_origin(call.request))
            thumb = images.thumbnail(data)
        except (ImageSourceError, images.NotAnImage) as exc:
            raise GeweError(SEND_FAILED, f"图片下载失败或格式不支持: {exc}") from exc
        copies = {"normal": data, "thumb": thumb}
        image = new_image(self.state, vendor="gewe", owner=device.app_id, origin="sent",
                          copies=copies)
        message, reply = self._sent(device, body["toWxid"], image)
        self.state.store.save_many((image, message), copies.values())
        return ok(reply)

    def forward_image(self, call: Call) -> Response:
        body = call.body
        device = self._device(body["appId"], SEND_FAILED)
        image = self._image_named_by(body["xml"], "forwardImage")
        message, reply = self._sent(device, body["toWxid"], image)
        self.state.store.save(message)
        return ok(reply)

    def download_image(self, call: Call) -> Response:
        body = call.body
        self._device(body["appId"], DOWNLOAD_FAILED)
        image = self._image_named_by(body["xml"], "downloadImage")
        copy, kind = DOWNLOAD_TYPES[body["type"]]
        variant = image.variants.get(copy)
        if variant is None:
            raise GeweError(DOWNLOAD_FAILED, self._no_such_type(kind))
        url = issue_file_url(self.state, variant, base_url=self.state.base_url(call.request),
                             ttl_seconds=self.settings.file_url_ttl_seconds)
        return ok({"fileUrl": url})

    def _no_such_type(self, kind: str) -> str:
        return self.settings.no_such_type_message.format(kind=kind)

    def _image_named_by(self, xml: str, operation_id: str) -> StoredImage:
        action_failed, parse_failed = FAILURE_TEXTS[operation_id]
        try:
            ref = parse_image_xml(
                xml, allow_sender_prefix=self.settings.accept_sender_prefix)
        except ImageXmlError as exc:
            raise GeweError(parse_failed) from exc
        image = find_image(self.state, "gewe", ref)
        if image is None:
            raise GeweError(action_failed, "图片不存在或已过期")
        return image

    def _sent(self, device: GeweDevice, to_wxid: str, image: StoredImage
              ) -> tuple[ImageMessage, dict[str, object]]:
        """The message record of sending ``image``, and the reply's data."""
        msg_id, new_msg_id = new_msg_ids()
        create_time = int(self.state.clock.now())
        normal = image.variants["normal"]
        message = ImageMessage(
            vendor="gewe", new_msg_id=new_msg_id, msg_id=msg_id, account=device.app_id,
            from_user=device.wxid, to_user=to_wxid, image_id=image.image_id,
            create_time=create_time, direction="out")
        return message, {"toWxid": to_wxid, "createTime": create_time, "msgId": msg_id,
                "newMsgId": new_msg_id, "type": None, "aesKey": image.aes_key,
                "fileId": image.image_id, "length": normal.length, "width": normal.width,
                "height": normal.height, "md5": normal.md5}
