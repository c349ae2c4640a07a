"""A store on disk that every worker of a multi-process server shares, and that outlives them.

Layout under the directory given to ``SqliteStore``::

    state.sqlite3        records: one row per (kind, key), the record as JSON
    state.lock           what writers queue on
    state.generation     a counter of writes that invalidate cached reads
    blobs/ab/abcdef...   image bytes, one file per sha256 digest (as git keeps objects)
    journal/             a store of the same layout, ``beside("journal")``

Bytes stay out of the database so that a row read on the request path is small and a blob
written twice by two workers is written to the same name: each writer renames its own temporary
file over it, so readers see either no file or a whole one.

SQLite runs in WAL mode: readers never wait for the writer, and ``update`` holds the one write
lock (``BEGIN IMMEDIATE``) from its read to its write, which makes it atomic across processes.
In each process that writes, a thread per database copies the WAL into the database in the
background, so a request never waits on a checkpoint's fsync; a fork waits for a checkpoint
under way to end, as a child must not inherit SQLite's locks held mid-call. A save touches
two b-trees, the table in insertion order and its (kind, key) index.
Writers queue on an ``flock`` of ``state.lock`` before they ask SQLite: a writer SQLite finds
busy sleeps a millisecond or more before it tries again (longer than a whole request here),
while one waiting on the lock file is woken the moment the lock is free.

Records read on every call and seldom written (``READ_MOSTLY_KINDS``: rules, the clock) are
cached in each process, and so is which blobs exist; ``state.generation`` counts the writes that
would make those caches wrong, so a process notices another's write without asking SQLite.
Connections are pooled per process and opened lazily; a process forked from one that used the
store (gunicorn ``--preload``) notices the new pid and opens its own, as SQLite requires
(https://www.sqlite.org/howtocorrupt.html, section 2.6).
"""

from __future__ import annotations

import itertools
import json
import operator
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import MockServerError, StoreError
from .records import READ_MOSTLY_KINDS, R, Record, record_from_dict, record_to_dict
from .shared_counter import SharedCounter
from .store import Store, check_fields, digest_of

try:
    import fcntl
except ImportError:  # Windows has none: writers fall back on SQLite's busy timeout
    fcntl = None  # type: ignore[assignment]

DATABASE_NAME = "state.sqlite3"
LOCK_NAME = "state.lock"
GENERATION_NAME = "state.generation"
BLOBS_NAME = "blobs"
BUSY_TIMEOUT_SECONDS = 10.0
# A thread per database of each writing process copies the WAL into it this often, so that no
# request waits for a checkpoint (or its fsync). SQLite's own checkpoint, run by the commit
# that takes the WAL past this many pages, is kept as a backstop should that thread lag.
CHECKPOINT_SECONDS = 0.2
AUTOCHECKPOINT_PAGES = 10_000
_TEMPORARY_PREFIX = ".tmp-"
_DIGEST = re.compile(r"[0-9a-f]{64}")

# Version 2: records in insertion order by rowid. Version 1 (user_version 0) kept a per-kind
# ``seq`` column with an index of its own: a third b-tree written on every save.
SCHEMA_VERSION = 2
_CREATE = """
CREATE TABLE records (
    id   INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (kind, key)
)"""
_FROM_VERSION_1 = (
    "ALTER TABLE records RENAME TO records_version_1",
    _CREATE,
    # Download links were kept as records ("file"); they are signed now, so they go.
    ("INSERT INTO records (kind, key, body) SELECT kind, key, body FROM records_version_1"
     " WHERE kind != 'file' ORDER BY kind, seq"),
    "DROP TABLE records_version_1",  # and its index
)
_LOAD = "SELECT body FROM records WHERE kind = ? AND key = ?"
_LIST = "SELECT body FROM records WHERE kind = ? ORDER BY id"
# in_key_order reads from the (kind, key) index a batch at a time, each batch bigger (up to
# the last size), so that the newest few cost one small read and all of them few reads.
KEY_ORDER_BATCHES = (64, 256, 1024)
# REPLACE deletes a row of the same kind and key and inserts anew: a re-saved key is the newest.
_SAVE = "INSERT OR REPLACE INTO records (kind, key, body) VALUES (?, ?, ?)"
_DELETE = "DELETE FROM records WHERE kind = ? AND key = ?"
_TRIM = """
DELETE FROM records WHERE kind = ?1 AND id <= (
    SELECT id FROM records WHERE kind = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)
"""


