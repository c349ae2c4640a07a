"""The dashboard's files: a page over the admin routes, shipped in ``ui/`` beside this module.

Only the plain files of that folder, of the kinds a page is made of, are served; a name is
looked up among them, never joined onto a path, so no request reaches another file.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import PurePosixPath

from flask import Request, Response

from ..vendors.user_side import AdminError

INDEX = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# The page changes with the kit: a browser asks again each time (an ETag spares the bytes).
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def ui_folder() -> Traversable:
    """``ui/`` as installed or in a checkout (the package's data)."""
    return resources.files(__name__.rpartition(".")[0]) / "ui"


def ui_file_names(folder: Traversable) -> set[str]:
    """The files the dashboard may serve: plain files of a known kind, not hidden ones."""
    try:
        entries = list(folder.iterdir())
    except OSError:  # (an installation without the page's files)
        return set()
    return {entry.name for entry in entries if entry.is_file() and not entry.name.startswith(".")
            and PurePosixPath(entry.name).suffix.lower() in CONTENT_TYPES}


def ui_file_response(name: str, request: Request) -> Response:
    """The file ``name`` of the dashboard with its content type, or AdminError 404."""
    folder = ui_folder()
    if name not in ui_file_names(folder):
        raise AdminError(404, f"the dashboard has no file {name!r}")
    data = (folder / name).read_bytes()
    response = Response(data, 200, headers=HEADERS,
                        content_type=CONTENT_TYPES[PurePosixPath(name).suffix.lower()])
    response.add_etag()
    response.make_conditional(request)  # (304 when the browser's copy is this one)
    return response
