"""Small helpers several test modules share (on the path through pytest's ``pythonpath``)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 5.0, what: str = "it") -> T:
    """``check()``'s first answer that is not None or False, polled for up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while (result := check()) is None or result is False:
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.02)
    return result


def closed_port_url(path: str = "/callback") -> str:
    """A loopback URL nobody listens on: the bot is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
