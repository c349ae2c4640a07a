"""The mock's configuration: one frozen object built from defaults, then a file, then env vars.

The defaults work out of the box: ``serve`` prints them, and the README's walk-through uses them.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .errors import ConfigError
from .storage.store import MemoryStore, Store

ENV_PREFIX = "CHATIMG_"


@dataclass(frozen=True)
class GeweDevice:
    """A GeWe device (appId) and the WeChat account logged in on it."""

    app_id: str
    wxid: str
    online: bool = True


@dataclass(frozen=True)
class GeweConfig:
    tokens: tuple[str, ...] = ("gewe-mock-token",)
    devices: tuple[GeweDevice, ...] = (
        GeweDevice(app_id="wx_MockDevice00000000001", wxid="wxid_mockbot0000001"),
    )
    # No public capture of this failure exists (vendor notes 1.3), so its text is a setting.
    no_such_type_message: str = "该图片没有{kind}图片"
    file_url_ttl_seconds: int = 7 * 24 * 3600
    # How long the mock waits for the bot to take a callback (not documented by GeWe).
    callback_timeout_seconds: float = 5.0
    # Callbacks' Data.NewMsgId: a number in some captures, a string in others (notes 1.5).
    new_msg_id_as_string: bool = False
    # Group messages' XML starts with "<sender>:\n". Real GeWe releases have both accepted and
    # refused it (vendor notes 1.4); false makes downloads refuse it as an XML parse failure.
    accept_sender_prefix: bool = True


@dataclass(frozen=True)
class WidInstance:
    """A WeChat instance (wId) and the account (wcId) logged in on it."""

    w_id: str
    wc_id: str
    account: str = "13800000000"  # the login account callbacks name


@dataclass(frozen=True)
class WidConfig:
    authorizations: tuple[str, ...] = ("wid-mock-authorization",)
    instances: tuple[WidInstance, ...] = (
        WidInstance(w_id="00000171-0504-4e11-0005-89183b61f7e4", wc_id="wxid_wl9qchkanp9u22"),
    )
    # The local document answers the URL as a string, the public one as {"url": ...}.
    data_shape: str = "string"
    # The vendor drops a callback the bot has not taken within 6 s (its callback document).
    callback_timeout_seconds: float = 6.0
    # messageType of callbacks: "old" (ints 6 / 10) or "new" (E云管家 codes "60002" / "80002").
    callback_format: str = "old"


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


@dataclass(frozen=True)
class LarkConfig:
    apps: tuple[LarkApp, ...] = (
        LarkApp(app_id="cli_mock0000000000a1", app_secret="mock-secret-a"),
        LarkApp(app_id="cli_mock0000000000b2", app_secret="mock-secret-b"),
    )
    token_ttl_seconds: int = 7200
    # Lark expects the bot to answer an event within 3 seconds.
    callback_timeout_seconds: float = 3.0
    # The image API's documented limits, per app and API; 0 turns a window off.
    rate_limit_per_second: int = 50
    rate_limit_per_minute: int = 1000
    # Signs tokens so they stay valid across restarts; any string, the same for every worker.
    token_secret: str = "chatimg-mock-token-secret"
    error_overrides: Mapping[int, LarkErrorOverride] = field(default_factory=dict)


@dataclass(frozen=True)
class MockConfig:
    host: str = "127.0.0.1"
    port: int = 4010
    # Base of the URLs the mock hands out (fileUrl, getMsgImg data); None: the request's host.
    public_url: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    # A request that sends nothing for this long while its headers or body are due is given up.
    request_timeout_seconds: float = 10.0
    # Hosts whose imgUrl the mock may really fetch; any other URL gets a placeholder image.
    fetch_allow_hosts: tuple[str, ...] = ()
    # When set, /__admin routes need it in the X-Chatimg-Admin-Token header.
    admin_token: str | None = None
    journal: bool = True
    journal_limit: int = 10000
    # Hosts other than loopback that callback and event URLs may point at.
    callback_allow_hosts: tuple[str, ...] = ()
    # Seconds between attempts to deliver a callback the bot did not take (2xx in time).
    delivery_retry_seconds: tuple[float, ...] = (1.0, 5.0, 30.0)
    # Where a persistent store keeps its state (SQLite and image files); None: in memory.
    # Every worker of `serve --workers N` shares it, and it outlives restarts.
    state_dir: str | None = None
    gewe: GeweConfig = field(default_factory=GeweConfig)
    wid: WidConfig = field(default_factory=WidConfig)
    lark: LarkConfig = field(default_factory=LarkConfig)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None,
             env: Mapping[str, str] | None = None) -> MockConfig:
        """Defaults, then the file at ``path`` (or ``$CHATIMG_CONFIG``), then ``CHATIMG_*`` vars."""
        env = os.environ if env is None else env
        path = path or env.get(ENV_PREFIX + "CONFIG")
        config = _from_file(cls, Path(path)) if path else cls()
        return config.with_env(env)

    def with_env(self, env: Mapping[str, str]) -> MockConfig:
        """Apply the ``CHATIMG_*`` variables a user would set for one run."""
        def get(name: str) -> str | None:
            return env.get(ENV_PREFIX + name) or None

        config = self
        if value := get("HOST"):
            config = dataclasses.replace(config, host=value)
        if value := get("PORT"):
            name = ENV_PREFIX + "PORT"
            config = dataclasses.replace(config, port=check_port(_to_int(value, name), name))
        if value := get("PUBLIC_URL"):
            public_url = value.rstrip("/")
            _check_public_url(public_url, ENV_PREFIX + "PUBLIC_URL")
            config = dataclasses.replace(config, public_url=public_url)
        if value := get("FETCH_ALLOW_HOSTS"):
            hosts = tuple(h.strip() for h in value.split(",") if h.strip())
            config = dataclasses.replace(config, fetch_allow_hosts=hosts)
        if value := get("STATE_DIR"):
            config = dataclasses.replace(config, state_dir=value)
        if value := get("ADMIN_TOKEN"):
            config = dataclasses.replace(config, admin_token=value)
        if value := get("GEWE_TOKEN"):
            config = dataclasses.replace(config, gewe=dataclasses.replace(config.gewe, tokens=(value,)))
        if value := get("GEWE_APP_ID"):
            device = dataclasses.replace(config.gewe.devices[0], app_id=value)
            config = dataclasses.replace(config, gewe=dataclasses.replace(
                config.gewe, devices=(device, *config.gewe.devices[1:])))
        if value := get("WID_ID"):
            instance = dataclasses.replace(config.wid.instances[0], w_id=value)
            config = dataclasses.replace(config, wid=dataclasses.replace(
                config.wid, instances=(instance, *config.wid.instances[1:])))
        if value := get("WID_AUTHORIZATION"):
            config = dataclasses.replace(
                config, wid=dataclasses.replace(config.wid, authorizations=(value,)))
        app_id, secret = get("LARK_APP_ID"), get("LARK_APP_SECRET")
        if app_id or secret:
            first = config.lark.apps[0]
            app = dataclasses.replace(first, app_id=app_id or first.app_id,
                                      app_secret=secret or first.app_secret)
            config = dataclasses.replace(
                config, lark=dataclasses.replace(config.lark, apps=(app, *config.lark.apps[1:])))
        return config

    def make_store(self) -> Store:
        """The store this configuration asks for: SQLite under ``state_dir``, or memory."""
        if self.state_dir is None:
            return MemoryStore()
        from .storage.sqlite import SqliteStore

        return SqliteStore(self.state_dir)

    def secrets(self) -> tuple[str, ...]:
        """Credential values the journal must never show."""
        return (*self.gewe.tokens, *self.wid.authorizations,
                *(app.app_secret for app in self.lark.apps),
                *((self.admin_token,) if self.admin_token else ()))

    def credentials(self) -> dict[str, Any]:
        """What a user needs to call the mock, as ``serve`` prints it."""
        return {
            "gewe": {"X-GEWE-TOKEN": self.gewe.tokens[0],
                     "appIds": [d.app_id for d in self.gewe.devices]},
            "wid": {"Authorization": self.wid.authorizations[0],
                    "wIds": [i.w_id for i in self.wid.instances]},
            "lark": [{"app_id": a.app_id, "app_secret": a.app_secret} for a in self.lark.apps],
        }


def check_port(value: int, where: str) -> int:
    """``value`` if a server can listen on it (0: any free port); ``where`` names its source."""
    if not 0 <= value <= 65535:
        raise ConfigError(f"{where} must be a port number from 0 to 65535, not {value}")
    return value


T = TypeVar("T")


@dataclass
class _Problems:
    """What is wrong with a settings file, gathered so that one error lists all of it."""

    unknown: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.unknown) + len(self.invalid)

    def __str__(self) -> str:
        unknown = [f"unknown setting{'s' if len(self.unknown) > 1 else ''}: "
                   + ", ".join(self.unknown)] if self.unknown else []
        return "; ".join(unknown + self.invalid)


def _from_file(cls: type[T], path: Path) -> T:
    problems = _Problems()
    config = _build(cls, _read_file(path), "", problems)
    if config is None:
        raise ConfigError(f"{path}: {problems}")
    return config


def _read_file(path: Path) -> dict[Any, Any]:
    import yaml  # (only when a file is read: importing the config stays light)

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg}") from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2024-13-01
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid YAML{at}: {reason}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: must hold a mapping of settings at the top")
    return loaded


def _place(where: str, name: object) -> str:
    return f"{where}.{name}" if where else str(name)


def _build(cls: type[T], settings: Any, where: str, problems: _Problems) -> T | None:
    """A config dataclass from a mapping, or None when ``problems`` got something to report."""
    if not isinstance(settings, dict):
        problems.invalid.append(f"{where} must be a mapping")
        return None
    found = len(problems)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in settings:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.unknown.append(_place(where, key) + hint)
    problems.invalid.extend(
        f"{_place(where, name)} is missing" for name, f in fields.items()
        if name not in settings and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING)
    values: dict[str, Any] = {}
    for name, value in settings.items():
        if name in fields:
            place = _place(where, name)
            try:
                values[name] = _convert(fields[name].type, value, place, problems)
                if check := _CHECKS.get(name):
                    check(values[name], place)
            except ConfigError as exc:
                problems.invalid.append(str(exc))
    return None if len(problems) > found else cls(**values)


_NESTED = {"GeweConfig": GeweConfig, "WidConfig": WidConfig, "LarkConfig": LarkConfig}
_ITEMS = {"tuple[GeweDevice, ...]": GeweDevice, "tuple[WidInstance, ...]": WidInstance,
          "tuple[LarkApp, ...]": LarkApp}


def _convert(type_name: Any, value: Any, where: str, problems: _Problems) -> Any:
    type_name = str(type_name)
    if type_name in _NESTED:
        return _build(_NESTED[type_name], value, where, problems)
    if type_name in _ITEMS:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list")
        return tuple(_build(_ITEMS[type_name], item, f"{where}[{i}]", problems)
                     for i, item in enumerate(value))
    if type_name == "tuple[str, ...]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings")
        return tuple(value)
    if type_name == "tuple[float, ...]":
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list of numbers")
        return tuple(_to_float(v, f"{where}[{i}]") for i, v in enumerate(value))
    if type_name == "Mapping[int, LarkErrorOverride]":
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must map error codes to {{status, msg}}")
        return {_to_int(code, where): _build(LarkErrorOverride, item, f"{where}.{code}", problems)
                for code, item in value.items()}
    if type_name == "int" or (type_name == "int | None" and value is not None):
        return _to_int(value, where)
    if type_name == "float":
        return _to_float(value, where)
    if type_name == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    if type_name.startswith("str") and value is not None and not isinstance(value, str):
        raise ConfigError(f"{where} must be a string")
    return value


def _to_float(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{where} must be a finite number, not {number}")
    return number


def _to_int(value: Any, where: str) -> int:
    # int() would cut 1.5 to 1, and raise OverflowError for .inf.
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(f"{where} must be a whole number, not {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be a whole number, not {value!r}") from None


def _at_least(low: int) -> Callable[[Any, str], None]:
    def check(value: float, where: str) -> None:
        if value < low:
            raise ConfigError(f"{where} must be at least {low}, not {value}")
    return check


def _one_of(*allowed: str) -> Callable[[Any, str], None]:
    def check(value: str, where: str) -> None:
        if value not in allowed:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, allowed))}, "
                              f"not {value!r}")
    return check


def _positive(value: float, where: str) -> None:
    if not value > 0:
        raise ConfigError(f"{where} must be more than 0, not {value}")


def _each_at_least_0(values: tuple[float, ...], where: str) -> None:
    for i, value in enumerate(values):
        _at_least(0)(value, f"{where}[{i}]")


def _not_empty(values: tuple[str, ...], where: str) -> None:
    if not values:
        raise ConfigError(f"{where} must list at least one")


def _check_public_url(value: str | None, where: str) -> None:
    """An origin: the mock compares it with the scheme and host of URLs it is asked to fetch."""
    if value is None:
        return
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:  # not a number from 0 to 65535
        port = 0
    if (parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc
            or port == 0 or value.rstrip("/") != f"{parts.scheme}://{parts.netloc}"):
        raise ConfigError(f"{where} must be http(s)://host[:port], not {value!r}")


# What a setting's value must satisfy, by its name wherever it appears.
_CHECKS: dict[str, Callable[[Any, str], object]] = {
    "port": check_port,
    "public_url": _check_public_url,
    "max_body_bytes": _at_least(1),
    "request_timeout_seconds": _positive,
    "journal_limit": _at_least(0),
    "delivery_retry_seconds": _each_at_least_0,
    "file_url_ttl_seconds": _at_least(0),
    "token_ttl_seconds": _at_least(0),
    "callback_timeout_seconds": _at_least(0),
    "rate_limit_per_second": _at_least(0),
    "rate_limit_per_minute": _at_least(0),
    "tokens": _not_empty,
    "authorizations": _not_empty,
    "data_shape": _one_of("string", "object"),
    "callback_format": _one_of("old", "new"),
}
