"""What a request carries, read once and strictly: its body (as a careful vendor's JSON
parser reads it), the path and origin the caller used, and what passed validation. Below the
runtime and the vendors, which read bodies too (the journal, rules that match body fields)."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from .errors import RequestProblem


@dataclass(frozen=True)
class ValidRequest:
    """A request that matched its operation: parameters cast by the spec, body unmarshalled."""

    path: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    header: Mapping[str, Any] = field(default_factory=dict)
    body: Any = None


_BODY_PROBLEM = "chatimg.body_problem"  # environ: what body_problem found, once read


def body_problem(request: Request) -> RequestProblem | None:
    """What kept this request's body from being read whole, or None; read once, as a body
    over the cap is refused on every read, and one that stalled would stall again."""
    environ = request.environ
    if _BODY_PROBLEM not in environ:
        problem = None
        try:
            request.get_data()
        except RequestEntityTooLarge:
            problem = RequestProblem("body", None, "too_large", f"the body is larger than "
                                     f"{request.max_content_length} bytes")
        except ClientDisconnected:  # a read timed out (the client stalled) or found the end
            problem = RequestProblem("body", None, "invalid", "the request body stopped "
                                     "before its end: the client stalled or went away")
        environ[_BODY_PROBLEM] = problem
    return environ[_BODY_PROBLEM]


_SURROGATE = re.compile("[\ud800-\udfff]")


def read_json(raw: bytes) -> Any:
    """A JSON body as a careful vendor's parser (Jackson, Go's encoding/json) reads it.

    Python's json takes what they refuse, and what the mock could not answer or journal:
    NaN and Infinity, numbers beyond a double (read as inf), unpaired surrogates (as a
    ``\\ud800`` escape, or encoded as bytes), nesting deep enough to exhaust the stack.
    Those raise ``RequestProblem``; a body that is not JSON at all raises ``ValueError``.
    """
    try:  # strict, where json.loads would let encoded surrogates through
        text = raw.decode(json.detect_encoding(raw))
    except UnicodeDecodeError as exc:
        raise unreadable(str(exc)) from None
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise unreadable("it is nested too deeply") from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise unreadable(f"a number has more than {sys.get_int_max_str_digits()} "
                          "digits") from None
    if text.find("\\u") >= 0 and _holds_lone_surrogate(value):
        raise unreadable("a string holds an unpaired surrogate escape (\\ud800-\\udfff)")
    return value


def _refuse_constant(name: str) -> Any:
    raise unreadable(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise unreadable(f"the number {text[:40]} is beyond the range of a double")
    return number


# One decoder: json.loads with options builds a new one per call (twice the cost of a parse).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _holds_lone_surrogate(value: Any) -> bool:
    """Whether any string or key holds one; iterative, as the value may be deeply nested."""
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            pending.extend(node)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


def unreadable(reason: str) -> RequestProblem:
    """The refusal of a body that cannot be read as what it claims to be."""
    return RequestProblem("body", None, "invalid", f"the request body cannot be read: {reason}")


REQUESTED_PATH = "chatimg.requested_path"  # environ: the path sent, where an alias was used


def requested_path(request: Request) -> str:
    """The path the caller used (a vendor's API may be served under an alias of its own)."""
    return request.environ.get(REQUESTED_PATH) or request.path


def request_origin(request: Request) -> str:
    """``scheme://host`` the caller used (``request.host_url`` less its cost: it re-encodes
    the whole URL)."""
    return f"{request.scheme}://{request.host}"
