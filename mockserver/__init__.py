"""A stateful mock of the GeWe, wid and Lark image APIs, driven by their OpenAPI specs."""

from .app import create_app, mock_state
from .config import (
    GeweConfig,
    GeweDevice,
    LarkApp,
    LarkConfig,
    MockConfig,
    WidConfig,
    WidInstance,
)
from .errors import ConfigError, MockServerError, RequestProblem, SpecError, VendorError
from .live import LiveServer

__all__ = [
    "ConfigError", "GeweConfig", "GeweDevice", "LarkApp", "LarkConfig", "LiveServer",
    "MockConfig", "MockServerError", "RequestProblem", "SpecError", "VendorError", "WidConfig",
    "WidInstance", "create_app", "mock_state",
]
