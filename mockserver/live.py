"""The mock on a real socket in a background thread: for tests and the pytest plugin."""

from __future__ import annotations

import threading
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app, mock_state
from .config import MockConfig
from .journal import JournalView
from .state import MockState


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log: the request journal is where tests look, not stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LiveServer:
    """A threaded HTTP server on 127.0.0.1 and a free port, serving one mock app.

    ``with LiveServer() as server: httpx.get(server.url + "/...")``
    """

    def __init__(self, config: MockConfig | None = None, *, app: Flask | None = None,
                 host: str = "127.0.0.1", port: int = 0):
        self.app = app or create_app(config or MockConfig())
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True,
                                                   request_handler=_QuietRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever,
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

    @property
    def journal(self) -> JournalView:
        """What the mock was asked and answered: ``server.journal.assert_called("getImage")``."""
        return JournalView(self.state.store)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
