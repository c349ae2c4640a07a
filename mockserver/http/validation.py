"""Request validation against the specs: the one place that asks openapi-core (and its
faster stand-in for the common case).

Handlers receive only what passed; anything else becomes a ``RequestProblem`` that the vendor
words in its own envelope.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from flask import Request
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.validation.request import exceptions as request_errors
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from openapi_schema_validator import OAS30WriteValidator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from ..errors import RequestProblem
from ..incoming import ValidRequest, body_problem, read_json, unreadable
from ..specs import ApiSpec, Operation
from .schema_check import Check, compile_check

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


class _OpenAPIRequest:
    """A Flask request as openapi-core reads it.

    A body sent without Content-Type is read as the operation's only media type: the official
    Lark SDK sends its token request that way, and the real service accepts it.
    """

    def __init__(self, request: Request, operation: Operation):
        self._request = request
        self._operation = operation
        self.parameters = RequestParameters(
            path=dict(request.view_args or {}),
            query=ImmutableMultiDict(request.args),
            header=Headers(request.headers),
            cookie=request.cookies,
        )

    @property
    def host_url(self) -> str:
        return self._request.host_url

    @property
    def path(self) -> str:
        return self._request.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes:
        return self._request.get_data()

    @property
    def content_type(self) -> str:
        sent = self._request.content_type
        if sent:
            return sent
        media_types = self._operation.request_media_types
        return media_types[0] if len(media_types) == 1 else "application/octet-stream"


class RequestValidator:
    """Validates requests for the operations of one spec.

    openapi-core is the judge. Per request it costs about a millisecond (most of it resolving
    the spec again), so each operation with a JSON body and plain path parameters also gets a
    fast path compiled once at start: the body and path schemas as plain-Python predicates
    (``compile_check``) that agree with the jsonschema validator class and format checker
    openapi-core uses, or that validator itself for a schema with keywords they do not cover,
    on the same parsed body. A request the fast path accepts is one openapi-core accepts,
    with the same values (the fast path is only ever stricter, and differential tests hold it
    to that); anything it does not accept goes to openapi-core, so refusals are openapi-core's
    own, word for word. Save one kind: both paths first read a JSON body with ``read_json``,
    which refuses the JSON that a careful vendor refuses and Python's json takes.
    """

    def __init__(self, spec: ApiSpec):
        self._spec = spec
        self._fast = {op.operation_id: fast for op in spec.operations
                      if (fast := _FastPath.compile(spec, op)) is not None}

    def validate(self, operation: Operation, request: Request) -> ValidRequest:
        problem = body_problem(request)
        if problem is not None:
            raise problem
        fast = self._fast.get(operation.operation_id)
        if fast is not None:
            valid = fast.validate(request)
            if valid is not None:
                return valid
        return self.validate_with_openapi_core(operation, request)

    def validate_with_openapi_core(self, operation: Operation, request: Request) -> ValidRequest:
        wrapped = _OpenAPIRequest(request, operation)
        raw = request.get_data()
        if raw and _kind(wrapped.content_type) == "application/json":
            try:  # openapi-core reads JSON as Python's json does, which is too lenient
                read_json(raw)
            except json.JSONDecodeError as exc:  # (openapi-core would quote the whole body)
                raise unreadable(f"it is not JSON ({exc.msg}, line {exc.lineno} column "
                                  f"{exc.colno}); it begins {_quote(raw)}") from None
        try:
            result = self._spec.openapi.unmarshal_request(wrapped)
        except Exception as exc:  # openapi-core asserts on some malformed bodies (multipart)
            raise RequestProblem("body", None, "invalid",
                                 f"the request body cannot be read: {_text(exc)}") from exc
        errors = cast("list[Exception]", result.errors)  # typed Iterable, always made a list
        if errors:
            raise _problem(errors[0])
        parameters = result.parameters
        return ValidRequest(
            path=parameters.path, query=parameters.query, header=parameters.header,
            body=result.body,
        )


# Formats openapi-core turns into other Python types; schemas with them take the slow path.
_CONVERTED_FORMATS = frozenset({"date", "date-time", "binary", "uuid", "byte"})


class _FastPath:
    """One operation's checks, compiled from its spec at start."""

    def __init__(self, body_required: bool, body_check: Check | None, body_schema: Any,
                 path_checks: dict[str, Check], query_checks: dict[str, _QueryCheck],
                 security: list[list[dict[str, Any]]]):
        self._body_required = body_required
        self._body_check = body_check
        self._body_schema = body_schema
        self._path_checks = path_checks
        self._query_checks = query_checks
        self._security = security

    @classmethod
    def compile(cls, spec: ApiSpec, operation: Operation) -> _FastPath | None:
        resolver = _Inliner(spec.document)
        item = spec.document["paths"][operation.path]
        method = item[operation.method.lower()]
        parameters = [resolver.inline(p) for p in (*item.get("parameters", ()),
                                                   *method.get("parameters", ()))]
        if not all(_plain_parameter(p) for p in parameters):
            return None
        body = method.get("requestBody")
        body_check = body_schema = None
        if body is not None:
            content = body.get("content", {})
            if set(content) != {"application/json"}:
                return None
            body_schema = resolver.inline(content["application/json"].get("schema", {}))
            if _has_converted_format(body_schema) or _combines_objects(body_schema):
                return None
            body_check = _check(body_schema)
        schemes = spec.document.get("components", {}).get("securitySchemes", {})
        security = [[schemes[name] for name in requirement]
                    for requirement in method.get("security", spec.document.get("security", []))]
        return cls(bool(body and body.get("required")), body_check, body_schema,
                   {p["name"]: _check(p["schema"]) for p in parameters if p["in"] == "path"},
                   {p["name"]: _QueryCheck(bool(p.get("required")), p["schema"]["type"],
                                           _check(p["schema"]), p["schema"].get("default", _NONE))
                    for p in parameters if p["in"] == "query"}, security)

    def validate(self, request: Request) -> ValidRequest | None:
        """The validated request, or None to let openapi-core decide."""
        if self._security and not any(all(_credential_present(scheme, request.headers)
                                              for scheme in requirement)
                                          for requirement in self._security):
            return None
        path = dict(request.view_args or {})
        for name, check in self._path_checks.items():
            if name not in path or not check(path[name]):
                return None
        query = {}
        for name, rule in self._query_checks.items():
            given = request.args.getlist(name)
            if len(given) != 1:  # (none: missing or fine; more: openapi-core judges)
                if given or rule.required:
                    return None
                if rule.default is not _NONE:  # (as openapi-core fills it in)
                    query[name] = rule.default
                continue
            value: Any = given[0]
            if not value:  # (an empty value: openapi-core's rules on it)
                return None
            if rule.kind == "integer":
                if not _INTEGER.fullmatch(value):
                    return None
                value = int(value)
            if not rule.check(value):
                return None
            query[name] = value
        body = None
        if self._body_check is not None:
            content_type = request.content_type
            if content_type and _kind(content_type) != "application/json":
                return None
            raw = request.get_data()
            if not raw:
                return None
            try:
                body = read_json(raw)
            except ValueError:
                return None
            if not self._body_check(body):
                return None
            body = _with_defaults(self._body_schema, body)
        elif self._body_required:
            return None
        return ValidRequest(path=path, query=query, body=body)


