"""Download links the mock hands out, and the route that serves them.

GeWe's fileUrl and the wid API's image URL point at object storage; here they point back at
the mock, which serves the stored bytes until the link expires (by the mock's clock). Failures
answer as S3-style object storage does: XML with a status.
"""

from __future__ import annotations

import secrets

from flask import Response

from .records import FileLink, Variant
from .state import MockState

FILES_PREFIX = "/__files/"


def issue_file_url(state: MockState, variant: Variant, *, base_url: str,
                   ttl_seconds: float | None) -> str:
    extension = variant.content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
    file_id = f"{secrets.token_hex(16)}.{extension}"
    expires_at = None if ttl_seconds is None else state.clock.now() + ttl_seconds
    state.store.save(FileLink(file_id=file_id, digest=variant.digest,
                              content_type=variant.content_type, filename=file_id,
                              expires_at=expires_at))
    query = "" if expires_at is None else f"?Expires={int(expires_at)}"
    return f"{base_url}{FILES_PREFIX}{file_id}{query}"


def file_response(state: MockState, file_id: str) -> Response:
    link = state.store.load(FileLink, file_id)
    data = state.store.get_blob(link.digest) if link else None
    if link is None or data is None:
        return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
    if link.expires_at is not None and state.clock.now() >= link.expires_at:
        return _storage_error(403, "AccessDenied", "Request has expired")
    return Response(data, 200, content_type=link.content_type,
                    headers={"Content-Disposition": f'inline; filename="{link.filename}"'})


def file_id_from_url(url: str) -> str | None:
    """The file id of a link this mock issued (any host), or None."""
    path = url.split("?", 1)[0]
    marker = path.find(FILES_PREFIX)
    return path[marker + len(FILES_PREFIX):] if marker >= 0 else None


def _storage_error(status: int, code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>")
    return Response(body, status, content_type="application/xml")
