"""Hypothesis strategies derived from the specs' schemas, never written per field.

``from_schema`` turns an OpenAPI 3.0 schema into a strategy of values it accepts;
``invalid_body`` turns an object schema into a strategy of bodies it refuses. Together with
the operation table they give ``request_cases``, valid and invalid, for any operation.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator

Schema = Mapping[str, Any]
INT64 = (-(2**63), 2**63 - 1)
# Readable text that survives JSON and HTTP round trips; the servers must take any of it.
TEXT = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))


class SchemaResolver:
    """Follows ``$ref`` pointers within one spec document."""

    def __init__(self, document: Mapping[str, Any]):
        self.document = document

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            node: Any = self.document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def inline(self, schema: Any) -> Any:
        """A copy of ``schema`` with every reference replaced by what it points at."""
        if isinstance(schema, Mapping):
            resolved = self.resolve(schema)
            return {key: self.inline(value) for key, value in resolved.items()}
        if isinstance(schema, list):
            return [self.inline(item) for item in schema]
        return schema

    def validator(self, schema: Schema) -> OAS30Validator:
        return OAS30Validator(self.inline(schema))


def from_schema(schema: Schema, resolver: SchemaResolver, *,
                hints: Mapping[str, st.SearchStrategy[Any]] | None = None,
                extra_properties: bool = False) -> st.SearchStrategy[Any]:
    """Values valid for ``schema``. ``hints`` replaces the strategy of named object properties
    (e.g. known-good ids, so requests reach success paths); ``extra_properties`` adds unknown
    keys to objects that allow them, as vendors do when they extend a reply."""
    build = partial(from_schema, resolver=resolver, hints=hints, extra_properties=extra_properties)
    schema = resolver.resolve(schema)
    strategy = _base(schema, resolver, build, hints or {}, extra_properties)
    if schema.get("nullable") and "enum" not in schema:
        strategy = st.none() | strategy
    return strategy


def _base(schema: Schema, resolver: SchemaResolver, build: Callable[..., Any],
          hints: Mapping[str, st.SearchStrategy[Any]], extra: bool) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            branches = st.one_of([build(branch) for branch in schema[keyword]])
            if keyword == "oneOf":
                validator = resolver.validator(schema)
                return branches.filter(validator.is_valid)
            return branches
    kind = schema.get("type")
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        low, high = INT64 if schema.get("format") == "int64" else (-(2**31), 2**31 - 1)
        return st.integers(schema.get("minimum", low), schema.get("maximum", high))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"),
                         allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(build(schema.get("items", {})), min_size=schema.get("minItems", 0),
                        max_size=schema.get("maxItems", 3))
    if kind == "object" or "properties" in schema:
        return _object(schema, build, hints, extra)
    return _any_json()


def _string(schema: Schema) -> st.SearchStrategy[Any]:
    form = schema.get("format")
    if form == "binary":
        return st.binary(min_size=schema.get("minLength", 0), max_size=64)
    if form == "byte":
        return st.binary(max_size=48).map(lambda b: base64.b64encode(b).decode())
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if "pattern" in schema:
        pattern = schema["pattern"]
        text = st.from_regex(pattern, fullmatch=False)
        # Python's $ also matches before a final newline; the spec's (ECMA 262) $ does not.
        ecma = (lambda s: not s.endswith("\n")) if pattern.endswith("$") else (lambda s: True)
        return text.filter(lambda s: len(s) >= low and (high is None or len(s) <= high)
                           and ecma(s))
    return st.text(TEXT, min_size=low, max_size=high if high is not None else 40)


def _object(schema: Schema, build: Callable[..., Any],
            hints: Mapping[str, st.SearchStrategy[Any]], extra: bool) -> st.SearchStrategy[Any]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))

    def strategy_of(name: str) -> st.SearchStrategy[Any]:
        return hints[name] if name in hints else build(properties[name])

    fixed = {name: strategy_of(name) for name in properties if name in required}
    optional = {name: strategy_of(name) for name in properties if name not in required}
    objects = st.fixed_dictionaries(fixed, optional=optional)
    if extra and schema.get("additionalProperties", True) is not False:
        unknown = st.dictionaries(st.text(string.ascii_lowercase, min_size=3, max_size=8)
                                  .filter(lambda k: k not in properties), _any_json(),
                                  max_size=2)
        objects = st.builds(lambda known, more: {**more, **known}, objects, unknown)
    return objects


def _any_json() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.text(TEXT, max_size=10)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(TEXT, max_size=5), inner, max_size=3),
                        max_leaves=5)


def _wrong_type(schema: Schema) -> st.SearchStrategy[Any]:
    """A value of a JSON type the schema does not allow."""
    kinds = {"string": st.integers(), "integer": st.text(TEXT, max_size=5) | st.just(1.5),
             "number": st.text(TEXT, max_size=5), "boolean": st.integers(min_value=2),
             "array": st.integers(), "object": st.text(TEXT, max_size=5)}
    return kinds.get(schema.get("type", ""), st.just([["not", "this"]]))


def invalid_body(schema: Schema, resolver: SchemaResolver,
                 hints: Mapping[str, st.SearchStrategy[Any]] | None = None
                 ) -> st.SearchStrategy[tuple[str, Any]]:
    """(what is wrong, body) for bodies ``schema`` refuses: a required field missing, a field
    of the wrong type, or not an object at all. Every example is checked to be refused."""
    schema = resolver.resolve(schema)
    valid = from_schema(schema, resolver, hints=hints)
    properties = schema.get("properties", {})
    cases: list[st.SearchStrategy[tuple[str, Any]]] = [
        st.tuples(st.just("body is not an object"), st.lists(st.integers(), max_size=2)
                  | st.text(TEXT, max_size=5))]
    for name in schema.get("required", ()):
        def field_missing(body: dict[str, Any], name: str = name) -> tuple[str, Any]:
            return (f"required field {name} missing",
                    {k: v for k, v in body.items() if k != name})

        cases.append(valid.map(field_missing))
    for name, prop in properties.items():
        prop = resolver.resolve(prop)
        if "oneOf" in prop or "anyOf" in prop:
            continue

        def field_mistyped(pair: tuple[dict[str, Any], Any], name: str = name
                           ) -> tuple[str, Any]:
            return f"field {name} of the wrong type", {**pair[0], name: pair[1]}

        cases.append(st.tuples(valid, _wrong_type(prop)).map(field_mistyped))
    validator = resolver.validator(schema)
    return st.one_of(cases).filter(lambda case: not validator.is_valid(case[1]))
