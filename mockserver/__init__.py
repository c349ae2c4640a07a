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
    "GeweConfig": ".config", "GeweDevice": ".config", "LarkApp": ".config",
    "LarkConfig": ".config", "MockConfig": ".config", "WidConfig": ".config",
    "WidInstance": ".config",
    "ConfigError": ".errors", "MockServerError": ".errors", "RequestProblem": ".errors",
    "SpecError": ".errors", "VendorError": ".errors",
    "LiveServer": ".testing.live",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # (the names as type checkers see them: "X as X" marks a re-export)
    from .config import GeweConfig as GeweConfig
    from .config import GeweDevice as GeweDevice
    from .config import LarkApp as LarkApp
    from .config import LarkConfig as LarkConfig
    from .config import MockConfig as MockConfig
    from .config import WidConfig as WidConfig
    from .config import WidInstance as WidInstance
    from .errors import ConfigError as ConfigError
    from .errors import MockServerError as MockServerError
    from .errors import RequestProblem as RequestProblem
    from .errors import SpecError as SpecError
    from .errors import VendorError as VendorError
    from .http.app import create_app as create_app
    from .http.app import mock_state as mock_state
    from .testing.live import LiveServer as LiveServer
