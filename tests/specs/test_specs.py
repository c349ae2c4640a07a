"""The specs are valid OpenAPI 3.0, and every example in them validates against its schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

from chatimg import LarkCode
from mockserver.specs import read_spec, spec_names
from mockserver.vendors.lark.errors import error_table


@pytest.mark.parametrize("name", spec_names())
def test_spec_passes_openapi_spec_validator(name: str) -> None:
    validate_spec(read_spec(name))


@pytest.mark.parametrize("name", spec_names())
def test_every_operation_has_an_operation_id(name: str) -> None:
    document = read_spec(name)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation.get("operationId"), f"{method.upper()} {path}"


def _resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _examples(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example of a media type, parameter or schema,
    callbacks included."""

    def walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any], Any]]:
        node = _resolve(document, node)
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, f"{where}[{i}]")
            return
        if not isinstance(node, dict):
            return
        if "schema" in node and ("example" in node or "examples" in node):
            schema = _resolve(document, node["schema"])
            if "example" in node:
                yield where, schema, node["example"]
            for name, example in node.get("examples", {}).items():
                yield f"{where}.examples.{name}", schema, _resolve(document, example)["value"]
        for key, value in node.items():
            if key not in ("example", "examples"):
                yield from walk(value, f"{where}.{key}")

    yield from walk(document["paths"], "paths")


@pytest.mark.parametrize("name", spec_names())
def test_every_example_validates_against_its_schema(name: str) -> None:
    document = read_spec(name)
    checked = 0
    for where, schema, example in _examples(document):
        resolver_schema = {**schema, "components": document.get("components", {})}
        validator = OAS30Validator(resolver_schema)
        errors = [e.message for e in validator.iter_errors(example)]
        assert not errors, f"{name} {where}: {errors}"
        checked += 1
    assert checked > 0


def _example_codes(document: dict[str, Any]) -> set[Any]:
    return {example.get("code") for _, _, example in _examples(document) if isinstance(example, dict)}


def test_lark_spec_names_every_documented_error_code() -> None:
    documented = {234001, 234002, 234005, 234006, 234007, 234008, 234010, 234011, 234041,
                  234042, 99991661, 99991663, 99991400, 10003, 10014}
    assert documented <= set(error_table().codes)
    assert set(error_table().codes) - {230002, 230006} <= _example_codes(read_spec("lark"))


def test_lark_examples_answer_as_the_error_table_says() -> None:
    document = read_spec("lark")
    texts = {code: {entry["msg"], *entry.get("also", ())}
             for code, entry in document["x-errors"]["codes"].items()}
    checked = 0
    for where, _, example in _examples(document):
        if isinstance(example, dict) and example.get("code") in texts and "msg" in example:
            assert example["msg"] in texts[example["code"]], where
            checked += 1
    assert checked >= 20


def test_the_client_has_a_name_for_every_lark_code_of_the_table() -> None:
    assert set(error_table().codes) <= {code.value for code in LarkCode}


def test_wid_spec_uses_the_examples_string_codes_and_records_the_contradiction() -> None:
    document = read_spec("wid")
    assert {"1000", "1001"} <= _example_codes(document)
    fields = {c["field"] for c in document["info"]["x-contradictions"]}
    assert {"code", "msgId", "msg / message", "data"} <= fields


def test_gewe_spec_keeps_new_msg_id_as_int64() -> None:
    sent = read_spec("gewe")["components"]["schemas"]["SentImage"]["properties"]
    assert sent["newMsgId"] == {**sent["newMsgId"], "type": "integer", "format": "int64"}
