"""Lark's refusals: its error envelope, and its codes as the spec's ``x-errors`` table lists them.

Errors are JSON ``{code, msg, error: {log_id, troubleshooter}}`` with a 4xx status and the
``X-Tt-Logid`` header in that exact capitalisation, which is all the official SDK can read
(sdk-notes). Token refusals are the exception: HTTP 200, as the real endpoint answers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from flask import Response, g

from ...errors import SpecError, VendorError
from ...specs import read_spec
from ..base import json_response

LOG_ID_HEADER = "X-Tt-Logid"


@dataclass(frozen=True)
class ErrorTable:
    """The spec's ``x-errors``: each code's HTTP status and msg, and the codes per operation."""

    codes: Mapping[int, tuple[int, str]]
    by_operation: Mapping[str, tuple[int, ...]]
    default: tuple[int, ...]

    def codes_of(self, operation_id: str) -> tuple[int, ...]:
        """The codes a rule or a Prefer header may ask of an operation."""
        return self.by_operation.get(operation_id, self.default)


@cache
def error_table() -> ErrorTable:
    try:
        table = read_spec("lark")["x-errors"]
        codes = {int(code): (int(entry["status"]), str(entry["msg"]))
                 for code, entry in table["codes"].items()}
        by_operation = {name: tuple(map(int, listed))
                        for name, listed in table["operations"].items()}
        default = tuple(map(int, table["default"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"lark spec: x-errors is not a table of codes: {exc!r}") from exc
    unknown = {*default, *(c for listed in by_operation.values() for c in listed)} - set(codes)
    if unknown:
        raise SpecError(f"lark spec: x-errors lists codes it does not define: {sorted(unknown)}")
    return ErrorTable(codes, by_operation, default)


@dataclass
class LarkError(VendorError):
    """A refusal in Lark's error envelope."""

    status: int
    code: int
    msg: str
    log_id: str
    field_violations: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code} {self.msg}")

    def to_response(self) -> Response:
        error: dict[str, Any] = {"log_id": self.log_id, "troubleshooter": (
            "排查建议查看 (Troubleshooting suggestions): https://open.feishu.cn/search"
            f"?from=openapi&log_id={self.log_id}&code={self.code}")}
        if self.field_violations:
            error["field_violations"] = self.field_violations
        return json_response({"code": self.code, "msg": self.msg, "error": error}, self.status,
                             headers=self.headers)


@dataclass
class TokenRefusal(VendorError):
    """The token endpoint's refusals: HTTP 200 with a code, as the real endpoint answers."""

    code: int
    msg: str

    def __post_init__(self) -> None:
        super().__init__(f"{self.code} {self.msg}")

    @classmethod
    def of(cls, code: int) -> TokenRefusal:
        return cls(code, error_table().codes[code][1])

    def to_response(self) -> Response:
        payload: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.code == 10003:
            payload["data"] = {}
        return json_response(payload)


class LarkEventsRefused(VendorError):
    """An event request URL Lark would not accept (no echo of the challenge, or not allowed)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def to_response(self) -> Response:
        return json_response({"error": f"event request URL refused: {self.reason}"}, 400)


def new_log_id() -> str:
    """A timestamp and 20 upper-case hex digits, like real log ids."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(10).upper()


def log_id() -> str:
    """One log id per request: the error body and the header must agree."""
    if "lark_log_id" not in g:
        g.lark_log_id = new_log_id()
    return str(g.lark_log_id)
