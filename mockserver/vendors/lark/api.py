"""Lark / Feishu: tenant token, image upload and download, message resources, sending.

Refusals are in ``errors.py``; what a user or the console does to an app is in ``user_side.py``.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Request, Response

from ...errors import RequestProblem, VendorError
from ...media import images
from ...runtime import rate_limits
from ...runtime.rate_limits import Window
from ...specs import Operation
from ...storage.records import StoredImage, Subscription, image_key
from ..base import Call, Handler, MessageOfImage, VendorApi, credential_in, json_response
from ..wechat.cdn import variant_of
from .chats import p2p_chat
from .errors import LOG_ID_HEADER, LarkError, LarkEventsRefused, TokenRefusal, error_table, log_id
from .events import encrypt, event_body, lark_id, signed_headers
from .records import AccessToken, LarkMessage
from .settings import LarkApp, LarkConfig
from .tokens import sign_token, token_app
from .user_side import LarkUsers

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
TOKEN_REUSE_MIN_SECONDS = 30 * 60
MAX_SIDE = {"GIF": 2000}
DEFAULT_MAX_SIDE = 12000
AVATAR_MAX_SIDE = 4096
STORED_AS_JPEG = ("TIFF", "HEIF")  # the upload document: TIFF and HEIC are stored as JPG
TOKEN_OPERATION = "getTenantAccessToken"


class LarkApi(VendorApi):
    spec_name = "lark"
    settings_type = LarkConfig
    settings: LarkConfig
    path_prefixes = ("/open-apis/",)
    credential_header = "Authorization"
    secret_fields = ("app_secret", "tenant_access_token")
    account_is_secret = False  # an app's subscription is kept under its app_id

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.users = LarkUsers(self, self.settings)

    def handlers(self) -> Mapping[str, Handler]:
        return {TOKEN_OPERATION: self.get_tenant_access_token, "uploadImage": self.upload_image,
                "getImage": self.get_image, "getMessageResource": self.get_message_resource,
                "sendMessage": self.send_message}

    def admin_handlers(self) -> Mapping[str, Handler]:
        return self.users.handlers()

    def error(self, code: int, *, field_violations: list[dict[str, str]] | None = None) -> LarkError:
        status, msg = error_table().codes[code]
        override = self.settings.error_overrides.get(code)
        if override is not None:
            status, msg = override.status or status, override.msg or msg
        return LarkError(status, code, msg, log_id(), field_violations or [])

    def finish(self, response: Response) -> Response:
        response.headers[LOG_ID_HEADER] = log_id()
        return response

    def error_names(self, operation: Operation) -> tuple[str, ...]:
        return tuple(str(code) for code in error_table().codes_of(operation.operation_id))

    def armed_error(self, operation: Operation, name: str, context: Mapping[str, Any]
                    ) -> VendorError:
        code = int(name)
        if operation.operation_id == TOKEN_OPERATION:
            return TokenRefusal.of(code)
        if code == 99991400:
            return self.rate_limited(self.settings.rate_limit_per_second, 1)
        return self.error(code)

    def rate_limited(self, limit: int, reset_seconds: int) -> LarkError:
        """HTTP 429 with the headers the frequency-control document names."""
        error = self.error(99991400)
        error.headers.update({"x-ogw-ratelimit-limit": str(limit),
                              "x-ogw-ratelimit-reset": str(reset_seconds)})
        return error

    def scenario_context(self, request: Request, principal: Any) -> dict[str, Any]:
        context = super().scenario_context(request, principal)
        if isinstance(principal, LarkApp):
            context["app_id"] = principal.app_id
        return context

    def reply_code(self, payload: Any) -> Any:
        return payload.get("code") if isinstance(payload, dict) else None

    def admit(self, operation: Operation, request: Request) -> LarkApp | None:
        if not operation.security:
            return None
        header = request.headers.get("Authorization")
        if not header:
            raise self.error(99991661)
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise self.error(234002)
        app = token_app(self.settings, value.strip(), self.state.clock.now())
        if app is None:
            raise self.error(99991663)
        config = self.settings
        exceeded = rate_limits.hit(
            self.state.store, f"{app.app_id}:{operation.operation_id}",
            (Window(1, config.rate_limit_per_second), Window(60, config.rate_limit_per_minute)),
            self.state.clock.now())
        if exceeded is not None:
            raise self.rate_limited(exceeded.window.limit, exceeded.reset_seconds)
        return app

    def rejection(self, operation: Operation | None, problem: RequestProblem) -> VendorError:
        if operation is not None and operation.operation_id == TOKEN_OPERATION:
            return (TokenRefusal.of(10003) if problem.location != "header"
                    else TokenRefusal(10003, problem.detail))
        if problem.reason == "too_large":
            return self.error(234006)
        violation = {"field": problem.field or problem.location, "description": problem.detail}
        invalid = 230001 if operation and operation.operation_id == "sendMessage" else 234001
        return self.error(invalid, field_violations=[violation])

    def unavailable(self, detail: str) -> LarkError:
        # (Lark's gateway answers its own failures with the HTTP status as the code, as 404.)
        return LarkError(503, 503, f"service unavailable: {detail}", log_id())

    def no_route(self, status: int, detail: str) -> LarkError:
        # Lark's gateway routes by method and path: any miss is its "404 page not found".
        return LarkError(404, 404, "404 page not found", log_id())

    def _check_tenant(self, app: LarkApp, bot_disabled: int = 234007) -> LarkApp:
        if not app.bot_enabled:
            raise self.error(bot_disabled)
        if app.tenant_master_key_deleted:
            raise self.error(234041)
        if app.tenant_storage_error:
            raise self.error(234042)
        return app

    def get_tenant_access_token(self, call: Call) -> Response:
        app = self.settings.app(call.body["app_id"])
        if app is None:
            raise TokenRefusal.of(10014)
        if not credential_in(call.body["app_secret"], (app.app_secret,)):
            raise TokenRefusal(10014, "app secret invalid")
        now = self.state.clock.now()
        current = self.state.store.load(AccessToken, app.app_id)
        if current is None or current.expires_at - now < TOKEN_REUSE_MIN_SECONDS:
            issued_ms = math.ceil(now * 1000)  # so a fresh token announces the full lifetime
            current = AccessToken(token=sign_token(self.settings, app.app_id, issued_ms),
                                  app_id=app.app_id, issued_at=issued_ms / 1000,
                                  expires_at=issued_ms / 1000 + self.settings.token_ttl_seconds)
            self.state.store.save(current)
        # Rounded down: a client never believes a token lives longer than it does.
        return json_response({"code": 0, "msg": "ok", "tenant_access_token": current.token,
                              "expire": int(current.expires_at - now)})

    def upload_image(self, call: Call) -> Response:
        app = self._check_tenant(call.principal)
        image_type: str = call.body["image_type"]
        data: bytes = call.body["image"]
        if not data:
            raise self.error(234010)
        if len(data) > MAX_UPLOAD_BYTES:
            raise self.error(234006)
        try:
            info = images.header_info(data)  # over the limit is refused before any decode
        except images.NotAnImage as exc:
            raise self.error(234011) from exc
        limit = AVATAR_MAX_SIDE if image_type == "avatar" else MAX_SIDE.get(info.format,
                                                                            DEFAULT_MAX_SIDE)
        if max(info.width, info.height) > limit:
            raise self.error(234001, field_violations=[{
                "field": "image", "value": f"{info.width}x{info.height}",
                "description": f"a {image_type} {info.format} image may be at most "
                               f"{limit}x{limit}"}])
        try:
            if info.format in STORED_AS_JPEG:
                data = images.to_jpeg(data)
            images.probe(data)  # a damaged image is refused here, before it is stored
        except images.NotAnImage as exc:
            raise self.error(234011) from exc
        key = f"img_v3_{uuid.uuid4()}g"
        self.state.store.save_many([StoredImage(
            vendor="lark", image_id=key, owner=app.app_id, variants={"original": variant_of(data)},
            image_type=image_type, origin="sent", created_at=self.state.clock.now())], [data])
        return json_response({"code": 0, "msg": "success", "data": {"image_key": key}})

    def get_message_resource(self, call: Call) -> Response:
        """A user-sent file: only through the message it came in, by this app (notes 3.3)."""
        app = self._check_tenant(call.principal)
        message = self.state.store.load(LarkMessage, call.valid.path["message_id"])
        file_key = call.valid.path["file_key"]
        if message is None or message.app_id != app.app_id or file_key not in message.image_keys:
            raise self.error(234003)
        image = self.state.store.load(StoredImage, image_key("lark", file_key))
        if image is None or image.deleted:
            raise self.error(234005)
        return self._image_bytes(image, file_key)

    def send_message(self, call: Call) -> Response:
        """Send an uploaded image (msg_type image); the message is kept, to be looked at."""
        app = self._check_tenant(call.principal, bot_disabled=230006)
        body = call.body
        receive_id_type = call.valid.query["receive_id_type"]
        image_key_sent = _image_key_in(body["content"]) if body["msg_type"] == "image" else None
        if body["msg_type"] != "image" or image_key_sent is None:
            raise self.error(230001, field_violations=[{
                "field": "content", "value": str(body["content"])[:100],
                "description": 'msg_type image takes content {"image_key": "img_..."}'}])
        image = self.state.store.load(StoredImage, image_key("lark", image_key_sent))
        if image is None or image.deleted or image.owner != app.app_id or \
                image.image_type != "message" or image.origin != "sent":
            raise self.error(230001, field_violations=[{
                "field": "content.image_key", "value": image_key_sent,
                "description": "not a message image this app uploaded"}])
        chat_id = body["receive_id"] if receive_id_type == "chat_id" else p2p_chat(
            self.state.store, app.app_id, body["receive_id"])
        if chat_id is None:
            raise self.error(230002)
        now_ms = int(self.state.clock.now() * 1000)
        message = LarkMessage(message_id=lark_id("om"), app_id=app.app_id, chat_id=chat_id,
                              chat_type="group" if receive_id_type == "chat_id" else "p2p",
                              sender=app.app_id, image_keys=(image_key_sent,),
                              create_time_ms=now_ms, direction="out",
                              receive_id=body["receive_id"])
        self.state.store.save(message)
        return json_response({"code": 0, "msg": "success", "data": {
            "message_id": message.message_id, "root_id": "", "parent_id": "",
            "msg_type": "image", "create_time": str(now_ms), "update_time": str(now_ms),
            "deleted": False, "updated": False, "chat_id": chat_id,
            "sender": {"id": app.app_id, "id_type": "app_id", "sender_type": "app",
                       "tenant_key": app.tenant_key},
            "body": {"content": body["content"]}, "mentions": []}})

    def get_image(self, call: Call) -> Response:
        app = self._check_tenant(call.principal)
        key: str = call.valid.path["image_key"]
        image = self.state.store.load(StoredImage, image_key("lark", key))
        if image is None or image.deleted:
            raise self.error(234005)
        if image.owner != app.app_id or image.origin != "sent":
            raise self.error(234008)
        if image.image_type != "message":
            raise self.error(234001, field_violations=[{
                "field": "image_key", "value": key,
                "description": "avatar images cannot be downloaded"}])
        return self._image_bytes(image, key)

    def _image_bytes(self, image: StoredImage, key: str) -> Response:
        original = image.variants["original"]
        data = self.state.store.get_blob(original.digest)
        if data is None:
            # Removed since it was looked up (a reset): gone whole. Else its bytes are lost.
            gone = self.state.store.load(StoredImage, image.key) is None
            raise self.error(234005 if gone else 234042)
        extension = original.content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
        return Response(data, 200, content_type=original.content_type, headers={
            "Content-Disposition": f'attachment; filename="{key}.{extension}"'})

    # --- events: the hooks that deliver them (user_side.py makes them) --------------------

    def image_message(self, image: StoredImage) -> MessageOfImage | None:
        message = next((m for m in self.state.store.records(LarkMessage)
                        if image.image_id in m.image_keys), None)
        if message is None:
            return None
        return MessageOfImage(message.key, {
            "message_id": message.message_id, "chat_id": message.chat_id,
            "chat_type": message.chat_type, "sender": message.sender,
            "direction": message.direction, "event": message.event})

    def callback_refused(self, reason: str) -> VendorError:
        return LarkEventsRefused(reason)

    def callback_request(self, subscription: Subscription, payload: Mapping[str, Any]
                         ) -> tuple[bytes, dict[str, str]]:
        key = subscription.options.get("encrypt_key")
        body = event_body(encrypt(dict(payload), key) if key else dict(payload))
        return body, signed_headers(body, key)

    def accepts(self, subscription: Subscription, payload: Mapping[str, Any]) -> bool:
        return subscription.account == payload["header"]["app_id"]


def _image_key_in(content: str) -> str | None:
    """``content`` of an image message is a JSON string: ``{"image_key": "img_..."}``."""
    try:
        parsed = json.loads(content)
    except (ValueError, RecursionError):
        return None
    key = parsed.get("image_key") if isinstance(parsed, dict) else None
    return key if isinstance(key, str) and key else None
