"""The clients run in-process against the mock's WSGI app, with no socket at all."""

from __future__ import annotations

import httpx
from _support import (
    APP_A,
    DEFAULTS,
    GEWE_API,
    GEWE_APP_ID,
    GEWE_TOKEN,
    LARK_TOKEN_TTL,
    W_ID,
    WID_AUTHORIZATION,
    receive,
)

from chatimg import GeweClient, ImageType, LarkClient, WidClient
from mockserver import create_app, mock_state
from mockserver.data_files import fixture_image

BASE = "http://mock.test"
GIF = fixture_image("tiny.gif")


def test_gewe_fallback_runs_over_a_wsgi_transport() -> None:
    app = create_app(DEFAULTS)
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url=BASE) as admin:
        xml = receive(admin, "gewe", sender="wxid_x", hd=False)["xml"]
    with GeweClient(BASE + GEWE_API, GEWE_TOKEN, GEWE_APP_ID, transport=transport) as client:
        downloaded = client.download_image(xml, ImageType.HD, fallback=True)
    assert downloaded.type is ImageType.NORMAL
    assert downloaded.file_url.startswith(BASE + "/__files/")


def test_wid_runs_over_a_wsgi_transport() -> None:
    transport = httpx.WSGITransport(app=create_app(DEFAULTS))
    with httpx.Client(transport=transport, base_url=BASE) as admin:
        message = receive(admin, "wid", sender="wxid_x")
    with WidClient(BASE, WID_AUTHORIZATION, W_ID, transport=transport) as client:
        url = client.get_msg_img(message["msgId"], message["fromUser"], message["toUser"],
                                 message["content"])
    assert url.startswith(BASE + "/__files/")


def test_lark_token_refresh_runs_over_a_wsgi_transport() -> None:
    app = create_app(DEFAULTS)
    with LarkClient(APP_A.app_id, APP_A.app_secret, base_url=BASE, clock=lambda: 0.0,
                    transport=httpx.WSGITransport(app=app)) as client:
        image_key = client.upload_image(GIF)
        mock_state(app).clock.advance(LARK_TOKEN_TTL + 100)
        assert client.download_image(image_key) == GIF
