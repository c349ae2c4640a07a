"""Specification of the state store: what every backend keeps, and what SqliteStore and
RedisStore add.

The first part runs against MemoryStore, SqliteStore and RedisStore alike; the second holds
SqliteStore to its promises of persistence, blobs on disk and atomicity across processes; the
last holds RedisStore to its own: replicas sharing one state, its round trips, a Redis that is
down or restarted. RedisStore's tests share one real redis-server per session (``_redis.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _redis import RedisServer, require_redis_client, require_redis_server
from _support import GEWE_APP_ID, GEWE_HEADERS, free_port
from flask.testing import FlaskClient

from chatimg import SentImage
from mockserver import MockConfig, create_app, mock_state
from mockserver.errors import MockServerError, StoreError
from mockserver.runtime.clock import Clock
from mockserver.storage.records import (
    RECORD_TYPES,
    Delivery,
    ImageMessage,
    JournalEntry,
    RateCount,
    Record,
    Rule,
    Setting,
    StoredImage,
    Subscription,
    Variant,
    record_to_dict,
)
from mockserver.storage.sqlite import SCHEMA_VERSION, SqliteStore
from mockserver.storage.store import MemoryStore, Store, digest_of
from mockserver.vendors.lark.records import AccessToken, LarkChat, LarkMessage

if TYPE_CHECKING:  # (imported where used: without redis-py, only RedisStore's tests skip)
    import redis

    from mockserver.storage.redis_store import RedisStore

IMAGE_BYTES = bytes(range(256)) * 4 + b"\r\n\x00\x1a"  # every byte value, line ends, NUL, EOF


# --- realistic records ---------------------------------------------------------------------

def stored_image(image_id: str = "3057020100044b30490201000204a1b2c3", *,
                 owner: str = "wx_MockDevice00000000001") -> StoredImage:
    normal = Variant(digest=hashlib.sha256(b"normal").hexdigest(), length=50144, width=1080,
                     height=810, content_type="image/jpeg", md5=hashlib.md5(b"normal").hexdigest())
    thumb = Variant(digest=hashlib.sha256(b"thumb").hexdigest(), length=3933, width=120,
                    height=90, content_type="image/jpeg", md5=hashlib.md5(b"thumb").hexdigest())
    return StoredImage(vendor="gewe", image_id=image_id, owner=owner,
                       variants={"normal": normal, "thumb": thumb},
                       aes_key="bd49a5c1f0e2d3c4b5a6978877665544", origin="received",
                       created_at=1795692448.125)


def access_token() -> AccessToken:
    return AccessToken(token="t-g1044ghJRUIJJ5ELPGHVSXDTJUIV3OEJBFT4YLNV",
                       app_id="cli_mock0000000000a1", issued_at=1795692448, expires_at=1795699648)


def image_message() -> ImageMessage:
    new_msg_id = 1369046314271614529  # 19 digits: a float would round it
    assert new_msg_id > 2**53
    return ImageMessage(vendor="gewe", new_msg_id=new_msg_id, msg_id=1770702252,
                        account="wx_MockDevice00000000001", from_user="wxid_friend01",
                        to_user="34757816141@chatroom", image_id="3057020100044b30490201000204",
                        xml='<msg><img aeskey="bd49" cdnmidimgurl="3057"/></msg>',
                        create_time=1795692448, direction="in",
                        extra={"sender": "wxid_friend01", "hd": False, "ids": [2**63 - 1, 7],
                               "note": "群聊图片 ✓"})


def clock_setting() -> Setting:
    return Setting("clock_offset", 3600.25)


def rate_count() -> RateCount:
    return RateCount("lark:cli_mock0000000000a1", {"1": [1795692448, 7], "60": [1795692420, 31]})


def scenario_rule() -> Rule:
    return Rule(rule_id="r-0001", operation="gewe.downloadImage",
                match={"appId": "wx_MockDevice00000000001"},
                action={"fault": "delay", "seconds": 1.5}, remaining=2, created_at=1795692448.5)


def journal_entry() -> JournalEntry:
    return JournalEntry(
        entry_id="01795692448000000000-4242-7", time=1795692448.25, api="lark",
        operation="getImage", method="GET", path="/open-apis/im/v1/images/img_v3_0abc",
        query="", request_headers={"Authorization": "Bearer t-g10…"}, request_body=None,
        status=400, vendor_code=234005,
        response_body={"code": 234005, "msg": "Image has been deleted"}, duration_ms=0.812)


def subscription() -> Subscription:
    return Subscription(vendor="lark", account="cli_mock0000000000a1",
                        url="http://127.0.0.1:8080/lark/events",
                        options={"verified": True, "encrypt_key": "k", "token": "v"})


def delivery() -> Delivery:
    return Delivery(
        delivery_id="dlv-0123456789ab", vendor="gewe", url="http://127.0.0.1:8080/cb",
        body='{"TypeName":"AddMsg","Data":{"NewMsgId":8992614056172360123}}',
        headers={"Content-Type": "application/json; charset=utf-8"},
        message_key="gewe:8992614056172360123", created_at=1795692448.5,
        attempts=({"at": 1795692448.6, "status": 500, "body": "busy", "error": None,
                   "ms": 3.2, "replay": False},), state="pending", timeout_seconds=2.5,
        retry_index=1, next_attempt_at=1795692449.625, claimed_by="4242-0a1b2c3d-7",
        claimed_until=1795692457.125)


def lark_message() -> LarkMessage:
    return LarkMessage(message_id="om_dc13264520392913993dd051dba21dcf",
                       app_id="cli_mock0000000000a1", chat_id="oc_5ad11d72b830411d72b836c20",
                       chat_type="p2p", sender="ou_84aad35d084aa403a838cf73ee18467",
                       image_keys=("img_v3_0abc",), create_time_ms=1795692448123)


def lark_chat() -> LarkChat:
    return LarkChat(app_id="cli_mock0000000000a1", user="ou_84aad35d084aa403a838cf73ee18467",
                    chat_id="oc_5ad11d72b830411d72b836c20")


RECORD_BUILDERS: dict[str, Callable[[], Record]] = {
    "StoredImage": stored_image, "AccessToken": access_token,
    "ImageMessage": image_message, "Setting": clock_setting, "RateCount": rate_count,
    "Rule": scenario_rule,
    "JournalEntry": journal_entry, "Subscription": subscription, "Delivery": delivery,
    "LarkMessage": lark_message, "LarkChat": lark_chat}


def test_every_record_type_has_a_round_trip_case() -> None:
    assert {build().kind for build in RECORD_BUILDERS.values()} == set(RECORD_TYPES)


def increment(current: Setting | None) -> Setting:
    return Setting("counter", (current.value if current else 0) + 1)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "redis":
        yield request.getfixturevalue("open_redis")()
        return
    sqlite_store = SqliteStore(tmp_path)
    yield sqlite_store
    sqlite_store.close()


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[Callable[[], SqliteStore]]:
    """Open SqliteStores on one directory, as restarted servers or other workers would."""
    opened: list[SqliteStore] = []

    def open_one() -> SqliteStore:
        opened.append(SqliteStore(tmp_path))
        return opened[-1]

    yield open_one
    for sqlite_store in opened:
        sqlite_store.close()


@pytest.fixture
def open_redis(redis_server: RedisServer) -> Iterator[Callable[..., RedisStore]]:
    """Open RedisStores on a prefix of this test's own (or on ``prefix``, ``url``), as replicas
    of one mock would."""
    from mockserver.storage.redis_store import RedisStore

    opened: list[RedisStore] = []
    own_prefix = redis_server.fresh_prefix()

    def open_one(prefix: str = own_prefix, url: str | None = None) -> RedisStore:
        opened.append(RedisStore(url or redis_server.url(), prefix))
        return opened[-1]

    yield open_one
    for redis_store in opened:
        redis_store.close()


@pytest.fixture
def raw_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client of the session's server, to look at the keys a store wrote."""
    import redis

    client = redis.Redis.from_url(redis_server.url())
    yield client
    client.close()


