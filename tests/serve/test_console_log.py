"""The request log of ``serve``: a console that does not keep up drops lines instead of
holding up calls, and a console that is gone ends the log without a traceback."""

from __future__ import annotations

import io
import logging
import os
import threading
import time

import pytest

from mockserver.http.serving import ConsoleLog


def logger_to(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(f"chatimg-test.{name}")
    logger.propagate = False
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    return logger


class BlockedConsole(io.StringIO):
    """A console nobody reads: every write waits until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait()
        return super().write(text)


def test_lines_reach_the_console_in_order() -> None:
    console = io.StringIO()
    logger = logger_to(ConsoleLog(console), "order")
    for number in range(100):
        logger.info("call %d", number)
    deadline = time.monotonic() + 5
    while console.getvalue().count("\n") < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert console.getvalue().splitlines() == [f"call {n}" for n in range(100)]


def test_a_console_that_does_not_read_drops_lines_and_holds_up_no_call() -> None:
    console = BlockedConsole()
    logger = logger_to(ConsoleLog(console, backlog=10), "blocked")
    started = time.monotonic()
    for number in range(1000):
        logger.info("call %d", number)
    assert time.monotonic() - started < 2  # a blocking write would have hung here for good
    console.release.set()
    time.sleep(0.2)
    written = console.getvalue().splitlines()
    assert 0 < len(written) <= 12  # the backlog, plus the line being written when it blocked
    assert written[0] == "call 0"


def test_a_closed_pipe_ends_the_log_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    read_end, write_end = os.pipe()
    console = os.fdopen(write_end, "w")
    os.close(read_end)  # the reader is gone, as when `serve | head -1` has its line
    handler = ConsoleLog(console)
    logger = logger_to(handler, "closed")
    logger.info("first")
    deadline = time.monotonic() + 5
    while handler.level <= logging.INFO and time.monotonic() < deadline:
        time.sleep(0.01)
    assert handler.level > logging.CRITICAL  # the log is off: later lines cost nothing
    logger.info("second")
    assert "Traceback" not in capfd.readouterr().err
