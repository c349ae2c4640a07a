"""Download links the mock hands out, and the route that serves them.

GeWe's fileUrl and the wid API's image URL point at object storage; here they point back at
the mock, which serves the stored bytes until the link expires (by the mock's clock). Failures
answer as S3-style object storage does: XML with a status.

A link is signed, as a presigned object-storage URL is: it names the blob, its type and its
expiry, with an HMAC under a key kept in the store. Handing one out writes nothing, and any
worker can check it. A reset makes a new key, so links issued before it no longer open.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from typing import NamedTuple

from flask import Response

from ..storage.records import Setting, Variant
from .state import MockState

FILES_PREFIX = "/__files/"
SIGNING_KEY = "file_link_key"  # the Setting holding the key, hex
_NEVER = "never"
# <sha256 of the blob>-<expiry in ms of the mock's clock, or never>-<signature>.<extension>
_FILE_ID = re.compile(
    rf"([0-9a-f]{{64}})-(-?\d{{1,20}}|{_NEVER})-([0-9a-f]{{32}})\.([a-z0-9.+-]{{1,32}})")


class FileLink(NamedTuple):
    """What a link this mock signed names."""

    digest: str
    expires_ms: int | None  # None: never
    extension: str

    @property
    def content_type(self) -> str:
        if self.extension == "octet-stream":
            return "application/octet-stream"
        return "image/" + ("jpeg" if self.extension == "jpg" else self.extension)


def issue_file_url(state: MockState, variant: Variant, *, base_url: str,
                   ttl_seconds: float | None) -> str:
    extension = variant.content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
    expires_at = None if ttl_seconds is None else state.clock.now() + ttl_seconds
    link = FileLink(variant.digest,
                    None if expires_at is None else math.ceil(expires_at * 1000), extension)
    query = "" if expires_at is None else f"?Expires={int(expires_at)}"
    return f"{base_url}{FILES_PREFIX}{_file_id(_signing_key(state), link)}{query}"


def linked_file(state: MockState, file_id: str) -> FileLink | None:
    """What ``file_id`` names, if this mock signed it (expired or not)."""
    match = _FILE_ID.fullmatch(file_id)
    key = _existing_key(state) if match else None
    if match is None or key is None:  # (no key: no link issued since the last reset)
        return None
    expires = match[2]
    link = FileLink(match[1], None if expires == _NEVER else int(expires), match[4])
    return link if hmac.compare_digest(_file_id(key, link), file_id) else None


def file_response(state: MockState, file_id: str) -> Response:
    link = linked_file(state, file_id)
    data = state.store.get_blob(link.digest) if link else None
    if link is None or data is None:
        return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
    if link.expires_ms is not None and state.clock.now() * 1000 >= link.expires_ms:
        return _storage_error(403, "AccessDenied", "Request has expired")
    return Response(data, 200, content_type=link.content_type,
                    headers={"Content-Disposition": f'inline; filename="{file_id}"'})


def file_id_from_url(url: str) -> str | None:
    """The file id of a link this mock issued (any host), or None."""
    path = url.split("?", 1)[0]
    marker = path.find(FILES_PREFIX)
    return path[marker + len(FILES_PREFIX):] if marker >= 0 else None


def _file_id(key: bytes, link: FileLink) -> str:
    named = f"{link.digest}-{_NEVER if link.expires_ms is None else link.expires_ms}"
    signature = hmac.new(key, f"{named}.{link.extension}".encode(),
                         hashlib.sha256).hexdigest()[:32]
    return f"{named}-{signature}.{link.extension}"


def _signing_key(state: MockState) -> bytes:
    """The key links are signed with, made by the first worker to need one."""
    key = _existing_key(state)
    if key is None:
        made = state.store.update(Setting, SIGNING_KEY, _new_key)
        assert made is not None  # _new_key never gives None
        key = bytes.fromhex(made.value)
    return key


def _existing_key(state: MockState) -> bytes | None:
    """The signing key, or None: no link was issued since the last reset (checking one
    writes nothing)."""
    setting = state.store.load(Setting, SIGNING_KEY)
    return None if setting is None else bytes.fromhex(setting.value)


def _new_key(current: Setting | None) -> Setting:
    return current or Setting(SIGNING_KEY, secrets.token_hex(32))


def _storage_error(status: int, code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>")
    return Response(body, status, content_type="application/xml")
