"""httpx requests and responses as openapi-core reads them, and the spec's verdict on a reply."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from jsonschema.exceptions import ValidationError
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from mockserver.specs import ApiSpec


class OpenAPIHttpxRequest:
    def __init__(self, request: httpx.Request):
        self._request = request
        request.read()  # multipart bodies are streams until read
        url = urlsplit(str(request.url))
        self.host_url = f"{url.scheme}://{url.netloc}"
        self.path = url.path
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(httpx.QueryParams(url.query).multi_items()),
            header=Headers(list(request.headers.items())), cookie={})

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes:
        return self._request.content

    @property
    def content_type(self) -> str:
        return self._request.headers.get("content-type", "")


class OpenAPIHttpxResponse:
    def __init__(self, response: httpx.Response):
        self._response = response
        self.headers = Headers(list(response.headers.items()))

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def content_type(self) -> str:
        return self._response.headers.get("content-type", "").lower()

    @property
    def data(self) -> bytes:
        return self._response.content


def response_problems(spec: ApiSpec, request: httpx.Request, response: httpx.Response) -> list[str]:
    """What is wrong with ``response`` by the spec; empty when it conforms."""
    result = spec.openapi.unmarshal_response(OpenAPIHttpxRequest(request),
                                             OpenAPIHttpxResponse(response))
    return [_describe(error) for error in result.errors]


def _describe(error: Exception) -> str:
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None)
    if schema_errors:
        return "the body does not match the spec: " + "; ".join(
            schema_error_text(e) for e in schema_errors)
    return f"{type(error).__name__}: {cause or error}"


def schema_error_text(error: ValidationError) -> str:
    """Where and what; for a oneOf, the errors of the branch that came closest."""
    if error.context:
        branches: dict[object, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        closest = min(branches.values(), key=len)
        return "; ".join(schema_error_text(sub) for sub in closest)
    where = "/".join(map(str, error.absolute_path)) or "body"
    return f"{where}: {error.message}"
