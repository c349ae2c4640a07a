"""Credentials are compared in constant time: a refusal's timing must not reveal how much of
a token was right. Each check is seen to go through ``hmac.compare_digest``."""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Iterator

import httpx
import pytest
from _support import APP_A, DEFAULTS, GEWE_TOKEN, WID_AUTHORIZATION

from mockserver import LiveServer

ADMIN_TOKEN = "admin-secret-0001"


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Every pair of credentials compared while the test runs."""
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return seen


@pytest.fixture(scope="module")
def guarded() -> Iterator[LiveServer]:
    with LiveServer(dataclasses.replace(DEFAULTS, admin_token=ADMIN_TOKEN)) as server:
        yield server


def test_gewe_token_is_compared_in_constant_time(
        compared: list[tuple[bytes, bytes]], guarded: LiveServer) -> None:
    reply = httpx.post(f"{guarded.url}/gewe/v2/api/message/postImage", json={},
                       headers={"X-GEWE-TOKEN": "gewe-mock-tokeX"})
    assert reply.json()["ret"] == 500
    assert (b"gewe-mock-tokeX", GEWE_TOKEN.encode()) in compared


def test_gewe_set_callback_token_is_compared_in_constant_time(
        compared: list[tuple[bytes, bytes]], guarded: LiveServer) -> None:
    reply = httpx.post(f"{guarded.url}/gewe/v2/api/tools/setCallback",
                       json={"token": "wrong-token", "callbackUrl": "http://127.0.0.1:9/cb"},
                       headers={"X-GEWE-TOKEN": GEWE_TOKEN})
    assert reply.json()["ret"] == 500
    assert (b"wrong-token", GEWE_TOKEN.encode()) in compared


def test_wid_authorization_is_compared_in_constant_time(
        compared: list[tuple[bytes, bytes]], guarded: LiveServer) -> None:
    reply = httpx.post(f"{guarded.url}/getMsgImg", json={}, headers={"Authorization": "nope"})
    assert reply.json()["code"] == "1001"
    assert (b"nope", WID_AUTHORIZATION.encode()) in compared


def test_lark_app_secret_is_compared_in_constant_time(
        compared: list[tuple[bytes, bytes]], guarded: LiveServer) -> None:
    reply = httpx.post(f"{guarded.url}/open-apis/auth/v3/tenant_access_token/internal",
                       json={"app_id": APP_A.app_id, "app_secret": "not-the-secret"})
    assert reply.json()["code"] == 10014
    assert (b"not-the-secret", APP_A.app_secret.encode()) in compared


def test_admin_token_is_compared_in_constant_time(
        compared: list[tuple[bytes, bytes]], guarded: LiveServer) -> None:
    reply = httpx.get(f"{guarded.url}/__admin/clock",
                      headers={"X-Chatimg-Admin-Token": "admin-secret-0002"})
    assert reply.status_code == 401
    assert (b"admin-secret-0002", ADMIN_TOKEN.encode()) in compared
