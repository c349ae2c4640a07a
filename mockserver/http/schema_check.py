"""Request schemas compiled into plain-Python predicates, as strict as openapi-core's validator.

``OAS30WriteValidator.is_valid`` walks the schema again for every instance (descend, evolve,
type-checker lookups): some 15 µs for GeWe's three-field postImage body, a quarter of the
request's CPU under a profiler. The same rules compiled once into closures take under 1 µs.
Each keyword below follows the code of openapi-schema-validator 0.8 / jsonschema 4 that the
validator runs for it, down to its corner cases (NaN is neither below nor above a bound,
``True`` is no integer, nor is ``1.0``); formats are checked by the validator's own format
checker functions. A schema with any other keyword compiles to None, and its caller keeps
the validator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from numbers import Number
from typing import Any

from openapi_schema_validator import OAS30WriteValidator
from openapi_schema_validator._regex import has_ecma_regex

Check = Callable[[Any], bool]

# Keywords the validator does not act on (jsonschema skips keys it has no function for, and
# OAS30WriteValidator maps these to no-ops). writeOnly only matters to the read validator.
_IGNORED = frozenset({"title", "description", "default", "example", "examples", "deprecated",
                      "externalDocs", "xml", "writeOnly"})
_COMPILED = frozenset({
    "type", "nullable", "format", "enum", "readOnly", "oneOf", "anyOf", "allOf", "not",
    "minLength", "maxLength", "pattern",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "items", "minItems", "maxItems",
    "properties", "required", "additionalProperties",
})


class _Unsupported(Exception):
    pass


def compile_check(schema: Mapping[str, Any]) -> Check | None:
    """``schema`` (references already inlined) as a predicate that agrees with
    ``OAS30WriteValidator(schema, format_checker=FORMAT_CHECKER).is_valid``, or None when the
    schema uses something not compiled here."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "string": lambda value: isinstance(value, str),
    "number": _is_number,
    "integer": _is_integer,
    "boolean": lambda value: isinstance(value, bool),
    "array": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
}


def _compile(schema: Any) -> Check:
    if not isinstance(schema, Mapping):
        raise _Unsupported(schema)  # boolean schemas are not OpenAPI 3.0
    for key in schema:
        if key not in _COMPILED and key not in _IGNORED and not str(key).startswith("x-"):
            raise _Unsupported(key)
    if schema.get("readOnly"):
        return _never  # the write validator refuses any value for a read-only schema
    checks = [_typed(schema)]
    if "enum" in schema:
        checks.append(_enum(schema["enum"]))
    if "format" in schema:
        checks.append(_format(schema["format"]))
    for keyword, combine in (("allOf", all), ("anyOf", any), ("oneOf", _exactly_one)):
        if keyword in schema:
            checks.append(_combined(schema[keyword], combine))
    if "not" in schema:
        negated = _compile(schema["not"])
        checks.append(lambda value: not negated(value))
    return _all(checks)


def _all(checks: list[Check]) -> Check:
    checks = [check for check in checks if check is not _always]
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def check(value: Any) -> bool:
        for each in checks:
            if not each(value):
                return False
        return True
    return check


def _typed(schema: Mapping[str, Any]) -> Check:
    """``type`` with ``nullable``, and the keywords that look at one type of value only.

    Those let values of other types through, so each group is checked behind its type's test;
    the group of the schema's own type goes behind the type check itself.
    """
    groups = {name: inner for name, inner in (
        ("string", _string(schema)), ("number", _number(schema)),
        ("array", _array(schema)), ("object", _object(schema)),
    ) if inner is not None}
    checks: list[Check] = []
    if "type" in schema:
        kind = schema["type"]
        if not isinstance(kind, str) or kind not in _TYPES:
            raise _Unsupported(kind)  # jsonschema raises UnknownType
        is_kind: Check
        inner: Check
        if kind == "string" and schema.get("format") == "binary":
            is_kind, inner = _str_or_bytes, _always  # the validator's allowance for bytes
        else:
            is_kind, inner = _TYPES[kind], groups.pop(kind, _always)
        own = is_kind if inner is _always else lambda value: is_kind(value) and inner(value)
        checks.append(_or_null(own) if schema.get("nullable") is True else own)
    checks.extend(_only_for(_TYPES[name], inner) for name, inner in groups.items())
    return _all(checks)


def _or_null(check: Check) -> Check:
    return lambda value: value is None or check(value)


def _str_or_bytes(value: Any) -> bool:
    return isinstance(value, (str, bytes))


def _only_for(is_type: Check, inner: Check) -> Check:
    return lambda value: not is_type(value) or inner(value)


def _string(schema: Mapping[str, Any]) -> Check | None:
    checks = []
    if "minLength" in schema:
        low = _count(schema["minLength"])
        checks.append(lambda text: not len(text) < low)  # len() counts code points
    if "maxLength" in schema:
        high = _count(schema["maxLength"])
        checks.append(lambda text: not len(text) > high)
    if "pattern" in schema:
        checks.append(_pattern(schema["pattern"]))
    return _all(checks) if checks else None


