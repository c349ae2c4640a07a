"""The state store: image bytes by digest, and records by kind and key.

One small interface, so a persistent backend can stand in for the in-memory one. Blobs are
content-addressed (sha256), so storing the same bytes twice costs nothing and a byte-exact
round trip is easy to check.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable

from .records import R, Record


class Store(ABC):
    """Where the mock keeps what one call stores and the next call finds."""

    # Whether other processes read and write it too (workers of one server).
    shared: bool = False

    def put_blob(self, data: bytes) -> str:
        """Keep ``data``; return its sha256 digest."""
        self.save_many((), (data,))
        return digest_of(data)

    @abstractmethod
    def get_blob(self, digest: str) -> bytes | None:
        """The bytes stored under ``digest``, or None."""

    def save(self, record: Record) -> None:
        """Insert or replace ``record`` under its kind and key."""
        self.save_many((record,))

    @abstractmethod
    def save_many(self, records: Iterable[Record], blobs: Iterable[bytes] = ()) -> None:
        """Save records, and the blobs they name, as one: a ``clear`` at the same time finds
        all of them or none, so no record outlives its bytes."""

    @abstractmethod
    def load(self, cls: type[R], key: str) -> R | None:
        """The record of type ``cls`` under ``key``, or None."""

    @abstractmethod
    def update(self, cls: type[R], key: str, change: Callable[[R | None], R | None]) -> R | None:
        """Atomically replace the record under ``key`` by ``change(current)``; None deletes it.

        Atomic across threads and, for shared backends, across processes: counters and
        one-shot rules rely on it."""

    @abstractmethod
    def delete(self, cls: type[R], key: str) -> None:
        """Remove the record, if there is one."""

    @abstractmethod
    def records(self, cls: type[R]) -> list[R]:
        """Every record of type ``cls``, oldest first."""

    @abstractmethod
    def trim(self, cls: type[R], keep: int) -> int:
        """Drop all but the newest ``keep`` records of type ``cls``; return how many went."""

    @abstractmethod
    def clear(self) -> None:
        """Forget everything."""

    def close(self) -> None:  # noqa: B027 (not abstract: most stores keep nothing open)
        """Release files and connections; the default keeps nothing open."""

    @abstractmethod
    def beside(self, name: str) -> Store:
        """A store of the same kind for records kept apart (the journal), so that their
        writes never queue behind this store's; a persistent one lives beside this one."""


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MemoryStore(Store):
    """The default store: dictionaries in this process, guarded by one lock."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._records: dict[str, dict[str, Record]] = {}  # kind -> key -> record, oldest first
        self._lock = threading.Lock()

    def get_blob(self, digest: str) -> bytes | None:
        return self._blobs.get(digest)

    def save_many(self, records: Iterable[Record], blobs: Iterable[bytes] = ()) -> None:
        named = [(digest_of(data), bytes(data)) for data in blobs]  # (hashed outside the lock)
        with self._lock:
            for digest, data in named:
                self._blobs.setdefault(digest, data)
            for record in records:
                of_kind = self._records.setdefault(record.kind, {})
                of_kind.pop(record.key, None)  # re-insert: newest last
                of_kind[record.key] = record

    def load(self, cls: type[R], key: str) -> R | None:
        return self._records.get(cls.kind, {}).get(key)  # type: ignore[return-value]

    def update(self, cls: type[R], key: str, change: Callable[[R | None], R | None]) -> R | None:
        with self._lock:
            of_kind = self._records.setdefault(cls.kind, {})
            new = change(of_kind.get(key))  # type: ignore[arg-type]
            of_kind.pop(key, None)  # (re)inserted newest last, as save does
            if new is not None:
                of_kind[key] = new
            return new

    def delete(self, cls: type[R], key: str) -> None:
        with self._lock:
            self._records.get(cls.kind, {}).pop(key, None)

    def records(self, cls: type[R]) -> list[R]:
        with self._lock:
            return list(self._records.get(cls.kind, {}).values())  # type: ignore[arg-type]

    def beside(self, name: str) -> MemoryStore:
        return MemoryStore()

    def trim(self, cls: type[R], keep: int) -> int:
        with self._lock:
            of_kind = self._records.get(cls.kind, {})
            doomed = list(itertools.islice(of_kind, max(0, len(of_kind) - keep)))
            for key in doomed:
                del of_kind[key]
            return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._blobs.clear()
            self._records.clear()
