"""Failures below the vendor's envelope: slow answers, dropped connections, broken bodies.

A fault is a small mapping, ``{"fault": "latency", "ms": 300}``, armed by a rule or asked for
with a ``Prefer`` header; ``apply_fault`` turns the vendor's normal response into the faulty one.
"""

from __future__ import annotations

import math
import random
import socket
import struct
import time
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Response

MAX_DELAY_SECONDS = 30.0
MAX_CHUNK_BYTES = 1024 * 1024
# kind -> the parameters it takes (all numbers)
FAULTS: dict[str, tuple[str, ...]] = {
    "latency": ("ms", "min_ms", "max_ms"),
    "reset": (),
    "empty": (),
    "truncate": ("fraction",),
    "trickle": ("chunk", "interval_ms"),
}


class FaultError(ValueError):
    """A fault that cannot be armed: unknown kind or bad parameters."""


def check_fault(fault: Mapping[str, Any]) -> dict[str, Any]:
    """The fault with numbers parsed and bounded, or FaultError saying what is wrong."""
    kind = fault.get("fault")
    if kind not in FAULTS:
        raise FaultError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
    checked: dict[str, Any] = {"fault": kind}
    for name, value in fault.items():
        if name == "fault":
            continue
        if name not in FAULTS[kind]:
            raise FaultError(f"fault {kind} takes no parameter {name!r}; it takes "
                             f"{', '.join(FAULTS[kind]) or 'none'}")
        checked[name] = _parameter(name, value)
    return checked


def _parameter(name: str, value: Any) -> float | int:
    """One parameter as a number within its bounds, so the call it fires on can apply it."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FaultError(f"fault parameter {name} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise FaultError(f"fault parameter {name} must be a finite number, not {value!r}")
    if number < 0:
        raise FaultError(f"fault parameter {name} must not be negative")
    if name == "fraction" and not number < 1:
        raise FaultError("truncate's fraction must be at least 0 and below 1")
    if name == "chunk":
        if not (number.is_integer() and 1 <= number <= MAX_CHUNK_BYTES):
            raise FaultError(f"trickle's chunk must be a whole number of bytes from 1 to "
                             f"{MAX_CHUNK_BYTES}, not {value!r}")
        return int(number)
    if name.endswith("ms") and number > MAX_DELAY_SECONDS * 1000:
        raise FaultError(f"fault parameter {name} must be at most {MAX_DELAY_SECONDS * 1000:.0f}"
                         f" ms, the longest a fault waits")
    return number


def delay_of(fault: Mapping[str, Any]) -> float:
    """Seconds a latency fault waits: fixed, or drawn between bounds."""
    if "ms" in fault:
        seconds = fault["ms"] / 1000
    else:
        low = fault.get("min_ms", 0.0)
        seconds = random.uniform(low, max(low, fault.get("max_ms", low))) / 1000
    return min(seconds, MAX_DELAY_SECONDS)


def apply_fault(fault: Mapping[str, Any], response: Response,
                environ: Mapping[str, Any]) -> Response:
    kind = fault["fault"]
    if kind == "latency":
        time.sleep(delay_of(fault))
        return response
    if kind == "empty":
        response.set_data(b"")
        return response
    body = response.get_data()
    if kind == "reset":
        return _streamed(response, _reset(environ), len(body))
    if kind == "truncate":
        cut = int(len(body) * fault.get("fraction", 0.5))
        return _streamed(response, _truncated(body[:cut]), len(body))
    chunk = max(1, int(fault.get("chunk", 16)))
    interval = fault.get("interval_ms", 100) / 1000
    return _streamed(response, _trickle(body, chunk, interval), len(body))


def _streamed(response: Response, body: Iterator[bytes], length: int) -> Response:
    streamed = Response(body, response.status_code, headers=list(response.headers.items()),
                        direct_passthrough=True)
    streamed.headers["Content-Length"] = str(length)
    return streamed


def _reset(environ: Mapping[str, Any]) -> Iterator[bytes]:
    """Nothing is sent and the connection ends with RST (linger 0), not a reply."""
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)  # the server's keep-alive loop must not go on reading
    raise ConnectionResetError("connection reset by an armed fault")
    yield b""  # a generator, so the reset happens when the server starts the body


def _truncated(part: bytes) -> Iterator[bytes]:
    """Part of the body, then the connection drops: the client sees fewer bytes than promised."""
    if part:
        yield part
    raise ConnectionAbortedError("body truncated by an armed fault")


def _trickle(body: bytes, chunk: int, interval: float) -> Iterator[bytes]:
    deadline = time.monotonic() + MAX_DELAY_SECONDS
    for start in range(0, len(body), chunk):
        yield body[start:start + chunk]
        if time.monotonic() + interval < deadline:
            time.sleep(interval)
