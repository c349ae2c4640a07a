"""The wid API's section of the configuration (the ``wid:`` key, ``CHATIMG_WID_*``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...config import Section, at_least, not_empty, one_of, setting


@dataclass(frozen=True)
class WidInstance:
    """A WeChat instance (wId) and the account (wcId) logged in on it."""

    w_id: str
    wc_id: str
    account: str = "13800000000"  # the login account callbacks name


def _with_w_id(config: WidConfig, w_id: str) -> WidConfig:
    instance = dataclasses.replace(config.instances[0], w_id=w_id)
    return dataclasses.replace(config, instances=(instance, *config.instances[1:]))


def _with_authorization(config: WidConfig, authorization: str) -> WidConfig:
    return dataclasses.replace(config, authorizations=(authorization,))


@dataclass(frozen=True)
class WidConfig(Section):
    env: ClassVar[Mapping[str, Callable[[Any, str], Any]]] = {
        "WID_AUTHORIZATION": _with_authorization, "WID_ID": _with_w_id}

    authorizations: tuple[str, ...] = setting(("wid-mock-authorization",), check=not_empty)
    instances: tuple[WidInstance, ...] = (
        WidInstance(w_id="00000171-0504-4e11-0005-89183b61f7e4", wc_id="wxid_wl9qchkanp9u22"),
    )
    # The local document answers the URL as a string, the public one as {"url": ...}.
    data_shape: str = setting("string", check=one_of("string", "object"))
    # The vendor drops a callback the bot has not taken within 6 s (its callback document).
    callback_timeout_seconds: float = setting(6.0, check=at_least(0))
    # messageType of callbacks: "old" (ints 6 / 10) or "new" (E云管家 codes "60002" / "80002").
    callback_format: str = setting("old", check=one_of("old", "new"))

    def secrets(self) -> tuple[str, ...]:
        return self.authorizations

    def credentials(self) -> dict[str, Any]:
        return {"Authorization": self.authorizations[0], "wIds": list(self.accounts())}

    def accounts(self) -> tuple[str, ...]:
        return tuple(instance.w_id for instance in self.instances)
