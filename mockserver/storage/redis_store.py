"""A store on Redis, so that replicas of the mock on any machines share one state.

Keys, under the store's prefix (``chatimg:`` unless told)::

    records:<kind>   hash: record key -> the record as JSON (as SQLite keeps it)
    order:<kind>     sorted set: record key -> when it was last saved (for "oldest first", trim)
    keys:<kind>      sorted set: record keys, all scored 0, so Redis keeps them in byte order
    sequence         the counter that gives each save its place in ``order:<kind>``
    generation       the version of the read-mostly kinds: incremented by each write of them
    kinds            set: the kinds this store has held (what ``clear`` removes)
    blobs            hash: sha256 hex digest -> image bytes, each stored once
    <name>:...       the store ``beside(name)`` (the journal), its keys under its own prefix

Every write is one Lua script, which Redis runs whole with nothing in between: records, their
places in both orders and the blobs they name change together, in one round trip. ``update``
reads, lets ``change`` decide in Python, then writes with a script that writes only if the
record is still the one read (its SHA-1 unchanged), and else reads again: optimistic, so a
concurrent write is never lost and nothing in Redis stays locked if a replica dies. Threads of
one process take turns at a key (a lock per stripe of keys), so that only other processes can
make an update read again; one that lost pauses a random fraction of a millisecond first.

The kinds read on every call and seldom written (``READ_MOSTLY_KINDS``: rules, the clock, the
signing key of links) are cached in each process, under a version key, ``generation``, that
every write of them increments. A request begins with one GET of it (``begin_request``): the
cache serves the request if no replica has written those kinds since it was filled, so a change
made through any replica holds on every replica from its next request on. Reads outside a
request (threads of the mock's own) go to Redis.

``round_trips`` counts what was sent and waited for: a command, a MULTI/EXEC pipeline, or a
script. The usual counts: ``load``, ``get_blob``, ``save``, ``save_many``, ``delete``,
``records``, ``trim``, ``clear``, ``count_hit`` and ``begin_request`` 1; ``update`` 2 (2
more per write it lost to another writer); ``in_key_order`` 1 per batch of 64, 256, then 1024
records; ``matching`` 1; a read-mostly kind's ``load`` or ``records`` 0 in a request whose
version the cache holds. The scripts are loaded with the first PING; one Redis forgot since (a
restart) costs one more.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from ..errors import StoreError, StoreUnavailable
from .records import READ_MOSTLY_KINDS, R, RateCount, Record, record_from_dict, record_to_dict
from .store import Store, check_fields, digest_of

DEFAULT_PREFIX = "chatimg:"
CONNECT_TIMEOUT_SECONDS = 5.0
# A reply may carry a 10 MB image over a slow link; a Redis that answers nothing in this long
# is taken to be down.
REPLY_TIMEOUT_SECONDS = 30.0
# How long ``update`` keeps losing to other writers before it gives up (SQLite's busy timeout).
BUSY_TIMEOUT_SECONDS = 10.0
# in_key_order reads a batch at a time, each bigger (up to the last size), so that the newest
# few cost one small read and all of them few reads (as SqliteStore does).
KEY_ORDER_BATCHES = (64, 256, 1024)
# Up to this long (times the writes lost in a row, up to 8) ``update`` waits after losing a
# write to another process, so that contending replicas do not all read again at once.
LOST_UPDATE_PAUSE_SECONDS = 0.0005
# Locks that threads of a process take to update a key: one per stripe of keys.
UPDATE_STRIPES = 64
# The heads of a kind's keys: no ``beside`` store may take one for its name.
_HEADS = ("records:", "order:", "keys:")

T = TypeVar("T")


class _Script:
    """A Lua script, run by its SHA-1 (EVALSHA) so that its text is sent once per server."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


# Lua scripts take their keys in KEYS and the rest in ARGV. Lua's unpack() has a stack limit
# of some thousands, so long lists go through it in chunks of 1000. A write of a read-mostly
# kind is given the generation key last, beyond the keys the script names, and increments it.

