"""The clients run in-process against the mock's WSGI app, with no socket at all."""

from __future__ import annotations

from pathlib import Path

import httpx

from chatimg import GeweClient, ImageType, LarkClient, WidClient
from mockserver import MockConfig, create_app, mock_state

DEFAULTS = MockConfig()
BASE = "http://mock.test"
GIF = (Path(__file__).resolve().parents[2] / "fixtures/images/tiny.gif").read_bytes()


def test_gewe_fallback_runs_over_a_wsgi_transport() -> None:
    app = create_app(DEFAULTS)
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url=BASE) as admin:
        received = admin.post("/__admin/gewe/messages", json={"fromUser": "wxid_x", "hd": False})
    xml = received.json()["xml"]
    with GeweClient(BASE + "/gewe/v2/api", DEFAULTS.gewe.tokens[0],
                    DEFAULTS.gewe.devices[0].app_id, transport=transport) as client:
        downloaded = client.download_image(xml, ImageType.HD, fallback=True)
    assert downloaded.type is ImageType.NORMAL
    assert downloaded.file_url.startswith(BASE + "/__files/")


def test_wid_runs_over_a_wsgi_transport() -> None:
    transport = httpx.WSGITransport(app=create_app(DEFAULTS))
    with httpx.Client(transport=transport, base_url=BASE) as admin:
        message = admin.post("/__admin/wid/messages", json={"fromUser": "wxid_x"}).json()
    with WidClient(BASE, DEFAULTS.wid.authorizations[0], DEFAULTS.wid.instances[0].w_id,
                   transport=transport) as client:
        url = client.get_msg_img(message["msgId"], message["fromUser"], message["toUser"],
                                 message["content"])
    assert url.startswith(BASE + "/__files/")


def test_lark_token_refresh_runs_over_a_wsgi_transport() -> None:
    app = create_app(DEFAULTS)
    app_a = DEFAULTS.lark.apps[0]
    with LarkClient(app_a.app_id, app_a.app_secret, base_url=BASE, clock=lambda: 0.0,
                    transport=httpx.WSGITransport(app=app)) as client:
        image_key = client.upload_image(GIF)
        mock_state(app).clock.advance(DEFAULTS.lark.token_ttl_seconds + 100)
        assert client.download_image(image_key) == GIF
