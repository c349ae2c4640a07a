"""The request journal: what a bot sent and what the mock answered, queryable by tests.

Every vendor call is kept (admin calls are not), with credentials masked and bodies
summarised, so a test can ask "was postImage called twice with toWxid X?" after the fact.
Callbacks the mock delivers to bots are kept too, as operation ``callback``.

Recording is on every request's path, reading is rare: a request keeps a JSON body as the text
it came as, and the journal summarises it (and reads the vendor's code from the reply) when it
is read. A body that is big, not UTF-8 or may hold a credential is summarised, masked, at once:
what is stored never holds a secret or a big payload.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from flask import Request, Response

from ..errors import StoreUnavailable
from ..incoming import body_problem, requested_path
from ..storage.records import Delivery, JournalEntry
from ..storage.store import Store

if TYPE_CHECKING:
    from flask.ctx import _AppCtxGlobals

__all__ = ["JournalEntry", "JournalView", "Secrets", "clear", "query", "record_delivery",
           "record_exchange"]

log = logging.getLogger(__name__)
# Headers masked whatever the API; each API names its own too (``VendorApi.secret_headers``).
COMMON_SECRET_HEADERS = ("authorization", "cookie")
CALLBACK = "callback"  # the operation of a callback's entry
BODY_TEXT_LIMIT = 2000
# A JSON body up to this size is kept as its text until read; a bigger one is summarised at
# once, so that no entry holds a big payload.
RAW_TEXT_LIMIT = 32 * 1024
# Levels of nesting a summary keeps; deeper arrays and objects are cut.
SUMMARY_DEPTH = 32
_counter = itertools.count()
# How long stopping waits for a write under way (a busy store's own timeout).
STOP_WAIT_SECONDS = 10.0
# How long the writer waits to try again when the store is out of reach (Redis restarting).
RETRY_SECONDS = 0.5

ReplyCode = Callable[[Any], Any]
# What a store raises for a record it cannot encode (an unpaired surrogate is a
# UnicodeEncodeError), as opposed to a store that is busy or gone.
UNSTORABLE = (ValueError, TypeError, RecursionError)


def mask(value: str) -> str:
    """Enough of a credential to tell two apart, not enough to use it."""
    return f"***{value[-4:]}" if len(value) > 8 else "***"


def summarise_body(data: bytes, content_type: str | None, secrets: Collection[str] = (),
                   fields: Collection[str] = ()) -> Any:
    """JSON as data (long strings cut), text cut, binary as its size; the ``secrets`` values
    and the values of JSON ``fields`` masked."""
    if not data:
        return None
    kind = _kind(content_type)
    if _is_json(kind, data):
        try:
            return _shorten(json.loads(data), secrets, fields)
        except (ValueError, RecursionError):  # summarised as text, like any unreadable JSON
            pass
    if kind.startswith("text/") or kind in ("application/json", "application/xml"):
        return _shorten(data.decode("utf-8", "replace"), secrets, fields)
    return {"bytes": len(data), "content_type": kind or None}


def _shorten(value: Any, secrets: Collection[str], fields: Collection[str],
             depth: int = 0) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:  # e.g. GeWe quotes a refused token in its reply
                value = value.replace(secret, mask(secret))
        return _printable(value if len(value) <= BODY_TEXT_LIMIT
                          else value[:BODY_TEXT_LIMIT] + "…")
    if isinstance(value, dict | list) and depth >= SUMMARY_DEPTH:
        return "…"  # cut, as a long string is: a reader's stack (and JSON encoder) has limits
    if isinstance(value, dict):
        return {_printable(k): mask(v) if k in fields and isinstance(v, str)
                else _shorten(v, secrets, fields, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v, secrets, fields, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)  # "NaN", "Infinity": JSON has no such numbers to serve
    return value


def _printable(text: str) -> str:
    """``text`` with unpaired surrogates (which JSON escapes can spell) written as escapes:
    they cannot be encoded, so neither stored nor served."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


