"""Fixtures of the example tests: the bots loaded from examples/, served on real sockets."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask

from mockserver import LiveServer

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


# The bots are served as the mock is: a threaded server on 127.0.0.1 and a free port.
BotServer = LiveServer


@pytest.fixture
def serve_bot() -> Iterator[Callable[[Flask], BotServer]]:
    """``serve_bot(app)`` starts a bot; every bot started is stopped after the test."""
    started: list[BotServer] = []

    def serve(app: Flask) -> BotServer:
        started.append(LiveServer(app=app).start())
        return started[-1]

    yield serve
    for bot in started:
        bot.stop()