# --- blobs -----------------------------------------------------------------------------------

def test_blob_round_trip_is_byte_exact_under_its_sha256(store: Store) -> None:
    digest = store.put_blob(IMAGE_BYTES)
    assert digest == hashlib.sha256(IMAGE_BYTES).hexdigest()
    assert store.get_blob(digest) == IMAGE_BYTES


def test_same_bytes_stored_twice_get_the_same_digest(store: Store) -> None:
    assert store.put_blob(IMAGE_BYTES) == store.put_blob(bytes(IMAGE_BYTES))
    assert store.get_blob(hashlib.sha256(IMAGE_BYTES).hexdigest()) == IMAGE_BYTES


def test_get_blob_of_unknown_digest_is_none(store: Store) -> None:
    assert store.get_blob(hashlib.sha256(b"never stored").hexdigest()) is None


def test_get_blob_of_something_that_is_not_a_digest_is_none(store: Store) -> None:
    store.put_blob(IMAGE_BYTES)
    assert store.get_blob("../state.sqlite3") is None


# --- records ---------------------------------------------------------------------------------

@pytest.mark.parametrize("build", RECORD_BUILDERS.values(), ids=RECORD_BUILDERS.keys())
def test_saved_record_loads_equal_to_the_original(store: Store,
                                                  build: Callable[[], Record]) -> None:
    record = build()
    store.save(record)
    assert store.load(type(record), record.key) == record


def test_message_id_beyond_float_precision_loads_as_the_exact_int(store: Store) -> None:
    message = image_message()
    store.save(message)
    loaded = store.load(ImageMessage, message.key)
    assert loaded is not None and type(loaded.new_msg_id) is int
    assert loaded.new_msg_id == 1369046314271614529


def test_load_of_missing_key_is_none(store: Store) -> None:
    assert store.load(AccessToken, "t-no-such-token") is None


def test_load_of_another_kind_with_the_same_key_is_none(store: Store) -> None:
    store.save(Setting("shared-key", 1))
    assert store.load(AccessToken, "shared-key") is None


def test_save_of_an_existing_key_replaces_it_and_makes_it_newest(store: Store) -> None:
    first, second = stored_image("3057aa"), stored_image("3057bb")
    store.save(first)
    store.save(second)
    deleted_first = dataclasses.replace(first, deleted=True)
    store.save(deleted_first)
    assert store.load(StoredImage, first.key) == deleted_first
    assert store.records(StoredImage) == [second, deleted_first]


def test_records_lists_only_that_kind_oldest_first(store: Store) -> None:
    older, newer = stored_image("3057aa"), stored_image("3057bb")
    store.save(older)
    store.save(Setting("clock_offset", 1.5))
    store.save(newer)
    store.save(access_token())
    assert store.records(StoredImage) == [older, newer]
    assert store.records(ImageMessage) == []


