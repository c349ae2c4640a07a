"""The client installs alone: ``pip install chatimg-kit`` gives ``chatimg`` with httpx (and
cryptography, for Lark's encrypted events), and the server's commands and fixtures name the
``mock`` extra instead of failing on an import. Installed for real, in a fresh environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
SERVER_DISTRIBUTIONS = {"flask", "werkzeug", "openapi-core", "pillow", "gunicorn", "hypothesis",
                        "pyyaml", "defusedxml"}


@pytest.fixture(scope="module")
def client_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with the kit installed without extras; its bin folder."""
    root = tmp_path_factory.mktemp("client-only")
    source = root / "source"  # (pip builds in the tree it installs: not in the checkout)
    shutil.copytree(CHECKOUT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".hypothesis", ".ruff_cache"))
    venv.create(root, with_pip=True)
    bin_dir = root / ("Scripts" if sys.platform == "win32" else "bin")
    installed = subprocess.run([bin_dir / "python", "-m", "pip", "install", "--quiet",
                                str(source)], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return bin_dir


def test_the_client_alone_brings_no_server_library(client_only: Path) -> None:
    listed = subprocess.run([client_only / "python", "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, check=True).stdout
    names = {line.split("==")[0].lower() for line in listed.splitlines()}
    assert {"chatimg-kit", "httpx", "cryptography"} <= names
    assert not names & SERVER_DISTRIBUTIONS


def test_the_client_imports_and_ships_its_types(client_only: Path) -> None:
    result = subprocess.run(
        [client_only / "python", "-c", "import pathlib, chatimg; "
         "print(chatimg.LarkClient.__name__, "
         "(pathlib.Path(chatimg.__file__).parent / 'py.typed').is_file())"],
        capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["LarkClient", "True"], result.stderr


def test_serve_names_the_extra_it_needs(client_only: Path) -> None:
    result = subprocess.run([client_only / "chatimg-mock", "serve", "--port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == ("chatimg-mock: serve needs the mock extra: "
                             "pip install 'chatimg-kit[mock]' (no module named 'flask')\n")


def test_the_package_ships_the_dashboard_page(client_only: Path) -> None:
    folder = subprocess.run(
        [client_only / "python", "-c", "import pathlib, mockserver; "
         "print(pathlib.Path(mockserver.__file__).parent / 'admin' / 'ui')"],
        capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    shipped = {path.name for path in Path(folder).iterdir()}
    assert {"index.html", "dashboard.js", "dashboard.css"} <= shipped
