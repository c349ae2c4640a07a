"""The fast validation path never accepts what openapi-core refuses, nor changes the values."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from _support import GEWE_APP_ID, GEWE_TOKEN, WID_AUTHORIZATION
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_tests.strategies import SchemaResolver, from_schema, invalid_body
from mockserver import MockConfig, create_app
from mockserver.errors import RequestProblem
from mockserver.http.validation import RequestValidator
from mockserver.specs import load_spec, spec_names

APP = create_app(MockConfig())
CASES = [(name, op) for name in spec_names() for op in load_spec(name).operations]
CONTENT_TYPES = st.sampled_from([None, "application/json", "application/json; charset=utf-8",
                                 "text/plain", "application/x-www-form-urlencoded"])
CREDENTIALS = st.fixed_dictionaries({}, optional={
    "X-GEWE-TOKEN": st.sampled_from(["", "t", GEWE_TOKEN]),
    "Authorization": st.sampled_from(["", "Bearer", "Bearer ", "Bearer t-1", "bearer t-1",
                                      "Basic x", WID_AUTHORIZATION]),
    "X-Chatimg-Admin-Token": st.just("x"),
})


def requests_for(name: str, operation: Any) -> st.SearchStrategy[dict[str, Any]]:
    spec = load_spec(name)
    resolver = SchemaResolver(spec.document)
    item = spec.document["paths"][operation.path][operation.method.lower()]
    params = {p["name"]: from_schema(p["schema"], resolver) | st.text(max_size=6)
              for p in item.get("parameters", []) if p["in"] == "path"}
    # each query parameter: absent, once (valid or any text), or twice
    query = {p["name"]: st.lists(from_schema(p["schema"], resolver).map(str)
                                 | st.sampled_from(["", "-1", "01", "+2", "1.5", " 3", "x"])
                                 | st.text(max_size=6), max_size=2)
             for p in item.get("parameters", []) if p["in"] == "query"}
    media = item.get("requestBody", {}).get("content", {}).get("application/json")
    if media:
        schema = media["schema"]
        bodies = (from_schema(schema, resolver).map(json.dumps)
                  | invalid_body(schema, resolver).map(lambda case: json.dumps(case[1]))
                  | st.sampled_from(["", "{", "[]", "null", '{"a": NaN}']))
    else:
        bodies = st.just("")
    return st.fixed_dictionaries({
        "path": st.fixed_dictionaries(params).filter(
            lambda p: all(v and "/" not in v and v not in (".", "..") for v in p.values())),
        "query": st.fixed_dictionaries(query),
        "body": bodies, "content_type": CONTENT_TYPES, "headers": CREDENTIALS})


def outcome(validate, request) -> Any:
    try:
        valid = validate(request)
    except RequestProblem as problem:
        return ("refused", problem.location, problem.field, problem.reason)
    return ("accepted", dict(valid.path), dict(valid.query), valid.body)


@pytest.mark.parametrize("name, operation", CASES, ids=[f"{n}.{o.operation_id}" for n, o in CASES])
def test_fast_path_agrees_with_openapi_core(name: str, operation: Any) -> None:
    validator = RequestValidator(load_spec(name))

    @settings(max_examples=60, deadline=None)
    @given(case=requests_for(name, operation))
    def agree(case: dict[str, Any]) -> None:
        path = operation.path.format(**{k: quote(v, safe="") for k, v in case["path"].items()})
        query = urlencode([(name, value) for name, values in case["query"].items()
                           for value in values])
        path += f"?{query}" if query else ""
        headers = dict(case["headers"])
        if case["content_type"]:
            headers["Content-Type"] = case["content_type"]
        with APP.test_request_context(path, method=operation.method,
                                      data=case["body"].encode(), headers=headers) as context:
            request = context.request
            fast = outcome(lambda r: validator.validate(operation, r), request)
            judge = outcome(lambda r: validator.validate_with_openapi_core(operation, r), request)
        assert fast == judge

    agree()


def test_fast_path_is_compiled_for_the_json_operations() -> None:
    fast = {name: set(RequestValidator(load_spec(name))._fast) for name in ("gewe", "wid", "lark")}
    assert fast["gewe"] == {"postImage", "downloadImage", "forwardImage", "setCallback"}
    assert fast["wid"] == {"getMsgImg", "setHttpCallbackUrl"}
    # upload is multipart
    assert fast["lark"] == {"getTenantAccessToken", "getImage", "getMessageResource",
                            "sendMessage"}
    admin = set(RequestValidator(load_spec("admin"))._fast)
    assert {"listImages", "listImagesByAccount", "getJournal"} <= admin  # (the dashboard's reads)


# Python's json takes these; a careful vendor's parser (and so the mock) refuses them.
NON_STANDARD_JSON = {
    "NaN": (b"NaN", "NaN is not a JSON number"),
    "-Infinity": (b"-Infinity", "-Infinity is not a JSON number"),
    "overflow": (b"-1e400", "beyond the range of a double"),
    "surrogate escape": (b'{"\\udfff": 1}', "unpaired surrogate"),
    "encoded surrogate": (b'"\xed\xb0\x80"', "can't decode"),
    "nesting": (b"[" * 100_000, "nested too deeply"),
}
JSON_OPERATIONS = {  # a fast-path operation, one openapi-core alone judges, an admin route
    "postImage": ("gewe", "/gewe/v2/api/message/postImage",
                  b'{"appId": "%s", "toWxid": "x", "imgUrl": "http://x/1x1", "note": %%s}'
                  % GEWE_APP_ID.encode()),
    "sendMessage": ("lark", "/open-apis/im/v1/messages?receive_id_type=open_id",
                    b'{"receive_id": "ou_a", "msg_type": "image", "content": "{}", "note": %s}'),
    "armRule": ("admin", "/__admin/rules",
                b'{"operation": "postImage", "error": "x", "match": {"note": %s}}'),
}


@pytest.mark.parametrize("value, reason", NON_STANDARD_JSON.values(), ids=NON_STANDARD_JSON)
@pytest.mark.parametrize("operation_id", JSON_OPERATIONS)
def test_both_paths_refuse_json_a_careful_vendor_refuses(operation_id: str, value: bytes,
                                                         reason: str) -> None:
    name, path, template = JSON_OPERATIONS[operation_id]
    spec = load_spec(name)
    [operation] = [op for op in spec.operations if op.operation_id == operation_id]
    validator = RequestValidator(spec)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer t-1"}
    with APP.test_request_context(path, method="POST", data=template % value,
                                  headers=headers) as context:
        for validate in (validator.validate, validator.validate_with_openapi_core):
            with pytest.raises(RequestProblem) as refused:
                validate(operation, context.request)
            assert (refused.value.location, refused.value.reason) == ("body", "invalid")
            assert reason in refused.value.detail