def test_in_key_order_lists_that_kind_by_key_either_way(store: Store) -> None:
    for key in ("s3", "s1", "s10", "s2"):
        store.save(Setting(key, key.upper()))
    store.save(access_token())
    assert list(store.in_key_order(Setting)) == [Setting(k, k.upper())
                                                 for k in ("s1", "s10", "s2", "s3")]
    assert [r.key for r in store.in_key_order(Setting, descending=True)] == [
        "s3", "s2", "s10", "s1"]
    assert list(store.in_key_order(ImageMessage)) == []


def test_in_key_order_above_a_key_lists_only_greater_keys(store: Store) -> None:
    for key in ("s3", "s1", "s10", "s2"):
        store.save(Setting(key, 0))
    assert [r.key for r in store.in_key_order(Setting, above="s10")] == ["s2", "s3"]
    assert [r.key for r in store.in_key_order(Setting, above="s10", descending=True)] == [
        "s3", "s2"]
    assert [r.key for r in store.in_key_order(Setting, above="s15")] == ["s2", "s3"]
    assert list(store.in_key_order(Setting, above="s3", descending=True)) == []


def test_in_key_order_reads_thousands_and_a_reader_may_stop_at_the_first(store: Store) -> None:
    keys = [f"{n:020d}-1-{n}" for n in range(3000)]  # (journal ids: past SQLite's batches)
    store.save_many([Setting(key, n) for n, key in sorted(enumerate(keys),
                                                          key=lambda pair: pair[0] % 7)])
    assert [r.key for r in store.in_key_order(Setting)] == keys
    assert [r.key for r in store.in_key_order(Setting, descending=True)] == keys[::-1]
    assert [r.key for r in store.in_key_order(Setting, descending=True,
                                              above=keys[1500])] == keys[:1500:-1]
    newest = store.in_key_order(Setting, descending=True)
    assert [next(newest).value for _ in range(3)] == [2999, 2998, 2997]
    store.save(Setting("s-while-read", 0))  # (a reader that stopped holds nothing up)
    assert store.load(Setting, "s-while-read") == Setting("s-while-read", 0)


def images_made(store: Store) -> list[StoredImage]:
    """Images of two owners and both origins; two made in the same instant; one re-saved."""
    made = [dataclasses.replace(stored_image(f"3057{n:02d}", owner=f"wx_owner{n % 2}"),
                                origin=("sent", "received")[n % 3 == 0], created_at=at)
            for n, at in enumerate([10.0, 30.0, 20.0, 30.0, 5.0, 40.0])]
    store.save_many(made)
    store.save(Setting("clock_offset", 1.5))
    store.save(made[0])  # re-saved: now the last stored
    return [*made[1:], made[0]]


def test_matching_without_conditions_is_every_record_in_store_order(store: Store) -> None:
    stored = images_made(store)
    assert store.matching(StoredImage, {}) == (stored, 6)
    assert store.matching(StoredImage, {}, offset=4) == (stored[4:], 6)
    assert store.matching(ImageMessage, {}) == ([], 0)


def test_matching_keeps_the_records_whose_fields_have_the_values(store: Store) -> None:
    stored = images_made(store)
    owner0 = [image for image in stored if image.owner == "wx_owner0"]
    assert store.matching(StoredImage, {"owner": "wx_owner0"}) == (owner0, 3)
    found, total = store.matching(StoredImage, {"owner": "wx_owner1", "origin": "received"})
    assert [image.image_id for image in found] == ["305703"] and total == 1
    assert store.matching(StoredImage, {"vendor": "wid"}) == ([], 0)
    assert store.matching(StoredImage, {"deleted": False})[1] == 6


def test_matching_finds_values_json_escapes_and_not_their_look_alikes(store: Store) -> None:
    owner = 'wx_群主 "quoted" \\ \u2028'
    odd = dataclasses.replace(stored_image("3057-odd"), owner=owner)
    # Another image whose text holds the same "owner":... inside a longer value.
    near = dataclasses.replace(stored_image("3057-near"), owner=f"{owner}x",
                               aes_key=f'"owner":"{owner}"')
    store.save_many([odd, near])
    assert store.matching(StoredImage, {"owner": owner}) == ([odd], 1)
    assert store.matching(StoredImage, {"owner": owner, "deleted": False}) == ([odd], 1)


def test_matching_newest_first_puts_the_last_stored_first_among_equals(store: Store) -> None:
    images_made(store)
    newest, total = store.matching(StoredImage, {}, newest_by="created_at")
    assert [image.image_id for image in newest] == [
        "305705", "305703", "305701", "305702", "305700", "305704"]
    assert total == 6


def test_matching_pages_and_counts_all_that_match(store: Store) -> None:
    images_made(store)
    pages = [store.matching(StoredImage, {"origin": "sent"}, newest_by="created_at",
                            offset=offset, limit=2) for offset in (0, 2, 4)]
    assert [[image.image_id for image in page] for page, _ in pages] == [
        ["305705", "305701"], ["305702", "305704"], []]
    assert {total for _, total in pages} == {4}


def test_matching_a_field_the_record_does_not_have_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="StoredImage has no field colour"):
        store.matching(StoredImage, {"colour": "red"})
    with pytest.raises(ValueError, match="has no field size"):
        store.matching(StoredImage, {}, newest_by="size")


