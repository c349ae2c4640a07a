"""The ``mock`` extra: what the mock server, its fixtures and the contract kit need beyond
the client, and the one line that says so when it is not installed."""

from __future__ import annotations

import sys

INSTALL = "pip install 'chatimg-kit[mock]'"
# A module of these missing is a broken install of the kit, not a missing extra.
KIT_PACKAGES = frozenset({"chatimg", "contract_tests", "mockserver"})


def missing_extra(error: ImportError) -> str | None:
    """``needs the mock extra: …`` if ``error`` comes from a library the extra brings (or
    one those bring) not being installed, else None: an ImportError of the kit itself or of
    the standard library is a bug to show as it is."""
    name = (error.name or "").partition(".")[0]
    if not name or name in KIT_PACKAGES or name in sys.stdlib_module_names:
        return None
    return f"needs the mock extra: {INSTALL} (no module named {name!r})"
