"""The server under test: a base URL, the credentials it accepts, and what it already holds."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import httpx

from chatimg import ChatImageError, SentImage
from mockserver import MockConfig
from mockserver.admin.routes import ADMIN_TOKEN_HEADER
from mockserver.data_files import fixture_image


@dataclass(frozen=True)
class Credentials:
    gewe_token: str
    gewe_app_id: str
    wid_authorization: str
    wid_id: str
    lark_app_id: str
    lark_app_secret: str
    admin_token: str | None = None

    @classmethod
    def from_config(cls, config: MockConfig) -> Credentials:
        """The mock's defaults, or a real account's values set in ``CHATIMG_*`` variables."""
        app = config.lark.apps[0]
        return cls(gewe_token=config.gewe.tokens[0], gewe_app_id=config.gewe.devices[0].app_id,
                   wid_authorization=config.wid.authorizations[0],
                   wid_id=config.wid.instances[0].w_id, lark_app_id=app.app_id,
                   lark_app_secret=app.app_secret, admin_token=config.admin_token)


@dataclass
class Target:
    """A server the contract is held against: the in-repo mock, or any base URL.

    ``simulates_users`` says whether the server has the mock's admin routes, so tests can make
    a user send the bot an image; a real service has not, and those checks are skipped.
    ``may_reset`` lets the stateful checks wipe the server first: only for a server the kit
    started, or one whose owner allowed it, since the reset forgets every stored image.
    """

    base_url: str
    credentials: Credentials
    simulates_users: bool = True
    may_reset: bool = False
    timeout: float = 30.0
    _client: httpx.Client | None = field(default=None, repr=False)
    _lark_token: str | None = field(default=None, repr=False)
    _known: dict[str, list[Any]] | None = field(default=None, repr=False)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def send(self, request: httpx.Request) -> httpx.Response:
        return self.client.send(request)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call one of the mock's ``/__admin`` routes, with the admin token when one is set."""
        token = self.credentials.admin_token
        headers = {ADMIN_TOKEN_HEADER: token} if token else None
        return self.client.request(method, path, headers=headers, **kwargs)

    def why_no_user_simulation(self) -> str | None:
        """Why the server cannot play users (it lacks the mock's admin routes), or None if it can.

        Raises ``httpx.HTTPError`` when nothing answers at all.
        """
        probe = "GET /__admin/credentials"
        reply = self.admin("GET", "/__admin/credentials")
        if reply.status_code == 401:
            return f"{probe} answered HTTP 401: give its admin token in CHATIMG_ADMIN_TOKEN"
        if reply.status_code != 200:
            return f"{probe} answered HTTP {reply.status_code}"
        try:
            body = reply.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not {"gewe", "wid", "lark"} <= body.keys():
            return f"{probe} answered {reply.text[:60]!r}, not the mock's credentials"
        return None

    def lark_token(self, refresh: bool = False) -> str:
        if self._lark_token is None or refresh:
            reply = self.client.post("/open-apis/auth/v3/tenant_access_token/internal", json={
                "app_id": self.credentials.lark_app_id,
                "app_secret": self.credentials.lark_app_secret}).json()
            self._lark_token = reply.get("tenant_access_token", "t-none")
        return self._lark_token

    def known_values(self) -> dict[str, list[Any]]:
        """Values the server accepts, by request field name, so generated requests also reach
        success paths: credentials, a real image, and XML of images the server holds."""
        if self._known is None:
            self._known = self._prepare()
        return self._known

    def _prepare(self) -> dict[str, list[Any]]:
        creds = self.credentials
        png = fixture_image("square.png")
        data_url = "data:image/png;base64," + base64.b64encode(png).decode()
        known: dict[str, list[Any]] = {
            "appId": [creds.gewe_app_id], "wId": [creds.wid_id],
            "app_id": [creds.lark_app_id], "app_secret": [creds.lark_app_secret],
            "imgUrl": [data_url, "http://dummyimage.com/64x48"], "image": [png],
            "image_type": ["message"],
        }
        sent = self.client.post("/gewe/v2/api/message/postImage", json={
            "appId": creds.gewe_app_id, "toWxid": "wxid_contract", "imgUrl": data_url},
            headers={"X-GEWE-TOKEN": creds.gewe_token}).json()
        try:  # a broken server's reply gives no XML, and the contract will say why
            known["xml"] = [SentImage.from_data(sent.get("data")).forward_xml()]
        except ChatImageError:
            pass
        upload = self.client.post("/open-apis/im/v1/images", data={"image_type": "message"},
                                  files={"image": ("contract.png", png, "image/png")},
                                  headers={"Authorization": f"Bearer {self.lark_token()}"})
        if upload.status_code == 200:
            known["image_key"] = [upload.json()["data"]["image_key"]]
        if self.simulates_users:
            received = self.admin("POST", "/__admin/wid/messages", json={
                "fromUser": "wxid_contract", "account": creds.wid_id}).json()
            known["content"] = [received["content"]]
            known["msgId"] = [received["msgId"]]
            gewe = self.admin("POST", "/__admin/gewe/messages", json={
                "fromUser": "wxid_contract", "account": creds.gewe_app_id, "hd": False}).json()
            known.setdefault("xml", []).append(gewe["xml"])
        return known