class Secrets:
    """What the journal masks: credential values, the JSON fields and the headers the APIs
    name as secret, and the bytes that betray one in a body.

    Built once per app: ``may_be_in`` runs on every body.
    """

    def __init__(self, values: Iterable[str] = (), *, fields: Iterable[str] = (),
                 headers: Iterable[str] = ()):
        self.values = tuple(values)
        self.fields = frozenset(fields)
        self.headers = frozenset(name.lower() for name in (*COMMON_SECRET_HEADERS, *headers))
        escaped = (json.dumps(v, ensure_ascii=False)[1:-1] for v in self.values)
        self._needles = tuple({text.encode("utf-8")
                               for text in (*self.values, *escaped, *self.fields)})

    def may_be_in(self, data: bytes) -> bool:
        """Whether summarising ``data`` might mask something: a secret, a secret field, or an
        escape that could spell one without its plain characters.

        A ``find`` per needle: ``needle in data`` first tries the needle as an integer (and
        formats the error), and one regular expression of them all costs twice as much."""
        if data.find(b"\\") >= 0 and (data.find(b"\\u") >= 0 or data.find(b"\\/") >= 0):
            return True
        for needle in self._needles:
            if data.find(needle) >= 0:
                return True
        return False


def capture_body(data: bytes, content_type: str | None,
                 secrets: Secrets) -> tuple[Any, str | None]:
    """What an entry keeps of a body, and the content type when that is the body's JSON text
    (summarised when read); otherwise the summary, masked, and None."""
    if (data and len(data) <= RAW_TEXT_LIMIT and _is_json(_kind(content_type), data)
            and data.find(b"\x00") < 0  # (json.loads would take it for UTF-16 or UTF-32)
            and not secrets.may_be_in(data)):
        try:  # strict: the text encodes back to the very same bytes
            return data.decode("utf-8"), content_type or ""
        except UnicodeDecodeError:
            pass
    return summarise_body(data, content_type, secrets.values, secrets.fields), None


