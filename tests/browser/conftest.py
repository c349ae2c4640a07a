"""Fixtures of the tests in a real browser: headless Chromium from the system, driven by
Selenium through the system's chromedriver, on a fresh mock listening on loopback.

Without Chromium, its driver or Selenium these tests skip, saying what is missing; with
``CHATIMG_REQUIRE_SYSTEM_TOOLS=1`` (as in CI) they fail instead. ``CHATIMG_SCREENSHOTS=<dir>``
keeps the screenshots tests take (e.g. for the docs); else they go to the test's tmp_path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _system import require_python_module, require_system_tool

from mockserver import LiveServer, MockConfig

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

SCREENSHOTS_VARIABLE = "CHATIMG_SCREENSHOTS"
WINDOW_SIZE = (1400, 1000)
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox will not start
    "--disable-dev-shm-usage",  # a container's /dev/shm is too small for it
    "--disable-gpu",
    f"--window-size={WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
    # Nothing beyond loopback: no host name resolves but localhost (the mock is 127.0.0.1),
    # and none of the browser's own background traffic is started.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
)


@pytest.fixture(scope="session")
def browser_session() -> Iterator[Chrome]:
    """One headless Chromium for the whole run (starting one takes about a second); the
    ``browser`` fixture hands it to each test."""
    require_python_module("selenium", "selenium")
    chromium = require_system_tool("chromium", "the browser tests run in it",
                                   also=("chromium-browser",))
    chromedriver = require_system_tool("chromedriver", "Selenium drives Chromium through it",
                                       package="chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    # Given the driver's path, Selenium never runs Selenium Manager, which would download a
    # browser or a driver.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(browser_session: Chrome) -> Iterator[Chrome]:
    """The session's browser, left on a blank page and without cookies after the test: the
    next test starts on its own mock (another port, so another origin) with nothing carried
    over. (Cookies are kept per host, not per port, hence cleared.)"""
    yield browser_session
    browser_session.get("about:blank")
    browser_session.execute_cdp_cmd("Network.clearBrowserCookies", {})


@pytest.fixture
def screenshot(browser: Chrome, tmp_path: Path) -> Callable[[str], Path]:
    """``screenshot(name)`` saves what the browser shows as ``<name>.png`` and returns the
    file: in the directory ``CHATIMG_SCREENSHOTS`` names when it is set (an explicit opt-in,
    since it overwrites), else in the test's tmp_path."""
    chosen = os.environ.get(SCREENSHOTS_VARIABLE, "").strip()
    folder = Path(chosen) if chosen else tmp_path

    def save(name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        if not browser.save_screenshot(str(path)):
            raise AssertionError(f"the browser could not write the screenshot {path}")
        return path

    return save


@pytest.fixture
def start_mock() -> Iterator[Callable[[MockConfig], LiveServer]]:
    """``start_mock(config)``: a fresh mock on 127.0.0.1 and a port of its own (e.g. one with
    ``MockConfig(admin_token=...)``); every mock started is stopped after the test."""
    started: list[LiveServer] = []

    def start(config: MockConfig) -> LiveServer:
        started.append(LiveServer(config).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_mock(start_mock: Callable[[MockConfig], LiveServer]) -> LiveServer:
    """A fresh mock of the default settings, for one test."""
    return start_mock(MockConfig())
