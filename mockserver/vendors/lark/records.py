"""What the mock remembers of Lark beyond its images: tokens, messages and one-to-one chats."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...storage.records import record


@record
@dataclass(frozen=True)
class AccessToken:
    """The tenant_access_token an app was last given (keyed by app)."""

    kind: ClassVar[str] = "token"

    token: str
    app_id: str
    issued_at: float
    expires_at: float

    @property
    def key(self) -> str:
        return self.app_id


@record
@dataclass(frozen=True)
class LarkMessage:
    """A message with images: sent by a user to the bot, or by the bot."""

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
    # The im.message.receive_v1 event the bot was sent of a user's message, as sent.
    event: Mapping[str, Any] | None = None

    @property
    def key(self) -> str:
        return self.message_id


@record
@dataclass(frozen=True)
class LarkChat:
    """An app's one-to-one chat with a user, under one of the ids the user goes by: the chat
    is found in a lookup per id, not a search of every message."""

    kind: ClassVar[str] = "lark_p2p_chat"

    app_id: str
    user: str  # an open_id, user_id or union_id
    chat_id: str

    @property
    def key(self) -> str:
        return lark_chat_key(self.app_id, self.user)


def lark_chat_key(app_id: str, user: str) -> str:
    return f"{app_id}:{user}"