@lru_cache(maxsize=64)
def _kind(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _is_json(kind: str, data: bytes) -> bool:
    """Whether a body of this kind is summarised as JSON data (the costly case)."""
    return kind == "application/json" or (not kind and data[:1] in (b"{", b"["))


def summarised(entry: JournalEntry, reply_codes: Mapping[str, ReplyCode],
               fields: Collection[str]) -> JournalEntry:
    """The entry as readers see it: bodies kept as text summarised, the vendor's code read
    from the reply; as the entry would have been had it been summarised when recorded."""
    changes: dict[str, Any] = {}
    if entry.request_content_type is not None:
        changes.update(request_content_type=None, request_body=summarise_body(
            entry.request_body.encode("utf-8"), entry.request_content_type, fields=fields))
    if entry.response_content_type is not None:
        body = summarise_body(entry.response_body.encode("utf-8"), entry.response_content_type,
                              fields=fields)
        reply_code = reply_codes.get(entry.api)
        changes.update(response_content_type=None, response_body=body,
                       vendor_code=reply_code(body) if reply_code else None)
    return replace(entry, **changes) if changes else entry


class JournalWriter:
    """Keeps journal writes off the request path of a shared store: entries wait in this
    process for at most ``interval`` seconds, then go in one transaction. A memory store
    takes them at once. Readers call ``settle``, which also trims the store to ``limit``;
    writers trim it only every tenth of ``limit`` entries, as trimming reads the whole index.

    The interval is short because a reader waits two of them for other workers' entries (the
    dashboard polls the journal every second); the writing thread sleeps while none wait."""

    def __init__(self, store: Store, limit: int, interval: float = 0.01):
        self.store = store
        self.interval = interval
        # Each API's ``reply_code`` by name, for the vendor code of entries read: set by the
        # app, as the vendors are its.
        self.reply_codes: dict[str, ReplyCode] = {}
        # What the app's APIs name as secret (set by the app too).
        self.secrets = Secrets()
        # The operations entries may name (set by the app too): a query for another is a typo.
        self.operations: set[str] = {CALLBACK}
        self._limit = limit
        self._saved = itertools.count(1)  # entries ever saved: no fewer than the store holds
        self._pending: list[JournalEntry] = []
        self._untrimmed = 0  # entries this process flushed since it last trimmed
        self._lock = threading.Lock()
        self._due = threading.Event()  # set when entries wait to be written
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._pid = os.getpid()

    def check_operation(self, name: str) -> None:
        """ValueError naming the known operations, if no entry can be of ``name``."""
        if name not in self.operations:
            raise ValueError(f"no operation {name!r} is journaled; known: "
                             f"{', '.join(sorted(self.operations))}")

    def add(self, entry: JournalEntry) -> None:
        if not self.store.shared:
            self.store.save(entry)
            if next(self._saved) > self._limit:  # (until then, trimming would find nothing)
                self.store.trim(JournalEntry, self._limit)
            return
        with self._lock:
            self._pending.append(entry)
            self._due.set()
            if self._stopped:
                return
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()  # (a worker forked from us has no thread of ours)
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="chatimg-journal")
                self._thread.start()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            self.store.save_many(pending)
        except UNSTORABLE:
            # One entry the store cannot encode must neither hold back the others nor come
            # back at every flush: each is tried alone, and one refused is dropped.
            self._save_each(pending)
        except Exception:
            self._keep(pending)
            raise
        self._untrimmed += len(pending)
        if self._untrimmed * 10 >= self._limit:
            self._trim()

    def _save_each(self, entries: list[JournalEntry]) -> None:
        for position, entry in enumerate(entries):
            try:
                self.store.save(entry)
            except UNSTORABLE:
                log.warning("journal entry %s dropped: the store cannot hold it",
                            entry.entry_id, exc_info=True)
            except Exception:
                self._keep(entries[position:])
                raise

    def _keep(self, entries: list[JournalEntry]) -> None:
        """Entries the store could not take now (busy or gone), for the next flush."""
        with self._lock:
            self._pending[:0] = entries

    def stop(self) -> None:
        """Write what waits, once the thread that writes has finished a write it has under
        way: the store is closed next, and a connection closed under a write crashes."""
        self._stopped = True
        self._due.set()  # (the thread may be waiting for entries)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STOP_WAIT_SECONDS)
        self.flush()

    def settle(self) -> None:
        """Make every entry written so far readable, from this and (shared) other workers."""
        self.flush()
        if self.store.shared:
            time.sleep(self.interval * 2)
            self._trim()

    def _trim(self) -> None:
        self._untrimmed = 0
        self.store.trim(JournalEntry, self._limit)

    def _run(self) -> None:
        failing = False  # (an outage is logged once, when it starts and when it ends)
        while not self._stopped:
            self._due.wait()
            time.sleep(self.interval)  # (those that come meanwhile go in the same write)
            self._due.clear()  # (before the entries are taken: a later one sets it again)
            try:
                self.flush()
            except Exception as exc:  # the store is busy or gone: the entries wait
                self._due.set()
                if not failing:
                    log.warning("journal entries wait to be written: %s", exc,
                                exc_info=not isinstance(exc, StoreUnavailable))
                failing = True
                time.sleep(RETRY_SECONDS)
            else:
                if failing:
                    log.warning("journal entries written again")
                failing = False


class AnsweringApi(Protocol):
    """What the journal reads of the API that answered: its name, and its reply codes."""

    @property
    def spec_name(self) -> str: ...

    def reply_code(self, payload: Any) -> Any: ...


