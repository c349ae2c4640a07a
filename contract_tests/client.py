"""The client contract: for any reply the spec allows, a ``chatimg`` client returns its typed
result carrying the reply's values (19-digit ids exact) or raises the vendor's typed error; for
a reply the spec does not allow, a ``ChatImageError``. Never any other exception.

Here is what holds any client method to it: the method as a ``ClientCall``, the replies to serve
it (allowed or not), and the property. Replies come from the specs' response schemas and
examples, served by ``httpx.MockTransport``: this contract needs no server. Which methods of
``chatimg`` are held to it, and what each must make of a reply, is in ``client_methods``.
"""

from __future__ import annotations

import copy
import json
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache, partial
from typing import Any

import httpx
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from chatimg import ChatImageError, GeweClient, LarkClient, ProtocolError, WidClient
from mockserver.specs import read_spec

from .server import ContractViolation
from .strategies import SchemaResolver, from_schema

JSON = "application/json"
REFUSAL = "refusal at an undocumented status"
ODD_STATUSES = (200, 400, 403, 404, 500, 502, 503)
HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
# An image's first bytes, by its subtype: an image download must bring an image.
IMAGE_SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff", "gif": b"GIF89a"}
# Ids quoted as text (vendor notes 1.5), in digits that str.isdigit() accepts.
DIGITS = ("0123456789", "０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class Reply:
    """One HTTP reply to serve; ``data`` is the generated JSON value (or the binary body)."""

    status: int
    headers: dict[str, str]
    body: bytes
    data: Any = None
    kind: str = "spec"

    @classmethod
    def of_json(cls, status: int, headers: dict[str, str], data: Any, kind: str = "spec") -> Reply:
        # The stdlib writes big ints digit for digit: a 19-digit id is exact on the wire.
        body = json.dumps(data, ensure_ascii=False).encode()
        return cls(status, {**headers, "Content-Type": f"{JSON}; charset=utf-8"}, body, data, kind)

    @property
    def is_json(self) -> bool:
        return self.headers.get("Content-Type", "").startswith(JSON)

    def __repr__(self) -> str:
        body = repr(self.body.decode("utf-8", "replace") if self.is_json else self.body)
        return f"HTTP {self.status} [{self.kind}] {self.headers} {body[:300]}"


@dataclass
class Outcome:
    """Each request with the reply it got, and what the client method did."""

    exchanges: list[tuple[httpx.Request, Reply]] = field(default_factory=list)
    result: Any = None
    error: Exception | None = None

    def served(self, path: str) -> list[Reply]:
        return [reply for request, reply in self.exchanges if request.url.path == path]

    def requests(self, path: str) -> list[httpx.Request]:
        return [request for request, _ in self.exchanges if request.url.path == path]

    def __str__(self) -> str:
        if self.error is None:
            return f"returned {self.result!r:.300}"
        return f"raised {type(self.error).__name__}: {self.error}"


# What is wrong with the outcome of an allowed reply (the last one served), or None.
Verify = Callable[["ClientCall", Reply, Outcome], "str | None"]


@dataclass(frozen=True)
class ClientCall:
    """A client method and the operation it maps to; ``fixed`` answers the other paths the
    method uses (the Lark token, or the upload after it)."""

    name: str
    vendor: str
    spec_path: str
    method: str
    served_path: str
    make_client: Callable[[httpx.BaseTransport], Any]
    invoke: Callable[[Any], Any]
    returns: type
    verify: Verify
    attempts: int = 1  # replies per call: a fallback download asks up to 3 times
    fixed: dict[str, Reply] = field(default_factory=dict)

    @property
    def operation(self) -> dict[str, Any]:
        return _spec(self.vendor)[0]["paths"][self.spec_path][self.method]

    def validator(self, status: int | None = None) -> Any:
        """The spec's JSON schema of ``status``; of the vendor's refusal when None."""
        return _validator(self.vendor, self.spec_path, self.method, status)


@cache
def _spec(vendor: str) -> tuple[dict[str, Any], SchemaResolver]:
    document = read_spec(vendor)
    return document, SchemaResolver(document)


@cache
def _validator(vendor: str, path: str, method: str, status: int | None) -> Any:
    document, resolver = _spec(vendor)
    operation = document["paths"][path][method]
    if status is None:
        return resolver.validator(operation.get("x-error-schema") or document["x-error-schema"])
    response = resolver.resolve(operation["responses"].get(str(status), {}))
    schema = response.get("content", {}).get(JSON, {}).get("schema")
    return resolver.validator(schema) if schema else None


def gewe_client(transport: httpx.BaseTransport) -> GeweClient:
    return GeweClient("http://gewe.test/gewe/v2/api", "token", "wx_contract", transport=transport)


def wid_client(transport: httpx.BaseTransport) -> WidClient:
    return WidClient("http://wid.test", "authorization", "wid-contract", transport=transport)


def lark_client(transport: httpx.BaseTransport) -> LarkClient:
    """Sleeps are no-ops: rate-limit retries cost nothing."""
    return LarkClient("cli_contract", "secret", base_url="http://lark.test", transport=transport,
                      sleep=lambda seconds: None)


# --- replies -----------------------------------------------------------------------------------

def _examples(call: ClientCall) -> list[tuple[int, Any]]:
    """``(status, body)`` of every JSON example the spec gives for the operation."""
    resolver, found = _spec(call.vendor)[1], []
    for status, response in call.operation["responses"].items():
        content = resolver.resolve(response).get("content", {}).get(JSON, {})
        found += [(int(status), resolver.resolve(e)["value"])
                  for e in content.get("examples", {}).values()]
        found += [(int(status), content["example"])] if "example" in content else []
    return found


def allowed_replies(call: ClientCall) -> st.SearchStrategy[Reply]:
    """Every status and media type the operation declares, with its declared headers (ASCII;
    integers small so rate-limit waits stay short) and a body from the schema, unknown extra
    fields included, or from the spec's examples."""
    resolver, choices = _spec(call.vendor)[1], []
    for status, response in call.operation["responses"].items():
        response, status = resolver.resolve(response), int(status)
        headers = st.fixed_dictionaries({}, optional={
            name: st.integers(0, 3).map(str)
            if resolver.resolve(resolver.resolve(h).get("schema", {})).get("type") == "integer"
            else st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=24)
            for name, h in response.get("headers", {}).items()})
        for media, content in response.get("content", {}).items():
            if media == JSON:
                bodies = (st.sampled_from([b for s, b in _examples(call) if s == status])
                          | from_schema(content["schema"], resolver, extra_properties=True))
                choices.append(st.builds(Reply.of_json, st.just(status), headers,
                                         bodies.filter(call.validator(status).is_valid)))
            else:  # image/*: an image's first bytes, then random ones, as that image type
                choices.append(st.builds(
                    lambda status, headers, kind, data, media=media: Reply(
                        status, {**headers, "Content-Type": media.replace("*", kind)},
                        IMAGE_SIGNATURES[kind] + data, IMAGE_SIGNATURES[kind] + data),
                    st.just(status), headers, st.sampled_from(list(IMAGE_SIGNATURES)),
                    from_schema(content["schema"], resolver)))
    return st.one_of(choices)


