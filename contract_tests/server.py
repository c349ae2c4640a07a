"""The server contract: for any request the spec describes, the reply is one the spec allows,
and a request the spec refuses gets the vendor's error envelope (the spec's ``x-error-schema``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.errors import INTERNAL_ERROR_HEADER
from mockserver.specs import ApiSpec, Operation

from .strategies import SchemaResolver, from_schema, invalid_body
from .target import Target
from .wire import response_problems, schema_error_text

if TYPE_CHECKING:
    from openapi_schema_validator import OAS30Validator


class ContractViolation(AssertionError):
    """A reply broke the spec; the message shows the (minimal) request and what was wrong."""


@dataclass(frozen=True)
class RequestCase:
    """One generated request: valid, or with a named flaw."""

    operation: Operation
    flaw: str | None
    path_params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def build(self, base_url: str) -> httpx.Request:
        path = self.operation.path.format(
            **{name: quote(str(value), safe="") for name, value in self.path_params.items()})
        media = self.operation.request_media_types
        kwargs: dict[str, Any] = {"headers": self.headers}
        if media and media[0].startswith("multipart/") and isinstance(self.body, dict):
            files = {k: (k, v) for k, v in self.body.items() if isinstance(v, bytes)}
            data = {k: v for k, v in self.body.items() if not isinstance(v, bytes)}
            kwargs.update(files=files or None, data=data)
        elif media:
            kwargs.update(content=json.dumps(self.body, ensure_ascii=False).encode(),
                          headers={**self.headers, "Content-Type": "application/json"})
        return httpx.Request(self.operation.method, base_url.rstrip("/") + path, **kwargs)

    def __repr__(self) -> str:
        body = repr(self.body)
        if len(body) > 300:
            body = body[:300] + "…"
        return (f"{self.operation.method} {self.operation.path} [{self.flaw or 'valid'}] "
                f"path={self.path_params} headers={self.headers} body={body}")


def credential_headers(spec: ApiSpec, operation: Operation, target: Target) -> dict[str, str]:
    creds = target.credentials
    headers: dict[str, str] = {}
    for name in operation.security:
        scheme = spec.document["components"]["securitySchemes"][name]
        if scheme["type"] == "http":
            headers["Authorization"] = f"Bearer {target.lark_token()}"
        elif name == "geweToken":
            headers[scheme["name"]] = creds.gewe_token
        else:
            headers[scheme["name"]] = creds.wid_authorization
    return headers


def request_cases(spec: ApiSpec, operation: Operation, target: Target, *,
                  valid: bool) -> st.SearchStrategy[RequestCase]:
    """Requests for ``operation``: all valid, or each with one flaw (body, parameter, auth)."""
    resolver = SchemaResolver(spec.document)
    known = target.known_values()
    hints = {name: st.sampled_from(values) for name, values in known.items()}
    item = spec.document["paths"][operation.path][operation.method.lower()]
    path_params = _path_params(item, resolver, hints)
    headers = credential_headers(spec, operation, target)
    media = next(iter(item.get("requestBody", {}).get("content", {}).values()), None)

    def hinted(schema: Any) -> st.SearchStrategy[Any]:
        return from_schema(schema, resolver, hints={k: h | from_schema(_prop(schema, resolver, k),
                                                                       resolver)
                                                    for k, h in hints.items()
                                                    if k in _props(schema, resolver)})

    body = hinted(media["schema"]) if media else st.none()
    valid_cases = st.builds(RequestCase, st.just(operation), st.just(None), path_params,
                            st.just(headers), body)
    if valid:
        return valid_cases
    flaws: list[st.SearchStrategy[RequestCase]] = []
    if media:
        flaws.append(st.builds(lambda p, bad: RequestCase(operation, bad[0], p, headers, bad[1]),
                               path_params, invalid_body(media["schema"], resolver)))
    for name in headers:
        def header_missing(c: RequestCase, name: str = name) -> RequestCase:
            return RequestCase(operation, f"{name} header missing", c.path_params,
                               {k: v for k, v in headers.items() if k != name}, c.body)

        def header_wrong(c: RequestCase, name: str = name) -> RequestCase:
            return RequestCase(operation, f"{name} header wrong", c.path_params,
                               {**headers, name: _wrong_credential(headers[name])}, c.body)

        flaws.append(valid_cases.map(header_missing))
        flaws.append(valid_cases.map(header_wrong))
    for param in _parameters(item, "path"):
        schema = param.get("schema", {})
        if "pattern" in schema:
            validator = resolver.validator(schema)

            def refused(v: str, validator: OAS30Validator = validator) -> bool:
                return not validator.is_valid(v)

            bad = st.text("abcxyz-", min_size=1, max_size=8).filter(refused)
            flaws.append(st.builds(lambda c, v, n=param["name"]: RequestCase(
                operation, f"path parameter {n} malformed", {**c.path_params, n: v},
                c.headers, c.body), valid_cases, bad))
    return st.one_of(flaws) if flaws else st.nothing()


def _wrong_credential(value: str) -> str:
    return "Bearer t-0000000000000000" if value.startswith("Bearer ") else "wrong-" + value[:4]


def _parameters(item: dict[str, Any], location: str) -> list[dict[str, Any]]:
    return [p for p in item.get("parameters", []) if p.get("in") == location]


def _path_params(item: dict[str, Any], resolver: SchemaResolver,
                 hints: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, str]]:
    strategies = {}
    for param in _parameters(item, "path"):
        generated = from_schema(param.get("schema", {}), resolver).filter(
            lambda v: v and "/" not in v and v not in (".", ".."))
        strategies[param["name"]] = hints.get(param["name"], st.nothing()) | generated
    return st.fixed_dictionaries(strategies)


def _props(schema: Any, resolver: SchemaResolver) -> dict[str, Any]:
    return resolver.resolve(schema).get("properties", {})


def _prop(schema: Any, resolver: SchemaResolver, name: str) -> Any:
    return _props(schema, resolver)[name]


def check_reply(spec: ApiSpec, case: RequestCase, request: httpx.Request,
                response: httpx.Response) -> list[str]:
    """Everything wrong with ``response`` to ``case``: by the spec, and for a flawed request,
    by the vendor's error envelope."""
    problems = response_problems(spec, request, response)
    if response.status_code >= 500:
        problems.append(f"HTTP {response.status_code}: a server error, not the vendor's envelope")
    if INTERNAL_ERROR_HEADER in response.headers:
        problems.append(f"the mock failed internally: {response.headers[INTERNAL_ERROR_HEADER]}")
    if case.flaw is not None and not problems:
        problems += _envelope_problems(spec, case.operation, response)
    return problems