def record_exchange(writer: JournalWriter, *, request: Request, context: _AppCtxGlobals,
                    response: Response, api: AnsweringApi, operation: str | None,
                    secrets: Secrets) -> None:
    """Keep one exchange, cheaply: JSON bodies as text, summarised when the journal is read.

    ``request`` and ``context`` (its ``g``: when it started, the scenario that applied) are the
    objects themselves: each use of Flask's proxies of them costs a lookup."""
    environ = request.environ
    if "multipart/" in environ.get("CONTENT_TYPE", "") or body_problem(request) is not None:
        request_body: Any = {"bytes": request.content_length,
                             "content_type": request.mimetype or None}
        request_type = None
    else:
        request_body, request_type = capture_body(request.get_data(),
                                                  environ.get("CONTENT_TYPE"), secrets)
    response_body, response_type = (None, None) if response.is_streamed else capture_body(
        response.get_data(), response.content_type, secrets)
    now = time.time_ns()
    writer.add(JournalEntry(
        entry_id=f"{now:020d}-{os.getpid()}-{next(_counter)}", time=now / 1e9, api=api.spec_name,
        operation=operation, method=request.method, path=requested_path(request),
        query=request.query_string.decode("latin-1"), request_headers=_request_headers(request, secrets),
        request_body=request_body, status=response.status_code,
        vendor_code=None if response_type is not None else api.reply_code(response_body),
        response_body=response_body,
        duration_ms=round((time.perf_counter() - context.get("started", 0.0)) * 1000, 3),
        scenario=context.get("scenario"), request_content_type=request_type,
        response_content_type=response_type))


def _request_headers(request: Request, secrets: Secrets) -> dict[str, str]:
    return {name: mask(value) if name.lower() in secrets.headers else value
            for name, value in request.headers.items()}


def record_delivery(writer: JournalWriter, delivery: Delivery, answer: httpx.Response | None,
                    started: float) -> None:
    """A callback the mock sent, and the bot's answer (or None when it never came)."""
    writer.add(JournalEntry(
        entry_id=f"{time.time_ns():020d}-{os.getpid()}-{next(_counter)}", time=time.time(),
        api=delivery.vendor, operation=CALLBACK, method="POST", path=delivery.url, query="",
        request_headers=dict(delivery.headers),
        request_body=summarise_body(delivery.body.encode("utf-8"), "application/json",
                                    fields=writer.secrets.fields),
        status=answer.status_code if answer is not None else 0, vendor_code=None,
        response_body=(summarise_body(answer.content, answer.headers.get("content-type"),
                                      fields=writer.secrets.fields)
                       if answer is not None else None),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        scenario=f"delivery {delivery.delivery_id}"))


def query(writer: JournalWriter, *, operation: str | None = None, api: str | None = None,
          limit: int | None = None, status: int | str | None = None, after: str | None = None,
          newest_first: bool = False) -> list[JournalEntry]:
    """Entries oldest first (or newest first), optionally of one operation, API or ``status``
    (a code, or a class such as "4xx"), newer than the entry ``after``, the last ``limit`` of
    them; ValueError for an operation no entry can be of, or a status that is neither.

    Entries are read newest first until ``limit`` match, so the latest page of a full journal
    costs a page, not the journal (ids sort in time order)."""
    if operation is not None:
        writer.check_operation(operation)
    status_matches = _status_test(status)
    writer.settle()

    def wanted(entry: JournalEntry) -> bool:
        return ((operation is None or entry.operation == operation)
                and (api is None or entry.api == api) and status_matches(entry.status))

    store = writer.store
    if limit:
        entries = list(itertools.islice(filter(wanted, store.in_key_order(
            JournalEntry, descending=True, above=after)), limit))
        if not newest_first:
            entries.reverse()
    else:
        entries = list(filter(wanted, store.in_key_order(JournalEntry, descending=newest_first,
                                                         above=after)))
    return [summarised(e, writer.reply_codes, writer.secrets.fields) for e in entries]


def _status_test(status: int | str | None) -> Callable[[int], bool]:
    """Whether an entry's status is ``status``: a code (404, "404") or a class ("4xx")."""
    if status is None:
        return lambda _: True
    text = str(status).strip().lower()
    if len(text) == 3 and text[0] in "12345" and text[1:] == "xx":
        first = int(text[0])
        return lambda code: code // 100 == first
    if text.isdigit() and text.isascii():
        code = int(text)
        return lambda given: given == code
    raise ValueError(f"status {status!r} is neither an HTTP status (404) nor a class (4xx)")


def clear(writer: JournalWriter) -> int:
    writer.settle()
    return writer.store.trim(JournalEntry, 0)


