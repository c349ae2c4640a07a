"""The mock on a real socket in a background thread: for tests and the pytest plugin."""

from __future__ import annotations

import base64
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app, mock_state
from .config import MockConfig
from .journal import JournalView
from .state import MockState

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log: the request journal is where tests look, not stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LiveServer:
    """A threaded HTTP server on 127.0.0.1 and a free port, serving one mock app (or, in
    tests, any WSGI app: a bot's endpoint).

    ``with LiveServer() as server: httpx.get(server.url + "/...")``
    """

    def __init__(self, config: MockConfig | None = None, *, app: WSGIApplication | None = None,
                 host: str = "127.0.0.1", port: int = 0):
        self.app = app or create_app(config or MockConfig())
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True,
                                                   request_handler=_QuietRequestHandler)
        # A short poll: stopping the server (after each test that made one) takes no time.
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"mock-{self.port}", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    @property
    def state(self) -> MockState:
        return mock_state(self.app)

    def send_image(self, vendor: str, **options: Any) -> dict[str, Any]:
        """A user sends the bot an image: stored as ``vendor`` keeps it and delivered to the
        bot's registered callback. Options are those of ``POST /__admin/<vendor>/messages``
        (``fromUser``, ``chatroom``, ``fixture``, ``image`` (bytes or base64), ``hd``; Lark:
        ``sender_open_id``, ``chat_type``). Returns the admin reply: ids, XML or image_key,
        the payload, and the deliveries with the bot's answers."""
        if isinstance(options.get("image"), bytes):
            options["image"] = base64.b64encode(options["image"]).decode()
        if vendor in ("gewe", "wid"):
            options.setdefault("fromUser", "wxid_user000000001")
        return self._admin("POST", f"/__admin/{vendor}/messages", json=options, expect=201)

    def subscribe_lark_events(self, url: str, *, app_id: str | None = None,
                              encrypt_key: str | None = None) -> dict[str, Any]:
        """Set a Lark app's event URL (it must echo the url_verification challenge)."""
        app_id = app_id or self.state.config.lark.apps[0].app_id
        body = {"url": url, **({"encrypt_key": encrypt_key} if encrypt_key else {})}
        return self._admin("PUT", f"/__admin/lark/apps/{app_id}/events", json=body)

    def _admin(self, method: str, path: str, *, expect: int = 200, **kwargs: Any
               ) -> dict[str, Any]:
        headers = {}
        if self.state.config.admin_token:
            headers["X-Chatimg-Admin-Token"] = self.state.config.admin_token
        reply = httpx.request(method, self.url + path, headers=headers, timeout=60, **kwargs)
        if reply.status_code != expect:
            raise AssertionError(f"{method} {path} answered {reply.status_code}: {reply.text}")
        result: dict[str, Any] = reply.json()
        return result

    @property
    def journal(self) -> JournalView:
        """What the mock was asked and answered: ``server.journal.assert_called("getImage")``."""
        return JournalView(self.state.journal_writer)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        if "chatimg" in getattr(self.app, "extensions", {}):  # a mock, not a test's bot
            self.state.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
