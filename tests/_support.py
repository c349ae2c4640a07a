"""Small helpers several test modules share (on the path through pytest's ``pythonpath``):
the mock's default credentials, the fixture files, clients on a running mock, a user sending
the bot an image, and a bot that records the callbacks it is sent."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Self, TypeVar

import flask
import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers

from chatimg import GeweClient, LarkClient, WidClient
from contract_tests.strategies import SchemaResolver
from mockserver import LarkApp, LiveServer, MockConfig
from mockserver.data_files import data_dir, fixture_image

T = TypeVar("T")

# --- the mock's defaults: the credentials and ids a mock started with MockConfig() takes -------

DEFAULTS = MockConfig()
GEWE_TOKEN = DEFAULTS.gewe.tokens[0]
GEWE_DEVICE = DEFAULTS.gewe.devices[0]
GEWE_APP_ID = GEWE_DEVICE.app_id
WID_AUTHORIZATION = DEFAULTS.wid.authorizations[0]
WID_INSTANCE = DEFAULTS.wid.instances[0]
W_ID = WID_INSTANCE.w_id
APP_A, APP_B = DEFAULTS.lark.apps[0], DEFAULTS.lark.apps[1]
LARK_TOKEN_TTL = DEFAULTS.lark.token_ttl_seconds
GEWE_HEADERS = {"X-GEWE-TOKEN": GEWE_TOKEN}
WID_HEADERS = {"Authorization": WID_AUTHORIZATION}
GEWE_API = "/gewe/v2/api"
LARK_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
SENDER = "wxid_friend01"  # who sends the bot an image, unless a test says otherwise

# --- the fixture files ----------------------------------------------------------------------

FIXTURE_IMAGES = Path(__file__).resolve().parents[1] / "fixtures" / "images"  # for a path on disk
PNG = fixture_image("square.png")


def fixture_callback(name: str) -> str:
    """``fixtures/callbacks/<name>``: a vendor document's example, as text."""
    return (data_dir("fixtures") / "callbacks" / name).read_text(encoding="utf-8")


# --- the specs ------------------------------------------------------------------------------


@cache
def spec_document(name: str) -> dict[str, Any]:
    """``specs/<name>.yaml`` as a plain document."""
    document: dict[str, Any] = yaml.safe_load(
        (data_dir("specs") / f"{name}.yaml").read_text(encoding="utf-8"))
    return document


@cache
def callback_validator(spec_name: str, path: str, method: str = "post") -> OAS30Validator:
    """The schema a spec declares for the body of the callback of its ``method`` ``path``."""
    document = spec_document(spec_name)
    (callback,) = document["paths"][path][method]["callbacks"].values()
    (operation,) = callback.values()
    schema = operation["post"]["requestBody"]["content"]["application/json"]["schema"]
    return SchemaResolver(document).validator(schema)


def assert_valid(validator: OAS30Validator, payload: Any) -> None:
    """``payload`` is valid, or the assertion names every violation and where."""
    errors = [f"{list(error.absolute_path)}: {error.message}"
              for error in validator.iter_errors(payload)]
    assert not errors, errors


# --- clients on a running mock --------------------------------------------------------------

# One TLS context for every client: httpx otherwise builds one (loading certifi) per client,
# ~50 ms each, though every call here is plain HTTP.
TLS = ssl.create_default_context()


@contextmanager
def client_of(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client on ``server``'s URL (the conftest's ``http`` is one)."""
    with httpx.Client(base_url=server.url, timeout=10, verify=TLS) as client:
        yield client


def _client_options(options: dict[str, Any]) -> dict[str, Any]:
    """A client's options: a 10 s timeout and the shared TLS context unless they say else."""
    if "transport" not in options:
        options = {**options, "transport": httpx.HTTPTransport(verify=TLS)}
    return {"timeout": 10, **options}


def gewe_client(server: LiveServer, **options: Any) -> GeweClient:
    """A GeweClient of the default token and device; ``options`` go to GeweClient."""
    return GeweClient(server.url + GEWE_API, GEWE_TOKEN, GEWE_APP_ID, **_client_options(options))


def wid_client(server: LiveServer, **options: Any) -> WidClient:
    """A WidClient of the default authorization and instance; ``options`` go to WidClient."""
    return WidClient(server.url, WID_AUTHORIZATION, W_ID, **_client_options(options))


def lark_client(server: LiveServer, app: LarkApp = APP_A, **options: Any) -> LarkClient:
    """A LarkClient of ``app``; ``options`` go to LarkClient."""
    return LarkClient(app.app_id, app.app_secret, base_url=server.url,
                      **_client_options(options))


def lark_token(http: httpx.Client, app: LarkApp = APP_A) -> str:
    """A tenant access token of ``app``, fetched as a bot fetches one."""
    reply = http.post(LARK_TOKEN_PATH, json={"app_id": app.app_id, "app_secret": app.app_secret})
    return str(reply.json()["tenant_access_token"])


def lark_auth(http: httpx.Client, app: LarkApp = APP_A) -> dict[str, str]:
    """The Authorization header of a fresh tenant access token of ``app``."""
    return {"Authorization": f"Bearer {lark_token(http, app)}"}


