"""Lark's section of the configuration (the ``lark:`` key, ``CHATIMG_LARK_*``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...config import Section, at_least, setting


@dataclass(frozen=True)
class LarkApp:
    """A Lark app, with the tenant state that some error codes depend on."""

    app_id: str
    app_secret: str
    bot_enabled: bool = True
    tenant_master_key_deleted: bool = False
    tenant_storage_error: bool = False
    tenant_key: str = "2ca1d211f64f6438"
    # Event subscription, as set in the developer console (or later by the admin API).
    event_url: str | None = None
    verification_token: str = "mock-verification-token"
    encrypt_key: str | None = None


@dataclass(frozen=True)
class LarkErrorOverride:
    """Replaces the status or text of a Lark error whose real reply is not confirmed."""

    status: int | None = None
    msg: str | None = None


def _with_first_app(name: str) -> Callable[[LarkConfig, str], LarkConfig]:
    def change(config: LarkConfig, value: str) -> LarkConfig:
        changes: dict[str, Any] = {name: value}
        app = dataclasses.replace(config.apps[0], **changes)
        return dataclasses.replace(config, apps=(app, *config.apps[1:]))
    return change


@dataclass(frozen=True)
class LarkConfig(Section):
    env: ClassVar[Mapping[str, Callable[[Any, str], Any]]] = {
        "LARK_APP_ID": _with_first_app("app_id"), "LARK_APP_SECRET": _with_first_app("app_secret")}

    apps: tuple[LarkApp, ...] = (
        LarkApp(app_id="cli_mock0000000000a1", app_secret="mock-secret-a"),
        LarkApp(app_id="cli_mock0000000000b2", app_secret="mock-secret-b"),
    )
    token_ttl_seconds: int = setting(7200, check=at_least(0))
    # Lark expects the bot to answer an event within 3 seconds.
    callback_timeout_seconds: float = setting(3.0, check=at_least(0))
    # The image API's documented limits, per app and API; 0 turns a window off.
    rate_limit_per_second: int = setting(50, check=at_least(0))
    rate_limit_per_minute: int = setting(1000, check=at_least(0))
    # Signs tokens so they stay valid across restarts; any string, the same for every worker.
    token_secret: str = "chatimg-mock-token-secret"
    error_overrides: Mapping[int, LarkErrorOverride] = field(default_factory=dict)

    def app(self, app_id: str) -> LarkApp | None:
        return next((app for app in self.apps if app.app_id == app_id), None)

    def secrets(self) -> tuple[str, ...]:
        return tuple(app.app_secret for app in self.apps)

    def credentials(self) -> list[dict[str, str]]:
        return [{"app_id": app.app_id, "app_secret": app.app_secret} for app in self.apps]

    def accounts(self) -> tuple[str, ...]:
        return tuple(app.app_id for app in self.apps)
