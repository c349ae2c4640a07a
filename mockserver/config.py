"""The mock's configuration: one frozen object built from defaults, then a file, then env vars.

``ServerConfig`` holds the mock's own settings and how any setting is read and checked; each
vendor's package holds its ``Section``, and ``vendors/registry.py`` joins them into
``MockConfig``. The defaults work out of the box: ``serve`` prints them, and the README's
walk-through uses them.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from .errors import ConfigError
from .storage.store import MemoryStore, Store

ENV_PREFIX = "CHATIMG_"

Check = Callable[[Any, str], object]


# --- what a setting's value must satisfy; each raises ConfigError naming where it was given --

def check_port(value: int, where: str) -> int:
    """``value`` if a server can listen on it (0: any free port); ``where`` names its source."""
    if not 0 <= value <= 65535:
        raise ConfigError(f"{where} must be a port number from 0 to 65535, not {value}")
    return value


def at_least(low: int) -> Check:
    def check(value: float, where: str) -> None:
        if value < low:
            raise ConfigError(f"{where} must be at least {low}, not {value}")
    return check


def one_of(*allowed: str) -> Check:
    def check(value: str, where: str) -> None:
        if value not in allowed:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, allowed))}, "
                              f"not {value!r}")
    return check


def positive(value: float, where: str) -> None:
    if not value > 0:
        raise ConfigError(f"{where} must be more than 0, not {value}")


def each_at_least_0(values: tuple[float, ...], where: str) -> None:
    for i, value in enumerate(values):
        at_least(0)(value, f"{where}[{i}]")


def not_empty(values: tuple[Any, ...], where: str) -> None:
    if not values:
        raise ConfigError(f"{where} must list at least one")


STORE_SCHEMES = ("redis", "rediss", "unix")  # (Redis, with TLS, on a Unix socket)


def check_store_url(value: str | None, where: str) -> None:
    """A Redis URL: redis://[[user]:password@]host[:port][/db], rediss://... or unix://path."""
    if value is not None and urlsplit(value).scheme not in STORE_SCHEMES:
        raise ConfigError(f"{where} must be a Redis URL (redis://host:port/db, rediss://... "
                          f"or unix://path), not {value.split('://')[0]!r}...")


def shown_store_url(url: str) -> str:
    """The store URL without its credentials, for messages."""
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
    return f"{shown}?{parts.query}" if parts.query else shown


def check_public_url(value: str | None, where: str) -> None:
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


