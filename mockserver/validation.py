"""Request validation against the specs: the one place that asks openapi-core.

Handlers receive only what passed; anything else becomes a ``RequestProblem`` that the vendor
words in its own envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Request
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.validation.request import exceptions as request_errors
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import RequestProblem
from .specs import ApiSpec, Operation


@dataclass(frozen=True)
class ValidRequest:
    """A request that matched its operation: parameters cast by the spec, body unmarshalled."""

    path: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    header: Mapping[str, Any] = field(default_factory=dict)
    body: Any = None


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
    """Validates requests for the operations of one spec."""

    def __init__(self, spec: ApiSpec):
        self._openapi = spec.openapi

    def validate(self, operation: Operation, request: Request) -> ValidRequest:
        try:
            request.get_data()  # read (and cap) the body once, before openapi-core looks at it
        except RequestEntityTooLarge as exc:
            raise RequestProblem("body", None, "too_large",
                                 f"the body is larger than {request.max_content_length} bytes"
                                 ) from exc
        try:
            result = self._openapi.unmarshal_request(_OpenAPIRequest(request, operation))
        except Exception as exc:  # openapi-core asserts on some malformed bodies (multipart)
            raise RequestProblem("body", None, "invalid",
                                 f"the request body cannot be read: {_text(exc)}") from exc
        if result.errors:
            raise _problem(result.errors[0])
        parameters = result.parameters
        return ValidRequest(
            path=parameters.path, query=parameters.query, header=parameters.header,
            body=result.body,
        )


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
        schema_errors = list(cause.schema_errors)
        if schema_errors:
            first = min(schema_errors, key=lambda e: len(e.absolute_path))
            if first.validator == "required":
                name = _missing_property(first)
                return RequestProblem("body", name, "missing", f"body field {name} is required")
            location = ".".join(str(p) for p in first.absolute_path) or None
            message = first.message
            if first.validator in ("oneOf", "anyOf"):
                message = f"{first.instance!r} is not of an allowed type"
            name = f"body field {location}" if location else "the body"
            return RequestProblem("body", location, "invalid", f"{name} is not valid: {message}")
    return RequestProblem("body", None, "invalid",
                          f"the request body cannot be read: {_text(cause or error)}")


def _text(error: BaseException) -> str:
    # openapi-core's deserialisation errors decode the body to describe it, which can fail
    try:
        return str(error)
    except Exception:
        return type(error).__name__


def _missing_property(error: Any) -> str:
    # jsonschema words it "'imgUrl' is a required property"
    message: str = error.message
    return message.split("'")[1] if message.count("'") >= 2 else message


def _cause(error: Exception) -> str:
    cause = error.__cause__
    if isinstance(cause, InvalidSchemaValue) and list(cause.schema_errors):
        return list(cause.schema_errors)[0].message
    return _text(cause or error)
