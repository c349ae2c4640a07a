"""What the mock remembers between calls. Plain frozen data, so any store backend can keep it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, ClassVar, TypeVar


@dataclass(frozen=True)
class Variant:
    """One stored copy of an image (HD, normal, thumbnail or the original upload)."""

    digest: str
    length: int
    width: int
    height: int
    content_type: str
    md5: str


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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoredImage:
        variants = {name: Variant(**v) for name, v in data["variants"].items()}
        return cls(**{**data, "variants": variants})


def image_key(vendor: str, image_id: str) -> str:
    return f"{vendor}:{image_id}"


@dataclass(frozen=True)
class AccessToken:
    """The Lark tenant_access_token an app was last given (keyed by app)."""

    kind: ClassVar[str] = "token"

    token: str
    app_id: str
    issued_at: float
    expires_at: float

    @property
    def key(self) -> str:
        return self.app_id


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


@dataclass(frozen=True)
class Setting:
    """A named value of the mock's own state (the clock offset, for one)."""

    kind: ClassVar[str] = "setting"

    name: str
    value: Any

    @property
    def key(self) -> str:
        return self.name


@dataclass(frozen=True)
class RateCount:
    """Calls counted in the current fixed windows of one rate limit: seconds -> [start, n]."""

    kind: ClassVar[str] = "rate_count"

    name: str
    windows: Mapping[str, list[int]]

    @property
    def key(self) -> str:
        return self.name


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


@dataclass(frozen=True)
class Delivery:
    """One callback or event sent to a bot, with every attempt and the bot's answers."""

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

    @property
    def key(self) -> str:
        return self.delivery_id


@dataclass(frozen=True)
class LarkMessage:
    """A Lark message with images: sent by a user to the bot, or by the bot."""

    kind: ClassVar[str] = "lark_message"

    message_id: str
    app_id: str
    chat_id: str
    chat_type: str
    sender: str  # a user's open_id, or the app_id for the bot's own messages
    image_keys: tuple[str, ...]
    create_time_ms: int
    direction: str = "in"
    receive_id: str = ""

    @property
    def key(self) -> str:
        return self.message_id


@dataclass(frozen=True)
class LarkChat:
    """A Lark app's one-to-one chat with a user, under one of the ids the user goes by: the
    chat is found in a lookup per id, not a search of every message."""

    kind: ClassVar[str] = "lark_p2p_chat"

    app_id: str
    user: str  # an open_id, user_id or union_id
    chat_id: str

    @property
    def key(self) -> str:
        return lark_chat_key(self.app_id, self.user)


def lark_chat_key(app_id: str, user: str) -> str:
    return f"{app_id}:{user}"


Record = (StoredImage | AccessToken | ImageMessage | Setting | RateCount | Rule
          | JournalEntry | Subscription | Delivery | LarkMessage | LarkChat)
R = TypeVar("R", StoredImage, AccessToken, ImageMessage, Setting, RateCount, Rule,
            JournalEntry, Subscription, Delivery, LarkMessage, LarkChat)
# Kinds read on every call and seldom written (the clock offset, armed rules): a shared store
# may cache them in each process.
READ_MOSTLY_KINDS = frozenset({Setting.kind, Rule.kind})
RECORD_TYPES: dict[str, type] = {cls.kind: cls for cls in (
    StoredImage, AccessToken, ImageMessage, Setting, RateCount, Rule, JournalEntry,
    Subscription, Delivery, LarkMessage, LarkChat)}


def record_to_dict(record: Record) -> dict[str, Any]:
    """Plain data for a backend to keep; shallow, as only ``variants`` holds dataclasses."""
    record_type: type = type(record)  # as a plain type: mypy reads a dataclass's as unhashable
    data = {name: getattr(record, name) for name in _field_names(record_type)}
    if isinstance(record, StoredImage):
        data["variants"] = {name: dict(v.__dict__) for name, v in record.variants.items()}
    return data


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def record_from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
    if cls is StoredImage:
        return StoredImage.from_dict(data)  # type: ignore[return-value]
    if cls is Delivery:
        return Delivery(**{**data, "attempts": tuple(data["attempts"])})  # type: ignore[return-value]
    if cls is LarkMessage:
        return LarkMessage(**{**data, "image_keys": tuple(data["image_keys"])})  # type: ignore[return-value]
    return cls(**data)
