"""The browser tests' footing: headless Chromium reaches a live mock over loopback, reads its
index and shows an image it serves; and a missing browser skips these tests on a checkout but
fails them where system tools are required (CI)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _system
import httpx
import pytest
from _support import GEWE_API, GEWE_APP_ID, GEWE_HEADERS
from _system import REQUIRE_VARIABLE, require_system_tool
from PIL import Image

from mockserver import LiveServer

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

# Resolves with the <img>'s outcome once the browser has loaded (or refused) its source.
LOAD_IMAGE = """
const [source, done] = arguments;
const image = document.createElement("img");
image.onload = () => done({loaded: true, width: image.naturalWidth,
                           height: image.naturalHeight});
image.onerror = () => done({loaded: false, width: image.naturalWidth, height: 0});
image.src = source;
document.body.appendChild(image);
"""


def test_the_browser_reads_the_index_of_the_live_mock(browser: Chrome,
                                                      live_mock: LiveServer) -> None:
    browser.get(live_mock.url + "/")
    shown = browser.execute_script("return document.body.innerText")
    assert "chatimg mock" in shown
    assert f"{live_mock.url}/gewe/v2/api" in shown  # its base URLs: built from this request


def test_the_browser_shows_an_image_the_mock_serves(
        browser: Chrome, live_mock: LiveServer, screenshot: Callable[[str], Path]) -> None:
    received = live_mock.send_image("gewe", fixture="landscape.jpg", hd=False)
    reply = httpx.post(f"{live_mock.url}{GEWE_API}/message/downloadImage", headers=GEWE_HEADERS,
                       json={"appId": GEWE_APP_ID, "type": 2, "xml": received.xml}, timeout=10)
    file_url: str = reply.json()["data"]["fileUrl"]
    assert file_url.startswith(live_mock.url + "/__files/")
    with Image.open(io.BytesIO(httpx.get(file_url, timeout=10).content)) as served:
        expected_size = served.size

    browser.get(live_mock.url + "/")  # the image's origin, as the dashboard's page will be
    outcome: dict[str, Any] = browser.execute_async_script(LOAD_IMAGE, file_url)

    assert outcome == {"loaded": True, "width": expected_size[0], "height": expected_size[1]}
    with Image.open(screenshot("browser-smoke-image")) as shot:
        assert shot.format == "PNG"
        assert shot.width == browser.execute_script("return window.innerWidth")


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No program is found: neither on PATH nor in Debian's directories."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_system, "DEBIAN_DIRS", (str(tmp_path),))


@pytest.mark.usefixtures("nothing_installed")
def test_a_missing_program_skips_the_test_saying_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception,
                       match=r"chromedriver not found .*: apt-get install chromium-driver$"):
        require_system_tool("chromedriver", "Selenium drives Chromium through it",
                            package="chromium-driver")


@pytest.mark.usefixtures("nothing_installed")
def test_a_missing_program_fails_the_test_where_system_tools_are_required(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception,
                       match=rf"redis-server not found .*{REQUIRE_VARIABLE} is set"):
        require_system_tool("redis-server", "the Redis store's tests run one")


def test_a_program_is_found_under_its_other_name_in_debians_directories(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    program = tmp_path / "chromium-browser"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(_system, "DEBIAN_DIRS", (str(tmp_path),))
    monkeypatch.setenv(REQUIRE_VARIABLE, "1")
    assert require_system_tool("chromium", "a test", also=("chromium-browser",)) == str(program)
