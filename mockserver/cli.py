"""``chatimg-mock serve``: run the mock on a real HTTP server.

One process by default (threads, in-memory state): a gunicorn worker of the threaded kind
where gunicorn runs (not on Windows, where Werkzeug's threaded server stands in). It answers
about 40 % more requests a second than Werkzeug's. ``--workers N`` runs N processes under
gunicorn that share one SQLite store: under ``--state-dir``, which outlives restarts, or in a
folder of their own for this run.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .config import ENV_PREFIX, check_port, check_store_url, shown_store_url
from .data_files import kit_version
from .errors import MockServerError
from .extra import missing_extra
from .vendors.registry import VENDOR_NAMES, MockConfig

if TYPE_CHECKING:
    from flask import Flask

# (The server's modules are imported where they are used: --help and --version, and the
# refusal that names the mock extra when it is missing, need none of them.)

# Threads of each process: calls held up on purpose (an armed latency, a trickled reply) or by
# a slow client hold one each, and must not hold up the others. Threads start when needed.
THREADS = 128
GUNICORN_RUNS = os.name == "posix"  # it needs fork and fcntl
ENVIRONMENT = f"""\
environment variables (they override the config file):
  {ENV_PREFIX}CONFIG                 the config file, as --config
  {ENV_PREFIX}HOST, {ENV_PREFIX}PORT     where to listen
  {ENV_PREFIX}PUBLIC_URL             origin of the URLs the mock hands out
  {ENV_PREFIX}STATE_DIR              as --state-dir
  {ENV_PREFIX}STORE, {ENV_PREFIX}STORE_PREFIX  as --store, --store-prefix
  {ENV_PREFIX}FETCH_ALLOW_HOSTS      hosts whose imgUrl is really fetched (comma separated)
  {ENV_PREFIX}ADMIN_TOKEN            /__admin routes need it in X-Chatimg-Admin-Token
""" + "".join(f"  {', '.join(ENV_PREFIX + name for name in section.env)}\n"
             for _, section in MockConfig().sections())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="chatimg-mock", description=f"Mock of chat-image APIs ({', '.join(VENDOR_NAMES)}).",
        epilog=ENVIRONMENT, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the mock (the default command)",
                                epilog=ENVIRONMENT,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for target in (parser, serve):
        target.add_argument("--version", action="version", version=f"%(prog)s {kit_version()}")
        target.add_argument("--host", help="address to bind (default 127.0.0.1)")
        target.add_argument("--port", type=int, help="port to listen on (default 4010)")
        target.add_argument("--config", help="YAML or JSON config file (or $CHATIMG_CONFIG)")
        target.add_argument("--workers", type=int, default=1,
                            help="processes under gunicorn, sharing a SQLite store (default 1)")
        target.add_argument("--threads", type=int, default=THREADS,
                            help=f"threads per process (default {THREADS}; one process with "
                                 "1: Werkzeug's server)")
        target.add_argument("--state-dir", help="keep state in SQLite and files here, across "
                            "restarts (default: in memory; with --workers, a temporary folder "
                            "removed at exit)")
        target.add_argument("--store", metavar="URL",
                            help="keep state in Redis (redis://HOST:PORT/DB): every replica "
                                 "given the same URL serves the same state")
        target.add_argument("--store-prefix", metavar="PREFIX",
                            help="the prefix of the mock's Redis keys (default chatimg:), so "
                                 "that mocks can share one Redis database")
        target.add_argument("--quiet", action="store_true",
                            help="no request log (a line per call) on the console")
    args = parser.parse_args(argv)
    try:
        return _serve(args)
    except MockServerError as exc:
        print(f"chatimg-mock: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
        print(f"chatimg-mock: serve {message}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    config = MockConfig.load(args.config)
    config = dataclasses.replace(
        config, state_dir=args.state_dir or config.state_dir, host=args.host or config.host,
        port=config.port if args.port is None else check_port(args.port, "--port"),
        store=config.store if args.store is None else args.store,
        store_prefix=args.store_prefix or config.store_prefix)
    if args.store is not None:
        check_store_url(args.store, "--store")
    if args.workers < 1 or args.threads < 1:
        raise MockServerError("--workers and --threads must be at least 1")
    if args.workers > 1 and not GUNICORN_RUNS:
        raise MockServerError("--workers needs gunicorn, which does not run here")
    _check_port_free(config)
    if not args.quiet:
        _log_requests()
    temporary, serving_pid = None, os.getpid()
    if args.workers > 1 and config.state_dir is None and config.store is None:
        # (workers share state through files)
        temporary = tempfile.mkdtemp(prefix="chatimg-mock-")
        config = dataclasses.replace(config, state_dir=temporary)
    try:
        _check_state_dir(config)
        if not GUNICORN_RUNS or (args.workers == 1 and args.threads == 1):
            # (--threads 1: Werkzeug's server, a thread per connection: a bot called back
            # while the mock waits for it can still call in.)
            return _serve_threaded(config, temporary is not None)
        return _serve_gunicorn(config, args.workers, args.threads, temporary is not None)
    finally:
        # (gunicorn's workers, forked from here, leave through this too: not theirs to remove)
        if temporary is not None and os.getpid() == serving_pid:
            shutil.rmtree(temporary, ignore_errors=True)


def _log_requests() -> None:
    from .http.app import REQUEST_LOG
    from .http.serving import ConsoleLog

    handler = ConsoleLog(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    REQUEST_LOG.addHandler(handler)
    REQUEST_LOG.setLevel(logging.INFO)
    REQUEST_LOG.propagate = False


def _check_state_dir(config: MockConfig) -> None:
    """Open the store once before serving, so that an unusable folder (or a Redis not there)
    is one line, not a worker's traceback."""
    if config.state_dir is not None or config.store is not None:
        store = config.make_store()
        store.beside("journal").close()
        store.close()


