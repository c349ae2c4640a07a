"""State in Redis as a user asks for it (``--store``, ``$CHATIMG_STORE``, ``store:``), and a
Redis out of reach as the bots see it: 503 in each vendor's envelope, then service again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _redis import RedisServer, require_redis_client, require_redis_server
from _support import (
    GEWE_API,
    GEWE_APP_ID,
    GEWE_HEADERS,
    W_ID,
    WID_HEADERS,
    Running,
    ServedMock,
    assert_refused_in_one_line,
    free_port,
    lark_auth,
    mock,
)

from mockserver import LiveServer, MockConfig
from mockserver.errors import ConfigError

GEWE_BODY = {"appId": GEWE_APP_ID, "toWxid": "wxid_friend01",
             "imgUrl": "http://dummyimage.com/40x30"}


# --- asking for it ---------------------------------------------------------------------------

def test_the_store_and_its_prefix_come_from_the_environment() -> None:
    config = MockConfig.load(env={"CHATIMG_STORE": "redis://:pw@10.0.0.5:6380/3",
                                  "CHATIMG_STORE_PREFIX": "team-a:"})
    assert (config.store, config.store_prefix) == ("redis://:pw@10.0.0.5:6380/3", "team-a:")
    assert MockConfig().store_prefix == "chatimg:"


def test_the_store_comes_from_the_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "mock.yaml"
    settings.write_text("store: rediss://cache.internal:6380/0\nstore_prefix: 'staging:'\n")
    config = MockConfig.load(settings, env={})
    assert (config.store, config.store_prefix) == ("rediss://cache.internal:6380/0", "staging:")


@pytest.mark.parametrize("where", ["env", "file"])
def test_a_store_that_is_no_redis_url_is_refused_naming_the_setting(tmp_path: Path,
                                                                    where: str) -> None:
    settings = tmp_path / "mock.yaml"
    settings.write_text("store: postgres://db/mock\n")
    with pytest.raises(ConfigError, match=r"(CHATIMG_STORE|store) must be a Redis URL"):
        if where == "env":
            MockConfig.load(env={"CHATIMG_STORE": "postgres://user:pw@db/mock"})
        else:
            MockConfig.load(settings, env={})


def test_a_store_and_a_state_dir_together_are_refused(tmp_path: Path) -> None:
    config = MockConfig(store="redis://127.0.0.1:6379/0", state_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="a Redis store or a state folder, not both"):
        config.make_store()


def test_serve_with_no_redis_url_is_one_line() -> None:
    assert_refused_in_one_line(mock("serve", "--store", "http://127.0.0.1:6379/0"),
                               "--store must be a Redis URL")


def test_serve_with_a_redis_nobody_runs_is_one_line_without_the_password() -> None:
    require_redis_client()
    port = free_port()
    run = mock("serve", "--store", f"redis://:s3cret@127.0.0.1:{port}/0")
    assert_refused_in_one_line(run, f"the Redis store at 127.0.0.1:{port}/0 is unreachable")
    assert "s3cret" not in run.stderr


def test_the_start_up_lines_say_which_redis_without_the_password(
        redis_server: RedisServer) -> None:
    prefix = redis_server.fresh_prefix()
    url = redis_server.url(4).replace("redis://", "redis://:hidden@")
    served = Running("--store", url.replace(":hidden@", "@"), "--store-prefix", prefix)
    try:
        assert served.banner[1] == (f"state: in Redis at {redis_server.url(4)}, keys under "
                                    f"{prefix!r}, shared by every replica given them")
    finally:
        served.stop()


def test_two_mocks_on_one_redis_with_two_prefixes_share_nothing(
        redis_server: RedisServer) -> None:
    first, second = (ServedMock("--store", redis_server.url(), "--store-prefix",
                                redis_server.fresh_prefix()) for _ in range(2))
    try:
        posted = httpx.post(f"{first.url}{GEWE_API}/message/postImage", headers=GEWE_HEADERS,
                            json=GEWE_BODY).json()
        assert posted["ret"] == 200, posted
        listed = [httpx.get(f"{mock.url}/__admin/images").json()["total"]
                  for mock in (first, second)]
        assert listed == [1, 0]
        store = httpx.get(f"{first.url}/__admin/store").json()
        assert store["kind"] == "redis" and store["shared"] is True
        assert store["round_trips"] > 0
    finally:
        for served in (first, second):
            served.stop()


# --- Redis out of reach ------------------------------------------------------------------------

def calls(http: httpx.Client) -> dict[str, httpx.Response]:
    """One call of each vendor and of the admin API."""
    token = {"Authorization": "Bearer t-not-checked-before-the-store"}
    return {
        "gewe": http.post(f"{GEWE_API}/message/postImage", headers=GEWE_HEADERS,
                          json=GEWE_BODY),
        "wid": http.post("/getMsgImg", headers=WID_HEADERS,
                         json={"wId": W_ID, "content": "<msg/>", "msgId": 1, "type": 0}),
        "lark": http.get("/open-apis/im/v1/images/img_v3_0000", headers=token),
        "admin": http.get("/__admin/images"),
    }


def envelope(vendor: str, reply: httpx.Response) -> Any:
    body = reply.json()
    return {"gewe": lambda: (body["ret"], body["msg"].split(":")[0]),
            "wid": lambda: (body["code"], body["message"]),
            "lark": lambda: (body["code"], "log_id" in body["error"]),
            "admin": lambda: (set(body),)}[vendor]()


def test_a_redis_down_is_503_in_each_envelope_and_service_comes_back_by_itself(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    require_redis_client()
    with RedisServer(require_redis_server(), tmp_path) as redis, \
            LiveServer(MockConfig(store=redis.url())) as served, \
            httpx.Client(base_url=served.url) as http:
        auth = lark_auth(http)
        redis.stop()
        down = calls(http)
        for _ in range(5):
            calls(http)
        outage_lines = [record for record in caplog.records
                        if record.name == "mockserver.http.app" and "unreachable" in
                        record.getMessage()]
        assert len(outage_lines) == 1  # (once, not at each of the 24 calls)
        assert {vendor: reply.status_code for vendor, reply in down.items()} == dict.fromkeys(
            down, 503)
        assert {vendor: reply.headers["Retry-After"] for vendor, reply in down.items()} == \
            dict.fromkeys(down, "1")
        assert {vendor: envelope(vendor, reply) for vendor, reply in down.items()} == {
            "gewe": (503, "服务暂不可用"), "wid": ("1001", down["wid"].json()["message"]),
            "lark": (503, True), "admin": ({"error"},)}
        for reply in down.values():  # a clear message: what is down, and where
            assert f"the Redis store at 127.0.0.1:{redis.port}/0 is unreachable" in reply.text
        assert "服务暂不可用" in down["wid"].json()["message"]

        redis.start()  # (empty: this Redis keeps nothing across restarts)
        posted = http.post(f"{GEWE_API}/message/postImage", headers=GEWE_HEADERS,
                           json=GEWE_BODY)
        assert posted.json()["ret"] == 200, posted.text
        assert http.get("/__admin/images").json()["total"] == 1
        assert lark_auth(http) != auth  # (the old token went with the data)


# --- what each replica caches ------------------------------------------------------------------

@pytest.fixture
def two_replicas(redis_server: RedisServer) -> Iterator[list[Any]]:
    """Two apps on one Redis and one prefix, as two replicas are (in this process: their
    store's round trips can be counted)."""
    from mockserver.http.app import create_app, mock_state
    from mockserver.storage.redis_store import RedisStore

    prefix = redis_server.fresh_prefix()
    apps = [create_app(MockConfig(), store=RedisStore(redis_server.url(), prefix))
            for _ in range(2)]
    yield apps
    for app in apps:
        mock_state(app).close()


def round_trips(app: Any) -> int:
    from mockserver.http.app import mock_state

    counted: int = mock_state(app).store.round_trips
    return counted


def post_image(client: Any) -> Any:
    return client.post(f"{GEWE_API}/message/postImage", headers=GEWE_HEADERS,
                       json=GEWE_BODY).get_json()


def test_a_rule_armed_through_one_replica_holds_on_the_other_at_its_next_call(
        two_replicas: list[Any]) -> None:
    first, second = (app.test_client() for app in two_replicas)
    assert post_image(second)["ret"] == 200  # (its cache now holds "no rules")
    armed = first.post("/__admin/rules", json={"operation": "postImage", "times": 1,
                                                "error": "wechat_offline"})
    assert armed.status_code == 201, armed.get_data(as_text=True)
    assert post_image(second)["ret"] == 500  # the rule, at once
    assert post_image(second)["ret"] == 200  # and once only (times: 1, counted in Redis)


def test_the_clock_moved_through_one_replica_is_the_others_clock_at_its_next_call(
        two_replicas: list[Any]) -> None:
    first, second = (app.test_client() for app in two_replicas)
    before = second.get("/__admin/clock").get_json()["now"]
    first.post("/__admin/clock", json={"advance": 3600})
    assert second.get("/__admin/clock").get_json()["now"] >= before + 3600
    first.post("/__admin/reset")
    assert second.get("/__admin/clock").get_json()["now"] < before + 3600


def test_a_call_reads_the_rules_and_the_clock_from_the_cache_with_one_get(
        two_replicas: list[Any]) -> None:
    app = two_replicas[0]
    client = app.test_client()
    post_image(client)  # (the cache filled)
    before = round_trips(app)
    assert post_image(client)["ret"] == 200
    # One GET of the version key, one script that saves the image and its message.
    assert round_trips(app) - before == 2


def test_a_rule_of_one_time_fires_once_when_replicas_race_for_it(
        redis_server: RedisServer) -> None:
    import threading

    from mockserver.runtime import scenarios
    from mockserver.storage.redis_store import RedisStore

    prefix = redis_server.fresh_prefix()
    replicas = [RedisStore(redis_server.url(), prefix) for _ in range(2)]
    try:
        for _ in range(50):
            scenarios.arm(replicas[0], operation="postImage",
                          action={"error": "wechat_offline"}, times=1)
            start, fired = threading.Barrier(4), []

            def call(store: RedisStore, start: threading.Barrier, fired: list[bool]) -> None:
                start.wait()
                directive = scenarios.take(store, "gewe", "postImage", dict, lambda _: True)
                fired.append(directive is not None)

            threads = [threading.Thread(target=call, args=(replicas[n % 2], start, fired))
                       for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert fired.count(True) == 1  # (a retried update once let two calls have it)
    finally:
        for store in replicas:
            store.close()
