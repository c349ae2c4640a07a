"""pytest plugin (entry point ``chatimg``): the mock as a live-server fixture.

``chatimg_mock`` is the mock on a real socket (one server per session, started on first use,
state reset before every test); ``chatimg_gewe``, ``chatimg_wid`` and ``chatimg_lark`` are
clients of the ``chatimg`` library pointed at it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from ..extra import missing_extra

if TYPE_CHECKING:  # (pytest imports this plugin in every project: the server loads on use)
    from chatimg import GeweClient, LarkClient, WidClient

    from ..vendors.registry import MockConfig
    from .live import LiveServer


def _mock_module(name: str) -> ModuleType:
    """A module of the mock server, or one line that names the extra it needs."""
    try:
        return importlib.import_module(name, __package__)
    except ImportError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
    # (Outside the except: no chained traceback.)
    pytest.fail(f"the chatimg_mock fixture {message}", pytrace=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatimg", "chatimg mock server")
    group.addoption("--chatimg-config", metavar="PATH", default=None,
                    help="YAML/JSON config for the chatimg_mock fixture (default: built-in)")


@pytest.fixture(scope="session")
def chatimg_config(pytestconfig: pytest.Config) -> MockConfig:
    """The mock's configuration; override this fixture to change it for a test session."""
    config: MockConfig = _mock_module("..vendors.registry").MockConfig.load(
        pytestconfig.getoption("chatimg_config"))
    return config


@pytest.fixture(scope="session")
def chatimg_server(chatimg_config: MockConfig) -> Iterator[LiveServer]:
    """The mock for the whole session, on 127.0.0.1 and a free port."""
    with _mock_module(".live").LiveServer(chatimg_config) as server:
        yield server


@pytest.fixture
def chatimg_mock(chatimg_server: LiveServer) -> LiveServer:
    """The mock with a clean state: ``.url``, ``.state`` (store, clock), ``.app``. Its helpers
    play the users (``send_image``), arm failures (``fail``, ``fault``, ``rules``), move the
    clock (``advance_clock``) and check the calls (``journal.assert_called``)."""
    chatimg_server.state.reset()
    return chatimg_server


@pytest.fixture
def chatimg_gewe(chatimg_mock: LiveServer, chatimg_config: MockConfig) -> Iterator[GeweClient]:
    """A GeWe client of the mock, with its first token and device."""
    from chatimg import GeweClient

    with GeweClient(f"{chatimg_mock.url}/gewe/v2/api", chatimg_config.gewe.tokens[0],
                    chatimg_config.gewe.devices[0].app_id) as client:
        yield client


@pytest.fixture
def chatimg_wid(chatimg_mock: LiveServer, chatimg_config: MockConfig) -> Iterator[WidClient]:
    """A wid client of the mock, with its first Authorization and instance."""
    from chatimg import WidClient

    with WidClient(chatimg_mock.url, chatimg_config.wid.authorizations[0],
                   chatimg_config.wid.instances[0].w_id) as client:
        yield client


@pytest.fixture
def chatimg_lark(chatimg_mock: LiveServer, chatimg_config: MockConfig) -> Iterator[LarkClient]:
    """A Lark client of the mock, as its first app."""
    from chatimg import LarkClient

    app = chatimg_config.lark.apps[0]
    with LarkClient(app.app_id, app.app_secret, base_url=chatimg_mock.url) as client:
        yield client
