"""Lark / Feishu: tenant token, image upload, image download.

Errors are JSON ``{code, msg, error: {log_id, troubleshooter}}`` with a 4xx status and the
``X-Tt-Logid`` header in that exact capitalisation, which is all the official SDK can read
(sdk-notes). Token refusals are the exception: HTTP 200, as the real endpoint answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from flask import Request, Response, g

from ...config import LarkApp
from ...errors import RequestProblem, VendorError
from ...media import images
from ...runtime import rate_limits
from ...runtime.delivery import CallbackUrlRefused, check_callback_url
from ...runtime.rate_limits import Window
from ...specs import Operation
from ...storage.records import (
    AccessToken,
    LarkChat,
    LarkMessage,
    StoredImage,
    Subscription,
    image_key,
    lark_chat_key,
)
from ..base import Call, Handler, VendorApi, credential_in, json_response
from ..wechat.cdn import variant_of
from .events import (
    challenge_answer_ok,
    encrypt,
    event_body,
    image_message_event,
    lark_id,
    signed_headers,
    url_verification_request,
)

LOG_ID_HEADER = "X-Tt-Logid"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
TOKEN_REUSE_MIN_SECONDS = 30 * 60
MAX_SIDE = {"GIF": 2000}
DEFAULT_MAX_SIDE = 12000
AVATAR_MAX_SIDE = 4096
STORED_AS_JPEG = ("TIFF", "HEIF")  # the upload document: TIFF and HEIC are stored as JPG

# code -> (HTTP status, msg). Texts of 234006/234010/234011 and 99991661 and the status of
# 99991663 are not confirmed (vendor notes 3.4, 3.7): config's lark.error_overrides changes them.
ERRORS: dict[int, tuple[int, str]] = {
    234001: (400, "Invalid request param."),
    234002: (401, "Unauthorized."),
    234005: (400, "Image has been deleted"),
    234006: (400, "The image exceeds the size limit of 10 MB."),
    234007: (400, "App does not enable bot feature."),
    234008: (400, "The app is not the resource sender"),
    234010: (400, "The image file is empty."),
    234011: (400, "The image format is not supported."),
    234003: (400, "File not in msg."),
    234041: (400, "Tenant master key has been deleted, please contact the tenant administrator."),
    234042: (400, ("Hybrid deployment tenant storage error, such as full storage space, "
                   "please contact tenant administrator.")),
    99991661: (400, ("Missing access token for authorization. "
                     "Please make a request with token attached.")),
    99991663: (400, ("Invalid access token for authorization. "
                     "Please make a request with token attached")),
    99991400: (429, "request trigger frequency limit"),
}
TOKEN_OPERATION = "getTenantAccessToken"
# Sending a message: Lark's 230xxx codes (发送消息 document); see the spec's x-notes.
SEND_ERRORS: dict[int, tuple[int, str]] = {
    230001: (400, "Your request contains an invalid request parameter."),
    230002: (400, "The bot can not be outside the group."),
    230006: (400, "Bot ability is not activated."),
}
# The token endpoint's own refusals (HTTP 200), vendor notes 3.6.
TOKEN_REFUSALS = {10003: "invalid param", 10014: "app id not exists"}


@dataclass
class LarkError(VendorError):
    """A refusal in Lark's error envelope."""

    status: int
    code: int
    msg: str
    log_id: str
    field_violations: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code} {self.msg}")

    def to_response(self) -> Response:
        error: dict[str, Any] = {"log_id": self.log_id, "troubleshooter": (
            "排查建议查看 (Troubleshooting suggestions): https://open.feishu.cn/search"
            f"?from=openapi&log_id={self.log_id}&code={self.code}")}
        if self.field_violations:
            error["field_violations"] = self.field_violations
        return json_response({"code": self.code, "msg": self.msg, "error": error}, self.status,
                             headers=self.headers)


@dataclass
class TokenRefusal(VendorError):
    """The token endpoint's refusals: HTTP 200 with a code, as the real endpoint answers."""

    code: int
    msg: str

    def __post_init__(self) -> None:
        super().__init__(f"{self.code} {self.msg}")

    def to_response(self) -> Response:
        payload: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.code == 10003:
            payload["data"] = {}
        return json_response(payload)