# KEYS: sequence, kinds, blobs, then records, order and keys of each kind saved. ARGV: the
# number of kinds and their names; the number of blobs, and (digest, bytes) of each; then
# (kind's position among the kinds, key, JSON) of each record, in the order saved.
_SAVE = _Script("""
local at = 1
local kinds = tonumber(ARGV[at])
for i = 1, kinds do redis.call('SADD', KEYS[2], ARGV[at + i]) end
at = at + kinds + 1
local blobs = tonumber(ARGV[at])
for i = 1, blobs do redis.call('HSETNX', KEYS[3], ARGV[at + 2 * i - 1], ARGV[at + 2 * i]) end
at = at + 2 * blobs + 1
local count = (#ARGV - at + 1) / 3
if count == 0 then return 0 end
local sequence = redis.call('INCRBY', KEYS[1], count) - count
for i = at, #ARGV, 3 do
  local base = 3 + 3 * tonumber(ARGV[i])
  local key = ARGV[i + 1]
  sequence = sequence + 1
  redis.call('HSET', KEYS[base + 1], key, ARGV[i + 2])
  redis.call('ZADD', KEYS[base + 2], sequence, key)
  redis.call('ZADD', KEYS[base + 3], 0, key)
end
if #KEYS > 3 + 3 * kinds then redis.call('INCR', KEYS[#KEYS]) end
return count
""")

# KEYS: sequence, kinds, records, order, keys. ARGV: kind, key, the SHA-1 of the JSON read
# (empty: there was none), and the new JSON (none: delete). 1 if written, 0 if the record
# changed since it was read.
_UPDATE = _Script("""
local current = redis.call('HGET', KEYS[3], ARGV[2])
if (current and redis.sha1hex(current) or '') ~= ARGV[3] then return 0 end
if #ARGV == 4 then
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
  redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[1]), ARGV[2])
  redis.call('ZADD', KEYS[5], 0, ARGV[2])
else
  redis.call('HDEL', KEYS[3], ARGV[2])
  redis.call('ZREM', KEYS[4], ARGV[2])
  redis.call('ZREM', KEYS[5], ARGV[2])
end
if #KEYS > 5 then redis.call('INCR', KEYS[6]) end
return 1
""")

# KEYS: sequence, kinds, records, order, keys (of RateCount). ARGV: the kind, the counter's
# name, then (seconds, start) of each window. The RateCount record is read, counted and written
# as update would, in Redis: no other write can come between. The count of each window.
_COUNT_HIT = _Script("""
local body = redis.call('HGET', KEYS[3], ARGV[2])
local seen = body and cjson.decode(body).windows or {}
local windows, counts = {}, {}
for i = 3, #ARGV, 2 do
  local seconds, start = ARGV[i], tonumber(ARGV[i + 1])
  local before = seen[seconds]
  local count = (before and tonumber(before[1]) == start) and tonumber(before[2]) + 1 or 1
  windows[seconds] = {start, count}
  counts[#counts + 1] = count
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode({name = ARGV[2], windows = windows}))
redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[1]), ARGV[2])
redis.call('ZADD', KEYS[5], 0, ARGV[2])
return counts
""")

# KEYS: records, order. ARGV: (field, its value as JSON) pairs. The JSON of each record whose
# fields have those values, oldest first: only those cross the network. A record is decoded
# only if its text holds each "field":value as the store's encoder writes it (compact), so a
# sweep of thousands of records that do not match parses none of them.
_MATCHING = _Script("""
local wanted, needles = {}, {}
for i = 1, #ARGV, 2 do
  wanted[ARGV[i]] = cjson.decode(ARGV[i + 1])
  needles[#needles + 1] = '"' .. ARGV[i] .. '":' .. ARGV[i + 1]
end
local keys = redis.call('ZRANGE', KEYS[2], 0, -1)
local found = {}
for i = 1, #keys, 1000 do
  local chunk = redis.call('HMGET', KEYS[1], unpack(keys, i, math.min(i + 999, #keys)))
  for j = 1, #chunk do
    local body, keep = chunk[j], chunk[j] ~= false
    for n = 1, #needles do
      if not keep then break end
      keep = string.find(body, needles[n], 1, true) ~= nil
    end
    if keep then
      local record = cjson.decode(body)
      for name, value in pairs(wanted) do
        if record[name] ~= value then keep = false break end
      end
      if keep then found[#found + 1] = body end
    end
  end
end
return found
""")