def _spec_allows(call: ClientCall, reply: Reply) -> bool:
    validator = call.validator(reply.status)
    return reply.is_json and validator is not None and validator.is_valid(reply.data)


def _places(node: Any) -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(node, dict):
        for key, child in node.items():
            yield node, key
            yield from _places(child)


def _mutate(reply: Reply, pick: int, change: Callable[[Any], Any]) -> Reply:
    """``reply`` with one field, at any depth, changed (to ``...``: deleted)."""
    data = copy.deepcopy(reply.data)
    places = list(_places(data))
    container, key = places[pick % len(places)]
    new = change(container[key])
    if new is ...:
        del container[key]
    else:
        container[key] = new
    return Reply.of_json(reply.status, {}, data,
                         f"example, {key} {'deleted' if new is ... else 'changed'}")


def _quote(value: Any, digits: str) -> Any:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    return str(value).translate(str.maketrans("0123456789", digits)) if is_int else value


def off_spec_replies(call: ClientCall) -> st.SearchStrategy[Reply]:
    """Replies the spec does not allow: not JSON, JSON of another shape, an example cut short
    or with a field deleted, retyped or quoted, the vendor's refusal at an odd status."""
    resolver, refusal = _spec(call.vendor)[1], call.validator()
    # Broken from the spec's examples: what is wrong is then only what was broken.
    valid = st.sampled_from([Reply.of_json(status, {}, body) for status, body in _examples(call)])
    statuses = st.sampled_from(ODD_STATUSES)
    wrong = (st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=8)
             | st.integers(min_value=2**63) | st.lists(st.integers(), max_size=2))
    changes = (st.just(lambda old: ...) | wrong.map(lambda new: lambda old: new)
               | st.sampled_from(DIGITS).map(lambda digits: lambda old: _quote(old, digits)))
    return st.one_of(
        st.builds(lambda status, kind, body: Reply(status, {"Content-Type": kind}, body,
                                                   kind="not JSON"),
                  statuses, st.sampled_from([JSON, "text/plain", "text/html"]),
                  st.binary(max_size=40) | st.text(max_size=20).map(str.encode)),
        st.builds(Reply.of_json, statuses, st.just({}), st.lists(st.integers(), max_size=2)
                  | st.text(max_size=5) | st.integers() | st.none(), st.just("not an object")),
        st.builds(lambda reply, cut: replace(reply, body=reply.body[:cut % len(reply.body)],
                                             kind="cut short"), valid, st.integers(0)),
        st.builds(_mutate, valid, st.integers(0, 40), changes),
        st.builds(Reply.of_json, statuses, st.just({}),
                  from_schema(refusal.schema, resolver, extra_properties=True)
                  .filter(refusal.is_valid), st.just(REFUSAL))
        .filter(lambda reply: not _spec_allows(call, reply)))