def test_count_hit_counts_each_window_and_starts_one_afresh(store: Store) -> None:
    assert store.count_hit("app:op", [(1, 100), (60, 60)]) == [1, 1]
    assert store.count_hit("app:op", [(1, 100), (60, 60)]) == [2, 2]
    assert store.count_hit("app:op", [(1, 101), (60, 60)]) == [1, 3]  # a new second
    assert store.count_hit("other", [(1, 101)]) == [1]
    assert store.load(RateCount, "app:op") == RateCount("app:op", {"1": [101, 1],
                                                                    "60": [60, 3]})
    store.clear()
    assert store.count_hit("app:op", [(1, 101), (60, 60)]) == [1, 1]


def test_first_pages_are_each_groups_newest_and_its_size(store: Store) -> None:
    images_made(store)
    pages = store.first_pages(StoredImage, ("owner", "origin"), newest_by="created_at", limit=2)
    assert {key: ([image.image_id for image in page], total)
            for key, (page, total) in pages.items()} == {
        ("wx_owner0", "received"): (["305700"], 1),
        ("wx_owner0", "sent"): (["305702", "305704"], 2),
        ("wx_owner1", "received"): (["305703"], 1),
        ("wx_owner1", "sent"): (["305705", "305701"], 2)}
    for (owner, origin), (page, total) in pages.items():  # (the same as one group's matching)
        assert store.matching(StoredImage, {"owner": owner, "origin": origin},
                              newest_by="created_at", limit=2) == (page, total)
    by_vendor = store.first_pages(StoredImage, ("vendor",), newest_by="created_at", limit=10)
    assert list(by_vendor) == [("gewe",)] and by_vendor[("gewe",)][1] == 6
    assert store.first_pages(ImageMessage, ("account",), newest_by="create_time", limit=1) == {}


def test_first_pages_refuse_a_field_the_record_does_not_have(store: Store) -> None:
    with pytest.raises(ValueError, match="StoredImage has no field colour"):
        store.first_pages(StoredImage, ("colour",), newest_by="created_at", limit=1)


def test_update_creates_a_missing_record_and_returns_it(store: Store) -> None:
    seen: list[Setting | None] = []

    def create(current: Setting | None) -> Setting:
        seen.append(current)
        return Setting("counter", 1)

    assert store.update(Setting, "counter", create) == Setting("counter", 1)
    assert seen == [None]
    assert store.load(Setting, "counter") == Setting("counter", 1)


def test_update_modifies_an_existing_record_and_returns_the_new_value(store: Store) -> None:
    store.save(Setting("counter", 41))
    assert store.update(Setting, "counter", increment) == Setting("counter", 42)
    assert store.load(Setting, "counter") == Setting("counter", 42)


def test_update_deletes_the_record_when_change_returns_none(store: Store) -> None:
    store.save(access_token())
    assert store.update(AccessToken, access_token().key, lambda current: None) is None
    assert store.load(AccessToken, access_token().key) is None
    assert store.records(AccessToken) == []


def test_update_makes_the_record_newest(store: Store) -> None:
    store.save(Setting("a", 1))
    store.save(Setting("b", 2))
    store.update(Setting, "a", lambda current: Setting("a", 3))
    assert store.records(Setting) == [Setting("b", 2), Setting("a", 3)]


def test_update_whose_change_raises_leaves_the_record_unchanged(store: Store) -> None:
    store.save(Setting("counter", 7))

    def fail(current: Setting | None) -> Setting:
        raise RuntimeError("rule failed")

    with pytest.raises(RuntimeError, match="rule failed"):
        store.update(Setting, "counter", fail)
    assert store.load(Setting, "counter") == Setting("counter", 7)
    assert store.update(Setting, "counter", increment) == Setting("counter", 8)  # not locked


def test_delete_removes_only_that_record(store: Store) -> None:
    store.save(access_token())
    store.save(Setting(access_token().key, "same key, other kind"))
    store.delete(AccessToken, access_token().key)
    assert store.load(AccessToken, access_token().key) is None
    assert store.load(Setting, access_token().key) is not None


def test_delete_of_a_missing_record_does_nothing(store: Store) -> None:
    store.delete(AccessToken, "cli_unknown")
    assert store.records(AccessToken) == []


def test_trim_keeps_the_newest_records_of_that_kind_only(store: Store) -> None:
    for n in range(5):
        store.save(Setting(f"s{n}", n))
    store.save(Setting("s1", "re-saved: now the newest"))
    store.save(access_token())
    assert store.trim(Setting, 2) == 3
    assert store.records(Setting) == [Setting("s4", 4), Setting("s1", "re-saved: now the newest")]
    assert store.records(AccessToken) == [access_token()]


def test_trim_to_more_than_there_are_removes_nothing_and_to_zero_removes_all(
        store: Store) -> None:
    store.save(Setting("a", 1))
    store.save(Setting("b", 2))
    assert store.trim(Setting, 5) == 0
    assert store.trim(Setting, 2) == 0 and len(store.records(Setting)) == 2
    assert store.trim(Setting, 0) == 2
    assert store.records(Setting) == []


