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
import os
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wsgi import ClosingIterator

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# After its first stall-long period, a body must keep up this many bytes a second on average
# (as Apache's mod_reqtimeout does): one byte now and then cannot hold a thread for good.
MIN_BODY_RATE = 1024
REAPER_SECONDS = 0.25  # how often reads are checked against that
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

    def __init__(self, app: WSGIApplication, stall_seconds: float):
        self.app = app
        self.stall_seconds = stall_seconds

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
        if not isinstance(sock, socket.socket):  # (a test client: no socket, nothing to time)
            return self.app(environ, start_response)
        length = environ.get("CONTENT_LENGTH", "")
        body = _TimedBody(environ["wsgi.input"], sock, self.stall_seconds,
                          int(length) if length.isdigit() else None)
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
    """``wsgi.input`` whose reads give up after ``stall`` seconds without a byte, or once the
    body falls below ``MIN_BODY_RATE``. A server's own failure to read it (a malformed chunk)
    is an OSError, as a dropped connection is: the app refuses the body either way."""

    def __init__(self, stream: IO[bytes], sock: socket.socket, stall: float,
                 length: int | None):
        self._stream = stream
        self._sock = sock
        self._stall = stall
        self._left = length  # (None: chunked, its length unknown)
        self._deadline = time.monotonic() + stall
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
        # The socket's timeout bounds each wait for a byte; the reaper, the whole read (a
        # server's read of N bytes waits for each of them in turn).
        self._sock.settimeout(self._stall)
        expected = size if size >= 0 else LINGER_BYTES
        if self._left is not None:  # (a read of 64 KiB may wait for the last 100 bytes)
            expected = min(expected, self._left)
        _REAPER.watch(self, self._deadline + expected / MIN_BODY_RATE)
        try:
            data = read(size)
        except OSError as exc:
            self.stalled = self.stalled or isinstance(exc, TimeoutError)
            raise
        except Exception as exc:  # e.g. gunicorn's InvalidChunkSize, or the reaper's end
            raise ConnectionAbortedError(f"the body cannot be read: {exc}") from exc
        finally:
            _REAPER.forget(self)
        if self.stalled:  # (what a reaped read returned is not the body)
            raise TimeoutError("the request body came too slowly")
        self._deadline += len(data) / MIN_BODY_RATE
        if self._left is not None:
            self._left -= len(data)
        return data

    def expire(self) -> None:
        """End a read that is past its deadline: what it waits for will not come in time."""
        self.stalled = True
        try:
            self._sock.shutdown(socket.SHUT_RD)  # (the reply can still be written)
        except OSError:
            pass

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


class _Reaper:
    """One thread per process that ends body reads past their deadline."""

    def __init__(self) -> None:
        self._due: dict[_TimedBody, float] = {}
        self._lock = threading.Lock()
        self._pid = 0

    def watch(self, body: _TimedBody, deadline: float) -> None:
        with self._lock:
            if self._pid != os.getpid():  # (gunicorn's workers are forked: a thread each)
                self._pid = os.getpid()
                threading.Thread(target=self._run, daemon=True, name="chatimg-reaper").start()
            self._due[body] = deadline

    def forget(self, body: _TimedBody) -> None:
        with self._lock:
            self._due.pop(body, None)

    def _run(self) -> None:
        while True:
            time.sleep(REAPER_SECONDS)
            now = time.monotonic()
            with self._lock:
                expired = [body for body, deadline in self._due.items() if deadline <= now]
            for body in expired:
                body.expire()


_REAPER = _Reaper()


class ConsoleLog(logging.Handler):
    """Log lines for a console that may not keep up: they wait in a bounded queue for a
    writer thread of this process, so a pipe nobody reads drops lines instead of stalling
    calls, and a console that is gone (a closed pipe) ends the log."""

    def __init__(self, stream: IO[str], backlog: int = 10_000):
        super().__init__()
        self._stream = stream
        self._backlog = backlog
        self._lines: queue.Queue[str] = queue.Queue(backlog)
        self._pid = 0
        self._starting = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if self._pid != os.getpid():  # first use here (gunicorn's workers are forked)
            with self._starting:
                if self._pid != os.getpid():
                    self._lines = queue.Queue(self._backlog)
                    threading.Thread(target=self._write, args=(self._lines,), daemon=True,
                                     name="chatimg-console").start()
                    self._pid = os.getpid()
        try:
            self._lines.put_nowait(self.format(record))
        except queue.Full:
            pass

    def _write(self, lines: queue.Queue[str]) -> None:
        while True:
            line = lines.get()
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError):  # the console is gone: so is the log
                self.setLevel(logging.CRITICAL + 1)
                return


def error_json(status: int, message: str) -> bytes:
    """The body of a refusal no vendor's envelope applies to."""
    return json.dumps({"error": f"{status} {message}"}, ensure_ascii=False).encode("utf-8")


def werkzeug_server(app: WSGIApplication, host: str, port: int,
                    stall_seconds: float) -> BaseWSGIServer:
    """Werkzeug's threaded server (a thread per connection), with the request intake."""
    handler = type("RequestHandler", (QuietRequestHandler,), {"timeout": stall_seconds})
    return make_server(host, port, RequestIntake(app, stall_seconds), threaded=True,
                       request_handler=handler)


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler with refusals in JSON and no access log (the mock's journal and
    request log are where to look); ``werkzeug_server`` gives it a ``timeout``, which
    socketserver applies to the connection's socket."""

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

    class MockWorker(ThreadWorker):
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


def limit_header_stalls(listener: socket.socket, seconds: float) -> None:
    """Make reads of requests accepted from ``listener`` give up after ``seconds`` without
    a byte (connections inherit SO_RCVTIMEO): gunicorn reads headers with no timeout."""
    whole = int(seconds)
    timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
