"""``chatimg-mock serve``: run the mock on a real HTTP server."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from werkzeug.serving import make_server

from .app import create_app
from .config import MockConfig
from .errors import MockServerError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatimg-mock",
                                     description="Mock of the GeWe, wid and Lark image APIs.")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the mock (the default command)")
    for target in (parser, serve):
        target.add_argument("--host", help="address to bind (default 127.0.0.1)")
        target.add_argument("--port", type=int, help="port to listen on (default 4010)")
        target.add_argument("--config", help="YAML or JSON config file (or $CHATIMG_CONFIG)")
    args = parser.parse_args(argv)
    try:
        return _serve(args)
    except MockServerError as exc:
        print(f"chatimg-mock: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    config = MockConfig.load(args.config)
    host = args.host or config.host
    port = config.port if args.port is None else args.port
    app = create_app(config)
    try:
        server = make_server(host, port, app, threaded=True)
    except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
        reason = exc.strerror if isinstance(exc, OSError) else "the port is in use"
        raise MockServerError(f"cannot listen on {host}:{port}: {reason}") from None
    base_url = f"http://{host}:{server.server_port}"
    print(f"chatimg mock serving on {base_url}", flush=True)
    print("credentials: " + json.dumps(config.credentials(), ensure_ascii=False, indent=2),
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
