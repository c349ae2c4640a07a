"""``run.py --profile OP``: the mock in-process, no network, to see where a request's time goes.

The app is built by ``create_app`` as ``serve`` builds it; the operation's setup goes through
httpx's WSGI transport, then its request is sent ``requests`` times, no network,
under cProfile (or pyinstrument, when asked for and installed), straight into the WSGI app.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
from collections.abc import Callable
from io import BytesIO

import httpx
from werkzeug.test import EnvironBuilder

from .operations import BenchRequest, Operation

WARMUP_REQUESTS = 50


class ProfileError(RuntimeError):
    """The profiled request did not succeed; profiling failures would say nothing."""


def profile_operation(operation: Operation, *, requests: int, top: int, profiler: str,
                      config_path: str | None = None) -> str:
    """The report: the request, time per request without the profiler, then the top functions."""
    from mockserver import MockConfig
    from mockserver.http.app import create_app

    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATIMG_")}
    try:
        app = create_app(MockConfig.load(config_path, env=env))
    except Exception as exc:  # (whatever stops the mock from building is the answer)
        raise ProfileError(f"the mock did not build: {type(exc).__name__}: {exc}") from None
    with httpx.Client(transport=httpx.WSGITransport(app=app),
                      base_url="http://127.0.0.1:4010") as setup_client:
        request = operation.prepare(setup_client)
    send = _sender(app, request, operation.success_marker)

    for _ in range(WARMUP_REQUESTS):
        send()
    started, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        send()
    per_request_ms = (time.perf_counter() - started) * 1000 / requests
    cpu_per_request_ms = (time.process_time() - started_cpu) * 1000 / requests

    lines = [f"profile of {operation.name}: {request.method} {request.path} "
             f"({len(request.body)} byte body), {requests} requests after {WARMUP_REQUESTS} "
             f"warm-up, straight into the WSGI app, no network",
             f"without the profiler: {per_request_ms:.3f} ms per request, "
             f"{cpu_per_request_ms:.3f} ms of CPU ({1000 / cpu_per_request_ms:,.0f} req/s "
             f"per core; CPU time is the figure to trust on a busy machine)", ""]
    if profiler == "pyinstrument":
        lines.append(_pyinstrument(send, requests))
    else:
        lines.append(_cprofile(send, requests, top))
    return "\n".join(lines)


def _sender(app, request: BenchRequest, marker: str | None) -> Callable[[], None]:
    """One call of the WSGI app with ``request``: the environ is built once by werkzeug's
    EnvironBuilder (what Flask's test client uses), so the profile holds the app, not the
    building of test requests."""
    builder = EnvironBuilder(path=request.path, method=request.method, headers=request.headers,
                             data=request.body or None, base_url="http://127.0.0.1:4010")
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None) -> Callable:
        statuses.append(status)
        return lambda data: None

    def send() -> None:
        statuses.clear()
        chunks = app(dict(environ, **{"wsgi.input": BytesIO(request.body)}), start_response)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status = int(statuses[0].split()[0])
        if not 200 <= status < 300 or (marker and marker.encode() not in body):
            hint = (" (a rate limit: try --mock-config bench/mock-unlimited.yaml)"
                    if status == 429 else "")
            raise ProfileError(f"{request.method} {request.path} answered {status}{hint}: "
                               f"{body[:300].decode(errors='replace')}")

    return send


def _cprofile(send: Callable[[], None], requests: int, top: int) -> str:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        send()
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    out.write(f"\n--- the same, top {min(top, 15)} by own time (tottime) ---\n")
    stats.sort_stats("tottime").print_stats(min(top, 15))
    return _trim_paths(out.getvalue())


def _pyinstrument(send: Callable[[], None], requests: int) -> str:
    from pyinstrument import Profiler

    profiler = Profiler()
    with profiler:
        for _ in range(requests):
            send()
    return profiler.output_text(unicode=True, color=False)


def _trim_paths(text: str) -> str:
    """Site-packages and checkout prefixes cut, so the function column fits a terminal."""
    import site
    import sysconfig

    prefixes = [*site.getsitepackages(), sysconfig.get_paths()["stdlib"],
                os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    for prefix in sorted(prefixes, key=len, reverse=True):
        text = text.replace(prefix.rstrip("/") + "/", "")
    return text
