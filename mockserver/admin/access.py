"""Who may use the admin routes of a mock with an admin token: a script sends the token in a
header; a browser carries it in a cookie, which opening the dashboard's link sets."""

from __future__ import annotations

from flask import Request
from werkzeug.http import dump_cookie

from ..incoming import request_origin
from ..vendors.base import credential_in
from ..vendors.user_side import AdminError

ADMIN_TOKEN_HEADER = "X-Chatimg-Admin-Token"
TOKEN_COOKIE = "chatimg_admin_token"
COOKIE_PATH = "/__admin"
DASHBOARD_PATH = "/__admin/ui/"
LINK_PARAMETER = "token"  # of the dashboard's link: /__admin/ui/?token=<admin token>
REFUSED = (f"the admin routes need the {ADMIN_TOKEN_HEADER} header (in a browser: open "
           f"{DASHBOARD_PATH}?{LINK_PARAMETER}=<admin token>)")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_token(request: Request, token: str, *, link: bool,
                public_url: str | None = None) -> None:
    """AdminError 401 unless ``request`` carries ``token`` (compared in constant time): in the
    link's parameter when the route takes one (``link``) and it is given, which is then judged
    alone; else in the header, or in the cookie.

    A cookie goes with any request the browser makes to the mock, even one another page
    caused: a change (not a GET) made with it must come from the mock's own origin: the one
    the request names, or ``public_url`` (behind a proxy that ends TLS, the page's origin is
    https while the mock is called over http)."""
    if link and LINK_PARAMETER in request.args:
        if not credential_in(request.args[LINK_PARAMETER], (token,)):
            raise AdminError(401, REFUSED)
        return
    if credential_in(request.headers.get(ADMIN_TOKEN_HEADER, ""), (token,)):
        return
    cookie = request.cookies.get(TOKEN_COOKIE)
    if cookie is None or not credential_in(cookie, (token,)):
        raise AdminError(401, REFUSED)
    origin = request.headers.get("Origin")
    if request.method not in SAFE_METHODS and origin is not None \
            and origin not in (request_origin(request), public_url):
        raise AdminError(401, f"the admin token's cookie is taken only from pages of the mock "
                              f"itself, not from {origin}; {REFUSED}")


def token_cookie(token: str) -> str:
    """The Set-Cookie header that keeps ``token`` in the browser for the admin routes only,
    out of reach of scripts and of requests other sites cause."""
    return f"{dump_cookie(TOKEN_COOKIE, token, path=None)}; HttpOnly; SameSite=Strict; " \
           f"Path={COOKIE_PATH}"
