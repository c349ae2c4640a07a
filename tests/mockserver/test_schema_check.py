"""The compiled schema checks agree with the jsonschema validator openapi-core uses."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi_schema_validator import OAS30WriteValidator

from contract_tests.strategies import SchemaResolver, from_schema
from mockserver.http.schema_check import compile_check
from mockserver.specs import HTTP_METHODS, load_spec, spec_names


def request_schemas() -> Iterator[tuple[str, str, Any]]:
    """(spec, what, schema inlined) for the JSON bodies and path parameters of the requests."""
    for name in spec_names():
        document = load_spec(name).document
        resolver = SchemaResolver(document)
        for item in document["paths"].values():
            for method in HTTP_METHODS:
                operation = item.get(method)
                if operation is None:
                    continue
                body = resolver.inline(operation.get("requestBody", {}))
                media = body.get("content", {}).get("application/json")
                if media is not None:
                    yield name, f"{operation['operationId']}.body", media.get("schema", {})
                for parameter in (*item.get("parameters", ()), *operation.get("parameters", ())):
                    parameter = resolver.inline(parameter)
                    if parameter["in"] == "path":
                        yield (name, f"{operation['operationId']}.{parameter['name']}",
                               parameter["schema"])


def component_schemas() -> Iterator[tuple[str, str, Any]]:
    """The specs' other schemas, for keywords the requests do not use (yet)."""
    for name in spec_names():
        document = load_spec(name).document
        resolver = SchemaResolver(document)
        for schema_name, schema in document.get("components", {}).get("schemas", {}).items():
            yield name, schema_name, resolver.inline(schema)


REQUEST_SCHEMAS = list(request_schemas())
SCHEMAS = REQUEST_SCHEMAS + list(component_schemas())


def judge(schema: Mapping[str, Any]) -> OAS30WriteValidator:
    return OAS30WriteValidator(schema, format_checker=OAS30WriteValidator.FORMAT_CHECKER)


def property_names(schema: Any) -> set[str]:
    if isinstance(schema, list):
        return set().union(*map(property_names, schema))
    if not isinstance(schema, Mapping):
        return set()
    own = schema.get("properties")
    return set(own if isinstance(own, Mapping) else ()).union(*map(property_names,
                                                                    schema.values()))


EDGES = [0, 1, -1, 0.0, -0.0, 1.0, 1.5, True, False, None, "", " ", "\n", "0", "e\u0301",
         "\U0001f600", 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, -(2**63),
         -(2**63) - 1, 2**64, math.nan, math.inf, -math.inf, [], {}]


def json_values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = (st.sampled_from(EDGES) | st.booleans() | st.integers() | st.floats()
               | st.text(max_size=8))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(keys, inner, max_size=4), max_leaves=12)


GONE = object()
Place = tuple[Any, ...]


def places(value: Any, names: list[str], at: Place = ()) -> Iterator[Place]:
    """Where a value could change: every node, and every property a dict could gain."""
    yield at
    if isinstance(value, dict):
        for key in value:
            yield from places(value[key], names, (*at, key))
        yield from ((*at, name) for name in (*names, "unknown") if name not in value)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from places(item, names, (*at, index))
        yield (*at, len(value))


