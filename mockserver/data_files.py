"""What ships with the kit: its data folders (specs, fixtures), installed or in a checkout,
and its version."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from importlib.abc import Traversable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# Installed wheels carry ``specs/`` and ``fixtures/`` as these subpackages (pyproject.toml).
_PACKAGES = {"specs": "mockserver.spec_files", "fixtures": "mockserver.fixture_files"}


def data_dir(name: str) -> Traversable:
    """The folder ``name`` (``specs`` or ``fixtures``) as shipped with the kit."""
    try:
        return resources.files(_PACKAGES[name])
    except ModuleNotFoundError:  # a source checkout or an editable install
        return Path(__file__).resolve().parent.parent / name


@lru_cache(maxsize=32)
def fixture_image(name: str) -> bytes:
    """The bytes of ``fixtures/images/<name>``; KeyError names the files there."""
    folder = data_dir("fixtures") / "images"
    names = sorted(entry.name for entry in folder.iterdir() if entry.is_file())
    if name not in names:
        raise KeyError(f"no fixture image {name!r}; there are: {', '.join(names)}")
    return (folder / name).read_bytes()


def kit_version() -> str:
    try:
        return version("chatimg-kit")
    except PackageNotFoundError:  # a checkout that is not installed
        return "(not installed)"
