"""The linters the house runs: ruff over the whole tree, mypy over the mock and the contract
kit, and mypy --strict over the client, which users type-check against (it ships py.typed).
Their settings live in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [
    ["ruff", "check", "."],
    ["mypy"],
    ["mypy", "--strict", "chatimg"],
], ids=["ruff", "mypy", "mypy-strict-client"])
def test_the_tree_passes(command: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", *command], cwd=CHECKOUT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
