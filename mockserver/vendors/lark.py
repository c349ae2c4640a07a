"""Lark / Feishu: tenant token, image upload, image download.

Errors are JSON ``{code, msg, error: {log_id, troubleshooter}}`` with a 4xx status and the
``X-Tt-Logid`` header in that exact capitalisation, which is all the official SDK can read
(sdk-notes). Token refusals are the exception: HTTP 200, as the real endpoint answers.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Request, Response, g

from .. import images, rate_limits
from ..config import LarkApp
from ..errors import RequestProblem, VendorError
from ..rate_limits import Window
from ..records import AccessToken, StoredImage, image_key
from ..specs import Operation
from ..wechat_cdn import store_variant
from . import Call, Handler, VendorApi, json_response

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
    234041: (400, "Tenant master key has been deleted, please contact the tenant administrator."),
    234042: (400, "Hybrid deployment tenant storage error, such as full storage space, "
                  "please contact tenant administrator."),
    99991661: (400, "Missing access token for authorization. "
                    "Please make a request with token attached."),
    99991663: (400, "Invalid access token for authorization. "
                    "Please make a request with token attached"),
    99991400: (429, "request trigger frequency limit"),
}
TOKEN_OPERATION = "getTenantAccessToken"
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
                "getImage": self.get_image}

    def error(self, code: int, *, field_violations: list[dict[str, str]] | None = None) -> LarkError:
        status, msg = ERRORS[code]
        override = self.state.config.lark.error_overrides.get(code)
        if override is not None:
            status, msg = override.status or status, override.msg or msg
        return LarkError(status, code, msg, _log_id(), field_violations or [])

    def finish(self, response: Response) -> Response:
        response.headers[LOG_ID_HEADER] = _log_id()
        return response

    credential_header = "Authorization"

    def error_names(self, operation: Operation) -> tuple[str, ...]:
        if operation.operation_id == TOKEN_OPERATION:
            return tuple(str(code) for code in TOKEN_REFUSALS)
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
            return TokenRefusal(10003, TOKEN_REFUSALS[10003])
        if operation is None:
            return LarkError(404, 404, "404 page not found", _log_id())
        if problem.reason == "too_large":
            return self.error(234006)
        violation = {"field": problem.field or problem.location, "description": problem.detail}
        return self.error(234001, field_violations=[violation])

    def _app(self, app_id: str) -> LarkApp | None:
        return next((a for a in self.state.config.lark.apps if a.app_id == app_id), None)

    def _check_tenant(self, app: LarkApp) -> LarkApp:
        if not app.bot_enabled:
            raise self.error(234007)
        if app.tenant_master_key_deleted:
            raise self.error(234041)
        if app.tenant_storage_error:
            raise self.error(234042)
        return app

    def get_tenant_access_token(self, call: Call) -> Response:
        app = self._app(call.body["app_id"])
        if app is None:
            raise TokenRefusal(10014, TOKEN_REFUSALS[10014])
        if app.app_secret != call.body["app_secret"]:
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
            info = images.probe(data)
            if info.format in STORED_AS_JPEG:
                data = images.to_jpeg(data)
        except images.NotAnImage as exc:
            raise self.error(234011) from exc
        limit = AVATAR_MAX_SIDE if image_type == "avatar" else MAX_SIDE.get(info.format,
                                                                            DEFAULT_MAX_SIDE)
        if max(info.width, info.height) > limit:
            raise self.error(234001, field_violations=[{
                "field": "image", "value": f"{info.width}x{info.height}",
                "description": f"a {image_type} {info.format} image may be at most "
                               f"{limit}x{limit}"}])
        key = f"img_v3_{uuid.uuid4()}g"
        self.state.store.save(StoredImage(
            vendor="lark", image_id=key, owner=app.app_id,
            variants={"original": store_variant(self.state, data)},
            image_type=image_type, origin="sent", created_at=self.state.clock.now()))
        return json_response({"code": 0, "msg": "success", "data": {"image_key": key}})

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
        original = image.variants["original"]
        data = self.state.store.get_blob(original.digest)
        if data is None:
            raise self.error(234042)
        extension = original.content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
        return Response(data, 200, content_type=original.content_type, headers={
            "Content-Disposition": f'attachment; filename="{key}.{extension}"'})


def _log_id() -> str:
    """One log id per request: the error body and the header must agree."""
    if "lark_log_id" not in g:
        g.lark_log_id = new_log_id()
    return g.lark_log_id
