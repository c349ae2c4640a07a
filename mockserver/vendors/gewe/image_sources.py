"""Turning an ``imgUrl`` into image bytes without reaching the internet.

The mock never fetches an arbitrary URL. It reads ``data:`` URLs, links it issued itself, and
hosts on the configured allow-list; for any other URL it draws a deterministic placeholder,
sized by a ``WxH`` in the URL when there is one (as in the docs' ``dummyimage.com/400x400``).
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote_to_bytes, urlsplit

import httpx

from ...media import images
from ...runtime.file_links import file_id_from_url, linked_file
from ...runtime.state import MockState

DEFAULT_PLACEHOLDER_SIZE = (400, 400)
FETCH_TIMEOUT_SECONDS = 10.0
_SIZE_IN_URL = re.compile(r"(?<!\d)(\d{1,5})[xX](\d{1,5})(?!\d)")


class ImageSourceError(ValueError):
    """The URL cannot give an image: malformed, unreachable, too large or not found."""


def image_bytes_for_url(state: MockState, url: str, *, own_origin: str) -> bytes:
    """The bytes ``url`` stands for, by the rules above. Not checked to be an image."""
    if url.startswith("data:"):
        return _data_url_bytes(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageSourceError(f"not an http(s) or data: URL: {url[:100]}")
    if _is_own(url, own_origin, state) and (file_id := file_id_from_url(url)):
        return _own_file(state, file_id)
    if parts.hostname in state.config.fetch_allow_hosts:
        return _fetch(url, state.config.max_body_bytes)
    width, height = placeholder_size(url)
    return images.placeholder(width, height, url)


def placeholder_size(url: str) -> tuple[int, int]:
    match = _SIZE_IN_URL.search(urlsplit(url).path) or _SIZE_IN_URL.search(url)
    if not match:
        return DEFAULT_PLACEHOLDER_SIZE
    return int(match.group(1)), int(match.group(2))


def _is_own(url: str, own_origin: str, state: MockState) -> bool:
    origins = {own_origin.rstrip("/"), (state.config.public_url or "").rstrip("/")}
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" in origins


def _own_file(state: MockState, file_id: str) -> bytes:
    link = linked_file(state, file_id)  # (expired or not: the bytes are still here)
    data = state.store.get_blob(link.digest) if link else None
    if data is None:
        raise ImageSourceError(f"no file {file_id} on this mock")
    return data


def _data_url_bytes(url: str) -> bytes:
    header, comma, payload = url.partition(",")
    if not comma:
        raise ImageSourceError("a data: URL needs a comma before its data")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ImageSourceError(f"the data: URL is not valid base64: {exc}") from exc
    return unquote_to_bytes(payload)


def _fetch(url: str, max_bytes: int) -> bytes:
    try:
        with httpx.stream("GET", url, timeout=FETCH_TIMEOUT_SECONDS) as response:
            if response.status_code != 200:
                raise ImageSourceError(f"fetching {url} answered HTTP {response.status_code}")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ImageSourceError(f"{url} is larger than {max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise ImageSourceError(f"fetching {url} failed: {exc}") from exc
