"""The request journal: what a bot sent and what the mock answered, queryable by tests.

Every vendor call is kept (admin calls are not), with credentials masked and bodies
summarised, so a test can ask "was postImage called twice with toWxid X?" after the fact.
Callbacks the mock delivers to bots are kept too, as operation ``callback``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx
from flask import Request, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from .records import Delivery, JournalEntry
from .store import Store

if TYPE_CHECKING:
    from .vendors import VendorApi

__all__ = ["JournalEntry", "JournalView", "clear", "query", "record_delivery", "record_exchange"]

log = logging.getLogger(__name__)
SECRET_HEADERS = ("authorization", "x-gewe-token", "x-chatimg-admin-token", "cookie")
SECRET_FIELDS = ("app_secret", "tenant_access_token")
BODY_TEXT_LIMIT = 2000
_counter = itertools.count()


def mask(value: str) -> str:
    """Enough of a credential to tell two apart, not enough to use it."""
    return f"***{value[-4:]}" if len(value) > 8 else "***"


def body_too_large() -> bool:
    """Whether this request's body is over the cap: Werkzeug refuses every read of it."""
    if "body_too_large" not in g:
        try:
            request.get_data()
            g.body_too_large = False
        except RequestEntityTooLarge:
            g.body_too_large = True
    return bool(g.body_too_large)


def summarise_body(data: bytes, content_type: str | None, secrets: Collection[str] = ()) -> Any:
    """JSON as data (long strings cut), text cut, binary as its size; secrets masked."""
    if not data:
        return None
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/json" or (not kind and data[:1] in (b"{", b"[")):
        try:
            return _shorten(json.loads(data), secrets)
        except ValueError:
            pass
    if kind.startswith("text/") or kind in ("application/json", "application/xml"):
        return _shorten(data.decode("utf-8", "replace"), secrets)
    return {"bytes": len(data), "content_type": kind or None}


def _shorten(value: Any, secrets: Collection[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:  # e.g. GeWe quotes a refused token in its reply
                value = value.replace(secret, mask(secret))
        return value if len(value) <= BODY_TEXT_LIMIT else value[:BODY_TEXT_LIMIT] + "…"
    if isinstance(value, dict):
        return {k: mask(v) if k in SECRET_FIELDS and isinstance(v, str) else _shorten(v, secrets)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v, secrets) for v in value]
    return value


class JournalWriter:
    """Keeps journal writes off the request path of a shared store: entries wait in this
    process for at most ``interval`` seconds, then go in one transaction. A memory store
    takes them at once. Readers call ``flush`` (and, for a shared store, wait an interval for
    the other workers' entries)."""

    def __init__(self, store: Store, limit: int, interval: float = 0.05):
        self.store = store
        self.interval = interval
        self._limit = limit
        self._pending: list[JournalEntry] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._pid = os.getpid()

    def add(self, entry: JournalEntry) -> None:
        if not self.store.shared:
            self.store.save(entry)
            self.store.trim(JournalEntry, self._limit)
            return
        with self._lock:
            self._pending.append(entry)
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
        except Exception:
            with self._lock:  # kept for the next flush, not lost
                self._pending[:0] = pending
            raise
        self.store.trim(JournalEntry, self._limit)

    def stop(self) -> None:
        self._stopped = True
        self.flush()

    def settle(self) -> None:
        """Make every entry written so far readable, from this and (shared) other workers."""
        self.flush()
        if self.store.shared:
            time.sleep(self.interval * 2)

    def _run(self) -> None:
        while not self._stopped:
            time.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # the store is busy or gone: try again next interval
                log.warning("journal entries not written yet", exc_info=True)


def record_exchange(writer: JournalWriter, *, request: Request, response: Response, api: VendorApi,
                    operation: str | None, started: float, scenario: str | None,
                    secrets: Collection[str]) -> None:
    headers = {name: mask(value) if name.lower() in SECRET_HEADERS else value
               for name, value in request.headers.items()}
    if "multipart/" in (request.content_type or "") or body_too_large():
        request_body: Any = {"bytes": request.content_length,
                             "content_type": request.mimetype or None}
    else:
        request_body = summarise_body(request.get_data(), request.content_type, secrets)
    response_body = (None if response.is_streamed else
                     summarise_body(response.get_data(), response.content_type, secrets))
    now = time.time()
    writer.add(JournalEntry(
        entry_id=f"{time.time_ns():020d}-{os.getpid()}-{next(_counter)}", time=now,
        api=api.spec_name, operation=operation, method=request.method, path=request.path,
        query=request.query_string.decode("latin-1"), request_headers=headers,
        request_body=request_body, status=response.status_code,
        vendor_code=api.reply_code(response_body),
        response_body=response_body, duration_ms=round((time.perf_counter() - started) * 1000, 3),
        scenario=scenario))


def record_delivery(writer: JournalWriter, delivery: Delivery, answer: httpx.Response | None,
                    started: float) -> None:
    """A callback the mock sent, and the bot's answer (or None when it never came)."""
    writer.add(JournalEntry(
        entry_id=f"{time.time_ns():020d}-{os.getpid()}-{next(_counter)}", time=time.time(),
        api=delivery.vendor, operation="callback", method="POST", path=delivery.url, query="",
        request_headers=dict(delivery.headers),
        request_body=summarise_body(delivery.body.encode("utf-8"), "application/json"),
        status=answer.status_code if answer is not None else 0, vendor_code=None,
        response_body=(summarise_body(answer.content, answer.headers.get("content-type"))
                       if answer is not None else None),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        scenario=f"delivery {delivery.delivery_id}"))


def query(writer: JournalWriter, *, operation: str | None = None, api: str | None = None,
          limit: int | None = None) -> list[JournalEntry]:
    """Entries oldest first, optionally of one operation or API, the last ``limit`` of them."""
    writer.settle()
    entries = sorted(writer.store.records(JournalEntry), key=lambda e: e.entry_id)
    entries = [e for e in entries if (operation is None or e.operation == operation)
               and (api is None or e.api == api)]
    return entries[-limit:] if limit else entries


def clear(writer: JournalWriter) -> int:
    writer.settle()
    return writer.store.trim(JournalEntry, 0)


def matches(entry: JournalEntry, expected: Mapping[str, Any]) -> bool:
    """Whether the entry's request body has each expected field (dotted paths allowed)."""
    for path, value in expected.items():
        node: Any = entry.request_body
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
        if node != value:
            return False
    return True


class JournalView:
    """The journal as a test reads it: ``server.journal.assert_called("postImage", times=2)``."""

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
        found = self.entries(operation, **body)
        if (times is None and not found) or (times is not None and len(found) != times):
            seen = _describe(query(self._writer))
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(f"expected {operation} {wanted} with {body or 'any body'}, "
                                 f"found {len(found)}; the journal holds:\n{seen}")
        return found

    def assert_not_called(self, operation: str, **body: Any) -> None:
        self.assert_called(operation, times=0, **body)


def _describe(entries: Iterable[JournalEntry]) -> str:
    lines = [f"  {e.method} {e.path} ({e.operation}) -> {e.status} code={e.vendor_code}"
             for e in entries]
    return "\n".join(lines) or "  (nothing)"