def test_clear_forgets_records_and_blobs(store: Store) -> None:
    digest = store.put_blob(IMAGE_BYTES)
    for build in RECORD_BUILDERS.values():
        store.save(build())
    store.clear()
    assert store.get_blob(digest) is None
    for build in RECORD_BUILDERS.values():
        assert store.records(type(build())) == []
    assert store.put_blob(IMAGE_BYTES) == digest and store.get_blob(digest) == IMAGE_BYTES


def test_threads_saving_distinct_keys_lose_none(store: Store) -> None:
    threads, saves = 8, 50
    start = threading.Barrier(threads)

    def save_many(thread: int) -> None:
        start.wait()
        for n in range(saves):
            store.save(Setting(f"t{thread}-{n}", n))

    workers = [threading.Thread(target=save_many, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(store.records(Setting)) == threads * saves


def test_threads_updating_one_counter_lose_no_increment(store: Store) -> None:
    threads, updates = 8, 50
    start = threading.Barrier(threads)

    def count_up() -> None:
        start.wait()
        for _ in range(updates):
            store.update(Setting, "counter", increment)

    workers = [threading.Thread(target=count_up) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert store.load(Setting, "counter") == Setting("counter", threads * updates)


# --- SqliteStore: on disk, shared, durable ---------------------------------------------------

def test_sqlite_store_makes_its_directory_with_a_wal_database_and_blobs(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "mock"
    SqliteStore(directory).close()
    assert (directory / "blobs").is_dir()
    with sqlite3.connect(directory / "state.sqlite3") as database:
        assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_writes_reach_the_database_file_without_any_request_checkpointing(
        tmp_path: Path, open_store: Callable[[], SqliteStore]) -> None:
    store = open_store()
    images = [stored_image(f"3057{number:04d}") for number in range(50)]
    for image in images:
        store.save(image)
    # The background checkpoint copies the WAL into the database file: a copy of that file
    # alone, without the WAL, then holds every record.
    deadline = time.monotonic() + 10
    while True:
        shutil.copyfile(tmp_path / "state.sqlite3", tmp_path / "copy.sqlite3")
        try:
            with sqlite3.connect(tmp_path / "copy.sqlite3") as copy:
                (count,) = copy.execute("SELECT count(*) FROM records").fetchone()
            copy.close()
        except sqlite3.DatabaseError:  # copied halfway through a checkpoint: copy again
            count = -1
        if count == len(images) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert count == len(images)


VERSION_1_SCHEMA = """
CREATE TABLE records (kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
                      seq INTEGER NOT NULL, PRIMARY KEY (kind, key));
CREATE INDEX records_by_age ON records (kind, seq);
"""


def test_state_written_by_the_first_schema_is_kept_in_order(tmp_path: Path) -> None:
    older, newer = stored_image("3057aa"), stored_image("3057bb")
    with sqlite3.connect(tmp_path / "state.sqlite3") as database:
        database.executescript(VERSION_1_SCHEMA)
        database.executemany(  # listed by seq, whatever the order of the rows
            "INSERT INTO records VALUES (?, ?, ?, ?)",
            [(r.kind, r.key, json.dumps(record_to_dict(r)), seq) for r, seq in ((newer, 2), (older, 1))])
        database.execute(  # a download link, as version 1 kept them
            "INSERT INTO records VALUES ('file', 'e7364f0c.png', '{\"file_id\": \"e7364f0c.png\"}', 1)")
    database.close()

    store = SqliteStore(tmp_path)
    assert store.records(StoredImage) == [older, newer]
    store.save(older)
    assert store.records(StoredImage) == [newer, older]
    store.close()
    with sqlite3.connect(tmp_path / "state.sqlite3") as database:
        assert database.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert database.execute("SELECT kind FROM records WHERE kind = 'file'").fetchall() == []
    database.close()


def test_state_written_by_a_newer_version_is_refused_with_a_message(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "state.sqlite3") as database:
        database.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    database.close()
    with pytest.raises(MockServerError, match="newer chatimg-mock"):
        SqliteStore(tmp_path)


def test_records_and_blobs_survive_reopening_the_directory(
        open_store: Callable[[], SqliteStore]) -> None:
    before_restart = open_store()
    digest = before_restart.put_blob(IMAGE_BYTES)
    records = [build() for build in RECORD_BUILDERS.values()]
    for record in records:
        before_restart.save(record)
    before_restart.close()

    after_restart = open_store()
    assert after_restart.get_blob(digest) == IMAGE_BYTES
    for record in records:
        assert after_restart.records(type(record)) == [record]


def test_blob_is_a_file_named_by_its_digest_under_blobs(
        tmp_path: Path, open_store: Callable[[], SqliteStore]) -> None:
    digest = open_store().put_blob(IMAGE_BYTES)
    assert (tmp_path / "blobs" / digest[:2] / digest).read_bytes() == IMAGE_BYTES


def test_same_bytes_stored_twice_make_one_file(
        tmp_path: Path, open_store: Callable[[], SqliteStore]) -> None:
    store = open_store()
    store.put_blob(IMAGE_BYTES)
    store.put_blob(IMAGE_BYTES)
    assert [path.name for path in (tmp_path / "blobs").rglob("*") if path.is_file()] == [
        hashlib.sha256(IMAGE_BYTES).hexdigest()]


def test_a_megabyte_blob_stays_out_of_the_database(
        tmp_path: Path, open_store: Callable[[], SqliteStore]) -> None:
    store = open_store()
    digest = store.put_blob(os.urandom(1024 * 1024))
    store.save(stored_image())
    database_bytes = sum(path.stat().st_size for path in tmp_path.glob("state.sqlite3*"))
    assert database_bytes < 100 * 1024
    assert (tmp_path / "blobs" / digest[:2] / digest).stat().st_size == 1024 * 1024


COUNTING_WORKER = """
import os, sys, time
from mockserver.storage.records import Setting
from mockserver.storage.sqlite import SqliteStore

directory, worker, updates = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = SqliteStore(directory)
open(os.path.join(directory, f"ready-{worker}"), "w").close()
while not os.path.exists(os.path.join(directory, "go")):  # start together, to contend
    time.sleep(0.001)
for _ in range(updates):
    store.update(Setting, "counter",
                 lambda current: Setting("counter", (current.value if current else 0) + 1))
store.close()
"""


def test_cached_rules_and_clock_see_another_workers_writes(
        open_store: Callable[[], SqliteStore]) -> None:
    here, other = open_store(), open_store()
    assert here.records(Rule) == [] and here.load(Setting, "clock_offset") is None  # cached
    other.save(scenario_rule())
    other.save(clock_setting())
    assert here.records(Rule) == [scenario_rule()]
    assert here.load(Setting, "clock_offset") == clock_setting()
    other.update(Rule, scenario_rule().key, lambda rule: None)
    assert here.records(Rule) == []


def test_blob_cleared_by_another_worker_is_written_again(
        open_store: Callable[[], SqliteStore]) -> None:
    here, other = open_store(), open_store()
    digest = here.put_blob(IMAGE_BYTES)  # here now knows the blob exists
    other.clear()
    assert here.put_blob(IMAGE_BYTES) == digest
    assert other.get_blob(digest) == IMAGE_BYTES


def test_records_listed_from_the_cache_are_a_copy(open_store: Callable[[], SqliteStore]) -> None:
    store = open_store()
    store.save(scenario_rule())
    store.records(Rule).clear()
    assert store.records(Rule) == [scenario_rule()]


def test_updates_from_separate_processes_lose_no_increment(
        tmp_path: Path, open_store: Callable[[], SqliteStore]) -> None:
    processes, updates = 4, 200
    store = open_store()
    workers = [subprocess.Popen([sys.executable, "-c", COUNTING_WORKER, str(tmp_path), str(n),
                                 str(updates)]) for n in range(processes)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < processes and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    assert [worker.wait(timeout=60) for worker in workers] == [0] * processes
    assert store.load(Setting, "counter") == Setting("counter", processes * updates)


def _count_up_after_fork(store: SqliteStore, start: threading.Barrier, updates: int) -> None:
    start.wait()
    for _ in range(updates):
        store.update(Setting, "counter", increment)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # 3.12+: threads of pytest
def test_store_used_before_fork_serves_forked_children_and_parent(
        open_store: Callable[[], SqliteStore]) -> None:
    processes, updates = 4, 200
    store = open_store()
    store.save(Setting("counter", 0))  # the parent holds a connection when it forks
    context = multiprocessing.get_context("fork")
    start = context.Barrier(processes)
    workers = [context.Process(target=_count_up_after_fork, args=(store, start, updates))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * processes
    assert store.load(Setting, "counter") == Setting("counter", processes * updates)
    assert store.update(Setting, "counter", increment) == Setting("counter",
                                                                  processes * updates + 1)


CLOCK_WORKER = """
import sys
from mockserver.runtime.clock import Clock
from mockserver.storage.sqlite import SqliteStore

Clock(SqliteStore(sys.argv[1])).advance(float(sys.argv[2]))
"""


def test_clock_advanced_in_another_process_is_seen_here(
        tmp_path: Path, open_store: Callable[[], SqliteStore]) -> None:
    clock = Clock(open_store())
    assert clock.offset() == 0.0
    subprocess.run([sys.executable, "-c", CLOCK_WORKER, str(tmp_path), "3600"], check=True,
                   timeout=60)
    assert clock.offset() == 3600.0
    assert clock.now() == pytest.approx(time.time() + 3600, abs=5)


# --- SqliteStore behind the app --------------------------------------------------------------


def post_image(client: FlaskClient) -> dict:
    reply = client.post("/gewe/v2/api/message/postImage", headers=GEWE_HEADERS,
                        json={"appId": GEWE_APP_ID, "toWxid": "34757816141@chatroom",
                              "imgUrl": "http://dummyimage.com/40x30"})
    assert reply.get_json()["ret"] == 200, reply.get_data(as_text=True)
    return reply.get_json()["data"]


def forward_xml_of(posted: dict) -> str:
    return SentImage.from_data(posted).forward_xml()


def downloaded_bytes(client: FlaskClient, xml: str) -> bytes:
    reply = client.post("/gewe/v2/api/message/downloadImage", headers=GEWE_HEADERS,
                        json={"appId": GEWE_APP_ID, "xml": xml, "type": 2})
    assert reply.get_json()["ret"] == 200, reply.get_data(as_text=True)
    file_reply = client.get(reply.get_json()["data"]["fileUrl"])
    assert file_reply.status_code == 200
    return file_reply.get_data()


def test_app_on_sqlite_store_downloads_the_image_it_posted(
        open_store: Callable[[], SqliteStore]) -> None:
    client = create_app(MockConfig(), store=open_store()).test_client()
    posted = post_image(client)
    image = downloaded_bytes(client, forward_xml_of(posted))
    assert (len(image), hashlib.md5(image).hexdigest()) == (posted["length"], posted["md5"])


def test_restarted_app_on_the_same_directory_still_serves_the_image(
        open_store: Callable[[], SqliteStore]) -> None:
    first_app = create_app(MockConfig(), store=open_store())
    posted = post_image(first_app.test_client())
    mock_state(first_app).store.close()  # the first server stops

    restarted = create_app(MockConfig(), store=open_store()).test_client()
    image = downloaded_bytes(restarted, forward_xml_of(posted))
    assert hashlib.md5(image).hexdigest() == posted["md5"]



# --- RedisStore: replicas that share one state on Redis ---------------------------------------

def round_trips_of(store: RedisStore, action: Callable[[], Any]) -> int:
    before = store.round_trips
    action()
    return store.round_trips - before


def test_replicas_share_records_blobs_rules_and_the_clock(
        open_redis: Callable[..., RedisStore]) -> None:
    here, other = open_redis(), open_redis()
    assert here.records(Rule) == [] and here.load(Setting, "clock_offset") is None
    digest = other.put_blob(IMAGE_BYTES)
    other.save_many([scenario_rule(), clock_setting(), stored_image()])
    assert here.records(Rule) == [scenario_rule()]
    assert here.load(Setting, "clock_offset") == clock_setting()
    assert here.get_blob(digest) == IMAGE_BYTES and here.records(StoredImage) == [stored_image()]
    assert other.update(Rule, scenario_rule().key, lambda rule: None) is None
    assert here.records(Rule) == []
    here.clear()
    assert other.get_blob(digest) is None and other.records(StoredImage) == []
    assert other.load(Setting, "clock_offset") is None


REDIS_COUNTING_WORKER = """
import os, sys, time
from mockserver.storage.records import Setting
from mockserver.storage.redis_store import RedisStore

url, prefix, folder, worker, updates = sys.argv[1:6]
store = RedisStore(url, prefix)
open(os.path.join(folder, f"ready-{worker}"), "w").close()
while not os.path.exists(os.path.join(folder, "go")):  # start together, to contend
    time.sleep(0.001)
for _ in range(int(updates)):
    store.update(Setting, "counter",
                 lambda current: Setting("counter", (current.value if current else 0) + 1))
store.close()
"""


def test_updates_from_separate_processes_lose_no_increment_on_redis(
        tmp_path: Path, redis_server: RedisServer,
        open_redis: Callable[..., RedisStore]) -> None:
    processes, updates = 4, 200
    store = open_redis()
    workers = [subprocess.Popen([sys.executable, "-c", REDIS_COUNTING_WORKER, redis_server.url(),
                                 store.prefix, str(tmp_path), str(n), str(updates)])
               for n in range(processes)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < processes and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    assert [worker.wait(timeout=60) for worker in workers] == [0] * processes
    assert store.load(Setting, "counter") == Setting("counter", processes * updates)


def test_hits_counted_by_replicas_at_once_are_each_counted_once(
        open_redis: Callable[..., RedisStore]) -> None:
    replicas = [open_redis() for _ in range(2)]
    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(lambda n: replicas[n % 2].count_hit("app:op", [(1, 5)])[0],
                               range(200)))
    assert sorted(counts) == list(range(1, 201))  # (the 50th is the 50th, on any replica)


def test_a_clear_racing_saves_leaves_no_record_without_its_blob(
        open_redis: Callable[..., RedisStore]) -> None:
    saver, clearer = open_redis(), open_redis()
    done = threading.Event()

    def clear_until_done() -> None:
        while not done.is_set():
            clearer.clear()

    racing = threading.Thread(target=clear_until_done)
    racing.start()
    try:
        for n in range(300):
            data = IMAGE_BYTES + n.to_bytes(2, "big")
            saver.save_many([Setting(f"s{n}", hashlib.sha256(data).hexdigest())], [data])
    finally:
        done.set()
        racing.join()
    kept = saver.records(Setting)
    assert all(saver.get_blob(setting.value) is not None for setting in kept)


def test_each_operation_costs_the_round_trips_its_module_names(
        open_redis: Callable[..., RedisStore]) -> None:
    store = open_redis()
    image = stored_image()
    assert round_trips_of(store, lambda: store.save_many([image, image_message()],
                                                         [IMAGE_BYTES])) == 1
    assert round_trips_of(store, lambda: store.save(clock_setting())) == 1
    assert round_trips_of(store, lambda: store.put_blob(IMAGE_BYTES)) == 1
    assert round_trips_of(store, lambda: store.load(StoredImage, image.key)) == 1
    assert round_trips_of(store, lambda: store.get_blob(digest_of(IMAGE_BYTES))) == 1
    assert round_trips_of(store, lambda: store.update(Setting, "counter", increment)) == 2
    assert round_trips_of(store, lambda: store.count_hit("app:op", [(1, 7), (60, 0)])) == 1
    assert round_trips_of(store, lambda: store.records(StoredImage)) == 1
    assert round_trips_of(store, lambda: store.matching(StoredImage, {"owner": image.owner},
                                                        newest_by="created_at")) == 1
    assert round_trips_of(store, lambda: list(store.in_key_order(StoredImage))) == 1
    assert round_trips_of(store, lambda: store.delete(StoredImage, image.key)) == 1
    assert round_trips_of(store, lambda: store.trim(ImageMessage, 0)) == 1
    assert round_trips_of(store, store.clear) == 1
    store.save_many([Setting(f"{n:05d}", n) for n in range(3000)])
    # Batches of 64, 256, 1024, 1024 and 1024 (the last one short).
    assert round_trips_of(store, lambda: list(store.in_key_order(Setting))) == 5
    assert round_trips_of(store, lambda: next(store.in_key_order(Setting))) == 1


def test_a_redis_that_forgot_the_scripts_is_given_them_again(
        open_redis: Callable[..., RedisStore], raw_redis: redis.Redis) -> None:
    store = open_redis()
    raw_redis.script_flush()  # as a restarted Redis has
    assert round_trips_of(store, lambda: store.save(clock_setting())) == 2
    assert round_trips_of(store, lambda: store.save(scenario_rule())) == 1
    raw_redis.script_flush()
    assert round_trips_of(store, lambda: store.update(Setting, "counter", increment)) == 3
    assert store.load(Setting, "counter") == Setting("counter", 1)


def test_records_are_kept_as_json_under_the_stores_prefix(
        open_redis: Callable[..., RedisStore], raw_redis: redis.Redis) -> None:
    store = open_redis()
    message = image_message()
    digest = store.put_blob(IMAGE_BYTES)
    store.save(message)
    prefix = store.prefix
    assert {key.decode() for key in raw_redis.scan_iter(match=f"{prefix}*")} == {
        f"{prefix}{name}" for name in ("records:message", "order:message", "keys:message",
                                       "sequence", "kinds", "blobs")}
    body = raw_redis.hget(f"{prefix}records:message", message.key)
    assert json.loads(body) == record_to_dict(message)  # as SqliteStore keeps it
    assert raw_redis.hget(f"{prefix}blobs", digest) == IMAGE_BYTES


def test_ten_megabytes_are_stored_once_however_often_they_are_put(
        open_redis: Callable[..., RedisStore], raw_redis: redis.Redis) -> None:
    store = open_redis()
    data = os.urandom(10 * 1024 * 1024)
    assert store.put_blob(data) == store.put_blob(data) == digest_of(data)
    assert store.get_blob(digest_of(data)) == data
    assert raw_redis.hlen(f"{store.prefix}blobs") == 1


def test_prefixes_databases_and_the_store_beside_keep_records_apart(
        redis_server: RedisServer, open_redis: Callable[..., RedisStore]) -> None:
    store = open_redis()
    elsewhere = open_redis(prefix=redis_server.fresh_prefix())
    other_database = open_redis(url=redis_server.url(db=1))
    journal = store.beside("journal")
    try:
        store.save(clock_setting())
        journal.save(journal_entry())
        assert elsewhere.load(Setting, "clock_offset") is None
        assert other_database.load(Setting, "clock_offset") is None
        assert journal.records(Setting) == [] and store.records(JournalEntry) == []
        elsewhere.clear()
        other_database.clear()
        store.clear()  # not the journal's: MockState.reset clears both
        assert journal.records(JournalEntry) == [journal_entry()]
        assert journal.prefix == f"{store.prefix}journal:"
    finally:
        journal.clear()
        journal.close()
    with pytest.raises(ValueError, match="cannot name a store"):
        store.beside("records")


def test_a_redis_nobody_listens_on_is_a_store_error_without_the_password() -> None:
    require_redis_client()
    from mockserver.storage.redis_store import RedisStore

    port = free_port()
    started = time.monotonic()
    with pytest.raises(StoreError, match=rf"Redis store at 127.0.0.1:{port}/2 is unreachable") \
            as refused:
        RedisStore(f"redis://:s3cret@127.0.0.1:{port}/2")
    assert "s3cret" not in str(refused.value)
    assert time.monotonic() - started < 2
    with pytest.raises(StoreError, match="cannot keep state in Redis"):
        RedisStore("http://127.0.0.1/0")


def test_a_redis_that_goes_down_and_comes_back_is_used_again(tmp_path: Path) -> None:
    require_redis_client()
    from mockserver.storage.redis_store import RedisStore

    with RedisServer(require_redis_server(), tmp_path) as server:
        store = RedisStore(server.url())
        store.save(clock_setting())
        server.stop()
        with pytest.raises(StoreError, match="unreachable"):
            store.load(Setting, "clock_offset")
        with pytest.raises(StoreError, match="unreachable"):
            store.update(Setting, "counter", increment)
        server.start()  # the same port, empty (no persistence), no scripts loaded
        assert store.load(Setting, "clock_offset") is None
        assert store.update(Setting, "counter", increment) == Setting("counter", 1)
        store.close()
        assert store.load(Setting, "counter") == Setting("counter", 1)  # (reconnects)
        store.close()


def test_closed_store_opens_connections_again_when_used(
        open_redis: Callable[..., RedisStore]) -> None:
    store = open_redis()
    store.save(clock_setting())
    store.close()
    assert store.load(Setting, "clock_offset") == clock_setting()


def test_two_app_replicas_on_one_redis_serve_each_others_images(
        open_redis: Callable[..., RedisStore]) -> None:
    first, second = (create_app(MockConfig(), store=open_redis()) for _ in range(2))
    try:
        posted = post_image(first.test_client())
        image = downloaded_bytes(second.test_client(), forward_xml_of(posted))
        assert hashlib.md5(image).hexdigest() == posted["md5"]
    finally:
        for app in (first, second):
            mock_state(app).close()
