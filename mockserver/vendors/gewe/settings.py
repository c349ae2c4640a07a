"""GeWe's section of the configuration (the ``gewe:`` key, ``CHATIMG_GEWE_*``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...config import Section, at_least, not_empty, setting


@dataclass(frozen=True)
class GeweDevice:
    """A GeWe device (appId) and the WeChat account logged in on it."""

    app_id: str
    wxid: str
    online: bool = True


def _with_token(config: GeweConfig, token: str) -> GeweConfig:
    return dataclasses.replace(config, tokens=(token,))


def _with_app_id(config: GeweConfig, app_id: str) -> GeweConfig:
    device = dataclasses.replace(config.devices[0], app_id=app_id)
    return dataclasses.replace(config, devices=(device, *config.devices[1:]))


@dataclass(frozen=True)
class GeweConfig(Section):
    env: ClassVar[Mapping[str, Callable[[Any, str], Any]]] = {
        "GEWE_TOKEN": _with_token, "GEWE_APP_ID": _with_app_id}

    tokens: tuple[str, ...] = setting(("gewe-mock-token",), check=not_empty)
    devices: tuple[GeweDevice, ...] = (
        GeweDevice(app_id="wx_MockDevice00000000001", wxid="wxid_mockbot0000001"),
    )
    # No public capture of this failure exists (vendor notes 1.3), so its text is a setting.
    no_such_type_message: str = "该图片没有{kind}图片"
    file_url_ttl_seconds: int = setting(7 * 24 * 3600, check=at_least(0))
    # How long the mock waits for the bot to take a callback (not documented by GeWe).
    callback_timeout_seconds: float = setting(5.0, check=at_least(0))
    # Callbacks' Data.NewMsgId: a number in some captures, a string in others (notes 1.5).
    new_msg_id_as_string: bool = False
    # Group messages' XML starts with "<sender>:\n". Real GeWe releases have both accepted and
    # refused it (vendor notes 1.4); false makes downloads refuse it as an XML parse failure.
    accept_sender_prefix: bool = True

    def secrets(self) -> tuple[str, ...]:
        return self.tokens

    def credentials(self) -> dict[str, Any]:
        return {"X-GEWE-TOKEN": self.tokens[0], "appIds": list(self.accounts())}

    def accounts(self) -> tuple[str, ...]:
        return tuple(device.app_id for device in self.devices)