def _pattern(pattern: Any) -> Check:
    # With the optional `regress` package installed the validator switches to ECMA 262 regexes.
    if not isinstance(pattern, str) or has_ecma_regex():
        raise _Unsupported(pattern)
    try:
        search = re.compile(pattern).search  # re.search, as jsonschema: not anchored
    except re.error as exc:
        raise _Unsupported(pattern) from exc
    return lambda text: search(text) is not None


def _number(schema: Mapping[str, Any]) -> Check | None:
    # OpenAPI 3.0 (draft 4): exclusiveMinimum/Maximum are booleans qualifying minimum/maximum.
    # The comparisons are written as the validator's, so that NaN passes both as it does there.
    checks = []
    if "minimum" in schema:
        low = _bound(schema["minimum"])
        if schema.get("exclusiveMinimum", False):
            checks.append(lambda number: not number <= low)
        else:
            checks.append(lambda number: not number < low)
    if "maximum" in schema:
        high = _bound(schema["maximum"])
        if schema.get("exclusiveMaximum", False):
            checks.append(lambda number: not number >= high)
        else:
            checks.append(lambda number: not number > high)
    return _all(checks) if checks else None


def _array(schema: Mapping[str, Any]) -> Check | None:
    checks = []
    if "minItems" in schema:
        low = _count(schema["minItems"])
        checks.append(lambda items: not len(items) < low)
    if "maxItems" in schema:
        high = _count(schema["maxItems"])
        checks.append(lambda items: not len(items) > high)
    if "items" in schema:
        item = _compile(schema["items"])
        checks.append(lambda items: all(item(each) for each in items))
    return _all(checks) if checks else None


def _object(schema: Mapping[str, Any]) -> Check | None:
    if not {"properties", "required", "additionalProperties"} & schema.keys():
        return None
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise _Unsupported(properties)
    compiled = {name: _compile(sub) for name, sub in properties.items()}
    required = _required(schema.get("required", []), properties)
    extra = schema.get("additionalProperties", True)
    if isinstance(extra, dict):
        extra = _compile(extra)
    elif not isinstance(extra, bool):
        raise _Unsupported(extra)  # neither a schema nor a boolean: the validator ignores it
    if extra is True or extra is _always:
        checked = tuple((name, check) for name, check in compiled.items() if check is not _always)

        def check(value: dict[Any, Any]) -> bool:
            for name in required:
                if name not in value:
                    return False
            for name, each in checked:
                if name in value and not each(value[name]):
                    return False
            return True
        return check
    other = _never if extra is False else extra

    def check_all(value: dict[Any, Any]) -> bool:
        for name in required:
            if name not in value:
                return False
        for name, each in value.items():
            if not compiled.get(name, other)(each):
                return False
        return True
    return check_all


def _required(names: Any, properties: Mapping[str, Any]) -> tuple[str, ...]:
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise _Unsupported(names)
    # The write validator does not ask for a missing property whose schema is read-only.
    return tuple(name for name in names
                 if not (properties.get(name) and properties[name].get("readOnly", False)))


def _enum(members: Any) -> Check:
    """Membership as jsonschema's ``equal`` decides it: ``True`` is not ``1``, ``1.0`` is."""
    if not isinstance(members, list) or not all(
            member is None or isinstance(member, (str, int, float)) for member in members):
        raise _Unsupported(members)
    flags = frozenset(member for member in members if isinstance(member, bool))
    others = frozenset(member for member in members if not isinstance(member, bool))

    def check(value: Any) -> bool:
        if isinstance(value, bool):
            return value in flags
        if isinstance(value, (list, dict)):
            return False
        return value in others
    return check


def _format(name: Any) -> Check:
    """The format checker's own function for ``name``, called as its ``check`` calls it."""
    if not isinstance(name, str):
        raise _Unsupported(name)
    registered = OAS30WriteValidator.FORMAT_CHECKER.checkers.get(name)
    if registered is None:
        return _always  # formats the checker does not know pass, as they do there
    conforms, raises = registered

    def check(value: Any) -> bool:
        if value is None:  # OpenAPI's format keyword leaves null to `type`
            return True
        try:
            return bool(conforms(value))
        except raises:
            return False
    return check


def _combined(schemas: Any, combine: Callable[[Any], bool]) -> Check:
    if not isinstance(schemas, list):
        raise _Unsupported(schemas)
    checks = tuple(_compile(sub) for sub in schemas)
    return lambda value: combine(check(value) for check in checks)


def _exactly_one(results: Any) -> bool:
    return sum(results) == 1


def _count(limit: Any) -> int:
    if not _is_integer(limit):
        raise _Unsupported(limit)
    return limit


def _bound(limit: Any) -> int | float:
    if not isinstance(limit, (int, float)) or isinstance(limit, bool):
        raise _Unsupported(limit)
    return limit
