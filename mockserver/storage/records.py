"""What the mock remembers between calls. Plain frozen data, so any store backend can keep it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, ClassVar, Protocol, TypeVar, get_origin, get_type_hints


class Record(Protocol):
    """What a store keeps: a frozen dataclass with a ``kind`` and a ``key`` unique in it."""

    kind: ClassVar[str]

    @property
    def key(self) -> str: ...


R = TypeVar("R", bound=Record)
RECORD_TYPES: dict[str, type] = {}  # kind -> record class, of every module that defines some


def record(cls: type[R]) -> type[R]:
    """Register a record class (a class decorator): no two kinds may share a name."""
    known = RECORD_TYPES.setdefault(cls.kind, cls)
    if known is not cls:
        raise TypeError(f"record kind {cls.kind!r} is taken by {known.__qualname__}")
    return cls


@dataclass(frozen=True)
class Variant:
    """One stored copy of an image (HD, normal, thumbnail or the original upload)."""

    digest: str
    length: int
    width: int
    height: int
    content_type: str
    md5: str


@record
@dataclass(frozen=True)
class StoredImage:
    """An image a vendor holds: sent by the bot or received from a user."""

    kind: ClassVar[str] = "image"

    vendor: str
    image_id: str
    owner: str
    variants: Mapping[str, Variant]
    aes_key: str = ""
    image_type: str = "message"
    origin: str = "sent"
    created_at: float = 0.0
    deleted: bool = False

    @property
    def key(self) -> str:
        return image_key(self.vendor, self.image_id)

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _field_names(StoredImage)}
        data["variants"] = {name: dict(v.__dict__) for name, v in self.variants.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoredImage:
        variants = {name: Variant(**v) for name, v in data["variants"].items()}
        return cls(**{**data, "variants": variants})


def image_key(vendor: str, image_id: str) -> str:
    return f"{vendor}:{image_id}"


@record
@dataclass(frozen=True)
class ImageMessage:
    """An image message that crossed the mock, in either direction."""

    kind: ClassVar[str] = "message"

    vendor: str
    new_msg_id: int
    msg_id: int
    account: str
    from_user: str
    to_user: str
    image_id: str
    xml: str = ""
    create_time: int = 0
    direction: str = "out"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.vendor}:{self.new_msg_id}"


@record
@dataclass(frozen=True)
class Setting:
    """A named value of the mock's own state (the clock offset, for one)."""

    kind: ClassVar[str] = "setting"

    name: str
    value: Any

    @property
    def key(self) -> str:
        return self.name


@record
@dataclass(frozen=True)
class RateCount:
    """Calls counted in the current fixed windows of one rate limit: seconds -> [start, n]."""

    kind: ClassVar[str] = "rate_count"

    name: str
    windows: Mapping[str, list[int]]

    @property
    def key(self) -> str:
        return self.name


@record
@dataclass(frozen=True)
class Rule:
    """An armed scenario: matching calls answer with an error or suffer a fault."""

    kind: ClassVar[str] = "rule"

    rule_id: str
    operation: str  # an operationId, "<api>.*" or "*"
    match: Mapping[str, Any]  # field -> value, looked up in path, body and credentials
    action: Mapping[str, Any]  # {"error": code-or-name} or {"fault": kind, ...parameters}
    remaining: int | None = None  # None: every matching call
    created_at: float = 0.0

    @property
    def key(self) -> str:
        return self.rule_id


@record
@dataclass(frozen=True)
class JournalEntry:
    """One request the mock answered, and its answer, without secrets.

    A body is its summary, or, while its ``*_content_type`` is set, the JSON text it came as:
    recording stays cheap and the journal summarises it when read (``vendor_code`` waits for
    the reply's summary too)."""

    kind: ClassVar[str] = "journal"

    entry_id: str
    time: float
    api: str
    operation: str | None
    method: str
    path: str
    query: str
    request_headers: Mapping[str, str]
    request_body: Any
    status: int
    vendor_code: Any
    response_body: Any
    duration_ms: float
    scenario: str | None = None
    request_content_type: str | None = None
    response_content_type: str | None = None

    @property
    def key(self) -> str:
        return self.entry_id


@record
@dataclass(frozen=True)
class Subscription:
    """Where a vendor delivers a bot's inbound messages (a registered callback URL)."""

    kind: ClassVar[str] = "subscription"

    vendor: str
    account: str  # GeWe token, wid Authorization, Lark app_id
    url: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.vendor}:{self.account}"


@record
@dataclass(frozen=True)
class Delivery:
    """One callback or event sent to a bot, with every attempt and the bot's answers.

    The schedule and the lease live here too, not in the process that sent it: on a shared
    store any replica can make the next attempt when the one that made the last has died.
    Records kept before they were (no such fields) load with the defaults."""

    kind: ClassVar[str] = "delivery"

    delivery_id: str
    vendor: str
    url: str
    body: str
    headers: Mapping[str, str]
    message_key: str
    created_at: float
    attempts: tuple[Mapping[str, Any], ...] = ()
    state: str = "pending"  # pending, delivered, failed
    timeout_seconds: float = 5.0  # how long an attempt waits for the bot, whoever makes it
    retry_index: int = 0  # the attempt of the schedule due next: 0 the first, n the n-th retry
    next_attempt_at: float | None = None  # when it is due (epoch seconds); None: none is
    claimed_by: str = ""  # the attempt under way (its process, and its number there), or ""
    claimed_until: float = 0.0  # when its lease ends (epoch seconds): others may then claim it

    @property
    def key(self) -> str:
        return self.delivery_id


# Kinds read on every call and seldom written (the clock offset, armed rules): a shared store
# may cache them in each process.
READ_MOSTLY_KINDS = frozenset({Setting.kind, Rule.kind})


def record_to_dict(record: Record) -> dict[str, Any]:
    """Plain data for a backend to keep; shallow, unless the record says how (``to_dict``)."""
    to_dict = getattr(record, "to_dict", None)
    if to_dict is not None:
        return dict(to_dict())
    return {name: getattr(record, name) for name in _field_names(type(record))}


def record_from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
    """The record ``record_to_dict`` gave ``data`` for; lists become the tuples they were."""
    from_dict = getattr(cls, "from_dict", None)
    if from_dict is not None:
        return from_dict(data)
    tuples = _tuple_fields(cls)
    return cls(**{name: tuple(value) if name in tuples else value
                  for name, value in data.items()})


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@cache
def _tuple_fields(cls: type) -> frozenset[str]:
    hints = get_type_hints(cls)
    return frozenset(name for name in _field_names(cls) if get_origin(hints[name]) is tuple)
