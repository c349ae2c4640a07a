"""A real Redis for the tests: redis-server from the system, on a free loopback port, without
persistence (unless a test asks for it), in a folder of its own; each test takes a fresh key
prefix in it, so one server serves a whole session and no test sees another's keys.

Without redis-server the tests that need it skip, or fail where system tools are required
(``_system.py``); so they do without redis-py, the client, which the test extra brings.
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from _support import free_port, stop_process
from _system import require_python_module, require_system_tool

START_SECONDS = 10.0
START_ATTEMPTS = 3  # a free port can be taken between its probe and the server's bind


def require_redis_server() -> str:
    """The path of redis-server, or a skip (a failure where system tools are required)."""
    return require_system_tool("redis-server", "the Redis store's tests run one",
                               package="redis-server")


def require_redis_client() -> None:
    """Skip, or fail where system tools are required, without redis-py."""
    require_python_module("redis", "redis (redis-py)")


# Every write on disk before Redis acknowledges it: a restart keeps all it acknowledged.
PERSISTENCE = ("--appendonly", "yes", "--appendfsync", "always")
NO_PERSISTENCE = ("--appendonly", "no")


class RedisServer:
    """One redis-server on 127.0.0.1, started by ``start`` (or ``with``) and stopped by
    ``stop``; ``start`` again brings it back on the same port: empty, as after a crash, or,
    when ``persistent``, with every write it acknowledged (kept in an append-only file in
    ``directory``)."""

    def __init__(self, program: str, directory: Path, *, persistent: bool = False) -> None:
        self.program = program
        self.directory = directory
        self.persistent = persistent
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._prefixes = itertools.count(1)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def fresh_prefix(self) -> str:
        """A key prefix no one has used on this server."""
        return f"test{next(self._prefixes)}:"

    def start(self) -> RedisServer:
        for _ in range(START_ATTEMPTS):
            port = self.port or free_port()
            if self._started_on(port):
                self.port = port
                return self
        raise RuntimeError(f"redis-server did not start: {self._log().strip()[-2000:]}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        stop_process(process)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _started_on(self, port: int) -> bool:
        """Whether a server started on ``port`` answers PING (else it is stopped)."""
        with open(self.directory / "redis.log", "ab") as log:
            self._process = subprocess.Popen(
                [self.program, "--port", str(port), "--bind", "127.0.0.1",
                 "--save", "", *(PERSISTENCE if self.persistent else NO_PERSISTENCE),
                 "--dir", str(self.directory), "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self._process.poll() is None:
            if _answers_ping(port):
                return True
            time.sleep(0.01)
        self.stop()
        return False

    def _log(self) -> str:
        return (self.directory / "redis.log").read_text(errors="replace")


def _answers_ping(port: int) -> bool:
    """Whether Redis on ``port`` answers PING (in its protocol's plainest form)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(7) == b"+PONG\r\n"
    except OSError:
        return False
