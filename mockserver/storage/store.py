"""The state store: image bytes by digest, and records by kind and key.

One small interface, so a persistent backend can stand in for the in-memory one. Blobs are
content-addressed (sha256), so storing the same bytes twice costs nothing and a byte-exact
round trip is easy to check.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import itertools
import operator
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from .records import R, RateCount, Record


class Store(ABC):
    """Where the mock keeps what one call stores and the next call finds."""

    # Whether other processes read and write it too (workers of one server).
    shared: bool = False
    # What the store is, as the admin API names it.
    kind: str = "memory"
    # Requests sent to a store on the network and waited for; None where there is no network.
    round_trips: int | None = None

    def begin_request(self) -> None:  # noqa: B027 (not abstract: most stores need nothing)
        """A request begins: a store that caches what every call reads across processes
        checks its cache here, once per request."""

    def end_request(self) -> None:  # noqa: B027
        """The request is over (reads of this thread go to the store again)."""

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

    def in_key_order(self, cls: type[R], *, descending: bool = False,
                     above: str | None = None) -> Iterator[R]:
        """The records of type ``cls`` by key (as strings compare), descending if asked, those
        whose key is greater than ``above`` only; read as they are taken, so a reader that
        stops after the newest few (the journal's latest page) does not read them all.

        The default reads them all; a store with an index by key reads a batch at a time."""
        chosen = [r for r in self.records(cls) if above is None or r.key > above]
        return iter(sorted(chosen, key=lambda r: r.key, reverse=descending))

    def matching(self, cls: type[R], where: Mapping[str, Any], *, newest_by: str | None = None,
                 offset: int = 0, limit: int | None = None) -> tuple[list[R], int]:
        """The records of type ``cls`` whose fields have ``where``'s (plain) values, ``limit``
        of them from ``offset``, and how many match in all: oldest first, or newest first by
        the number in the field ``newest_by`` (of equal ones, the last stored first).

        The default reads every record; a store that can look into its records reads only
        the page (the dashboard's images, 24 of a thousand)."""
        check_fields(cls, [*where, *([newest_by] if newest_by else [])])
        wanted = tuple(where.values())
        values_of = operator.attrgetter(*where) if where else None
        if values_of is not None and len(wanted) == 1:
            wanted = wanted[0]  # (one name: attrgetter gives the value, not a tuple)
        chosen = [r for r in self.records(cls) if values_of is None or values_of(r) == wanted]
        if newest_by is not None:
            chosen.reverse()  # (a stable sort then puts the last stored first among equals)
            chosen.sort(key=operator.attrgetter(newest_by), reverse=True)
        return chosen[offset:None if limit is None else offset + limit], len(chosen)

    def first_pages(self, cls: type[R], by: Sequence[str], *, newest_by: str,
                    limit: int) -> dict[tuple[Any, ...], tuple[list[R], int]]:
        """For each distinct value of the fields ``by`` (a tuple, in their order) among the
        records of type ``cls``: its newest ``limit`` records, as ``matching`` orders them, and
        how many it has. What a dashboard shows first of every group, in one read.

        The default reads every record; a store that can look into its records reads only
        the pages."""
        check_fields(cls, [*by, newest_by])
        key_of = operator.attrgetter(*by)
        groups: dict[tuple[Any, ...], list[R]] = {}
        for record in reversed(self.records(cls)):  # (the last stored first among equals)
            key = key_of(record)
            groups.setdefault(key if len(by) > 1 else (key,), []).append(record)
        newest = operator.attrgetter(newest_by)
        return {key: (sorted(group, key=newest, reverse=True)[:limit], len(group))
                for key, group in groups.items()}

    def count_hit(self, name: str, windows: Sequence[tuple[int, int]]) -> list[int]:
        """Count one hit under ``name`` in each fixed window, given as (its length in seconds,
        when it began), all at once; how many hits each window has had, this one included. A
        window that began afresh counts from 1. What a rate limit shared by replicas needs.

        The default is one ``update``; a store that can count where it keeps the count
        does it in one round trip, without losing a race to another process."""
        def count(current: RateCount | None) -> RateCount:
            previous = current.windows if current else {}
            fresh = {}
            for seconds, start in windows:
                seen_start, seen = previous.get(str(seconds), (None, 0))
                fresh[str(seconds)] = [start, seen + 1 if seen_start == start else 1]
            return RateCount(name, fresh)

        counted = self.update(RateCount, name, count)
        assert counted is not None
        return [counted.windows[str(seconds)][1] for seconds, _ in windows]

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


def check_fields(cls: type, names: Iterable[str]) -> None:
    """ValueError unless each of ``names`` is a field of the record class ``cls``."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field {', '.join(unknown)}")


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

    def in_key_order(self, cls: type[R], *, descending: bool = False,
                     above: str | None = None) -> Iterator[R]:
        with self._lock:
            of_kind = dict(self._records.get(cls.kind, {}))
        keys = sorted(of_kind)  # (plain strings: a sort in C, no key function)
        if above is not None:
            keys = keys[bisect.bisect_right(keys, above):]
        if descending:
            keys.reverse()
        return (of_kind[key] for key in keys)  # type: ignore[misc]

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
