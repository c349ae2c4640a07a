"""``chatimg-contract`` on the command line: it leaves a server's data in place, says once what
is wrong with the command or the server, and keeps hypothesis' files out of the working directory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask

from contract_tests.cli import main
from mockserver import LiveServer, MockConfig, create_app
from mockserver.data_files import fixture_image

REPO = Path(__file__).resolve().parents[2]
LARK_APP = MockConfig().lark.apps[0]
NGINX_404 = b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>"


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the runs in this process: hypothesis fills it once, slowly, on first use."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def user_cache(module_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """hypothesis' files of the runs under test go here, not into the real user's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(module_cache))
    monkeypatch.delenv("HYPOTHESIS_STORAGE_DIRECTORY", raising=False)
    return module_cache


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def stored_images(url: str) -> set[tuple[str, str]]:
    reply = httpx.get(f"{url}/__admin/images")
    assert reply.status_code == 200, reply.text
    return {(image["vendor"], image["imageId"]) for image in reply.json()["images"]}


def store_user_images(url: str) -> set[tuple[str, str]]:
    """What a user keeps in their own mock: a received GeWe image and an uploaded Lark image."""
    httpx.post(f"{url}/__admin/gewe/messages",
               json={"fromUser": "wxid_owner", "fixture": "square.png"}).raise_for_status()
    token = httpx.post(f"{url}/open-apis/auth/v3/tenant_access_token/internal",
                       json={"app_id": LARK_APP.app_id, "app_secret": LARK_APP.app_secret}
                       ).json()["tenant_access_token"]
    httpx.post(f"{url}/open-apis/im/v1/images", data={"image_type": "message"},
               files={"image": ("mine.gif", fixture_image("tiny.gif"))},
               headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    images = stored_images(url)
    assert {vendor for vendor, _ in images} == {"gewe", "lark"}
    return images


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], LiveServer]]:
    servers: list[LiveServer] = []

    def start(app: Flask) -> LiveServer:
        servers.append(LiveServer(app=app).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def without_admin_routes(status: str, content_type: str, body: bytes) -> Flask:
    """The mock as a real service looks: every /__admin route answers ``status`` and ``body``."""
    mock = create_app(MockConfig())
    serve_mock = mock.wsgi_app

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"].startswith("/__admin/"):
            start_response(status, [("Content-Type", content_type)])
            return [body]
        return serve_mock(environ, start_response)

    mock.wsgi_app = wsgi_app  # type: ignore[method-assign]
    return mock


# --- a server the kit did not start ---------------------------------------------------------------

def test_a_server_given_by_url_keeps_the_images_it_held(serve, capsys) -> None:
    server = serve(create_app(MockConfig()))
    held = store_user_images(server.url)

    status, out, _ = run_cli(capsys, "--base-url", server.url, "--only", "*.stateful")

    assert status == 0, out
    assert "3 held, 0 failed" in out
    assert held <= stored_images(server.url)


def test_allow_reset_lets_the_stateful_checks_wipe_a_server_given_by_url(serve, capsys) -> None:
    server = serve(create_app(MockConfig()))
    held = store_user_images(server.url)

    status, out, _ = run_cli(capsys, "--base-url", server.url, "--allow-reset",
                             "--only", "gewe.stateful")

    assert status == 0, out
    assert not held & stored_images(server.url)


def test_the_mock_the_kit_starts_leaves_the_configured_state_dir_alone(
        serve, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CHATIMG_STATE_DIR", str(tmp_path / "state"))
    users_mock = serve(create_app(MockConfig(state_dir=str(tmp_path / "state"))))
    held = store_user_images(users_mock.url)

    status, out, _ = run_cli(capsys, "--only", "gewe.stateful")

    assert status == 0, out
    assert held <= stored_images(users_mock.url)


def test_the_mock_the_kit_starts_hands_out_links_to_itself_not_the_configured_public_url(
        capsys, monkeypatch) -> None:
    monkeypatch.setenv("CHATIMG_PUBLIC_URL", f"http://127.0.0.1:{unused_port()}")

    status, out, _ = run_cli(capsys, "--only", "wid.stateful")

    assert status == 0, out


def test_a_mock_with_an_admin_token_gets_it_from_the_environment(serve, capsys,
                                                                 monkeypatch) -> None:
    monkeypatch.setenv("CHATIMG_ADMIN_TOKEN", "s3cret")
    server = serve(create_app(MockConfig(admin_token="s3cret")))

    status, out, _ = run_cli(capsys, "--base-url", server.url, "--only", "wid.stateful")

    assert status == 0, out
    assert "PASS  wid.stateful" in out


# --- a server without the mock's admin routes -----------------------------------------------------

@pytest.mark.parametrize(("status", "content_type", "body"), [
    ("404 Not Found", "text/html", NGINX_404),
    ("200 OK", "application/json", b'{"ret": 500, "msg": "no such api", "data": null}'),
], ids=["html-404", "vendor-envelope"])
def test_a_server_without_admin_routes_skips_user_simulation_saying_why_once(
        serve, capsys, status: str, content_type: str, body: bytes) -> None:
    server = serve(without_admin_routes(status, content_type, body))

    code, out, _ = run_cli(capsys, "--base-url", server.url, "--only", "wid.getMsgImg.valid",
                           "--only", "wid.stateful")

    assert code == 0, out
    [why] = [line for line in out.splitlines() if line.startswith("chatimg-contract:")]
    assert "no user simulation, GET /__admin/credentials answered" in why
    assert "SKIP  wid.stateful" in out
    assert "1 held, 0 failed, 1 skipped" in out


# --- the command line and the server are checked before any check runs ---------------------------

def test_only_matching_no_check_exits_2_listing_the_checks(capsys) -> None:
    status, out, err = run_cli(capsys, "--only", "gewe.postImg*")

    assert status == 2
    assert out == ""
    assert "no check matches --only 'gewe.postImg*'" in err
    assert "  gewe.postImage.valid\n" in err and "  lark.stateful\n" in err


def test_an_unreachable_base_url_is_said_once_and_exits_2(capsys) -> None:
    url = f"http://127.0.0.1:{unused_port()}"

    status, out, err = run_cli(capsys, "--base-url", url, "--only", "gewe.postImage.*")

    assert status == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"chatimg-contract: cannot reach {url}: ")


def test_an_unreadable_config_file_exits_2_with_its_name(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CHATIMG_CONFIG", str(tmp_path / "missing.yaml"))

    with pytest.raises(SystemExit) as exited:
        main(["--only", "gewe.stateful"])

    assert exited.value.code == 2
    assert f"cannot read config file {tmp_path / 'missing.yaml'}" in capsys.readouterr().err


# --- hypothesis' files -----------------------------------------------------------------------------

def test_hypothesis_keeps_its_files_in_the_user_cache_not_the_working_directory(
        tmp_path: Path) -> None:
    # A new process: hypothesis fixes its default directory from the cwd when it is imported.
    workdir, cache = tmp_path / "project", tmp_path / "cache"
    workdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(cache)}

    run = subprocess.run(
        [sys.executable, "-c", "import sys; from contract_tests.cli import main; sys.exit(main())",
         "--only", "client.wid.getMsgImg.allowed"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr
    assert not (workdir / ".hypothesis").exists()
    assert (cache / "chatimg-contract" / "hypothesis").is_dir()


# --- without the mock extra -------------------------------------------------------------------

MISSING_EXTRA = "chatimg-contract: needs the mock extra: pip install 'chatimg-kit[mock]'"


def run_without(module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """The command in a new process where ``import <module>`` raises ModuleNotFoundError (None
    in sys.modules), as it does for the extra's modules when the extra is not installed."""
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from contract_tests.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)


@pytest.mark.parametrize("module", ["hypothesis", "openapi_core", "flask"])
def test_without_the_mock_extra_one_line_names_it_and_exits_2(module: str) -> None:
    run = run_without(module, "--only", "gewe.*")

    assert run.returncode == 2
    assert run.stderr == f"{MISSING_EXTRA} (no module named {module!r})\n"
    assert run.stdout == ""


def test_a_missing_module_of_the_kit_itself_is_not_blamed_on_the_extra() -> None:
    run = run_without("contract_tests.checks")

    assert run.returncode == 1
    assert "ModuleNotFoundError" in run.stderr
    assert "mock extra" not in run.stderr
