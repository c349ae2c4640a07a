"""Reading Lark's replies: errors, rate limits, token grants, image bytes.

Errors are JSON ``{code, msg, error: {log_id, ...}}``, usually with a 4xx status; an image
download's success is the bytes themselves (vendor notes 3.1, 3.2), told from anything else in
the way (an empty body, a proxy's HTML page) by their first bytes. The token endpoint refuses
with HTTP 200 (3.6).
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from ._errors import LarkCode, LarkError, LarkRateLimited, LarkTokenError, ProtocolError
from ._http import Sink, json_object

LOG_ID_HEADER = "X-Tt-Logid"
RESET_HEADER = "x-ogw-ratelimit-reset"  # seconds until the window resets (frequency-control doc)

# The formats Lark takes (image-upload document) by their signatures. WEBP is a RIFF file of
# form WEBP; HEIC, HEIF and AVIF are ISO-BMFF files whose "ftyp" box names one of these brands.
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM",
                    b"\x00\x00\x01\x00", b"II*\x00", b"MM\x00*")
HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
                         b"mif1", b"msf1", b"avif", b"avis"})
KEPT_BYTES = 500  # of a body that is not an image, as much as ProtocolError.body keeps

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


def is_image(head: bytes | bytearray) -> bool:
    """Whether a body starting with ``head`` is an image of a format Lark takes."""
    return (head.startswith(IMAGE_SIGNATURES)
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
            or (head[4:8] == b"ftyp" and bytes(head[8:12]) in HEIF_BRANDS))


class ImageSink:
    """Passes a download's body on to ``sink`` once its first bytes show an image; a body that
    is not one reaches the sink not at all, only its size and first bytes are kept."""

    def __init__(self, sink: Sink):
        self._sink = sink
        self._head = bytearray()
        self._passing = False
        self._size = 0

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._passing:
            self._sink.write(chunk)
            return
        self._head += chunk
        if is_image(self._head):
            self._passing = True
            self._sink.write(bytes(self._head))
        else:
            del self._head[KEPT_BYTES:]

    def finish(self, response: httpx.Response) -> None:
        """Raise ProtocolError unless the body was an image. A body that was read rather than
        streamed here (a JSON success) is taken from ``response``."""
        if not is_payload(response):
            self.write(response.content)
        if self._passing:
            return
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        what = ("an empty body" if self._size == 0 else
                f"{self._size} bytes of {content_type or 'no stated type'}, not an image")
        raise ProtocolError(f"Lark answered an image download with {what}",
                            http_status=response.status_code,
                            body=self._head.decode("utf-8", "replace"))
