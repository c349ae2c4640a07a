"""The one list of vendors the mock serves. The app builds a route per operation of each,
from the spec its API names; adding a vendor is its package plus one line here."""

from __future__ import annotations

from .base import VendorApi
from .gewe.api import GeweApi
from .lark.api import LarkApi
from .wid.api import WidApi

VENDORS: tuple[type[VendorApi], ...] = (
    GeweApi,
    WidApi,
    LarkApi,
)
