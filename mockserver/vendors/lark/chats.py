"""Lark's one-to-one chats and the ids a user goes by (open_id, user_id, union_id)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ...storage.store import Store
from .events import lark_id
from .records import LarkChat, lark_chat_key


def p2p_chat(store: Store, app_id: str, *user_ids: str, new: str | None = None) -> str:
    """The bot's one-to-one chat with a user, by any of their ids: the one known under one of
    them (where their messages came in, or the bot's went), else ``new`` or a new one; known
    under each of them from now on."""
    known = [store.load(LarkChat, lark_chat_key(app_id, user)) for user in user_ids]
    chat_id = next((chat.chat_id for chat in known if chat), None) or new or lark_id("oc")
    for user, chat in zip(user_ids, known, strict=True):
        if chat is None:  # the first worker to claim it wins, should two race
            claimed = store.update(LarkChat, lark_chat_key(app_id, user),
                                   _kept_or(LarkChat(app_id, user, chat_id)))
            assert claimed is not None  # _kept_or never gives None
            chat_id = claimed.chat_id
    return chat_id


def _kept_or(new: LarkChat) -> Callable[[LarkChat | None], LarkChat]:
    return lambda current: current or new


def user_id(open_id: str) -> str:
    """The user_id the mock gives the user of ``open_id`` (stable, so tests can predict it)."""
    return hashlib.sha256(open_id.encode()).hexdigest()[:8]


def union_id(open_id: str) -> str:
    return "on_" + hashlib.md5(open_id.encode()).hexdigest()