def receive(mock: httpx.Client | LiveServer | ServedMock, vendor: str, sender: str = SENDER,
            **options: Any) -> dict[str, Any]:
    """A user ``sender`` sends the bot an image through ``POST /__admin/<vendor>/messages``
    (GeWe or wid; ``options`` are the route's other fields). The reply: the message as the
    bot receives it, and the deliveries made."""
    path, body = f"/__admin/{vendor}/messages", {"fromUser": sender, **options}
    reply = (mock.post(path, json=body) if isinstance(mock, httpx.Client)
             else httpx.post(mock.url + path, json=body))
    assert reply.status_code == 201, reply.text
    received: dict[str, Any] = reply.json()
    return received


# --- waiting, ports and a bot's callback endpoint -------------------------------------------


def eventually(check: Callable[[], T | None], timeout: float = 5.0, what: str = "it") -> T:
    """``check()``'s first answer that is not None or False, polled for up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while (result := check()) is None or result is False:
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.02)
    return result


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Ask ``process`` to end; kill it if it has not within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def closed_port_url(path: str = "/callback") -> str:
    """A loopback URL nobody listens on: the bot is down."""
    return f"http://127.0.0.1:{free_port()}{path}"


@contextmanager
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is listened on, and never answered, inside the block."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(8)
        port: int = taken.getsockname()[1]
        yield port


@dataclass(frozen=True)
class BotRequest:
    """One request as the bot received it."""

    path: str
    headers: Headers
    body: bytes
    arrived: float  # time.monotonic()

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingBot:
    """A bot's callback endpoint on 127.0.0.1 and a free port, at ``path``.

    Records each request (headers, raw body) and answers it with ``answer``: by default
    ``status`` with ``body`` after ``delay`` seconds, ``statuses`` queueing the answers to the
    next requests first.
    """

    def __init__(self, path: str = "/callback", body: bytes = b'{"taken":true}') -> None:
        self.requests: list[BotRequest] = []
        self.status = 200
        self.statuses: list[int] = []
        self.body = body
        self.delay = 0.0
        self._path = path
        self._lock = threading.Lock()
        app = flask.Flask("recording_bot")
        app.add_url_rule("/<path:path>", "callback", self._receive, methods=["POST"])
        self._live = LiveServer(app=app)

    @property
    def url(self) -> str:
        return self.url_for(self._path)

    def url_for(self, path: str) -> str:
        """The URL of ``path`` on this bot: it takes a POST to any path."""
        return f"{self._live.url}{path}"

    def answer(self, request: BotRequest, status: int) -> flask.Response:
        time.sleep(self.delay)
        return flask.Response(self.body, status, content_type="application/json")

    def _receive(self, path: str) -> flask.Response:
        request = BotRequest("/" + path, Headers(flask.request.headers),
                             flask.request.get_data(), time.monotonic())
        with self._lock:
            self.requests.append(request)
            status = self.statuses.pop(0) if self.statuses else self.status
        return self.answer(request, status)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[BotRequest]:
        """The first ``count`` requests, once that many have arrived."""
        return eventually(lambda: self.requests[:count] if len(self.requests) >= count
                          else None, timeout, f"{count} request(s) at the bot")

    def __enter__(self) -> Self:
        self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.stop()


class ServedMock:
    """``python -m mockserver serve --quiet`` in a subprocess on a free port, as users run it;
    ready once it answers. Its output goes to a file (a pipe nobody reads while it serves
    would fill, and hold it up)."""

    def __init__(self, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._output = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--quiet", "--port", str(self.port),
             *options], stdout=self._output, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/__admin/clock", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"serve did not start: {self.stop()}")

    def stop(self) -> str:
        """Stop it; what it printed."""
        stop_process(self.process, timeout=15)
        self._output.seek(0)
        output = self._output.read()
        self._output.close()
        return output


# --- chatimg-mock as a user runs it ---------------------------------------------------------

# What keeps root from writing where the permission bits say no (as for any other user).
WITHOUT_ROOTS_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def mock(*args: str, as_a_user: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mockserver`` to its end (it ends at once on a refusal), on any free
    port unless one is given."""
    if args[0] == "serve" and "--port" not in args:
        args = (*args, "--port", "0")
    prefix = []
    if as_a_user and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv, which would make root obey modes")
        prefix = WITHOUT_ROOTS_OVERRIDE
    return subprocess.run([*prefix, sys.executable, "-m", "mockserver", *args],
                          capture_output=True, text=True, timeout=60)


def assert_refused_in_one_line(run: subprocess.CompletedProcess[str], starts: str) -> None:
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    [line] = run.stderr.splitlines()
    assert line.startswith(f"chatimg-mock: {starts}"), line


class Running:
    """``python -m mockserver serve`` in the background, its output read line by line."""

    def __init__(self, *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--port", str(self.port), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.banner = [self.line() for _ in range(2)]
        while self.line() != "}":  # the credentials, as JSON
            pass

    def line(self) -> str:
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        assert line, "the mock ended"
        return line.rstrip("\n")

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=30)