def _envelope_problems(spec: ApiSpec, operation: Operation, response: httpx.Response) -> list[str]:
    item = spec.document["paths"][operation.path][operation.method.lower()]
    schema = item.get("x-error-schema") or spec.document.get("x-error-schema")
    if schema is None:
        return []
    try:
        body = response.json()
    except ValueError:
        return [f"a refused request got a non-JSON reply ({response.headers.get('content-type')})"]
    validator = SchemaResolver(spec.document).validator(schema)
    errors = list(validator.iter_errors(body))
    if errors:
        return ["a refused request did not get the vendor's error envelope: "
                + "; ".join(schema_error_text(e) for e in errors)]
    return []


def check_operation(spec: ApiSpec, operation: Operation, target: Target, *, valid: bool,
                    hypothesis_settings: settings | None = None) -> None:
    """Hold ``target`` to the contract of ``operation``; raises ContractViolation with the
    minimal failing request that hypothesis found."""

    @given(case=request_cases(spec, operation, target, valid=valid))
    def contract(case: RequestCase) -> None:
        request = case.build(target.base_url)
        response = target.send(request)
        problems = check_reply(spec, case, request, response)
        if problems:
            raise ContractViolation(
                f"{spec.name}.{operation.operation_id}: {case!r}\n"
                f"  -> HTTP {response.status_code} {response.content[:300]!r}\n"
                + "\n".join(f"  * {p}" for p in problems))

    if hypothesis_settings is not None:
        contract = hypothesis_settings(contract)
    contract()