# KEYS: records, order. The JSON of each record, oldest first.
_RECORDS = _Script("""
local keys = redis.call('ZRANGE', KEYS[2], 0, -1)
local bodies = {}
for i = 1, #keys, 1000 do
  local chunk = redis.call('HMGET', KEYS[1], unpack(keys, i, math.min(i + 999, #keys)))
  for j = 1, #chunk do bodies[#bodies + 1] = chunk[j] end
end
return bodies
""")

# KEYS: records, keys. ARGV: the lowest and highest key as ZRANGEBYLEX takes them, how many,
# and 1 for descending. {keys, their JSON}, or {} when there are none.
_KEY_ORDER = _Script("""
local keys
if ARGV[4] == '1' then
  keys = redis.call('ZREVRANGEBYLEX', KEYS[2], ARGV[2], ARGV[1], 'LIMIT', 0, ARGV[3])
else
  keys = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
end
if #keys == 0 then return {} end
return {keys, redis.call('HMGET', KEYS[1], unpack(keys))}
""")

# KEYS: records, order, keys. ARGV: how many to keep. How many went, oldest first.
_TRIM = _Script("""
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
if excess <= 0 then return 0 end
local doomed = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
for i = 1, #doomed, 1000 do
  local last = math.min(i + 999, #doomed)
  redis.call('HDEL', KEYS[1], unpack(doomed, i, last))
  redis.call('ZREM', KEYS[3], unpack(doomed, i, last))
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
if #KEYS > 3 then redis.call('INCR', KEYS[4]) end
return excess
""")

# KEYS: kinds, blobs, generation. ARGV: the heads of a kind's keys, prefixed. The keys of each kind are
# named from the kinds set, inside the script, so that no save can come between the reading of
# that set and the removal (which a standalone Redis allows; a cluster would not).
# UNLINK: the keys go at once, their memory is freed in the background.
_CLEAR = _Script("""
local kinds = redis.call('SMEMBERS', KEYS[1])
for i = 1, #kinds do
  redis.call('UNLINK', ARGV[1] .. kinds[i], ARGV[2] .. kinds[i], ARGV[3] .. kinds[i])
end
redis.call('UNLINK', KEYS[1], KEYS[2])
redis.call('INCR', KEYS[3])
return #kinds
""")

_SCRIPTS = (_SAVE, _UPDATE, _COUNT_HIT, _MATCHING, _RECORDS, _KEY_ORDER, _TRIM, _CLEAR)


@dataclass(frozen=True)
class _KindKeys:
    records: str
    order: str
    keys: str


