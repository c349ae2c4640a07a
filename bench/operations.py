"""The operations the bench drives, and how to make one request of each.

An operation against the mock first sets up what it needs through the mock's own routes
(a received message, a Lark token and an upload) and then replays one request, unchanged,
for the whole wrk run. Servers without the mock's state (the ceiling, Prism) get a fixed request
of the same shape instead, built from the specs' examples and the fixtures.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent

# The mock's default credentials (mockserver/config.py); the bench strips CHATIMG_* from the
# servers' environment so that these are the ones in force.
GEWE_TOKEN = "gewe-mock-token"
GEWE_APP_ID = "wx_MockDevice00000000001"
WID_AUTHORIZATION = "wid-mock-authorization"
LARK_APP = {"app_id": "cli_mock0000000000a1", "app_secret": "mock-secret-a"}

LARK_IMAGE_BYTES = 100 * 1024


class SetupError(RuntimeError):
    """The server refused a setup call; the message holds its reply."""


@dataclass(frozen=True)
class BenchRequest:
    """One HTTP request, replayed as is by wrk (and by the profiler's test client)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def raw(self, host: str) -> bytes:
        """The bytes on the wire: what bench/lua/replay.lua sends."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(frozen=True)
class Operation:
    name: str
    spec: str  # the spec file that defines it (specs/<spec>.yaml): what Prism is started with
    # A 2xx body must contain this to count as a success. GeWe and wid refuse with HTTP 200 and
    # an error envelope, so the status alone says nothing; None: any 2xx is a success.
    success_marker: str | None
    prepare: Callable[[httpx.Client], BenchRequest]  # setup on a stateful server, then the request
    fixed: Callable[[], BenchRequest]  # the same request without setup, for stateless servers


def _json_post(path: str, payload: dict, headers: dict[str, str]) -> BenchRequest:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return BenchRequest("POST", path, {**headers, "Content-Type": "application/json"}, body)


def _checked(reply: httpx.Response, what: str) -> dict:
    if not reply.is_success:
        raise SetupError(f"{what} answered {reply.status_code}: {reply.text[:300]}")
    return reply.json()


def _fixture_text(relative: str) -> str:
    return (REPO / "fixtures" / relative).read_text(encoding="utf-8")


# --- GeWe ---------------------------------------------------------------------------------

_GEWE_HEADERS = {"X-GEWE-TOKEN": GEWE_TOKEN}


def _post_image() -> BenchRequest:
    return _json_post("/gewe/v2/api/message/postImage",
                      {"appId": GEWE_APP_ID, "toWxid": "34757816141@chatroom",
                       "imgUrl": "http://dummyimage.com/400x400"}, _GEWE_HEADERS)


def _download_image(xml: str) -> BenchRequest:
    return _json_post("/gewe/v2/api/message/downloadImage",
                      {"appId": GEWE_APP_ID, "type": 2, "xml": xml}, _GEWE_HEADERS)


def _prepare_download_image(client: httpx.Client) -> BenchRequest:
    message = _checked(client.post("/__admin/gewe/messages", json={"fromUser": "wxid_bench"}),
                       "POST /__admin/gewe/messages")
    return _download_image(message["xml"])


# --- wid ----------------------------------------------------------------------------------

def _get_msg_img(message: dict) -> BenchRequest:
    body = {key: message[key] for key in ("msgId", "fromUser", "toUser", "content")}
    return _json_post("/getMsgImg", {"wId": message["account"], **body},
                      {"Authorization": WID_AUTHORIZATION})


def _prepare_get_msg_img(client: httpx.Client) -> BenchRequest:
    return _get_msg_img(_checked(client.post("/__admin/wid/messages",
                                             json={"fromUser": "wxid_bench"}),
                                 "POST /__admin/wid/messages"))


def _fixed_get_msg_img() -> BenchRequest:
    # The request example of specs/wid.yaml, whose content is fixtures/callbacks/wid-image.xml.
    return _get_msg_img({"account": "00000171-0504-4e11-0005-89183b61f7e4",
                         "msgId": 1114390854, "fromUser": "wxid_i6qsbbjenjuj22",
                         "toUser": "wxid_wl9qchkanp9u22",
                         "content": _fixture_text("callbacks/wid-image.xml")})


# --- Lark ---------------------------------------------------------------------------------

def noise_png(size: int = LARK_IMAGE_BYTES, seed: int = 6) -> bytes:
    """A PNG of random pixels of about ``size`` bytes (noise does not compress)."""
    from PIL import Image

    side = int((size / 3) ** 0.5)
    pixels = random.Random(seed).randbytes(side * side * 3)
    out = BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, format="PNG")
    return out.getvalue()


def _get_lark_image(token: str, key: str) -> BenchRequest:
    return BenchRequest("GET", f"/open-apis/im/v1/images/{key}",
                        {"Authorization": f"Bearer {token}"})


def _prepare_lark_download(client: httpx.Client) -> BenchRequest:
    token = _checked(client.post("/open-apis/auth/v3/tenant_access_token/internal", json=LARK_APP),
                     "POST tenant_access_token")["tenant_access_token"]
    upload = _checked(client.post("/open-apis/im/v1/images",
                                  headers={"Authorization": f"Bearer {token}"},
                                  data={"image_type": "message"},
                                  files={"image": ("bench.png", noise_png(), "image/png")}),
                      "POST /open-apis/im/v1/images")
    if upload.get("code") != 0:
        raise SetupError(f"upload refused: {json.dumps(upload, ensure_ascii=False)[:300]}")
    return _get_lark_image(token, upload["data"]["image_key"])


OPERATIONS: dict[str, Operation] = {op.name: op for op in [
    Operation("postImage", "gewe", '"ret":200', lambda client: _post_image(), _post_image),
    Operation("downloadImage", "gewe", '"ret":200', _prepare_download_image,
              lambda: _download_image(_fixture_text("callbacks/gewe-image.xml"))),
    Operation("getMsgImg", "wid", '"code":"1000"', _prepare_get_msg_img, _fixed_get_msg_img),
    Operation("lark-download", "lark", None, _prepare_lark_download,
              lambda: _get_lark_image("t-bench-fixed-token", "img_v3_bench_fixed")),
]}
