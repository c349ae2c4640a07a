"""The mock's own routes (specs/admin.yaml): play the users' side, inspect and reset state."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask import Response

from . import images
from .data_files import fixture_image
from .errors import RequestProblem, VendorError
from .files import file_response
from .records import ImageMessage, StoredImage, image_key
from .specs import Operation
from .vendors import Call, Handler, VendorApi, json_response
from .wechat_cdn import new_msg_ids, store_image, wechat_copies
from .wechat_xml import image_xml

DEFAULT_FIXTURE = "landscape.jpg"


@dataclass
class AdminError(VendorError):
    status: int
    message: str

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_response(self) -> Response:
        return json_response({"error": self.message}, self.status)


class AdminApi(VendorApi):
    spec_name = "admin"
    path_prefixes = ("/__admin/", "/__files/")

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "resetState": self.reset_state, "getCredentials": self.get_credentials,
            "listImages": self.list_images, "receiveGeweImage": self.receive_gewe_image,
            "receiveWidImage": self.receive_wid_image, "deleteLarkImage": self.delete_lark_image,
            "getFile": self.get_file,
        }

    def rejection(self, operation: Operation | None, problem: RequestProblem) -> AdminError:
        return AdminError(404 if operation is None else 400, problem.detail)

    def reset_state(self, call: Call) -> Response:
        self.state.reset()
        return json_response({"reset": True})

    def get_credentials(self, call: Call) -> Response:
        return json_response(self.state.config.credentials())

    def list_images(self, call: Call) -> Response:
        return json_response({"images": [_summary(i) for i in self.state.store.records(StoredImage)]})

    def delete_lark_image(self, call: Call) -> Response:
        key = call.valid.path["image_key"]
        image = self.state.store.load(StoredImage, image_key("lark", key))
        if image is None:
            raise AdminError(404, f"no Lark image {key}")
        self.state.store.save(replace(image, deleted=True))
        return json_response({"deleted": key})

    def get_file(self, call: Call) -> Response:
        return file_response(self.state, call.valid.path["file_id"])

    def receive_gewe_image(self, call: Call) -> Response:
        devices = {d.app_id: d.wxid for d in self.state.config.gewe.devices}
        return self._receive("gewe", call.body, devices)

    def receive_wid_image(self, call: Call) -> Response:
        instances = {i.w_id: i.wc_id for i in self.state.config.wid.instances}
        return self._receive("wid", call.body, instances)

    def _receive(self, vendor: str, body: Mapping[str, Any], accounts: dict[str, str]) -> Response:
        account = body.get("account") or next(iter(accounts))
        if account not in accounts:
            raise AdminError(400, f"no {vendor} account {account!r}; configured: {sorted(accounts)}")
        data = _image_of(body)
        hd = body.get("hd", True)
        try:
            image = store_image(self.state, vendor=vendor, owner=account, origin="received",
                                copies=wechat_copies(data, hd=hd))
        except images.NotAnImage as exc:
            raise AdminError(400, f"the image cannot be read: {exc}") from exc
        variants = image.variants
        xml = image_xml(cdn_url=image.image_id, aes_key=image.aes_key, normal=variants["normal"],
                        thumb=variants["thumb"], hd=variants.get("hd"))
        chatroom = body.get("chatroom")
        content = f"{body['fromUser']}:\n{xml}" if chatroom else xml
        msg_id, new_msg_id = new_msg_ids()
        create_time = int(self.state.clock.now())
        message = ImageMessage(vendor=vendor, new_msg_id=new_msg_id, msg_id=msg_id,
                               account=account, from_user=chatroom or body["fromUser"],
                               to_user=accounts[account], image_id=image.image_id, xml=content,
                               create_time=create_time, direction="in",
                               extra={"sender": body["fromUser"]})
        self.state.store.save(message)
        return json_response({
            "account": account, "fromUser": message.from_user, "toUser": message.to_user,
            "msgId": msg_id, "newMsgId": new_msg_id, "createTime": create_time, "xml": xml,
            "content": content, "fileId": image.image_id, "aesKey": image.aes_key,
            "hd": "hd" in variants}, 201)


def _image_of(body: Mapping[str, Any]) -> bytes:
    if body.get("image"):
        try:
            return base64.b64decode(body["image"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AdminError(400, f"image is not valid base64: {exc}") from exc
    try:
        return fixture_image(body.get("fixture") or DEFAULT_FIXTURE)
    except KeyError as exc:
        raise AdminError(400, str(exc.args[0])) from exc


def _summary(image: StoredImage) -> dict[str, Any]:
    return {
        "vendor": image.vendor, "imageId": image.image_id, "owner": image.owner,
        "origin": image.origin, "imageType": image.image_type, "deleted": image.deleted,
        "variants": {name: {"length": v.length, "width": v.width, "height": v.height,
                            "md5": v.md5, "contentType": v.content_type}
                     for name, v in image.variants.items()},
    }
