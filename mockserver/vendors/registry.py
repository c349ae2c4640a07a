"""The one list of vendors the mock serves: their configuration sections, joined into
``MockConfig``, and their APIs, whose specs the app builds a route per operation from.

Adding a vendor is its package, plus a section here and a line in ``vendor_apis``. Reading the
configuration stays light: the APIs (and Flask with them) load only when an app is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import ServerConfig
from .gewe.settings import GeweConfig
from .lark.settings import LarkConfig
from .wid.settings import WidConfig

if TYPE_CHECKING:
    from .base import VendorApi


@dataclass(frozen=True)
class MockConfig(ServerConfig):
    """The whole configuration: the mock's own settings and each vendor's section, under the
    key its spec is named by."""

    gewe: GeweConfig = field(default_factory=GeweConfig)
    wid: WidConfig = field(default_factory=WidConfig)
    lark: LarkConfig = field(default_factory=LarkConfig)


VENDOR_NAMES: tuple[str, ...] = tuple(name for name, _ in MockConfig().sections())


def vendor_apis() -> tuple[type[VendorApi], ...]:
    """Each vendor's API, in the order of ``VENDOR_NAMES``."""
    from .gewe.api import GeweApi
    from .lark.api import LarkApi
    from .wid.api import WidApi

    return GeweApi, WidApi, LarkApi