def example_replies(call: ClientCall, *, allowed: bool) -> list[Reply]:
    """Always tried: the spec's examples, then each with one string emptied, given a non-ASCII
    letter or replaced by one (edges clients trip on), kept where the spec allows the result
    (or not). Off the spec also: an HTML 502 page, text, a JSON list, the first refusal example
    at each status the spec does not give it, and each integer of the examples quoted."""
    examples = _examples(call)
    edges = [Reply.of_json(status, {}, body, "example") for status, body in examples] + [
        _mutate(Reply.of_json(status, {}, body), pick, change) for status, body in examples
        for pick, (node, key) in enumerate(_places(body)) if isinstance(node[key], str)
        for change in (lambda old: "", lambda old: old + "é", lambda old: "é")]
    if allowed:
        return [reply for reply in edges if _spec_allows(call, reply)]
    refusals = [body for _, body in examples if call.validator().is_valid(body)]
    return [Reply(502, {"Content-Type": "text/html"}, HTML_502, kind="HTML error page"),
            Reply(200, {"Content-Type": "text/plain"}, b"not json", kind="not JSON"),
            Reply.of_json(200, {}, [], "not an object"),
            *[_mutate(Reply.of_json(status, {}, body), pick, partial(_quote, digits=digits))
              for status, body in examples if body not in refusals
              for pick, (node, key) in enumerate(_places(body))
              if type(node[key]) is int for digits in DIGITS[1:]],
            *[reply for reply in edges + [Reply.of_json(status, {}, body, REFUSAL)
                                          for body in refusals[:1] for status in ODD_STATUSES]
              if not _spec_allows(call, reply)]]


# --- the property --------------------------------------------------------------------------------

def serve(call: ClientCall, replies: list[Reply], make_client: Callable[..., Any]) -> Outcome:
    """Call the method with ``replies`` served in turn to its path (the last one repeats)."""
    outcome = Outcome()

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == call.served_path:
            reply = replies[min(len(outcome.served(path)), len(replies) - 1)]
        else:
            reply = call.fixed.get(path, Reply(404, {}, b"", kind="no such path"))
        outcome.exchanges.append((request, reply))
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body)

    try:
        with make_client(httpx.MockTransport(handle)) as client:
            outcome.result = call.invoke(client)
    except Exception as error:  # every exception is a verdict, judged by problem_of
        outcome.error = error
    return outcome


def problem_of(call: ClientCall, outcome: Outcome, *, allowed: bool) -> str | None:
    """What breaks the contract in ``outcome``, or None."""
    error, served = outcome.error, outcome.served(call.served_path)
    if error is not None and not isinstance(error, ChatImageError):
        return f"raised {type(error).__name__}, which is not a chatimg.ChatImageError"
    if error is None and not isinstance(outcome.result, call.returns):
        return f"returned {type(outcome.result).__name__}, not {call.returns.__name__}"
    if not served:
        return f"never asked {call.served_path}"
    if allowed and isinstance(error, ProtocolError):
        return "raised ProtocolError for a reply the spec allows"
    if allowed:
        return call.verify(call, served[-1], outcome)
    if error is None and served[-1].kind == REFUSAL:
        return "returned a result for the vendor's refusal envelope"
    return None


def check_client_call(call: ClientCall, *, allowed: bool = True,
                      make_client: Callable[[httpx.BaseTransport], Any] | None = None,
                      replies: st.SearchStrategy[Reply] | None = None,
                      hypothesis_settings: settings | None = None) -> None:
    """Hold the client (``make_client``, default ``call.make_client``) to the contract of one
    method for allowed or off-spec replies (or ``replies``, then without the always-tried
    ones); raises ContractViolation with the first or minimal reply that breaks it."""
    make = make_client or call.make_client
    generated = replies if replies is not None else (
        allowed_replies(call) if allowed else off_spec_replies(call))

    @given(st.lists(generated, min_size=call.attempts, max_size=call.attempts))
    def contract(replies: list[Reply]) -> None:
        outcome = serve(call, replies, make)
        problem = problem_of(call, outcome, allowed=allowed)
        if problem:
            exchanged = "".join(f"\n  {request.method} {request.url.path} -> {reply!r}"
                                for request, reply in outcome.exchanges)
            raise ContractViolation(f"client.{call.name}: {problem}{exchanged}\n"
                                    f"  the client {outcome}")

    if replies is None:  # applied last to first, so that they run in order
        for reply in reversed(example_replies(call, allowed=allowed)):
            contract = example([reply] * call.attempts)(contract)
    # One violation per check, as the CLI prints it. Explaining would re-run the minimal
    # example for seconds to say what the message already shows.
    base = hypothesis_settings or settings()
    contract = settings(base, report_multiple_bugs=False,
                        phases=[phase for phase in base.phases if phase != Phase.explain])(contract)
    contract()
