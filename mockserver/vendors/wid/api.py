"""The wid instance API: getMsgImg.

Replies are ``{"code", "message", "data"}`` with HTTP 200; ``code`` is the string "1000" on
success and "1001" on failure, as the document's examples show (its table says otherwise;
the spec records the contradiction).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Request, Response

from ...errors import RequestProblem, VendorError
from ...runtime.file_links import issue_file_url
from ...specs import Operation
from ...storage.records import ImageMessage, StoredImage
from ..base import Call, Handler, MessageOfImage, VendorApi, credential_in, json_response
from ..wechat.cdn import find_image, message_of_image
from ..wechat.message_xml import ImageXmlError, parse_image_xml
from ..wechat.replies import NO_ROUTE, UNAVAILABLE
from ..wechat.user_side import user_sends_image
from .settings import WidConfig

FAILED = "失败"
# getMsgImg type -> the stored copy (the public document's optional field)
IMAGE_TYPES = {0: "normal", 1: "hd"}


class WidError(VendorError):
    """``{"message": ..., "code": "1001", "data": null}`` with HTTP 200 (a method its path
    does not take: with that status)."""

    def __init__(self, reason: str | None = None, *, status: int = 200):
        super().__init__(reason or FAILED)
        self.reason = reason
        self.status = status

    def to_response(self) -> Response:
        message = FAILED if self.reason is None else f"{FAILED}: {self.reason}"
        return json_response({"message": message, "code": "1001", "data": None}, self.status)


class WidApi(VendorApi):
    spec_name = "wid"
    settings_type = WidConfig
    settings: WidConfig

    def handlers(self) -> Mapping[str, Handler]:
        return {"getMsgImg": self.get_msg_img, "setHttpCallbackUrl": self.set_callback_url}

    def admin_handlers(self) -> Mapping[str, Handler]:
        instances = {i.w_id: i.wc_id for i in self.settings.instances}
        return {"receiveWidImage": user_sends_image(self, instances, self.image_callback)}

    def image_message(self, image: StoredImage) -> MessageOfImage | None:
        return message_of_image(self.state, image)

    def callback_refused(self, reason: str) -> WidError:
        return WidError(f"回调地址不可用: {reason}")

    def set_callback_url(self, call: Call) -> Response:
        self.subscribe(call.principal, call.body["httpUrl"], {"type": call.body.get("type")})
        return json_response({"message": "成功", "code": "1000", "data": None})

    def image_callback(self, message: ImageMessage) -> dict[str, Any]:
        """The callback of a received image, in the configured format (vendor notes 2.3):
        "old" messageType 6 (private) / 10 (group), or "new" "60002" / "80002"."""
        instance = next(i for i in self.settings.instances if i.w_id == message.account)
        group = message.from_user.endswith("@chatroom")
        data: dict[str, Any] = {
            "wId": instance.w_id, "fromUser": message.extra.get("sender", message.from_user),
            "toUser": message.to_user, "msgId": message.msg_id, "newMsgId": message.new_msg_id,
            "timestamp": message.create_time, "content": message.xml, "self": False}
        if group:
            data["fromGroup"] = message.from_user
        if self.settings.callback_format == "new":
            message_type: int | str = "80002" if group else "60002"
        else:
            message_type = 10 if group else 6
        return {"account": instance.account, "wcId": instance.wc_id,
                "messageType": message_type, "data": data}

    credential_header = "Authorization"

    def error_names(self, operation: Operation) -> tuple[str, ...]:
        return ("1001",)

    def armed_error(self, operation: Operation, name: str, context: Mapping[str, Any]
                    ) -> WidError:
        if name != "1001":
            raise KeyError(name)
        return WidError()  # the one failure the document shows: {"message": "失败", ...}

    def reply_code(self, payload: Any) -> Any:
        return payload.get("code") if isinstance(payload, dict) else None

    def admit(self, operation: Operation, request: Request) -> str:
        authorization = request.headers.get("Authorization")
        if not authorization or not credential_in(authorization,
                                                      self.settings.authorizations):
            raise WidError("Authorization 无效或已过期")
        return authorization

    def no_route(self, status: int, detail: str) -> WidError:
        return WidError(f"{NO_ROUTE[status == 405]}: {detail}", status=status)

    def unavailable(self, detail: str) -> WidError:
        return WidError(f"{UNAVAILABLE}: {detail}", status=503)

    def rejection(self, operation: Operation | None, problem: RequestProblem) -> WidError:
        if problem.missing and problem.field:
            return WidError(f"{problem.field} 不可为空")
        return WidError(problem.detail)

    def get_msg_img(self, call: Call) -> Response:
        body = call.body
        if not any(i.w_id == body["wId"] for i in self.settings.instances):
            raise WidError(f"实例 {body['wId']} 不存在或未登录")
        try:
            ref = parse_image_xml(body["content"])
        except ImageXmlError as exc:
            raise WidError(f"content 不是图片消息的XML ({exc})") from exc
        image = find_image(self.state, "wid", ref)
        if image is None:
            raise WidError("图片不存在或已过期")
        variant = image.variants.get(IMAGE_TYPES[body["type"]])
        if variant is None:
            raise WidError("该图片没有高清图片")
        url = issue_file_url(self.state, variant, base_url=self.state.base_url(call.request),
                             ttl_seconds=None)
        data = {"url": url} if self.settings.data_shape == "object" else url
        return json_response({"message": "成功", "code": "1000", "data": data})
