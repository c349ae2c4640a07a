"""``chatimg-mock serve``: run the mock on a real HTTP server.

One process by default (threads, in-memory state): a gunicorn worker of the threaded kind
where gunicorn runs (not on Windows, where Werkzeug's threaded server stands in). It answers
about 40 % more requests a second than Werkzeug's. ``--workers N`` runs N processes under
gunicorn that share one SQLite store under ``--state-dir``, which also outlives restarts.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from .app import create_app
from .config import MockConfig
from .errors import MockServerError

# Threads of the one process serving by default: calls held up on purpose (an armed latency,
# a trickled body) hold one each, and should not queue behind each other.
SINGLE_PROCESS_THREADS = 32
GUNICORN_RUNS = os.name == "posix"  # it needs fork and fcntl


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatimg-mock",
                                     description="Mock of the GeWe, wid and Lark image APIs.")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the mock (the default command)")
    for target in (parser, serve):
        target.add_argument("--host", help="address to bind (default 127.0.0.1)")
        target.add_argument("--port", type=int, help="port to listen on (default 4010)")
        target.add_argument("--config", help="YAML or JSON config file (or $CHATIMG_CONFIG)")
        target.add_argument("--workers", type=int, default=1,
                            help="processes under gunicorn, sharing a SQLite store (default 1)")
        target.add_argument("--threads", type=int,
                            help=f"threads per process (default {SINGLE_PROCESS_THREADS}; "
                                 "with --workers, 1; one process with 1: Werkzeug's server)")
        target.add_argument("--state-dir", help="keep state in SQLite and files here "
                            "(default: in memory; with --workers, a folder of the user's)")
    args = parser.parse_args(argv)
    try:
        return _serve(args)
    except MockServerError as exc:
        print(f"chatimg-mock: {exc}", file=sys.stderr)
        return 2


def default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return str(Path(base) / "chatimg-mock")


def _serve(args: argparse.Namespace) -> int:
    config = MockConfig.load(args.config)
    state_dir = args.state_dir or config.state_dir
    if args.workers > 1 and state_dir is None:
        state_dir = default_state_dir()
    config = dataclasses.replace(config, state_dir=state_dir,
                                 host=args.host or config.host,
                                 port=config.port if args.port is None else args.port)
    threads = args.threads if args.threads is not None else (
        1 if args.workers > 1 else SINGLE_PROCESS_THREADS)
    if args.workers < 1 or threads < 1:
        raise MockServerError("--workers and --threads must be at least 1")
    if not GUNICORN_RUNS or (args.workers == 1 and threads == 1):
        if args.workers > 1:
            raise MockServerError("--workers needs gunicorn, which does not run here")
        # (--threads 1: Werkzeug's server, a thread per connection, as before gunicorn served
        # one process: a bot called back while the mock waits for it can still call in.)
        return _serve_threaded(config)
    _check_port_free(config)
    return _serve_gunicorn(config, args.workers, threads)


def _announce(config: MockConfig, port: int) -> None:
    print(f"chatimg mock serving on http://{_host_port(config.host, port)}", flush=True)
    if config.state_dir:
        print(f"state kept in {config.state_dir}", flush=True)
    print("credentials: " + json.dumps(config.credentials(), ensure_ascii=False, indent=2),
          flush=True)


def _built_to_last(app: Flask) -> Flask:
    """The app, with what it was built from (specs, validators: hundreds of thousands of
    objects) moved out of the garbage collector's sight: it lives as long as the server, and
    every full collection would walk it again (about 5 % of a call's time). Before a fork,
    this also keeps workers from copying the pages the collector would touch."""
    gc.collect()
    gc.freeze()
    return app


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _serve_threaded(config: MockConfig) -> int:
    app = _built_to_last(create_app(config))
    try:
        server = make_server(config.host, config.port, app, threaded=True)
    except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
        reason = exc.strerror if isinstance(exc, OSError) else "the port is in use"
        raise MockServerError(f"cannot listen on {config.host}:{config.port}: {reason}") from None
    _announce(config, server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _check_port_free(config: MockConfig) -> None:
    """Fail at once, and say why, where gunicorn would retry for seconds, then exit."""
    try:
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        with socket.create_server((config.host, config.port), family=family):
            pass
    except OSError as exc:
        raise MockServerError(f"cannot listen on {config.host}:{config.port}: "
                              f"{exc.strerror}") from None


def _serve_gunicorn(config: MockConfig, workers: int, threads: int) -> int:
    from gunicorn.app.base import BaseApplication

    class MockApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings: dict[str, Any] = {
                "bind": _host_port(config.host, config.port), "workers": workers,
                "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync", "preload_app": True,
                "accesslog": None, "loglevel": "warning", "timeout": 120,
                "when_ready": lambda server: _announce(
                    config, server.LISTENERS[0].sock.getsockname()[1]),
            }
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            return _built_to_last(create_app(config))

    MockApplication().run()
    return 0
