"""The deployment example, run: Debian's nginx with ``deploy/nginx.conf`` in front of two
replicas of the mock that keep their state in one real Redis, as ``deploy/README.md`` sets
them up. The test changes only addresses and where nginx keeps its own files; the upstream and
proxy settings are the shipped ones, so a change there is tested here."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
import pytest
from _redis import RedisServer
from _support import (
    APP_A,
    DEFAULTS,
    GEWE_API,
    GEWE_APP_ID,
    GEWE_TOKEN,
    W_ID,
    WID_AUTHORIZATION,
    ServedMock,
    eventually,
    free_port,
    lark_auth,
    receive,
    stop_process,
)
from _system import require_system_tool
from PIL import Image

from chatimg import GeweClient, ImageType, LarkClient, WidClient

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SHIPPED_CONFIG = DEPLOY / "nginx.conf"
# What the shipped config names that is this machine's to say: the replicas and the port.
REPLICA_ADDRESSES = ("replica-1:4010", "replica-2:4010")
SHIPPED_LISTEN = "listen 8080;"
SHIPPED_USER = "user www-data;"
SHIPPED_ERROR_LOG = "error_log /var/log/nginx/error.log"
SHIPPED_ACCESS_LOG = "/var/log/nginx/chatimg-access.log"
# Where nginx would keep request bodies and the like (Debian's paths need root): the test's.
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
START_SECONDS = 10.0
LARK_IMAGES = "/open-apis/im/v1/images"
LARK_LIMIT = 10 * 1024 * 1024
# A line of the shipped config's log_format chatimg.
LOG_LINE = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d+) \S+ upstream=(?P<upstream>.*?) '
                      r"upstream_status=")
BIG_IMAGE_SIDE = 1740  # a noise PNG this wide and high, barely compressed: about 9.1 MB


# --- nginx from the shipped config ---------------------------------------------------------


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with its one ``old`` made ``new``: a shipped file without it (or with two)
    fails here instead of being run with a setting the test meant to change."""
    found = text.count(old)
    assert found == 1, f"{SHIPPED_CONFIG.name} has {old!r} {found} times, not once"
    return text.replace(old, new)


def balancer_config(shipped: str, *, port: int, replica_ports: Sequence[int],
                    run_dir: Path) -> str:
    """``shipped`` listening on ``port`` of 127.0.0.1, its upstream on the replicas at
    ``replica_ports``, its pid, logs and temporary files in ``run_dir``."""
    config = shipped
    for address, replica_port in zip(REPLICA_ADDRESSES, replica_ports, strict=True):
        config = replace_once(config, f"server {address} ", f"server 127.0.0.1:{replica_port} ")
    config = replace_once(config, SHIPPED_LISTEN, f"listen 127.0.0.1:{port};")
    # Run as root, nginx's workers become the user named: root's, they can write in the test's
    # folder (www-data cannot); run as anyone else, nginx ignores the directive.
    config = replace_once(config, SHIPPED_USER, "user root;" if os.geteuid() == 0 else "")
    config = replace_once(config, SHIPPED_ERROR_LOG, f'error_log "{run_dir / "error.log"}"')
    config = replace_once(config, SHIPPED_ACCESS_LOG, f'"{run_dir / "access.log"}"')
    temp_paths = "".join(f'    {name}_temp_path "{run_dir / name}";\n' for name in TEMP_PATHS)
    config = replace_once(config, "\nhttp {\n", f"\nhttp {{\n{temp_paths}")
    return f'pid "{run_dir / "nginx.pid"}";\n{config}'