class RedisStore(Store):
    """Records and blobs in one Redis database, under ``prefix``: any number of processes on
    any machines, given the same URL and prefix, share them.

    ``url`` is redis://[[user]:password@]host[:port][/db], rediss:// (TLS) or unix://.
    Safe to share between threads, and between processes forked after it was made (redis-py
    opens new connections in a child). ``close()`` drops the connections; the store opens new
    ones if it is used again. StoreError when Redis cannot be reached or refuses a command.
    """

    shared = True
    kind = "redis"
    round_trips: int
    _cached: dict[tuple[str, str | None], Any]  # (kind, key or None for all) -> what was read
    _cached_at: int | None  # the generation the cache holds
    _local: threading.local  # this thread's request: the generation it began at

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX):
        self.prefix = prefix
        self.round_trips = 0
        self._url = url
        self._adopt_this_process()
        self._kind_keys: dict[str, _KindKeys] = {}
        self._sequence = f"{prefix}sequence"
        self._generation = f"{prefix}generation"
        self._kinds = f"{prefix}kinds"
        self._blobs = f"{prefix}blobs"
        try:
            # No retries of redis-py's own: ``_send`` decides which calls may be sent again.
            self._client = redis.Redis.from_url(
                url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                socket_timeout=REPLY_TIMEOUT_SECONDS, retry=Retry(NoBackoff(), 0))
        except ValueError as exc:  # (not the URL: it may hold a password)
            raise StoreError(f"cannot keep state in Redis: {exc}") from None
        self._where = _address(self._client)
        try:
            self._send(self._greet)  # fail now, not at the first request, if Redis is not there
        except BaseException:
            self._client.close()
            raise

    def __repr__(self) -> str:
        return f"RedisStore({self._where!r}, prefix={self.prefix!r})"

    def _greet(self) -> None:
        """PING, and hand Redis the scripts: one round trip."""
        pipeline = self._client.pipeline(transaction=False)
        pipeline.ping()
        for script in _SCRIPTS:
            pipeline.script_load(script.text)
        pipeline.execute()

    # --- blobs ------------------------------------------------------------------------------

    def get_blob(self, digest: str) -> bytes | None:
        return self._field(self._blobs, digest)

    # --- records ----------------------------------------------------------------------------

    def save_many(self, records: Iterable[Record], blobs: Iterable[bytes] = ()) -> None:
        # Encoded before anything is sent: a record JSON cannot hold raises TypeError or
        # ValueError (the journal drops such an entry), and nothing is written.
        rows = [(record.kind, record.key.encode(), _encode(record)) for record in records]
        named = [(digest_of(data), bytes(data)) for data in blobs]
        if not rows and not named:
            return
        kinds = list(dict.fromkeys(kind for kind, _, _ in rows))
        position = {kind: number for number, kind in enumerate(kinds)}
        keys = [self._sequence, self._kinds, self._blobs]
        for kind in kinds:
            of_kind = self._keys_of(kind)
            keys += [of_kind.records, of_kind.order, of_kind.keys]
        arguments: list[Any] = [len(kinds), *kinds, len(named)]
        for digest, data in named:
            arguments += [digest, data]
        for kind, key, body in rows:
            arguments += [position[kind], key, body]
        self._run(_SAVE, self._versioned(keys, *kinds), arguments)

    def load(self, cls: type[R], key: str) -> R | None:
        if cls.kind in READ_MOSTLY_KINDS:
            return cast("R | None", self._through_cache(cls.kind, key,
                                                        lambda: self._load(cls, key)))
        return self._load(cls, key)

    def _load(self, cls: type[R], key: str) -> R | None:
        body = self._field(self._keys_of(cls.kind).records, key.encode())
        return None if body is None else _decode(cls, body)

    def update(self, cls: type[R], key: str, change: Callable[[R | None], R | None]) -> R | None:
        of_kind = self._keys_of(cls.kind)
        field = key.encode()
        keys = self._versioned([self._sequence, self._kinds, of_kind.records, of_kind.order,
                                of_kind.keys], cls.kind)
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        lost = 0  # writes lost to other processes
        with self._update_lock(cls.kind, key):
            while True:
                body = self._field(of_kind.records, field)
                new = change(None if body is None else _decode(cls, body))
                read = "" if body is None else hashlib.sha1(body,
                                                            usedforsecurity=False).hexdigest()
                arguments = [cls.kind, field, read, *(() if new is None else (_encode(new),))]
                # Not sent again on a lost connection: the write may have been made, and a
                # second would apply ``change`` twice.
                if self._run(_UPDATE, keys, arguments, repeatable=False):
                    return new
                if time.monotonic() > deadline:
                    raise StoreUnavailable(f"the Redis store at {self._where} is busy: "
                                           f"{cls.kind} {key!r} kept changing under update "
                                           f"for {BUSY_TIMEOUT_SECONDS:g} s")
                # Another process wrote between our read and our write: let it finish, and
                # the others that lost as well read again at different times.
                lost += 1
                time.sleep(random.uniform(0, LOST_UPDATE_PAUSE_SECONDS * min(lost, 8)))

    def count_hit(self, name: str, windows: Sequence[tuple[int, int]]) -> list[int]:
        of_kind = self._keys_of(RateCount.kind)
        arguments: list[Any] = [RateCount.kind, name.encode()]
        for seconds, start in windows:
            arguments += [str(seconds), start]
        # Not sent again on a lost connection: the hit may have been counted.
        counts = self._run(_COUNT_HIT, [self._sequence, self._kinds, of_kind.records,
                                        of_kind.order, of_kind.keys], arguments,
                           repeatable=False)
        return [int(count) for count in counts]

    def delete(self, cls: type[R], key: str) -> None:
        of_kind, field = self._keys_of(cls.kind), key.encode()

        def remove() -> None:
            pipeline = self._client.pipeline(transaction=True)  # MULTI ... EXEC: one trip
            pipeline.hdel(of_kind.records, field)
            pipeline.zrem(of_kind.order, field)
            pipeline.zrem(of_kind.keys, field)
            for generation in self._versioned([], cls.kind):
                pipeline.incr(generation)
            pipeline.execute()

        self._send(remove)

    def records(self, cls: type[R]) -> list[R]:
        if cls.kind in READ_MOSTLY_KINDS:
            return list(self._through_cache(cls.kind, None, lambda: self._records(cls)))
        return self._records(cls)

    def _records(self, cls: type[R]) -> list[R]:
        of_kind = self._keys_of(cls.kind)
        bodies = self._run(_RECORDS, [of_kind.records, of_kind.order], [])
        return [_decode(cls, body) for body in bodies if body is not None]

    def matching(self, cls: type[R], where: Mapping[str, Any], *, newest_by: str | None = None,
                 offset: int = 0, limit: int | None = None) -> tuple[list[R], int]:
        if cls.kind in READ_MOSTLY_KINDS or not where or not all(
                isinstance(value, str | bool | None) for value in where.values()):
            # (cached, all of them, or values Lua's numbers might not compare exactly)
            return super().matching(cls, where, newest_by=newest_by, offset=offset,
                                    limit=limit)
        check_fields(cls, [*where, *([newest_by] if newest_by else [])])
        of_kind = self._keys_of(cls.kind)
        arguments = [item for name, value in where.items()
                     for item in (name, _ENCODER.encode(value))]
        chosen = [_decode(cls, body) for body in self._run(
            _MATCHING, [of_kind.records, of_kind.order], arguments)]
        if newest_by is not None:
            chosen.reverse()  # (a stable sort then puts the last stored first among equals)
            chosen.sort(key=operator.attrgetter(newest_by), reverse=True)
        return chosen[offset:None if limit is None else offset + limit], len(chosen)

    def in_key_order(self, cls: type[R], *, descending: bool = False,
                     above: str | None = None) -> Iterator[R]:
        of_kind = self._keys_of(cls.kind)
        # The keys read lie between these bounds, in ZRANGEBYLEX's terms: "(" excludes the key
        # after it, "-" and "+" are the ends. Redis compares keys byte by byte, and UTF-8 keeps
        # the order of code points, so the order is Python's.
        low, high = b"-" if above is None else b"(" + above.encode(), b"+"
        for batch in itertools.chain(KEY_ORDER_BATCHES, itertools.repeat(KEY_ORDER_BATCHES[-1])):
            found = self._run(_KEY_ORDER, [of_kind.records, of_kind.keys],
                              [low, high, batch, int(descending)])
            keys, bodies = found if found else ([], [])
            for body in bodies:  # (no round trip is open while the reader has a record)
                if body is not None:
                    yield _decode(cls, body)
            if len(keys) < batch:
                return
            if descending:
                high = b"(" + keys[-1]
            else:
                low = b"(" + keys[-1]

    def trim(self, cls: type[R], keep: int) -> int:
        of_kind = self._keys_of(cls.kind)
        gone: int = self._run(_TRIM, self._versioned(
            [of_kind.records, of_kind.order, of_kind.keys], cls.kind), [max(0, keep)])
        return gone

    def clear(self) -> None:
        self._run(_CLEAR, [self._kinds, self._blobs, self._generation],
                  [f"{self.prefix}{head}" for head in _HEADS])
        self._local.generation = None

    # --- the per-process cache of the read-mostly kinds --------------------------------------

    def begin_request(self) -> None:
        self._local.generation = int(self._send(lambda: self._client.get(self._generation))
                                     or 0)

    def end_request(self) -> None:
        self._local.generation = None

    def _versioned(self, keys: list[Any], *kinds: str) -> list[Any]:
        """The keys of a write, with the generation key last if it writes a read-mostly kind
        (its script increments it). This request's reads go to Redis from then on: the cache
        may hold what the write changed."""
        if READ_MOSTLY_KINDS.isdisjoint(kinds):
            return keys
        self._local.generation = None
        return [*keys, self._generation]

    def _through_cache(self, kind: str, key: str | None, read: Callable[[], T]) -> T:
        generation = getattr(self._local, "generation", None)
        if generation is None:  # (not in a request: read as it is now)
            return read()
        with self._cache_lock:
            if self._cached_at != generation:
                self._cached, self._cached_at = {}, generation
            if (kind, key) in self._cached:
                return cast(T, self._cached[kind, key])
        value = read()  # (never older than ``generation``: read after it)
        with self._cache_lock:
            if self._cached_at == generation:
                self._cached[kind, key] = value
        return value

    def beside(self, name: str) -> RedisStore:
        """The store under ``<prefix><name>:``, with connections of its own."""
        if ":" in name or f"{name}:" in _HEADS:
            raise ValueError(f"{name!r} cannot name a store beside another")
        return RedisStore(self._url, f"{self.prefix}{name}:")

    def close(self) -> None:
        self._client.close()

    # --- talking to Redis -------------------------------------------------------------------

    def _keys_of(self, kind: str) -> _KindKeys:
        of_kind = self._kind_keys.get(kind)
        if of_kind is None:
            records, order, keys = (f"{self.prefix}{head}{kind}" for head in _HEADS)
            of_kind = self._kind_keys[kind] = _KindKeys(records, order, keys)
        return of_kind

    def _field(self, name: str, field: str | bytes) -> bytes | None:
        """A field of the hash ``name``: bytes, as the client decodes nothing."""
        return cast("bytes | None", self._send(lambda: self._client.hget(name, field)))

    def _run(self, script: _Script, keys: Sequence[str], arguments: Sequence[Any], *,
             repeatable: bool = True) -> Any:
        """Run a script of this module by its SHA-1, or by its text if Redis has forgotten
        it (a restart): that once, two round trips."""
        def call() -> Any:
            try:
                return self._client.evalsha(script.sha, len(keys), *keys, *arguments)
            except NoScriptError:  # (nothing ran: safe to send again, even for update)
                self._count()
                return self._client.eval(script.text, len(keys), *keys, *arguments)

        return self._send(call, repeatable=repeatable)

    def _send(self, call: Callable[[], T], *, repeatable: bool = True) -> T:
        """``call()``, one round trip, counted; StoreError if Redis fails it.

        A connection found broken is tried once more on a new one (after a restart of Redis
        every pooled connection is), unless the call is not ``repeatable``: the first may
        have been carried out before the connection broke."""
        for attempt in (1, 2):
            self._count()
            try:
                return call()
            except RedisConnectionError as exc:
                if attempt == 2 or not repeatable:
                    raise StoreUnavailable(f"the Redis store at {self._where} is unreachable: "
                                           f"{exc}") from exc
            except RedisTimeoutError as exc:
                raise StoreUnavailable(f"the Redis store at {self._where} did not answer within "
                                 f"{REPLY_TIMEOUT_SECONDS:g} s") from exc
            except RedisError as exc:
                raise StoreError(f"the Redis store at {self._where} failed: {exc}") from exc
        raise AssertionError("unreachable")  # (the loop returns or raises)

    def _count(self) -> None:
        if self._pid != os.getpid():
            self._adopt_this_process()
        with self._count_lock:
            self.round_trips += 1

    def _update_lock(self, kind: str, key: str) -> threading.Lock:
        if self._pid != os.getpid():
            self._adopt_this_process()
        return self._update_locks[hash((kind, key)) % UPDATE_STRIPES]

    def _adopt_this_process(self) -> None:
        """Locks of this process's own: one a parent's thread held at the fork stays held in
        the child. (redis-py gives a forked child connections of its own.)"""
        self._pid = os.getpid()
        self._count_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._cached, self._cached_at = {}, None
        self._local = threading.local()
        self._update_locks = [threading.Lock() for _ in range(UPDATE_STRIPES)]


def _address(client: redis.Redis) -> str:
    """Where ``client`` connects, without its credentials: for messages."""
    options = client.connection_pool.connection_kwargs
    database = options.get("db", 0)
    if "path" in options:
        return f"unix://{options['path']}?db={database}"
    host = str(options.get("host", "localhost"))
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{options.get('port', 6379)}/{database}"


# One encoder, as SqliteStore's: json keeps ints exact at any size (19-digit message ids).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _encode(record: Record) -> bytes:
    return _ENCODER.encode(record_to_dict(record)).encode()


def _decode(cls: type[R], body: bytes) -> R:
    return record_from_dict(cls, json.loads(body))
