"""Reading Lark's replies: errors, rate limits, token grants.

Errors are JSON ``{code, msg, error: {log_id, ...}}``, usually with a 4xx status; an image
download's success is the bytes themselves (vendor notes 3.1, 3.2). The token endpoint refuses
with HTTP 200 (3.6).
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from ._errors import LarkCode, LarkError, LarkRateLimited, LarkTokenError, ProtocolError
from ._http import json_object

LOG_ID_HEADER = "X-Tt-Logid"
RESET_HEADER = "x-ogw-ratelimit-reset"  # seconds until the window resets (frequency-control doc)

# The Go SDK re-sends once with a fresh token on these; 99991661 (no token) is added because a
# cache that lost its token is fixed the same way (vendor notes 3.7).
TOKEN_REJECTED = frozenset({LarkCode.MISSING_ACCESS_TOKEN, LarkCode.INVALID_TENANT_TOKEN,
                            LarkCode.INVALID_APP_TOKEN, LarkCode.INVALID_ACCESS_TOKEN})


def is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.lower().startswith("application/json")


def is_payload(response: httpx.Response) -> bool:
    """A download's bytes: a 2xx that is not a JSON envelope."""
    return response.is_success and not is_json(response)


def error_of(response: httpx.Response) -> LarkError | None:
    """The refusal in ``response``, or None when it succeeded."""
    if is_payload(response):
        return None
    payload = json_object(response, "Lark")
    code = _code_of(payload, response)
    if code == 0 and response.is_success:
        return None
    if code == 0:
        raise ProtocolError("Lark reply has code 0 on a failed status",
                            http_status=response.status_code, body=response.text)
    error = payload.get("error")
    return LarkError.for_code(code, str(payload.get("msg", "")), log_id_of(response, payload),
                              response.status_code,
                              detail=error if isinstance(error, dict) else None)


def is_token_rejected(response: httpx.Response) -> bool:
    error = error_of(response)
    return error is not None and error.code in TOKEN_REJECTED


def is_rate_limited(response: httpx.Response) -> bool:
    """HTTP 429, or code 99991400 (older APIs answer it with HTTP 400, frequency-control doc)."""
    if response.status_code == 429:
        return True
    if not is_json(response):
        return False
    try:
        return json_object(response, "Lark").get("code") == LarkCode.RATE_LIMITED
    except ProtocolError:
        return False


def retry_after(response: httpx.Response) -> float | None:
    """The wait ``x-ogw-ratelimit-reset`` asks for, or None when absent or unreadable."""
    try:
        seconds = float(response.headers.get(RESET_HEADER, ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def rate_limited_error(response: httpx.Response, *, attempts: int,
                       waited: float) -> LarkRateLimited:
    payload: dict[str, Any] = {}
    if is_json(response):
        try:
            payload = json_object(response, "Lark")
        except ProtocolError:
            pass
    code = payload.get("code")
    error = LarkRateLimited(code if isinstance(code, int) else LarkCode.RATE_LIMITED,
                            str(payload.get("msg") or f"HTTP {response.status_code}"),
                            log_id_of(response, payload), response.status_code)
    error.attempts, error.waited, error.retry_after = attempts, waited, retry_after(response)
    return error


def token_grant(response: httpx.Response) -> tuple[str, float]:
    """``(tenant_access_token, expire seconds)`` of a token reply, or its refusal raised."""
    payload = json_object(response, "Lark token")
    code = _code_of(payload, response)
    if code != 0:
        raise LarkTokenError(code, str(payload.get("msg", "")), log_id_of(response, payload),
                             response.status_code)
    token, expire = payload.get("tenant_access_token"), payload.get("expire")
    if not isinstance(token, str) or not token:
        raise ProtocolError("Lark token reply has no tenant_access_token", body=response.text)
    if not (token.isascii() and token.isprintable()) or " " in token:
        # it goes into an Authorization header, which only takes visible ASCII
        raise ProtocolError("Lark token reply's tenant_access_token is not a header value",
                            body=response.text)
    if not isinstance(expire, int | float) or isinstance(expire, bool) or expire < 0:
        raise ProtocolError("Lark token reply has no numeric expire", body=response.text)
    return token, float(expire)


def image_key_of(response: httpx.Response) -> str:
    payload = json_object(response, "Lark")
    data = payload.get("data")
    key = data.get("image_key") if isinstance(data, dict) else None
    if not isinstance(key, str) or not key:
        raise ProtocolError("Lark upload reply has no data.image_key", body=response.text)
    return key


def log_id_of(response: httpx.Response, payload: dict[str, Any]) -> str | None:
    """The header the SDKs read, else the body's ``error.log_id``."""
    header: str | None = response.headers.get(LOG_ID_HEADER)
    if header:
        return header
    error = payload.get("error")
    log_id = error.get("log_id") if isinstance(error, dict) else None
    return str(log_id) if isinstance(log_id, str) else None


def _code_of(payload: dict[str, Any], response: httpx.Response) -> int:
    code = payload.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise ProtocolError("Lark reply has no integer code", http_status=response.status_code,
                            body=response.text)
    return code
