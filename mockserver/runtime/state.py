"""Everything a handler may touch, built once by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from flask import Request

from ..config import ServerConfig
from ..incoming import request_origin
from ..storage.store import MemoryStore, Store
from .clock import Clock
from .delivery import Deliverer
from .journal import JournalWriter


@dataclass
class MockState:
    config: ServerConfig
    store: Store = field(default_factory=MemoryStore)

    def __post_init__(self) -> None:
        self.clock = Clock(self.store)

    def base_url(self, request: Request) -> str:
        """The origin of URLs the mock hands out: configured, or the one the caller used."""
        return self.config.public_url or request_origin(request)

    @cached_property
    def deliverer(self) -> Deliverer:
        """Sends callbacks to bots; made on first use (it owns a thread pool)."""
        return Deliverer(self)

    @cached_property
    def journal_writer(self) -> JournalWriter:
        """The journal, in a store of its own: its writes never hold up the state's."""
        return JournalWriter(self.store.beside("journal"), self.config.journal_limit)

    def reset(self) -> None:
        """Forget every image, message, link, rule and journal entry; the clock goes back to
        wall time."""
        self.journal_writer.settle()  # entries written before the reset go with it
        self.journal_writer.store.clear()
        self.store.clear()

    def close(self) -> None:
        """Stop delivering, write what the journal holds, release the store."""
        if "deliverer" in self.__dict__:
            self.deliverer.close()
        if "journal_writer" in self.__dict__:
            self.journal_writer.stop()
            self.journal_writer.store.close()
        self.store.close()
