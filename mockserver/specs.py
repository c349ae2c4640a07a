"""The specs, read once, and the table of operations the routes are built from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import yaml
from openapi_core import Config, OpenAPI

from .data_files import data_dir
from .errors import SpecError

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def spec_names() -> tuple[str, ...]:
    """Every spec the kit ships: one per vendor, and the mock's own (admin)."""
    return tuple(sorted(path.name.removesuffix(".yaml") for path in data_dir("specs").iterdir()
                        if path.name.endswith(".yaml")))


def read_spec(name: str) -> dict[str, Any]:
    """The spec document ``name`` as plain data."""
    source = data_dir("specs") / f"{name}.yaml"
    try:
        document = yaml.load(source.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"cannot read spec {name!r}: {exc}") from exc
    if not isinstance(document, dict) or "paths" not in document:
        raise SpecError(f"spec {name!r} is not an OpenAPI document")
    return document


@dataclass(frozen=True)
class Operation:
    """One operation of a spec, as the router and the validator need it."""

    api: str
    operation_id: str
    method: str
    path: str
    security: tuple[str, ...]
    request_media_types: tuple[str, ...]

    @property
    def flask_rule(self) -> str:
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)


@dataclass(frozen=True)
class ApiSpec:
    """A loaded spec: its document, its operations, and openapi-core's view of it."""

    name: str
    document: dict[str, Any]

    @cached_property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(_operations(self.name, self.document))

    @cached_property
    def openapi(self) -> OpenAPI:
        # The specs are checked by openapi-spec-validator in the test suite, not at each start.
        return OpenAPI.from_dict(self.document, config=Config(spec_validator_cls=None))



@cache
def load_spec(name: str) -> ApiSpec:
    """The spec ``name``, read once per process: apps made later share it (read-only)."""
    return ApiSpec(name, read_spec(name))


def _operations(api: str, document: dict[str, Any]):
    default_security = document.get("security", [])
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if "operationId" not in operation:
                raise SpecError(f"{api}: {method.upper()} {path} has no operationId")
            security = operation.get("security", default_security)
            body = operation.get("requestBody", {})
            yield Operation(
                api=api,
                operation_id=operation["operationId"],
                method=method.upper(),
                path=path,
                security=tuple(name for requirement in security for name in requirement),
                request_media_types=tuple(body.get("content", {})),
            )