class SqliteStore(Store):
    """Records in ``directory/state.sqlite3``, image bytes in ``directory/blobs/``.

    Safe to share between threads and between processes, including processes forked after the
    store was made or used. ``close()`` releases this process's connections; the store opens new
    ones if it is used again.
    """

    shared = True
    kind = "sqlite"

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.database_path = self.directory / DATABASE_NAME
        self.blobs_path = self.directory / BLOBS_NAME
        self._blob_root = str(self.blobs_path)
        self._pid = os.getpid()
        self._idle: list[sqlite3.Connection] = []   # ready for any thread of this process
        self._opened: list[sqlite3.Connection] = []  # every connection of this process
        self._inherited: list[list[sqlite3.Connection]] = []
        self._thread_lock = threading.Lock()  # flock is per open file, not per thread
        self._lock_file: int | None = None
        self._cached_at = -1
        self._cached: dict[tuple[str, str | None], Any] = {}  # (kind, key or None for all)
        self._known_blobs: set[str] = set()
        self._checkpointer: tuple[threading.Thread, threading.Event] | None = None
        try:
            self.blobs_path.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=self.blobs_path).close()  # can blobs be written?
            self._generation = SharedCounter(self.directory / GENERATION_NAME)
            self._prepare_schema()
        except (OSError, sqlite3.Error) as exc:
            self.close()
            reason = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and \
                exc.strerror else str(exc)
            raise StoreError(f"cannot keep state in {self.directory}: {reason}") from None
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.directory)!r})"

    # --- blobs ------------------------------------------------------------------------------

    def get_blob(self, digest: str) -> bytes | None:
        if not _DIGEST.fullmatch(digest):  # also keeps a digest from naming a path elsewhere
            return None
        try:
            with open(self._blob_path(digest), "rb") as blob:
                return blob.read()
        except FileNotFoundError:
            return None

    def _blob_path(self, digest: str) -> str:
        return f"{self._blob_root}{os.sep}{digest[:2]}{os.sep}{digest}"

    # --- records ----------------------------------------------------------------------------

    def save_many(self, records: Iterable[Record], blobs: Iterable[bytes] = ()) -> None:
        records = list(records)
        rows = [(record.kind, record.key, _encode(record)) for record in records]
        invalidates = any(record.kind in READ_MOSTLY_KINDS for record in records)
        named = [(digest_of(data), data) for data in blobs]
        with self._transaction(invalidates) as connection:
            # Under the write lock, which clear() holds too: the rows and their blobs are
            # both kept, or (a reset came first, or after) both gone.
            if named:
                self._write_blobs(named)
            connection.executemany(_SAVE, rows)

    def _write_blobs(self, named: list[tuple[str, bytes]]) -> None:
        self._renew_stale_cache()
        for digest, data in named:
            if digest not in self._known_blobs:
                path = self._blob_path(digest)
                if not os.path.exists(path):
                    _write_atomically(path, data)
                self._known_blobs.add(digest)

    def load(self, cls: type[R], key: str) -> R | None:
        if cls.kind in READ_MOSTLY_KINDS:
            return self._through_cache(cls, key, lambda: self._load(cls, key))
        return self._load(cls, key)

    def _load(self, cls: type[R], key: str) -> R | None:
        connection = self._acquire()
        try:
            row = connection.execute(_LOAD, (cls.kind, key)).fetchone()
        finally:
            self._idle.append(connection)
        return None if row is None else record_from_dict(cls, json.loads(row[0]))

    def update(self, cls: type[R], key: str, change: Callable[[R | None], R | None]) -> R | None:
        # The write lock is taken before the read, so no other process can write between
        # what ``change`` sees and what it returns.
        with self._transaction(cls.kind in READ_MOSTLY_KINDS) as connection:
            row = connection.execute(_LOAD, (cls.kind, key)).fetchone()
            current = None if row is None else record_from_dict(cls, json.loads(row[0]))
            new = change(current)
            if new is None:
                connection.execute(_DELETE, (cls.kind, key))
            else:
                connection.execute(_SAVE, (cls.kind, key, _encode(new)))
        return new

    def delete(self, cls: type[R], key: str) -> None:
        with self._transaction(cls.kind in READ_MOSTLY_KINDS) as connection:
            connection.execute(_DELETE, (cls.kind, key))

    def trim(self, cls: type[R], keep: int) -> int:
        with self._transaction(cls.kind in READ_MOSTLY_KINDS) as connection:
            return connection.execute(_TRIM, (cls.kind, max(0, keep))).rowcount

    def records(self, cls: type[R]) -> list[R]:
        if cls.kind in READ_MOSTLY_KINDS:
            return list(self._through_cache(cls, None, lambda: self._records(cls)))
        return self._records(cls)

    def _records(self, cls: type[R]) -> list[R]:
        connection = self._acquire()
        try:
            rows = connection.execute(_LIST, (cls.kind,)).fetchall()
        finally:
            self._idle.append(connection)
        return [record_from_dict(cls, json.loads(body)) for (body,) in rows]

    def in_key_order(self, cls: type[R], *, descending: bool = False,
                     above: str | None = None) -> Iterator[R]:
        low, high = above, None  # the keys read lie strictly between these
        for batch in itertools.chain(KEY_ORDER_BATCHES, itertools.repeat(KEY_ORDER_BATCHES[-1])):
            conditions, parameters = ["kind = ?"], [cls.kind]
            for bound, condition in ((low, "key > ?"), (high, "key < ?")):
                if bound is not None:
                    conditions.append(condition)
                    parameters.append(bound)
            statement = (f"SELECT key, body FROM records WHERE {' AND '.join(conditions)} "
                         f"ORDER BY key {'DESC' if descending else 'ASC'} LIMIT {batch}")
            connection = self._acquire()
            try:  # (given back before the first record is handed on: the reader may stop)
                rows = connection.execute(statement, parameters).fetchall()
            finally:
                self._idle.append(connection)
            for _, body in rows:
                yield record_from_dict(cls, json.loads(body))
            if len(rows) < batch:
                return
            if descending:
                high = rows[-1][0]
            else:
                low = rows[-1][0]

    def matching(self, cls: type[R], where: Mapping[str, Any], *, newest_by: str | None = None,
                 offset: int = 0, limit: int | None = None) -> tuple[list[R], int]:
        if cls.kind in READ_MOSTLY_KINDS:  # (cached in this process: read there)
            return super().matching(cls, where, newest_by=newest_by, offset=offset, limit=limit)
        check_fields(cls, [*where, *([newest_by] if newest_by else [])])
        # Values are compared as JSON keeps them (json_extract), paths and values bound.
        condition = "kind = ?" + " AND json_extract(body, ?) IS ?" * len(where)
        parameters: list[Any] = [cls.kind]
        for name, value in where.items():
            parameters += [f"$.{name}", value]
        order = "json_extract(body, ?) DESC, id DESC" if newest_by else "id"
        connection = self._acquire()
        try:
            rows = connection.execute(
                f"SELECT body, count(*) OVER () FROM records WHERE {condition} ORDER BY {order} "
                f"LIMIT ? OFFSET ?", [*parameters, *([f"$.{newest_by}"] if newest_by else []),
                                     -1 if limit is None else limit, offset]).fetchall()
            total = rows[0][1] if rows else connection.execute(
                f"SELECT count(*) FROM records WHERE {condition}", parameters).fetchone()[0]
        finally:
            self._idle.append(connection)
        return [record_from_dict(cls, json.loads(body)) for body, _ in rows], total

    def first_pages(self, cls: type[R], by: Sequence[str], *, newest_by: str,
                    limit: int) -> dict[tuple[Any, ...], tuple[list[R], int]]:
        if cls.kind in READ_MOSTLY_KINDS:
            return super().first_pages(cls, by, newest_by=newest_by, limit=limit)
        check_fields(cls, [*by, newest_by])
        paths = ", ".join(["?"] * len(by))
        connection = self._acquire()
        try:  # (one pass: each group's rank and size by window functions, each field read once)
            rows = connection.execute(
                "SELECT body, total FROM (SELECT body, row_number() OVER (PARTITION BY "
                "grouped ORDER BY newest DESC, id DESC) AS rank, count(*) OVER (PARTITION BY "
                f"grouped) AS total FROM (SELECT body, id, json_extract(body, {paths}) AS "
                "grouped, json_extract(body, ?) AS newest FROM records WHERE kind = ?)) "
                "WHERE rank <= ? ORDER BY rank",
                [*(f"$.{name}" for name in by), f"$.{newest_by}", cls.kind, limit]).fetchall()
        finally:
            self._idle.append(connection)
        key_of = operator.attrgetter(*by)
        pages: dict[tuple[Any, ...], tuple[list[R], int]] = {}
        for body, total in rows:
            record = record_from_dict(cls, json.loads(body))
            key = key_of(record)
            pages.setdefault(key if len(by) > 1 else (key,), ([], total))[0].append(record)
        return pages

    def clear(self) -> None:
        # The blobs go once the records are gone (a reader that still finds a record finds its
        # bytes), and before the write lock is let go (no writer is between its blobs and its
        # records).
        with self._transaction(True, after_commit=self._remove_blobs) as connection:
            connection.execute("DELETE FROM records")

    def _remove_blobs(self) -> None:
        for shard in os.scandir(self._blob_root):
            if shard.is_dir():
                for blob in os.scandir(shard.path):
                    _unlink_if_present(blob.path)

    def beside(self, name: str) -> SqliteStore:
        return SqliteStore(self.directory / name)

    def close(self) -> None:
        """Close this process's connections (call it when no operation is running)."""
        if self._pid != os.getpid():
            self._adopt_this_process()
        if self._checkpointer is not None:
            (thread, stop), self._checkpointer = self._checkpointer, None
            stop.set()
            thread.join(timeout=BUSY_TIMEOUT_SECONDS)
        opened, self._opened, self._idle = self._opened, [], []
        for connection in opened:
            connection.close()
        lock_file, self._lock_file = self._lock_file, None
        if lock_file is not None:
            os.close(lock_file)
        self._cached_at = -1

    # --- the per-process cache -------------------------------------------------------------

    def _renew_stale_cache(self) -> None:
        """Empty the caches if another write has made them wrong."""
        generation = self._generation.value()
        if generation != self._cached_at:
            self._cached, self._known_blobs = {}, set()
            self._cached_at = generation

    def _through_cache(self, cls: type[Record], key: str | None, read: Callable[[], Any]
                       ) -> Any:
        self._renew_stale_cache()
        cached = self._cached  # the generation's own: a value read now is never newer than it
        slot = (cls.kind, key)
        if slot not in cached:
            cached[slot] = read()
        return cached[slot]

    # --- connections ------------------------------------------------------------------------

    def _prepare_schema(self) -> None:
        """Create the table, or bring one written by an older version up to this one."""
        connection = self._connect()
        try:
            # journal_mode is kept in the database file: set once here, not per connection.
            connection.execute("PRAGMA journal_mode=WAL")
            with self._write_lock():
                connection.execute("BEGIN IMMEDIATE")
                try:
                    _migrate(connection, self.database_path)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
        finally:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: autocommit, with transactions only where update() begins one.
        # check_same_thread=False: the pool hands a connection to one thread at a time.
        connection = sqlite3.connect(self.database_path, timeout=BUSY_TIMEOUT_SECONDS,
                                     isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        return connection

    def _acquire(self) -> sqlite3.Connection:
        """An idle connection of this process, or a new one. Give it back to ``_idle``."""
        if self._pid != os.getpid():
            self._adopt_this_process()
        try:
            return self._idle.pop()  # list.pop and list.append are atomic: no lock needed
        except IndexError:
            connection = self._connect()
            self._opened.append(connection)
            return connection

    def _adopt_this_process(self) -> None:
        """After a fork: leave the parent's connections alone, open our own from now on.

        They are kept referenced, never closed nor collected: closing SQLite connections
        inherited across fork can release the parent's locks or delete its WAL file."""
        self._inherited.append(self._opened)
        self._opened, self._idle = [], []
        self._pid = os.getpid()
        self._checkpointer = None  # the parent's thread is not ours
        # The lock file too: an inherited descriptor shares the parent's lock. Closing our
        # copy leaves the parent's alone.
        self._thread_lock = threading.Lock()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    @contextmanager
    def _transaction(self, invalidates_caches: bool = False,
                     after_commit: Callable[[], None] | None = None
                     ) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed if the block ends normally, else rolled back;
        ``after_commit`` runs after a commit, still under the write lock.

        One that ``invalidates_caches`` bumps the generation after its commit (a reader that
        sees the new generation then reads what was committed), before the lock is let go."""
        connection = self._acquire()
        try:
            with self._write_lock():
                if self._checkpointer is None:  # (the lock: one thread starts it)
                    self._start_checkpointer()
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                    connection.execute("COMMIT")
                    if after_commit is not None:
                        after_commit()
                except BaseException:
                    if connection.in_transaction:  # some errors end the transaction themselves
                        connection.execute("ROLLBACK")
                    raise
                finally:
                    if invalidates_caches:
                        self._generation.bump()
        finally:
            self._idle.append(connection)

    def _start_checkpointer(self) -> None:
        connection = self._connect()
        self._opened.append(connection)  # closed by close(), kept by a forked child
        stop = threading.Event()
        thread = threading.Thread(target=_checkpoint_until, args=(connection, stop),
                                  daemon=True, name="chatimg-checkpoint")
        self._checkpointer = thread, stop
        thread.start()

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        with self._thread_lock:
            if fcntl is None:
                yield
                return
            if self._lock_file is None:
                self._lock_file = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT,
                                          0o600)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)


# Held by a checkpoint thread while it is in SQLite, and by a thread that forks, so that no
# child starts with SQLite's mutexes locked by a thread it does not have.
_IN_CHECKPOINT = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_IN_CHECKPOINT.acquire, after_in_parent=_IN_CHECKPOINT.release,
                        after_in_child=_IN_CHECKPOINT.release)


def _checkpoint_until(connection: sqlite3.Connection, stop: threading.Event) -> None:
    # PASSIVE waits for no reader nor writer; the sqlite3 module lets go of the GIL meanwhile.
    while not stop.wait(CHECKPOINT_SECONDS):
        with _IN_CHECKPOINT:
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:  # busy: the next round tries again
                pass


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")  # can it be written?
        return
    if version > SCHEMA_VERSION:
        raise MockServerError(f"{path} was written by a newer chatimg-mock (schema version "
                              f"{version}; this one reads up to {SCHEMA_VERSION})")
    columns = {row[1] for row in connection.execute("PRAGMA table_info(records)")}
    for statement in _FROM_VERSION_1 if "seq" in columns else (_CREATE,):
        connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


# One encoder: json.dumps with options builds a new one per call.
# json keeps ints exact at any size: 19-digit message ids survive, as in MemoryStore.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _encode(record: Record) -> str:
    return _ENCODER.encode(record_to_dict(record))


def _write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it onto ``path``."""
    shard = os.path.dirname(path)
    os.makedirs(shard, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=shard, prefix=_TEMPORARY_PREFIX)
    try:
        with os.fdopen(descriptor, "wb") as blob:
            blob.write(data)
        os.replace(temporary, path)
    except BaseException:
        _unlink_if_present(temporary)
        raise


def _unlink_if_present(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