class _QueryCheck(NamedTuple):
    required: bool
    kind: str  # "string" or "integer": what the text of the value is read as
    check: Check
    default: Any  # what a missing value is, or _NONE


_NONE = object()  # (no default)


_INTEGER = re.compile(r"-?[0-9]{1,18}")  # (longer: openapi-core judges)


def _plain_parameter(parameter: Mapping[str, Any]) -> bool:
    """A parameter the fast path reads as openapi-core would: a path string, or one plain
    string or integer in the query (no style, no converted format)."""
    schema = parameter.get("schema", {})
    if parameter["in"] == "path":
        return schema.get("type") == "string" and not _has_converted_format(schema)
    return (parameter["in"] == "query" and schema.get("type") in ("string", "integer")
            and not _has_converted_format(schema)
            and not {"style", "explode", "content", "allowEmptyValue"} & set(parameter))


QUOTE_CHARS = 60  # of a body, at most, in an error message
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = QUOTE_CHARS
def _kind(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


class _Inliner:
    def __init__(self, document: Mapping[str, Any]):
        self._document = document

    def inline(self, node: Any) -> Any:
        if isinstance(node, Mapping):
            while "$ref" in node:
                target: Any = self._document
                for part in node["$ref"].removeprefix("#/").split("/"):
                    target = target[part]
                node = target
            return {key: self.inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.inline(item) for item in node]
        return node


def _check(schema: Any) -> Check:
    compiled = compile_check(schema)
    if compiled is not None:
        return compiled
    return OAS30WriteValidator(schema, format_checker=OAS30WriteValidator.FORMAT_CHECKER).is_valid


def _walk(schema: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(schema, Mapping):
        yield schema
        for value in schema.values():
            yield from _walk(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _walk(item)


def _has_converted_format(schema: Any) -> bool:
    return any(node.get("format") in _CONVERTED_FORMATS for node in _walk(schema))


def _combines_objects(schema: Any) -> bool:
    """oneOf/anyOf/allOf of objects, whose properties openapi-core merges in its own way."""
    return any(node.get("type") == "object" or "properties" in node
               for combined in _walk(schema) for key in ("oneOf", "anyOf", "allOf")
               for node in combined.get(key, ()) if isinstance(node, Mapping))


def _with_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    """Missing properties that have a default get it, at every depth, as openapi-core does."""
    if not isinstance(value, dict) or "properties" not in schema:
        return value
    filled = dict(value)
    for name, prop in schema["properties"].items():
        if name in filled:
            filled[name] = _with_defaults(prop, filled[name])
        elif "default" in prop:
            filled[name] = prop["default"]
    return filled


def _credential_present(scheme: Mapping[str, Any], headers: Any) -> bool:
    """A strict reading of what openapi-core's security providers require."""
    if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
        return bool(headers.get(scheme["name"]))
    if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer":
        value = headers.get("Authorization", "")
        return value.startswith("Bearer ") and len(value) > len("Bearer ")
    return False


def _problem(error: Exception) -> RequestProblem:
    if isinstance(error, request_errors.SecurityValidationError):
        return RequestProblem("security", None, "missing", "missing or malformed credentials")
    if isinstance(error, request_errors.MissingParameterError):
        return RequestProblem(error.location, error.name, "missing",
                              f"{error.location} parameter {error.name} is required")
    if isinstance(error, request_errors.ParameterValidationError):
        return RequestProblem(error.location, error.name, "invalid",
                              f"{error.location} parameter {error.name} is not valid: "
                              f"{_cause(error)}")
    if isinstance(error, request_errors.MissingRequestBodyError):
        return RequestProblem("body", None, "missing", "the request body is required")
    if isinstance(error, request_errors.RequestBodyValidationError):
        return _body_problem(error)
    if isinstance(error, PathError):
        return RequestProblem("path", None, "invalid", _text(error))
    return RequestProblem("body", None, "invalid", _text(error))


def _body_problem(error: Exception) -> RequestProblem:
    cause = error.__cause__
    if isinstance(cause, InvalidSchemaValue):
        # typed as Exceptions: openapi-core's schema validator gives jsonschema's errors
        schema_errors = list(cast("Iterable[ValidationError]", cause.schema_errors))
        if schema_errors:
            first = min(schema_errors, key=lambda e: len(e.absolute_path))
            if first.validator == "required":
                name = _missing_property(first)
                return RequestProblem("body", name, "missing", f"body field {name} is required")
            location = ".".join(str(p) for p in first.absolute_path) or None
            message = _schema_message(first)
            if first.validator in ("oneOf", "anyOf"):
                message = f"{_SHORT.repr(first.instance)} is not of an allowed type"
            name = f"body field {location}" if location else "the body"
            return RequestProblem("body", location, "invalid", f"{name} is not valid: {message}")
    return RequestProblem("body", None, "invalid",
                          f"the request body cannot be read: {_text(cause or error)}")


def _text(error: BaseException) -> str:
    """An error's text, cut short: openapi-core's may quote a whole body (and decoding it to
    do so can fail)."""
    try:
        return _cut(str(error))
    except Exception:
        return type(error).__name__


def _schema_message(error: Any) -> str:
    """jsonschema's message, the value it quotes cut short (it may be megabytes long)."""
    quoted = repr(error.instance)
    message: str = error.message
    if len(quoted) > QUOTE_CHARS:
        message = message.replace(quoted, _SHORT.repr(error.instance))
    return _cut(message)


def _cut(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS * 3 else text[:QUOTE_CHARS * 3] + "…"


def _quote(raw: bytes) -> str:
    """The start of a body, for an error message."""
    text = raw[:QUOTE_CHARS].decode("utf-8", "replace")
    return repr(text + "…" if len(raw) > QUOTE_CHARS else text)


def _missing_property(error: Any) -> str:
    # jsonschema words it "'imgUrl' is a required property"
    message: str = error.message
    return message.split("'")[1] if message.count("'") >= 2 else message


def _cause(error: Exception) -> str:
    cause = error.__cause__
    if isinstance(cause, InvalidSchemaValue) and list(cause.schema_errors):
        return _schema_message(next(iter(cause.schema_errors)))
    return _text(cause or error)
