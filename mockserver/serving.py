"""The mock on a real HTTP server, doing what a careful server does that Python's threaded
servers leave out.

- A request body that stalls times out: a half-sent request must not hold a thread for good.
- A body the app did not read (refused for its size, its token or its path) is read and
  dropped after the reply, bounded in bytes and time, as nginx's lingering close does: a
  client still sending then reads the reply, not a broken pipe.
- Refusals the server makes before the app sees a request (a request line or headers over
  its limits) are JSON, not HTML pages; the limits are raised so that long Lark image keys
  still reach the app and its envelope.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import time
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wsgi import ClosingIterator

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Seconds a request (its headers, or its body) may send nothing before it is given up.
STALL_SECONDS = 10.0
# A body left unread is drained for at most this long and this many bytes, then dropped.
LINGER_SECONDS = 30.0
LINGER_BYTES = 64 * 1024 * 1024
# gunicorn's limits, raised as far as it allows short of none (its defaults: a request line of
# 4094 bytes, 100 headers of 8190 bytes each).
REQUEST_LINE_LIMIT = 8190
HEADER_COUNT_LIMIT = 1000
HEADER_SIZE_LIMIT = 64 * 1024
_CHUNK = 64 * 1024


class RequestIntake:
    """WSGI middleware: request bodies that stall time out, unread ones are drained after
    the reply (where the server would drop them: gunicorn; Werkzeug drains by itself)."""

    def __init__(self, app: WSGIApplication, stall_seconds: float = STALL_SECONDS):
        self.app = app
        self.stall_seconds = stall_seconds

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
        if not isinstance(sock, socket.socket):  # (a test client: no socket, nothing to time)
            return self.app(environ, start_response)
        body = _TimedBody(environ["wsgi.input"], sock, self.stall_seconds)
        environ["wsgi.input"] = body

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                  ) -> Callable[[bytes], object]:
            sock.settimeout(None)  # the body is read: writing the reply has no such limit
            return start_response(status, headers, exc_info)

        result = self.app(environ, start)
        if "gunicorn.socket" not in environ:
            return result
        return ClosingIterator(result, body.linger)


class _TimedBody:
    """``wsgi.input`` whose reads give up after ``stall`` seconds without a byte."""

    def __init__(self, stream: IO[bytes], sock: socket.socket, stall: float):
        self._stream = stream
        self._sock = sock
        self._stall = stall
        self.stalled = False

    def read(self, size: int = -1) -> bytes:
        return self._timed(self._stream.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._timed(self._stream.readline, size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Iterable[bytes]:
        return iter(self.readline, b"")

    def _timed(self, read: Callable[[int], bytes], size: int) -> bytes:
        self._sock.settimeout(self._stall)
        try:
            return read(size)
        except TimeoutError:
            self.stalled = True
            raise

    def linger(self) -> None:
        """Read what is left of the body and drop it, so that a client that sends its whole
        body before reading (urllib, requests) gets to read the reply."""
        if self.stalled:
            return
        deadline = time.monotonic() + LINGER_SECONDS
        drained = 0
        try:
            while drained < LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
                self._sock.settimeout(min(self._stall, left))
                chunk = self._stream.read(_CHUNK)
                if not chunk:
                    return
                drained += len(chunk)
        except OSError:  # gone or stalled: the server closes the connection
            pass


def error_json(status: int, message: str) -> bytes:
    """The body of a refusal no vendor's envelope applies to."""
    return json.dumps({"error": f"{status} {message}"}, ensure_ascii=False).encode("utf-8")


def werkzeug_server(app: WSGIApplication, host: str, port: int,
                    stall_seconds: float = STALL_SECONDS) -> BaseWSGIServer:
    """Werkzeug's threaded server (a thread per connection), with the request intake."""
    handler = type("RequestHandler", (QuietRequestHandler,), {"timeout": stall_seconds})
    return make_server(host, port, RequestIntake(app, stall_seconds), threaded=True,
                       request_handler=handler)


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler with a stall timeout, refusals in JSON and no access log (the
    mock's journal and request log are where to look)."""

    timeout = STALL_SECONDS  # (socketserver applies it to the connection's socket)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None
                   ) -> None:
        # http.server's own refusals: a request line over 64 KiB, over 100 headers, ...
        body = error_json(code, message or self.responses.get(code, ("",))[0])
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200:
            self.wfile.write(body)
        self.close_connection = True


def gunicorn_settings(threads: int) -> dict[str, Any]:
    """gunicorn settings for the mock: threaded workers, raised limits (the app goes in
    ``RequestIntake``, the listeners through ``limit_header_stalls``)."""
    return {"worker_class": _gunicorn_worker(), "threads": threads,
            "limit_request_line": REQUEST_LINE_LIMIT,
            "limit_request_fields": HEADER_COUNT_LIMIT,
            "limit_request_field_size": HEADER_SIZE_LIMIT}


def _gunicorn_worker() -> type:
    from gunicorn import util
    from gunicorn.workers.gthread import ThreadWorker

    class MockWorker(ThreadWorker):  # type: ignore[misc]
        """gunicorn's threaded worker, its own refusals (request line or headers too long)
        written as JSON: gunicorn writes them all through ``util.write_error``."""

        def init_process(self) -> None:
            util.write_error = _write_json_error
            self.log.error_log.addFilter(_drop_header_stalls)
            super().init_process()

    def _write_json_error(sock: socket.socket, status: int, reason: str, message: str) -> None:
        body = error_json(status, f"{reason}: {message}" if message else reason)
        head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        util.write_nonblock(sock, head.encode("latin-1") + body)

    return MockWorker


def _drop_header_stalls(record: logging.LogRecord) -> bool:
    """A client that stalls mid-headers is dropped (see ``limit_header_stalls``): not a
    server error, whose traceback gunicorn would log."""
    return not (record.exc_info and isinstance(record.exc_info[1], BlockingIOError))


def limit_header_stalls(listener: socket.socket, seconds: float = STALL_SECONDS) -> None:
    """Make reads of requests accepted from ``listener`` give up after ``seconds`` without
    a byte (connections inherit SO_RCVTIMEO): gunicorn reads headers with no timeout."""
    whole = int(seconds)
    timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