def setting(default: Any = dataclasses.MISSING, *, check: Check,
            default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose value, when a file gives it, must pass ``check``."""
    return field(default=default, default_factory=default_factory, metadata={"check": check})


# --- the settings ---------------------------------------------------------------------------

S = TypeVar("S", bound="Section")
C = TypeVar("C", bound="ServerConfig")


@dataclass(frozen=True)
class Section:
    """A vendor's part of the configuration: a key of the settings file, and its env vars."""

    # Env var (after CHATIMG_) -> how it changes this section for one run; listed by --help.
    env: ClassVar[Mapping[str, Callable[[Any, str], Any]]] = {}

    def secrets(self) -> tuple[str, ...]:
        """Credential values the journal must never show."""
        return ()

    def credentials(self) -> Any:
        """What a user needs to call this vendor's API on the mock, as ``serve`` prints it."""
        return None

    def accounts(self) -> tuple[str, ...]:
        """The accounts a bot acts as here (they own its images), in the order configured."""
        return ()


@dataclass(frozen=True)
class ServerConfig:
    """The mock's own settings; ``MockConfig`` adds a ``Section`` per vendor."""

    host: str = "127.0.0.1"
    port: int = setting(4010, check=check_port)
    # Base of the URLs the mock hands out (fileUrl, getMsgImg data); None: the request's host.
    public_url: str | None = setting(None, check=check_public_url)
    max_body_bytes: int = setting(16 * 1024 * 1024, check=at_least(1))
    # A request that sends nothing for this long while its headers or body are due is given up.
    request_timeout_seconds: float = setting(10.0, check=positive)
    # Hosts whose imgUrl the mock may really fetch; any other URL gets a placeholder image.
    fetch_allow_hosts: tuple[str, ...] = ()
    # When set, /__admin routes need it in the X-Chatimg-Admin-Token header.
    admin_token: str | None = None
    journal: bool = True
    journal_limit: int = setting(10000, check=at_least(0))
    # Hosts other than loopback that callback and event URLs may point at.
    callback_allow_hosts: tuple[str, ...] = ()
    # Seconds between attempts to deliver a callback the bot did not take (2xx in time).
    delivery_retry_seconds: tuple[float, ...] = setting((1.0, 5.0, 30.0), check=each_at_least_0)
    # Where a persistent store keeps its state (SQLite and image files); None: in memory.
    # Every worker of `serve --workers N` shares it, and it outlives restarts.
    state_dir: str | None = None
    # A Redis URL: the state of every replica given it (on any machine) is one. Not with
    # state_dir. The prefix of its keys lets mocks share one Redis database.
    store: str | None = setting(None, check=check_store_url)
    store_prefix: str = "chatimg:"

    @classmethod
    def load(cls: type[C], path: str | os.PathLike[str] | None = None,
             env: Mapping[str, str] | None = None) -> C:
        """Defaults, then the file at ``path`` (or ``$CHATIMG_CONFIG``), then ``CHATIMG_*`` vars."""
        env = os.environ if env is None else env
        path = path or env.get(ENV_PREFIX + "CONFIG")
        config = _from_file(cls, Path(path)) if path else cls()
        return config.with_env(env)

    def with_env(self: C, env: Mapping[str, str]) -> C:
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
            check_public_url(public_url, ENV_PREFIX + "PUBLIC_URL")
            config = dataclasses.replace(config, public_url=public_url)
        if value := get("FETCH_ALLOW_HOSTS"):
            hosts = tuple(h.strip() for h in value.split(",") if h.strip())
            config = dataclasses.replace(config, fetch_allow_hosts=hosts)
        if value := get("STATE_DIR"):
            config = dataclasses.replace(config, state_dir=value)
        if value := get("STORE"):
            check_store_url(value, ENV_PREFIX + "STORE")
            config = dataclasses.replace(config, store=value)
        if value := get("STORE_PREFIX"):
            config = dataclasses.replace(config, store_prefix=value)
        if value := get("ADMIN_TOKEN"):
            config = dataclasses.replace(config, admin_token=value)
        sections: dict[str, Any] = {}
        for key, section in config.sections():
            for variable, change in section.env.items():
                if value := get(variable):
                    sections[key] = section = change(section, value)
        return dataclasses.replace(config, **sections)

    def sections(self) -> Iterator[tuple[str, Section]]:
        """Each vendor's section, under its key."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Section):
                yield f.name, value

    def section(self, kind: type[S]) -> S:
        """The section of type ``kind``: how a vendor reads its own settings."""
        for _, value in self.sections():
            if isinstance(value, kind):
                return value
        raise ConfigError(f"this configuration has no {kind.__name__} section")

    def make_store(self) -> Store:
        """The store this configuration asks for: Redis at ``store``, SQLite under
        ``state_dir``, or memory."""
        if self.store is not None and self.state_dir is not None:
            raise ConfigError("give the state a Redis store or a state folder, not both "
                              f"(store {self.store.split('://')[0]}://..., state_dir "
                              f"{self.state_dir!r})")
        if self.store is not None:
            from .storage.redis_store import RedisStore

            return RedisStore(self.store, self.store_prefix)
        if self.state_dir is None:
            return MemoryStore()
        from .storage.sqlite import SqliteStore

        return SqliteStore(self.state_dir)

    def secrets(self) -> tuple[str, ...]:
        """Credential values the journal must never show."""
        return (*(secret for _, section in self.sections() for secret in section.secrets()),
                *((self.admin_token,) if self.admin_token else ()))

    def credentials(self) -> dict[str, Any]:
        """What a user needs to call the mock, as ``serve`` prints it."""
        return {key: section.credentials() for key, section in self.sections()}


# --- reading a settings file ----------------------------------------------------------------

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
    types_of = get_type_hints(cls)
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
                values[name] = _convert(types_of[name], value, place, problems)
                if check := fields[name].metadata.get("check"):
                    check(values[name], place)
            except ConfigError as exc:
                problems.invalid.append(str(exc))
    return None if len(problems) > found else cls(**values)


def _convert(kind: Any, value: Any, where: str, problems: _Problems) -> Any:
    """``value`` as a setting of type ``kind`` (a settings dataclass, a tuple or mapping of
    them, or a plain type), or a ConfigError saying what it should be."""
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, types.UnionType) and type(None) in args:  # X | None
        if value is None:
            return None
        kind = next(a for a in args if a is not type(None))
        origin, args = get_origin(kind), get_args(kind)
    if dataclasses.is_dataclass(kind):
        return _build(kind, value, where, problems)  # type: ignore[arg-type]
    if origin is tuple:
        item = args[0]
        if dataclasses.is_dataclass(item):
            if not isinstance(value, list):
                raise ConfigError(f"{where} must be a list")
            return tuple(_build(item, v, f"{where}[{i}]", problems)  # type: ignore[arg-type]
                         for i, v in enumerate(value))
        if item is str:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where} must be a list of strings")
            return tuple(value)
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list of numbers")
        return tuple(_to_float(v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is not None and issubclass(origin, Mapping):  # Mapping[int, <settings>]
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must map each key to its settings")
        return {_to_int(key, where): _build(args[1], item, f"{where}.{key}", problems)
                for key, item in value.items()}
    if kind is int:
        return _to_int(value, where)
    if kind is float:
        return _to_float(value, where)
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    if kind is str and not isinstance(value, str):
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