class Nginx:
    """nginx in the foreground on 127.0.0.1 and a free port, with the shipped config made
    this machine's (``balancer_config``); its access log tells which replica took each call."""

    def __init__(self, program: str, run_dir: Path, replica_ports: Sequence[int]) -> None:
        self.program = program
        self.run_dir = run_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_file = run_dir / "nginx.conf"
        self.config_file.write_text(balancer_config(
            SHIPPED_CONFIG.read_text(encoding="utf-8"), port=self.port,
            replica_ports=replica_ports, run_dir=run_dir), encoding="utf-8")
        self.access_log = run_dir / "access.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        self._process = subprocess.Popen(
            [self.program, "-p", str(self.run_dir), "-c", str(self.config_file),
             "-e", str(self.run_dir / "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nginx did not start: {self.error_log()[-2000:]}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        stop_process(process)

    def error_log(self) -> str:
        path = self.run_dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_mark(self) -> int:
        """Where the access log ends now: ``logged_since`` reads the calls made after."""
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def logged_since(self, mark: int, calls: int) -> list[dict[str, str]]:
        """The first ``calls`` calls logged after ``mark``: each one's request, status and
        upstream (the replicas tried, host:port, comma separated). nginx logs a call once it
        is done with it, which may be after the client has the answer: this waits for them."""
        def logged() -> list[dict[str, str]] | None:
            with open(self.access_log, "rb") as log:
                log.seek(mark)
                found = [match.groupdict() for match in LOG_LINE.finditer(log.read().decode())]
            return found[:calls] if len(found) >= calls else None
        return eventually(logged, what=f"{calls} calls in nginx's access log")

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


@dataclass(frozen=True)
class Deployment:
    """nginx in front of two replicas that share one Redis and one key prefix."""

    nginx: Nginx
    replicas: tuple[ServedMock, ServedMock]

    @property
    def url(self) -> str:
        return self.nginx.url

    @property
    def replica_addresses(self) -> set[str]:
        return {f"127.0.0.1:{replica.port}" for replica in self.replicas}


@contextmanager
def deployed(redis_server: RedisServer, run_dir: Path) -> Iterator[Deployment]:
    """Two replicas on a fresh key prefix of ``redis_server``, and nginx in front of them."""
    program = require_system_tool("nginx", "the deployment example's test runs it in front of "
                                  "two replicas", package="nginx")
    store, prefix = redis_server.url(), redis_server.fresh_prefix()
    replicas: list[ServedMock] = []

    def start_replica() -> None:
        replicas.append(ServedMock("--store", store, "--store-prefix", prefix))

    try:
        with ThreadPoolExecutor(2) as pool:  # (each takes seconds to start)
            for started in [pool.submit(start_replica) for _ in range(2)]:
                started.result()
        first, second = replicas
        with Nginx(program, run_dir, [first.port, second.port]) as nginx:
            yield Deployment(nginx, (first, second))
    finally:
        for replica in replicas:
            if replica.process.poll() is None:  # (a test may have stopped it)
                replica.stop()


@pytest.fixture(scope="module")
def deployment(redis_server: RedisServer,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One deployment for the tests that leave it as they found it."""
    with deployed(redis_server, tmp_path_factory.mktemp("nginx")) as running:
        yield running


# --- images to send -----------------------------------------------------------------------


def png_of(side: int, seed: int, *, noise: bool = False) -> bytes:
    """A PNG ``side`` pixels square: one colour of ``seed``, or noise that barely compresses
    (a PNG of about ``3 * side ** 2`` bytes)."""
    if noise:
        image = Image.frombytes("RGB", (side, side), os.urandom(3 * side * side))
    else:
        image = Image.new("RGB", (side, side), (seed * 37 % 256, seed * 91 % 256, 200))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=0 if noise else 6)
    return buffer.getvalue()


def gewe_client(url: str) -> GeweClient:
    return GeweClient(url + GEWE_API, GEWE_TOKEN, GEWE_APP_ID, timeout=30)


def lark_client(url: str) -> LarkClient:
    return LarkClient(APP_A.app_id, APP_A.app_secret, base_url=url, timeout=30)


# --- one mock behind the balancer ----------------------------------------------------------


def test_calls_through_nginx_take_turns_between_the_two_replicas(
        deployment: Deployment) -> None:
    mark = deployment.nginx.log_mark()
    with httpx.Client(base_url=deployment.url, timeout=10) as client:
        assert [client.get("/__admin/clock").status_code for _ in range(6)] == [200] * 6
    served_by = [call["upstream"] for call in deployment.nginx.logged_since(mark, 6)]
    assert set(served_by) == deployment.replica_addresses
    assert all(one != next_one for one, next_one in itertools.pairwise(served_by)), served_by


def test_a_gewe_image_posted_through_nginx_downloads_through_it_at_the_balancers_address(
        deployment: Deployment) -> None:
    png = png_of(40, 1)
    mark = deployment.nginx.log_mark()
    with gewe_client(deployment.url) as gewe, httpx.Client(timeout=10) as http:
        sent = gewe.post_image("wxid_friend01",
                               "data:image/png;base64," + base64.b64encode(png).decode())
        file_url = gewe.download_image(sent.forward_xml(), ImageType.NORMAL).file_url
        assert file_url.startswith(f"{deployment.url}/__files/"), file_url
        assert http.get(file_url).content == png
    served_by = {call["upstream"] for call in deployment.nginx.logged_since(mark, 3)}
    assert served_by == deployment.replica_addresses


def test_a_wid_image_link_points_at_the_balancer_and_opens_through_it(
        deployment: Deployment) -> None:
    with httpx.Client(base_url=deployment.url, timeout=10) as http, \
            WidClient(deployment.url, WID_AUTHORIZATION, W_ID, timeout=30) as wid:
        message = receive(http, "wid")
        link = wid.get_msg_img(message["msgId"], message["fromUser"], message["toUser"],
                               message["content"])
        assert link.startswith(f"{deployment.url}/__files/"), link
        image = http.get(link)
    assert image.status_code == 200
    assert f'md5="{hashlib.md5(image.content).hexdigest()}"' in message["content"]


def test_a_lark_image_uploaded_through_nginx_downloads_from_each_replica(
        deployment: Deployment) -> None:
    png = png_of(48, 2)
    with lark_client(deployment.url) as lark:
        image_key = lark.upload_image(png)
    for replica in deployment.replicas:
        with lark_client(replica.url) as lark:
            assert lark.download_image(image_key) == png


def test_a_9_mb_lark_image_passes_the_balancer_both_ways(deployment: Deployment) -> None:
    big = png_of(BIG_IMAGE_SIDE, 3, noise=True)
    assert 9_000_000 < len(big) < LARK_LIMIT
    with lark_client(deployment.url) as lark:
        assert lark.download_image(lark.upload_image(big)) == big


@pytest.mark.parametrize("size", [LARK_LIMIT + 1, DEFAULTS.max_body_bytes + 1],
                         ids=["over-lark-limit", "over-the-mock-cap"])
def test_an_image_too_big_for_lark_is_refused_by_the_mock_in_larks_envelope_not_by_nginx(
        deployment: Deployment, size: int) -> None:
    with httpx.Client(base_url=deployment.url, timeout=30) as http:
        reply = http.post(LARK_IMAGES, headers=lark_auth(http), files={
            "image_type": (None, "message"), "image": ("big.png", b"\0" * size, "image/png")})
    assert reply.status_code == 400, reply.text[:300]
    assert reply.json()["code"] == 234006


def test_with_one_replica_stopped_every_call_through_nginx_is_answered_by_the_other(
        redis_server: RedisServer, tmp_path: Path) -> None:
    with deployed(redis_server, tmp_path) as deployment:
        stopped, survivor = deployment.replicas
        with lark_client(deployment.url) as lark:
            image_key = lark.upload_image(png_of(32, 4))
        stopped.stop()
        mark = deployment.nginx.log_mark()
        with gewe_client(deployment.url) as gewe, lark_client(deployment.url) as lark:
            for _ in range(3):
                gewe.post_image("wxid_friend01", "http://dummyimage.com/40x30")
                assert lark.download_image(image_key)[:8] == b"\x89PNG\r\n\x1a\n"
        logged = deployment.nginx.logged_since(mark, 7)  # and the Lark token call
    assert {call["status"] for call in logged} == {"200"}
    answered_by = {call["upstream"].split(", ")[-1] for call in logged}  # (the last one tried)
    assert answered_by == {f"127.0.0.1:{survivor.port}"}
    # One of the first two calls, both POSTs, was nginx's turn of the stopped replica.
    assert f"127.0.0.1:{stopped.port}, " in logged[0]["upstream"] + logged[1]["upstream"]
    assert all(call["request"].startswith("POST ") for call in logged[:2])