def matches(entry: JournalEntry, expected: Mapping[str, Any]) -> bool:
    """Whether the entry's request body has each expected field (dotted paths allowed)."""
    return all(difference(entry.request_body, path, value) is None
               for path, value in expected.items())


def difference(body: Any, path: str, expected: Any) -> str | None:
    """How a body's field at a dotted path differs from ``expected``; None if it does not."""
    for part in path.split("."):
        if not isinstance(body, Mapping) or part not in body:
            return f"expected {_cut(repr(expected))}, absent from the body"
        body = body[part]
    if body == expected:
        return None
    return f"expected {_cut(repr(expected))}, got {_cut(repr(body))}"


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class JournalView:
    """The journal as a test reads it: ``server.journal.assert_called("postImage", times=2)``.

    A failed assertion shows the journal, one line per call, then the near misses (when too
    few calls matched): calls of the operation whose body differs, with the expected fields
    that differ and the body. Bounded however full the journal: the latest ``SHOWN_ENTRIES`` calls, the first
    ``SHOWN_NEAR_MISSES`` near misses, bodies cut to ``SHOWN_BODY_CHARS``.
    """

    SHOWN_ENTRIES = 20
    SHOWN_NEAR_MISSES = 10
    SHOWN_BODY_CHARS = 300

    def __init__(self, writer: JournalWriter):
        self._writer = writer

    def entries(self, operation: str | None = None, **body: Any) -> list[JournalEntry]:
        return [e for e in query(self._writer, operation=operation) if matches(e, body)]

    def clear(self) -> None:
        clear(self._writer)

    def assert_called(self, operation: str, *, times: int | None = None,
                      **body: Any) -> list[JournalEntry]:
        """Entries of ``operation`` whose request body has ``body``'s fields; fails readably
        when there are none, or not exactly ``times``."""
        __tracebackhide__ = True  # pytest shows the test's line, not this one
        self._writer.check_operation(operation)
        seen = query(self._writer)
        calls = [e for e in seen if e.operation == operation]
        found = [e for e in calls if matches(e, body)]
        if (times is None and found) or len(found) == times:
            return found
        wanted = "at least once" if times is None else f"{times} time(s)"
        report = (f"expected {operation} {wanted} with {body or 'any body'}, found {len(found)}; "
                  f"the journal holds:\n{_describe(seen, self.SHOWN_ENTRIES)}")
        if len(found) < (1 if times is None else times):
            report += self._near_misses(operation, [e for e in calls if not matches(e, body)],
                                        body)
        raise AssertionError(report)

    def assert_not_called(self, operation: str, **body: Any) -> None:
        __tracebackhide__ = True
        self.assert_called(operation, times=0, **body)

    def _near_misses(self, operation: str, misses: list[JournalEntry],
                     expected: Mapping[str, Any]) -> str:
        if not misses:
            return ""
        lines = [f"near misses: {len(misses)} {operation} call(s) with another body"]
        for entry in misses[:self.SHOWN_NEAR_MISSES]:
            lines.append(f"  {entry.method} {entry.path} -> {entry.status} "
                         f"code={entry.vendor_code}")
            for path, value in expected.items():
                differs = difference(entry.request_body, path, value)
                if differs:
                    lines.append(f"    {path}: {differs}")
            body = json.dumps(entry.request_body, ensure_ascii=False, default=str)
            lines.append(f"    body: {_cut(body, self.SHOWN_BODY_CHARS)}")
        if len(misses) > self.SHOWN_NEAR_MISSES:
            lines.append(f"  … {len(misses) - self.SHOWN_NEAR_MISSES} more")
        return "\n" + "\n".join(lines)


def _describe(entries: list[JournalEntry], limit: int) -> str:
    """One line per entry, the latest ``limit`` of them."""
    shown = entries[-limit:]
    lines = [f"  … {len(entries) - len(shown)} earlier"] if len(shown) < len(entries) else []
    lines += [f"  {e.method} {e.path} ({e.operation}) -> {e.status} code={e.vendor_code}"
              for e in shown]
    return "\n".join(lines) or "  (nothing)"
