"""Stateful contracts: calls in any order and number, against a model of what the server holds.

One ``RuleBasedStateMachine`` per vendor. Invariants: what comes back is byte-for-byte what was
stored; md5 and sizes in replies agree with the bytes; deleted or foreign Lark images fail with
their codes; nothing stored is ever lost. A machine reasons only about the images and messages
it made itself, so it runs beside whatever the server already holds.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, precondition, rule
from PIL import Image

import chatimg
from mockserver.data_files import fixture_image

from .target import Target

FIXTURES = ("square.png", "transparent.png", "photo.webp", "tiny.gif", "landscape.jpg")
GEWE = "/gewe/v2/api/message"
NORMAL_MAX_SIDE, THUMB_MAX_SIDE = 1080, 120


class StateLost(AssertionError):
    """The server lost or changed something it had accepted."""


def start_clean(target: Target) -> None:
    """Each run of a machine starts from an empty server where the kit may reset it, so that
    hypothesis replays and shrinks a failure against the same state every time."""
    if target.simulates_users and target.may_reset:
        target.admin("POST", "/__admin/reset")


def _size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def _fetch(target: Target, url: str) -> bytes:
    reply = target.client.get(url)
    if reply.status_code != 200:
        raise StateLost(f"{url} answered HTTP {reply.status_code}: {reply.content[:200]!r}")
    return reply.content


@dataclass(frozen=True)
class SentImage:
    data: bytes
    xml: str
    file_id: str


@dataclass(frozen=True)
class ReceivedImage:
    data: bytes
    xml: str
    hd: bool


def gewe_machine(target: Target) -> type[RuleBasedStateMachine]:
    creds = target.credentials
    headers = {"X-GEWE-TOKEN": creds.gewe_token}

    class GeweImages(RuleBasedStateMachine):
        sent = Bundle("sent")
        received = Bundle("received")

        def __init__(self) -> None:
            super().__init__()
            start_clean(target)
            self.held: list[SentImage | ReceivedImage] = []

        def _call(self, operation: str, body: dict) -> dict:
            reply = target.client.post(f"{GEWE}/{operation}", json={"appId": creds.gewe_app_id,
                                                                     **body}, headers=headers)
            assert reply.status_code == 200, reply.text
            return reply.json()

        def _download(self, xml: str, image_type: int) -> bytes | None:
            reply = self._call("downloadImage", {"xml": xml, "type": image_type})
            if reply["ret"] != 200:
                return None
            return _fetch(target, reply["data"]["fileUrl"])

        @rule(target=sent, name=st.sampled_from(FIXTURES))
        def post_image(self, name: str) -> SentImage:
            data = fixture_image(name)
            url = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
            reply = self._call("postImage", {"toWxid": "wxid_model", "imgUrl": url})
            assert reply["ret"] == 200, reply
            info = reply["data"]
            assert info["md5"] == hashlib.md5(data).hexdigest()
            assert info["length"] == len(data)
            assert (info["width"], info["height"]) == _size(data)
            xml = chatimg.SentImage.from_data(info).forward_xml()
            image = SentImage(data, xml, info["fileId"])
            self.held.append(image)
            return image

        @precondition(lambda self: target.simulates_users)
        @rule(target=received, name=st.sampled_from(FIXTURES), hd=st.booleans(),
              group=st.booleans())
        def receive_image(self, name: str, hd: bool, group: bool) -> ReceivedImage:
            body = {"fromUser": "wxid_model_user", "account": creds.gewe_app_id, "fixture": name,
                    "hd": hd, **({"chatroom": "10001@chatroom"} if group else {})}
            message = target.admin("POST", "/__admin/gewe/messages", json=body).json()
            image = ReceivedImage(fixture_image(name), message["content"], hd)
            self.held.append(image)
            return image

        @rule(image=sent)
        def download_sent_image(self, image: SentImage) -> None:
            if self._download(image.xml, 2) != image.data:
                raise StateLost("downloadImage type 2 of a sent image is not the posted bytes")

        @rule(image=sent)
        def forward_sent_image(self, image: SentImage) -> None:
            reply = self._call("forwardImage", {"toWxid": "wxid_other", "xml": image.xml})
            assert reply["ret"] == 200, reply
            assert reply["data"]["fileId"] == image.file_id
            assert reply["data"]["md5"] == hashlib.md5(image.data).hexdigest()

        @rule(image=received, image_type=st.sampled_from([1, 2, 3]))
        def download_received_image(self, image: ReceivedImage, image_type: int) -> None:
            data = self._download(image.xml, image_type)
            if image_type == 1:
                assert (data is not None) == image.hd, "HD download must work iff HD exists"
                assert data is None or data == image.data, "the HD copy is the original"
                return
            if data is None:
                raise StateLost(f"type {image_type} of a received image cannot be downloaded")
            limit = NORMAL_MAX_SIDE if image_type == 2 else THUMB_MAX_SIDE
            assert max(_size(data)) <= limit or data == image.data
            if image_type == 2:
                assert f'md5="{hashlib.md5(data).hexdigest()}"' in image.xml

        @rule()
        def nothing_is_lost(self) -> None:
            for image in self.held:
                if self._download(image.xml, 2) is None:
                    raise StateLost(f"an image the server accepted is gone: {image.xml[:120]}")

    return GeweImages


def wid_machine(target: Target) -> type[RuleBasedStateMachine]:
    creds = target.credentials

    class WidImages(RuleBasedStateMachine):
        received = Bundle("received")

        def __init__(self) -> None:
            super().__init__()
            start_clean(target)

        @rule(target=received, name=st.sampled_from(FIXTURES), hd=st.booleans())
        def receive_image(self, name: str, hd: bool) -> tuple[dict, bytes, bool]:
            message = target.admin("POST", "/__admin/wid/messages", json={
                "fromUser": "wxid_model_user", "account": creds.wid_id, "fixture": name,
                "hd": hd}).json()
            return message, fixture_image(name), hd

        @rule(item=received, hd_wanted=st.booleans())
        def get_msg_img(self, item: tuple[dict, bytes, bool], hd_wanted: bool) -> None:
            message, original, hd = item
            reply = target.client.post("/getMsgImg", headers={
                "Authorization": creds.wid_authorization}, json={
                "wId": creds.wid_id, "msgId": message["msgId"], "fromUser": message["fromUser"],
                "toUser": message["toUser"], "content": message["content"],
                "type": 1 if hd_wanted else 0}).json()
            if hd_wanted and not hd:
                assert reply["code"] == "1001", reply
                return
            if reply["code"] != "1000":
                raise StateLost(f"getMsgImg of a received image failed: {reply}")
            url = reply["data"]["url"] if isinstance(reply["data"], dict) else reply["data"]
            data = _fetch(target, url)
            assert data == original if hd_wanted else max(_size(data)) <= NORMAL_MAX_SIDE

    return WidImages


def within_rate_limit(send: Callable[[], httpx.Response], attempts: int = 5) -> httpx.Response:
    """Lark allows 50 calls a second per app: wait out a 429 as its document says, bounded."""
    for _ in range(attempts - 1):
        reply = send()
        if reply.status_code != 429:
            return reply
        time.sleep(min(float(reply.headers.get("x-ogw-ratelimit-reset", 1)), 5.0))
    return send()


@dataclass(frozen=True)
class Upload:
    key: str
    data: bytes
    app: int
    image_type: str


def lark_machine(target: Target, apps: list[tuple[str, str]]) -> type[RuleBasedStateMachine]:
    """``apps``: (app_id, app_secret) of two apps of one tenant, to check 234008."""
    tokens: dict[int, str] = {}

    def token(app: int) -> str:
        if app not in tokens:
            app_id, secret = apps[app]
            tokens[app] = target.client.post("/open-apis/auth/v3/tenant_access_token/internal",
                                             json={"app_id": app_id, "app_secret": secret}
                                             ).json()["tenant_access_token"]
        return tokens[app]

    def get(key: str, app: int) -> httpx.Response:
        return within_rate_limit(lambda: target.client.get(
            f"/open-apis/im/v1/images/{key}", headers={"Authorization": f"Bearer {token(app)}"}))

    class LarkImages(RuleBasedStateMachine):
        uploads = Bundle("uploads")

        def __init__(self) -> None:
            super().__init__()
            start_clean(target)
            tokens.clear()
            self.deleted: set[str] = set()
            self.stored: list[Upload] = []

        @rule(target=uploads, name=st.sampled_from(FIXTURES[:4]),
              app=st.sampled_from(range(len(apps))),
              image_type=st.sampled_from(["message", "message", "avatar"]))
        def upload(self, name: str, app: int, image_type: str) -> Upload:
            data = fixture_image(name)
            reply = within_rate_limit(lambda: target.client.post(
                "/open-apis/im/v1/images", data={"image_type": image_type},
                files={"image": (name, data)},
                headers={"Authorization": f"Bearer {token(app)}"}))
            assert reply.status_code == 200, reply.text
            upload = Upload(reply.json()["data"]["image_key"], data, app, image_type)
            self.stored.append(upload)
            return upload

        @rule(upload=uploads)
        def download_own(self, upload: Upload) -> None:
            reply = get(upload.key, upload.app)
            if upload.key in self.deleted:
                assert reply.json()["code"] == 234005, reply.text
            elif upload.image_type == "avatar":
                assert reply.status_code == 400 and reply.json()["code"] == 234001, reply.text
            elif reply.status_code != 200 or reply.content != upload.data:
                raise StateLost(f"{upload.key} came back as HTTP {reply.status_code} "
                                f"{reply.content[:120]!r}, not the uploaded bytes")

        @precondition(lambda self: len(apps) > 1)
        @rule(upload=uploads)
        def download_foreign(self, upload: Upload) -> None:
            reply = get(upload.key, (upload.app + 1) % len(apps))
            expected = 234005 if upload.key in self.deleted else 234008
            assert reply.json()["code"] == expected, reply.text

        @precondition(lambda self: target.simulates_users)
        @rule(upload=uploads)
        def delete(self, upload: Upload) -> None:
            target.admin("DELETE", f"/__admin/lark/images/{upload.key}")
            self.deleted.add(upload.key)

        @rule()
        def nothing_is_lost(self) -> None:
            for upload in self.stored:
                if upload.key in self.deleted or upload.image_type != "message":
                    continue
                if get(upload.key, upload.app).content != upload.data:
                    raise StateLost(f"uploaded image {upload.key} is gone or changed")

    return LarkImages
