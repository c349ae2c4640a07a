"""Lark image uploads over a real socket: the resolution limit is read from the header, before
any decode, and a damaged image is still refused before it is stored."""

from __future__ import annotations

import struct
import zlib

import httpx
import pytest
from _support import lark_auth

IMAGES = "/open-apis/im/v1/images"


def blank_png(width: int, height: int) -> bytes:
    """A valid black 1-bit PNG of any size in a few KB: rows of zeros compress a thousandfold."""
    row = bytes(1 + (width + 7) // 8)  # filter type 0, then the row's bits
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grey
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


def upload(http: httpx.Client, data: bytes) -> httpx.Response:
    return http.post(IMAGES, headers=lark_auth(http), files={
        "image_type": (None, "message"), "image": ("image.png", data, "image/png")})


@pytest.mark.parametrize(("width", "height"), [(12001, 100), (13000, 7000), (20000, 20000)],
                         ids=["just-over", "over-pillow-warning-limit", "over-pillow-error-limit"])
def test_upload_over_the_resolution_limit_is_234001_naming_its_size(
        http: httpx.Client, width: int, height: int) -> None:
    data = blank_png(width, height)
    assert len(data) < 100 * 1024

    reply = upload(http, data)

    assert reply.status_code == 400
    body = reply.json()
    assert body["code"] == 234001, body
    assert body["error"]["field_violations"][0]["value"] == f"{width}x{height}"


def test_upload_at_the_resolution_limit_is_stored(http: httpx.Client) -> None:
    reply = upload(http, blank_png(12000, 100))

    assert reply.status_code == 200 and reply.json()["code"] == 0, reply.text


@pytest.mark.parametrize("damage", ["pixels-cut-short", "pixel-checksum-wrong"])
def test_upload_of_a_damaged_png_of_legal_size_is_234011(http: httpx.Client, damage: str) -> None:
    png = blank_png(3000, 2000)
    iend = len(png) - 12
    if damage == "pixels-cut-short":  # the header is whole, the pixel data ends early
        data = png[:iend - 40]
    else:  # the last byte of the IDAT chunk's CRC
        data = png[:iend - 1] + bytes([png[iend - 1] ^ 0xFF]) + png[iend:]

    reply = upload(http, data)

    assert reply.status_code == 400
    assert reply.json()["code"] == 234011, reply.text
