"""Programs from the operating system that some tests need (a browser and its driver, a Redis
server): found on PATH or where Debian installs them.

A missing program skips the test with a reason, so a checkout runs without it; with
``CHATIMG_REQUIRE_SYSTEM_TOOLS=1`` (CI sets it, having installed them) a missing program fails
the test instead, so a broken install can never pass as a row of skips.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Sequence

import pytest

REQUIRE_VARIABLE = "CHATIMG_REQUIRE_SYSTEM_TOOLS"
# Looked in after PATH: where Debian's packages put their programs, for a PATH without them.
DEBIAN_DIRS: tuple[str, ...] = ("/usr/bin", "/usr/sbin")


def system_tools_required() -> bool:
    """Whether a missing program is a failure rather than a skip."""
    return os.environ.get(REQUIRE_VARIABLE, "").strip().lower() in {"1", "true", "yes"}


def find_system_tool(*names: str) -> str | None:
    """The path of the first of ``names`` found on PATH, then in Debian's directories."""
    for search_path in (None, os.pathsep.join(DEBIAN_DIRS)):
        for name in names:
            if found := shutil.which(name, path=search_path):
                return found
    return None


def require_system_tool(name: str, reason: str, *, package: str | None = None,
                        also: Sequence[str] = ()) -> str:
    """The path of program ``name`` (or of one of its other names ``also``); when there is
    none, skip the calling test or fixture with ``reason``, or fail it when system tools are
    required. ``package`` is the Debian package that installs it, named in the message."""
    found = find_system_tool(name, *also)
    if found:
        return found
    message = f"{name} not found ({reason}): apt-get install {package or name}"
    if system_tools_required():
        pytest.fail(f"{message} [{REQUIRE_VARIABLE} is set: a missing system tool is a failure]",
                    pytrace=False)
    pytest.skip(message)


def require_python_module(name: str, distribution: str) -> None:
    """Skip the calling test or fixture without the module ``name`` (of the test extra's
    ``distribution``), or fail it when system tools are required: a checkout may run the rest
    of the tests without it."""
    try:
        importlib.import_module(name)
    except ImportError:
        message = f"{distribution} is not installed: pip install '.[test]'"
        if system_tools_required():
            pytest.fail(f"{message} [{REQUIRE_VARIABLE} is set]", pytrace=False)
        pytest.skip(message)