def new_log_id() -> str:
    """A timestamp and 20 upper-case hex digits, like real log ids."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(10).upper()


class LarkApi(VendorApi):
    spec_name = "lark"
    path_prefixes = ("/open-apis/",)

    def handlers(self) -> Mapping[str, Handler]:
        return {TOKEN_OPERATION: self.get_tenant_access_token, "uploadImage": self.upload_image,
                "getImage": self.get_image, "getMessageResource": self.get_message_resource,
                "sendMessage": self.send_message}

    def error(self, code: int, *, field_violations: list[dict[str, str]] | None = None) -> LarkError:
        status, msg = ERRORS[code] if code in ERRORS else SEND_ERRORS[code]
        override = self.state.config.lark.error_overrides.get(code)
        if override is not None:
            status, msg = override.status or status, override.msg or msg
        return LarkError(status, code, msg, _log_id(), field_violations or [])

    def finish(self, response: Response) -> Response:
        response.headers[LOG_ID_HEADER] = _log_id()
        return response

    credential_header = "Authorization"
    secret_fields = ("app_secret", "tenant_access_token")

    def error_names(self, operation: Operation) -> tuple[str, ...]:
        if operation.operation_id == TOKEN_OPERATION:
            return tuple(str(code) for code in TOKEN_REFUSALS)
        if operation.operation_id == "sendMessage":
            return tuple(str(code) for code in (*SEND_ERRORS, 99991400, 99991661, 99991663))
        return tuple(str(code) for code in ERRORS)

    def armed_error(self, operation: Operation, name: str, context: Mapping[str, Any]
                    ) -> VendorError:
        code = int(name)
        if operation.operation_id == TOKEN_OPERATION:
            return TokenRefusal(code, TOKEN_REFUSALS[code])
        if code == 99991400:
            return self.rate_limited(self.state.config.lark.rate_limit_per_second, 1)
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
        app = self._token_app(value.strip())
        if app is None:
            raise self.error(99991663)
        config = self.state.config.lark
        exceeded = rate_limits.hit(
            self.state.store, f"{app.app_id}:{operation.operation_id}",
            (Window(1, config.rate_limit_per_second), Window(60, config.rate_limit_per_minute)),
            self.state.clock.now())
        if exceeded is not None:
            raise self.rate_limited(exceeded.window.limit, exceeded.reset_seconds)
        return app

    def rejection(self, operation: Operation | None, problem: RequestProblem) -> VendorError:
        if operation is not None and operation.operation_id == TOKEN_OPERATION:
            return TokenRefusal(10003, TOKEN_REFUSALS[10003]
                                if problem.location != "header" else problem.detail)
        if problem.reason == "too_large":
            return self.error(234006)
        violation = {"field": problem.field or problem.location, "description": problem.detail}
        invalid = 230001 if operation and operation.operation_id == "sendMessage" else 234001
        return self.error(invalid, field_violations=[violation])

    def no_route(self, status: int, detail: str) -> LarkError:
        # Lark's gateway routes by method and path: any miss is its "404 page not found".
        return LarkError(404, 404, "404 page not found", _log_id())

    def _app(self, app_id: str) -> LarkApp | None:
        return next((a for a in self.state.config.lark.apps if a.app_id == app_id), None)

    def _check_tenant(self, app: LarkApp, bot_disabled: int = 234007) -> LarkApp:
        if not app.bot_enabled:
            raise self.error(bot_disabled)
        if app.tenant_master_key_deleted:
            raise self.error(234041)
        if app.tenant_storage_error:
            raise self.error(234042)
        return app

    def get_tenant_access_token(self, call: Call) -> Response:
        app = self._app(call.body["app_id"])
        if app is None:
            raise TokenRefusal(10014, TOKEN_REFUSALS[10014])
        if not credential_in(call.body["app_secret"], (app.app_secret,)):
            raise TokenRefusal(10014, "app secret invalid")
        now = self.state.clock.now()
        current = self.state.store.load(AccessToken, app.app_id)
        if current is None or current.expires_at - now < TOKEN_REUSE_MIN_SECONDS:
            issued_ms = math.ceil(now * 1000)  # so a fresh token announces the full lifetime
            current = AccessToken(token=self._sign_token(app.app_id, issued_ms),
                                  app_id=app.app_id, issued_at=issued_ms / 1000,
                                  expires_at=issued_ms / 1000 + self.state.config.lark.token_ttl_seconds)
            self.state.store.save(current)
        # Rounded down: a client never believes a token lives longer than it does.
        return json_response({"code": 0, "msg": "ok", "tenant_access_token": current.token,
                              "expire": int(current.expires_at - now)})

    # Tokens carry their issue time and a signature, so they stay valid across a reset or a
    # restart of the mock: the official SDK caches a token for ~110 minutes and never drops
    # it on 99991663 (sdk-notes), so a mock that forgot its tokens would fail every call.
    def _sign_token(self, app_id: str, issued_ms: int) -> str:
        secret = self.state.config.lark.token_secret.encode()
        mac = hmac.new(secret, f"{app_id}|{issued_ms}".encode(), hashlib.sha256).hexdigest()
        return f"t-{issued_ms:011x}{mac[:29]}"

    def _token_app(self, token: str) -> LarkApp | None:
        """The app a valid, unexpired token was issued to, or None."""
        try:
            issued_ms = int(token[2:13], 16)
        except ValueError:
            return None
        ttl = self.state.config.lark.token_ttl_seconds
        if issued_ms / 1000 + ttl <= self.state.clock.now():
            return None
        for app in self.state.config.lark.apps:
            if hmac.compare_digest(self._sign_token(app.app_id, issued_ms), token):
                return app
        return None

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
        chat_id = body["receive_id"] if receive_id_type == "chat_id" else self._p2p_chat(
            app.app_id, body["receive_id"])
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

    def _p2p_chat(self, app_id: str, *user_ids: str, new: str | None = None) -> str:
        """The bot's one-to-one chat with a user, by any of their ids: the one known under one
        of them (where their messages came in, or the bot's went), else ``new`` or a new one;
        known under each of them from now on."""
        store = self.state.store
        known = [store.load(LarkChat, lark_chat_key(app_id, user)) for user in user_ids]
        chat_id = next((chat.chat_id for chat in known if chat), None) or new or lark_id("oc")
        for user, chat in zip(user_ids, known, strict=True):
            if chat is None:  # the first worker to claim it wins, should two race
                claimed = store.update(LarkChat, lark_chat_key(app_id, user),
                                       _kept_or(LarkChat(app_id, user, chat_id)))
                assert claimed is not None  # _kept_or never gives None
                chat_id = claimed.chat_id
        return chat_id

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

    # --- events: a user sends the bot an image ------------------------------------------------

    def callback_refused(self, reason: str) -> VendorError:
        return LarkEventsRefused(reason)

    def subscribe_events(self, app: LarkApp, url: str, verification_token: str,
                         encrypt_key: str | None) -> Subscription:
        """Register an app's event request URL the way Lark's console does: it must echo a
        url_verification challenge first, or no event will flow."""
        try:
            check_callback_url(url, self.state.config.callback_allow_hosts)
        except CallbackUrlRefused as exc:
            raise LarkEventsRefused(str(exc)) from exc
        challenge = secrets.token_hex(16)
        request = url_verification_request(verification_token=verification_token,
                                           challenge=challenge)
        body = event_body(encrypt(request, encrypt_key) if encrypt_key else request)
        try:
            answer = httpx.post(url, content=body, headers=signed_headers(body, None),
                                timeout=self.callback_timeout)
        except httpx.HTTPError as exc:
            raise LarkEventsRefused(f"the URL did not answer the challenge: {exc}") from exc
        if answer.status_code != 200 or not challenge_answer_ok(answer.content, challenge):
            raise LarkEventsRefused(f"the URL did not echo the challenge: HTTP "
                                    f"{answer.status_code} {answer.text[:200]!r}")
        subscription = Subscription("lark", app.app_id, url, {
            "verification_token": verification_token, "encrypt_key": encrypt_key})
        self.state.store.save(subscription)
        return subscription

    def configured_subscription(self, app: LarkApp) -> Subscription | None:
        """The app's subscription; one set in the config file is verified on first use."""
        subscription = self.state.store.load(Subscription, f"lark:{app.app_id}")
        if subscription is None and app.event_url:
            subscription = self.subscribe_events(app, app.event_url, app.verification_token,
                                                 app.encrypt_key)
        return subscription

    def callback_request(self, subscription: Subscription, payload: Mapping[str, Any]
                         ) -> tuple[bytes, dict[str, str]]:
        key = subscription.options.get("encrypt_key")
        body = event_body(encrypt(dict(payload), key) if key else dict(payload))
        return body, signed_headers(body, key)

    def accepts(self, subscription: Subscription, payload: Mapping[str, Any]) -> bool:
        return subscription.account == payload["header"]["app_id"]

    def receive_image(self, app: LarkApp, *, data: bytes, sender_open_id: str,
                      chat_type: Literal["p2p", "group"], chat_id: str | None
                      ) -> tuple[LarkMessage, dict[str, Any]]:
        """A user sends the bot a picture: kept as a user-sent resource of a new message,
        and the im.message.receive_v1 event that tells the bot."""
        subscription = self.configured_subscription(app)
        key = f"img_v3_{uuid.uuid4()}g"
        self.state.store.save_many([StoredImage(
            vendor="lark", image_id=key, owner=app.app_id, variants={"original": variant_of(data)},
            origin="received", created_at=self.state.clock.now())], [data])
        if chat_type == "p2p":  # a chat given here is the user's from now on, if none was
            users_chat = self._p2p_chat(app.app_id, sender_open_id, _user_id(sender_open_id),
                                        _union_id(sender_open_id), new=chat_id)
            chat_id = chat_id or users_chat
        now_ms = int(self.state.clock.now() * 1000)
        message = LarkMessage(
            message_id=lark_id("om"), app_id=app.app_id,
            chat_id=chat_id or lark_id("oc"),
            chat_type=chat_type, sender=sender_open_id, image_keys=(key,),
            create_time_ms=now_ms)
        self.state.store.save(message)
        # subscribe_events, the only maker of Lark subscriptions, always keeps a token
        token: str = (subscription.options["verification_token"] if subscription
                      else app.verification_token)
        event = image_message_event(
            app_id=app.app_id, tenant_key=app.tenant_key, verification_token=token,
            message_id=message.message_id, chat_id=message.chat_id, chat_type=chat_type,
            sender_open_id=sender_open_id, sender_user_id=_user_id(sender_open_id),
            sender_union_id=_union_id(sender_open_id),
            image_key=key, create_time_ms=now_ms)
        return message, event


class LarkEventsRefused(VendorError):
    """An event request URL Lark would not accept (no echo of the challenge, or not allowed)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def to_response(self) -> Response:
        return json_response({"error": f"event request URL refused: {self.reason}"}, 400)


def _image_key_in(content: str) -> str | None:
    """``content`` of an image message is a JSON string: ``{"image_key": "img_..."}``."""
    try:
        parsed = json.loads(content)
    except (ValueError, RecursionError):
        return None
    key = parsed.get("image_key") if isinstance(parsed, dict) else None
    return key if isinstance(key, str) and key else None


def _kept_or(new: LarkChat) -> Callable[[LarkChat | None], LarkChat]:
    return lambda current: current or new


def _user_id(open_id: str) -> str:
    return hashlib.sha256(open_id.encode()).hexdigest()[:8]


def _union_id(open_id: str) -> str:
    return "on_" + hashlib.md5(open_id.encode()).hexdigest()


def _log_id() -> str:
    """One log id per request: the error body and the header must agree."""
    if "lark_log_id" not in g:
        g.lark_log_id = new_log_id()
    return g.lark_log_id
