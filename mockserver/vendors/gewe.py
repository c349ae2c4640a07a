"""GeWe: postImage, downloadImage, forwardImage.

GeWe answers everything with HTTP 200; failures have ``ret`` 500. Operation failures name the
action in ``msg`` and the cause in ``data`` (``{"code": "-1", "msg": ...}``); gateway and parse
failures carry no ``data`` (vendor notes 1.2, 1.3, from real replies).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Request, Response

from .. import images
from ..config import GeweDevice
from ..errors import RequestProblem, VendorError
from ..files import issue_file_url
from ..image_sources import ImageSourceError, image_bytes_for_url
from ..records import ImageMessage, StoredImage
from ..specs import Operation
from ..wechat_cdn import find_image, new_msg_ids, store_image
from ..wechat_xml import ImageXmlError, parse_image_xml
from . import Call, Handler, VendorApi, json_response

TOKEN_HEADER = "X-GEWE-TOKEN"
OK_MSG = "操作成功"
SEND_FAILED = "发送消息失败"
DOWNLOAD_FAILED = "下载图片失败"
# downloadImage type -> the stored copy, and its name in failure texts
DOWNLOAD_TYPES = {1: ("hd", "高清"), 2: ("normal", "常规"), 3: ("thumb", "缩略")}


class GeweError(VendorError):
    """``{"ret": 500, "msg": msg[, "data": {"code": "-1", "msg": cause}]}`` with HTTP 200."""

    def __init__(self, msg: str, cause: str | None = None):
        super().__init__(msg if cause is None else f"{msg}: {cause}")
        self.msg = msg
        self.cause = cause

    def to_response(self) -> Response:
        payload: dict[str, object] = {"ret": 500, "msg": self.msg}
        if self.cause is not None:
            payload["data"] = {"code": "-1", "msg": self.cause}
        return json_response(payload)


def ok(data: object) -> Response:
    return json_response({"ret": 200, "msg": OK_MSG, "data": data})


class GeweApi(VendorApi):
    spec_name = "gewe"
    path_prefixes = ("/gewe/",)

    def handlers(self) -> Mapping[str, Handler]:
        return {"postImage": self.post_image, "downloadImage": self.download_image,
                "forwardImage": self.forward_image}

    def authenticate(self, operation: Operation, request: Request) -> str:
        token = request.headers.get(TOKEN_HEADER)
        if not token:
            raise GeweError(f"header:{TOKEN_HEADER} 不可为空")
        if token not in self.state.config.gewe.tokens:
            raise GeweError(f"HTTP HEADER: {TOKEN_HEADER}={token} 不可用或已过期")
        return token

    def rejection(self, operation: Operation | None, problem: RequestProblem) -> GeweError:
        if operation is None:
            return GeweError(f"接口不存在: {problem.detail}")
        if problem.missing and problem.field:
            return GeweError(f"{problem.location}:{problem.field} 不可为空")
        if problem.missing:
            return GeweError(f"{problem.location} 不可为空")
        return GeweError(f"参数错误: {problem.detail}")

    def _device(self, app_id: str, action_failed: str) -> GeweDevice:
        for device in self.state.config.gewe.devices:
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
                                       own_origin=call.request.host_url)
            thumb = images.thumbnail(data)
        except (ImageSourceError, images.NotAnImage) as exc:
            raise GeweError(SEND_FAILED, f"图片下载失败或格式不支持: {exc}") from exc
        image = store_image(self.state, vendor="gewe", owner=device.app_id, origin="sent",
                            copies={"normal": data, "thumb": thumb})
        return ok(self._send(device, body["toWxid"], image))

    def forward_image(self, call: Call) -> Response:
        body = call.body
        device = self._device(body["appId"], SEND_FAILED)
        image = self._image_named_by(body["xml"], "转发图片xml解析异常", SEND_FAILED)
        return ok(self._send(device, body["toWxid"], image))

    def download_image(self, call: Call) -> Response:
        body = call.body
        self._device(body["appId"], DOWNLOAD_FAILED)
        image = self._image_named_by(body["xml"], "下载图片xml解析异常", DOWNLOAD_FAILED)
        copy, kind = DOWNLOAD_TYPES[body["type"]]
        variant = image.variants.get(copy)
        if variant is None:
            message = self.state.config.gewe.no_such_type_message.format(kind=kind)
            raise GeweError(DOWNLOAD_FAILED, message)
        url = issue_file_url(self.state, variant, base_url=self.state.base_url(call.request),
                             ttl_seconds=self.state.config.gewe.file_url_ttl_seconds)
        return ok({"fileUrl": url})

    def _image_named_by(self, xml: str, parse_failed: str, action_failed: str) -> StoredImage:
        try:
            ref = parse_image_xml(
                xml, allow_sender_prefix=self.state.config.gewe.accept_sender_prefix)
        except ImageXmlError as exc:
            raise GeweError(parse_failed) from exc
        image = find_image(self.state, "gewe", ref)
        if image is None:
            raise GeweError(action_failed, "图片不存在或已过期")
        return image

    def _send(self, device: GeweDevice, to_wxid: str, image: StoredImage) -> dict[str, object]:
        msg_id, new_msg_id = new_msg_ids()
        create_time = int(self.state.clock.now())
        normal = image.variants["normal"]
        self.state.store.save(ImageMessage(
            vendor="gewe", new_msg_id=new_msg_id, msg_id=msg_id, account=device.app_id,
            from_user=device.wxid, to_user=to_wxid, image_id=image.image_id,
            create_time=create_time, direction="out"))
        return {"toWxid": to_wxid, "createTime": create_time, "msgId": msg_id,
                "newMsgId": new_msg_id, "type": None, "aesKey": image.aes_key,
                "fileId": image.image_id, "length": normal.length, "width": normal.width,
                "height": normal.height, "md5": normal.md5}