def _announce(config: MockConfig, port: int, temporary: bool) -> None:
    print(f"chatimg mock serving on http://{_host_port(config.host, port)}", flush=True)
    if config.store is not None:
        print(f"state: in Redis at {shown_store_url(config.store)}, keys under "
              f"{config.store_prefix!r}, shared by every replica given them", flush=True)
    elif config.state_dir is None:
        print("state: in memory, gone at exit (--state-dir keeps it)", flush=True)
    elif temporary:
        print(f"state: in {config.state_dir}, removed at exit (--state-dir keeps it)",
              flush=True)
    else:
        print(f"state: kept in {config.state_dir}", flush=True)
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


def _serve_threaded(config: MockConfig, temporary: bool) -> int:
    from .http.app import create_app
    from .http.serving import werkzeug_server

    server = werkzeug_server(_built_to_last(create_app(config)), config.host, config.port,
                             config.request_timeout_seconds)
    _announce(config, server.server_port, temporary)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _check_port_free(config: MockConfig) -> None:
    """Fail at once, and say why, where the servers would retry or print their own lines."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    try:
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            probe.bind((config.host, config.port))
    except OSError as exc:
        raise MockServerError(f"cannot listen on {_host_port(config.host, config.port)}: "
                              f"{exc.strerror or exc}") from None


def _serve_gunicorn(config: MockConfig, workers: int, threads: int, temporary: bool) -> int:
    from gunicorn.app.base import BaseApplication

    from .http.app import create_app
    from .http.serving import RequestIntake, gunicorn_settings, limit_header_stalls

    def when_ready(server: Any) -> None:
        for listener in server.LISTENERS:
            limit_header_stalls(listener.sock, config.request_timeout_seconds)
        _announce(config, server.LISTENERS[0].sock.getsockname()[1], temporary)

    class MockApplication(BaseApplication):
        def load_config(self) -> None:
            settings: dict[str, Any] = {
                "bind": _host_port(config.host, config.port), "workers": workers,
                "preload_app": True, "accesslog": None, "loglevel": "warning", "timeout": 120,
                "when_ready": when_ready, **gunicorn_settings(threads),
            }
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            return RequestIntake(_built_to_last(create_app(config)),
                                 config.request_timeout_seconds)

    MockApplication().run()
    return 0
