"""The ceiling: bare Flask answering a fixed JSON body, no validation, no state.

Served as ``gunicorn -w 2 -b 127.0.0.1:PORT bench.ceiling_app:app`` from the repository root.
Every method on every path answers the same 200, so each operation's own request (same method,
path, headers and body size) can be replayed against it.
"""

from __future__ import annotations

from flask import Flask, Response

FIXED_BODY = b'{"ret":200,"msg":"ok","data":{"ceiling":true}}'
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]

app = Flask(__name__)


@app.route("/", defaults={"path": ""}, methods=METHODS)
@app.route("/<path:path>", methods=METHODS)
def fixed(path: str) -> Response:
    return Response(FIXED_BODY, mimetype="application/json")