def put(value: Any, at: Place, new: Any) -> Any:
    """A copy of ``value`` with ``new`` at ``at`` (or nothing there, for ``GONE``)."""
    if not at:
        return new
    head, rest = at[0], at[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    if rest:
        copy[head] = put(value[head], rest, new)
    elif new is not GONE:
        if isinstance(copy, list) and head == len(copy):
            copy.append(new)
        else:
            copy[head] = new
    elif isinstance(copy, dict):
        copy.pop(head, None)
    elif head < len(copy):
        del copy[head]
    return copy


def get(value: Any, at: Place) -> Any:
    for step in at:
        try:
            value = value[step]
        except (LookupError, TypeError):
            return GONE
    return value


def neighbours(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value[1:], value[:-1], value + "\n", "\n" + value, value + "x", value.upper()]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return []
    near = [value + 1, value - 1, -value]
    if isinstance(value, int) and value.bit_length() < 1000:  # else float() overflows
        near.append(float(value))
    return near


@pytest.mark.parametrize("spec, what, schema", SCHEMAS, ids=[f"{s}.{w}" for s, w, _ in SCHEMAS])
def test_compiled_check_agrees_with_the_validator(spec: str, what: str, schema: Any) -> None:
    """On values the schema accepts or any JSON, and at one place in them on every edge case
    (wrong types, integer and float bounds, odd strings) and on the value's neighbours."""
    check, validator = compile_check(schema), judge(schema)
    if check is None:
        pytest.skip("not compiled: the fast path keeps the validator for it")
    names = sorted(property_names(schema))
    keys = st.sampled_from(names or [""]) | st.text(max_size=5)
    values = from_schema(schema, SchemaResolver(load_spec(spec).document)) | json_values(keys)

    @given(value=values, data=st.data())
    def agree(value: Any, data: st.DataObject) -> None:
        at = data.draw(st.sampled_from(list(places(value, names))), label="place")
        old = get(value, at)
        for new in (old, GONE, *EDGES, *neighbours(old), data.draw(json_values(keys))):
            instance = put(value, at, new)
            assert check(instance) == validator.is_valid(instance), instance

    agree()


@pytest.mark.parametrize("spec, what, schema", REQUEST_SCHEMAS,
                         ids=[f"{s}.{w}" for s, w, _ in REQUEST_SCHEMAS])
def test_every_request_schema_in_the_specs_compiles(spec: str, what: str, schema: Any) -> None:
    """Not needed for correctness (the validator stands in), but for the fast path's speed."""
    assert compile_check(schema) is not None


MSG_ID = {"oneOf": [{"type": "string", "minLength": 1}, {"type": "integer", "format": "int64"}]}
READ_ONLY_ID = {"type": "object", "required": ["id", "name"],
                "properties": {"id": {"type": "string", "readOnly": True},
                               "name": {"type": "string"}}}
CLOSED = {"type": "object", "properties": {"a": {}}, "additionalProperties": False}


@pytest.mark.parametrize("schema, value, valid", [
    # bool is neither integer nor number; an integral float is no integer in OAS 3.0 either
    ({"type": "integer"}, True, False),
    ({"type": "integer"}, 1.0, False),
    ({"type": "integer"}, 2**100, True),
    ({"type": "number"}, False, False),
    ({"type": "number"}, 1, True),
    ({"type": "boolean"}, 0, False),
    # int32/int64 bound integers only; bools, floats and strings pass the format
    ({"type": "integer", "format": "int64"}, 2**63 - 1, True),
    ({"type": "integer", "format": "int64"}, 2**63, False),
    ({"type": "integer", "format": "int64"}, -(2**63), True),
    ({"type": "integer", "format": "int64"}, -(2**63) - 1, False),
    ({"format": "int32"}, 2**31, False),
    ({"format": "int32"}, -(2**31), True),
    ({"format": "int32"}, "99999999999", True),
    ({"format": "int64"}, 1e300, True),
    ({"format": "float"}, 1, True),
    ({"format": "not-a-format-anyone-checks"}, 1, True),
    (MSG_ID, "12", True),
    (MSG_ID, 12, True),
    (MSG_ID, "", False),
    (MSG_ID, 2**63, False),
    # nullable only lets null past `type`, and only when it is exactly true
    ({"type": "string", "nullable": True}, None, True),
    ({"type": "string"}, None, False),
    ({"type": "string", "nullable": "yes"}, None, False),
    ({"nullable": True, "enum": ["a"]}, None, False),
    ({"nullable": True, "enum": [None]}, None, True),
    ({"type": "integer", "nullable": True, "minimum": 1, "format": "int32"}, None, True),
    # the write validator refuses read-only values and does not require them
    (READ_ONLY_ID, {"name": "x"}, True),
    (READ_ONLY_ID, {"id": "1", "name": "x"}, False),
    ({"type": "string", "readOnly": True}, "x", False),
    ({"type": "string", "writeOnly": True}, "x", True),
    # lengths count code points, not UTF-16 units or bytes
    ({"type": "string", "minLength": 2, "maxLength": 2}, "\U0001f600\U0001f600", True),
    ({"type": "string", "minLength": 2}, "\U0001f600", False),
    ({"type": "string", "maxLength": 1}, "e\u0301", False),
    # patterns are searched for, not matched, with Python's `$`
    ({"type": "string", "pattern": "^ou_"}, "ou_1", True),
    ({"type": "string", "pattern": "^ou_"}, "xou_1", False),
    ({"type": "string", "pattern": "ro"}, "chatroom", True),
    ({"type": "string", "pattern": "@chatroom$"}, "1@chatroom\n", True),
    ({"type": "string", "pattern": "@chatroom$"}, "1@chatroom.", False),
    ({"pattern": "^x$"}, 5, True),
    (CLOSED, {"a": 1}, True),
    (CLOSED, {"a": 1, "b": 2}, False),
    ({"additionalProperties": {"type": "integer"}, "properties": {"s": {"type": "string"}}},
     {"s": "x", "n": 1}, True),
    ({"additionalProperties": {"type": "integer"}}, {"n": "1"}, False),
    ({"type": "object", "required": ["a"]}, {"b": 1}, False),
    ({"required": ["a"]}, [], True),
    # draft 4 bounds: exclusive* are booleans; NaN is neither below nor above anything
    ({"type": "number", "minimum": 0, "exclusiveMinimum": True}, 0, False),
    ({"type": "number", "minimum": 0, "exclusiveMinimum": True}, 0.1, True),
    ({"type": "number", "maximum": 1}, 1, True),
    ({"type": "number", "maximum": 1, "exclusiveMaximum": True}, 1, False),
    ({"type": "number", "exclusiveMinimum": True}, -5, True),
    ({"type": "number", "minimum": 0}, math.nan, True),
    ({"type": "number", "maximum": 0, "exclusiveMaximum": True}, math.nan, True),
    ({"minimum": 0}, True, True),
    ({"type": "integer", "minimum": 2**63}, 2**63 - 1, False),
    # enum equality as jsonschema's: True is not 1, 1.0 is
    ({"enum": [1, 2, 3]}, True, False),
    ({"enum": [1, 2, 3]}, 1.0, True),
    ({"enum": [True]}, 1, False),
    ({"enum": [0]}, False, False),
    ({"enum": ["1"]}, 1, False),
    ({"enum": [1]}, [1], False),
    ({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2}, ["a"], True),
    ({"type": "array", "items": {"type": "string"}}, ["a", 1], False),
    ({"type": "array", "minItems": 1}, [], False),
    ({"type": "array", "maxItems": 1}, [1, 2], False),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, 1.5, False),
    ({"allOf": [{"minLength": 1}, {"maxLength": 1}]}, "ab", False),
    ({"not": {"enum": [0]}}, 0, False),
    ({"not": {"enum": [0]}}, 1, True),
    ({"oneOf": [{"type": "number"}, {"type": "integer"}]}, 1, False),
    ({"description": "d", "example": 1, "default": 2, "title": "t", "x-extra": 3}, "x", True),
])
def test_keyword_edge_cases(schema: dict[str, Any], value: Any, valid: bool) -> None:
    check = compile_check(schema)
    assert check is not None
    assert (check(value), judge(schema).is_valid(value)) == (valid, valid)


@pytest.mark.parametrize("schema", [
    {"multipleOf": 2},
    {"uniqueItems": True},
    {"minProperties": 1},
    {"maxProperties": 1},
    {"patternProperties": {"^a": {}}, "additionalProperties": False},
    {"$ref": "#/components/schemas/Thing"},
    {"oneOf": [{"type": "object"}], "discriminator": {"propertyName": "kind"}},
    {"type": "null"},
    {"type": ["string", "integer"]},
    {"items": [{"type": "string"}]},
    {"properties": {"a": True}},
    {"properties": {"a": {"type": "string", "minLenght": 1}}},
    {"additionalProperties": {"uniqueItems": True}},
    {"enum": [[1]]},
    {"pattern": "("},
    {"minLength": "1"},
    {"id": "thing"},
])
def test_keywords_not_compiled_give_none(schema: dict[str, Any]) -> None:
    assert compile_check(schema) is None
