"""Fixtures of the example tests: the bots loaded from examples/, served on real sockets."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py`` as a module (examples/ is a folder of scripts, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and Flask look their module up by name
    spec.loader.exec_module(module)
    return module


class _QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class BotServer:
    """A bot on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self, app: Flask):
        self.app = app
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True,
                                                   request_handler=_QuietRequestHandler)
        # A short poll interval so that stopping takes a moment, not serve_forever's 0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True, name=f"bot-{self._server.server_port}")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def serve_bot() -> Iterator[Callable[[Flask], BotServer]]:
    """``serve_bot(app)`` starts a bot; every bot started is stopped after the test."""
    started: list[BotServer] = []

    def serve(app: Flask) -> BotServer:
        started.append(BotServer(app))
        return started[-1]

    yield serve
    for bot in started:
        bot.stop()
