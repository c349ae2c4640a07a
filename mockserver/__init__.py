"""A stateful mock of the GeWe, wid and Lark image APIs, driven by their OpenAPI specs.

Importing the package builds and loads nothing heavy: each name below is imported from its
module on first use (PEP 562), so projects that only install the kit (its pytest plugin is
imported by every pytest run) pay nothing for Flask, openapi-core or Pillow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy_exports import lazy_exports

# Public name -> the module that defines it.
_EXPORTS = {
    "create_app": ".http.app", "mock_state": ".http.app",
    "MockConfig": ".vendors.registry",
    "GeweConfig": ".vendors.gewe.settings", "GeweDevice": ".vendors.gewe.settings",
    "WidConfig": ".vendors.wid.settings", "WidInstance": ".vendors.wid.settings",
    "LarkApp": ".vendors.lark.settings", "LarkConfig": ".vendors.lark.settings",
    "LarkErrorOverride": ".vendors.lark.settings",
    "ConfigError": ".errors", "MockServerError": ".errors", "RequestProblem": ".errors",
    "SpecError": ".errors", "VendorError": ".errors",
    "LiveServer": ".testing.live",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # (the names as type checkers see them: "X as X" marks a re-export)
    from .errors import ConfigError as ConfigError
    from .errors import MockServerError as MockServerError
    from .errors import RequestProblem as RequestProblem
    from .errors import SpecError as SpecError
    from .errors import VendorError as VendorError
    from .http.app import create_app as create_app
    from .http.app import mock_state as mock_state
    from .testing.live import LiveServer as LiveServer
    from .vendors.gewe.settings import GeweConfig as GeweConfig
    from .vendors.gewe.settings import GeweDevice as GeweDevice
    from .vendors.lark.settings import LarkApp as LarkApp
    from .vendors.lark.settings import LarkConfig as LarkConfig
    from .vendors.lark.settings import LarkErrorOverride as LarkErrorOverride
    from .vendors.registry import MockConfig as MockConfig
    from .vendors.wid.settings import WidConfig as WidConfig
    from .vendors.wid.settings import WidInstance as WidInstance
