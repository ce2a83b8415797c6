"""Every input is checked once at the edge (issue 20, items 5 and 7): text PostgreSQL and UTF-8 cannot hold
and numbers the protos cannot carry answer 422 naming the field, never 5xx.

The walk is generated from the gateway's own OpenAPI document (and, for the pages left out of it, from
their declared parameters), so a new route or field is covered without anyone remembering: each string
parameter gets a NUL and a lone surrogate, each integer a number no proto field holds, each string and
integer of a request body (built whole from its schema, one element in every list) the same.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.inputs import INT32, UNSTORABLE_TEXT, int_range, proto_int_ranges
from gateway.rest import Strict
from gateway.settings import GatewaySettings

UNREACHABLE = "127.0.0.1:9"
NUL, SURROGATE = "a\x00b", "a\ud800b"
URL_NUL, URL_SURROGATE = "a%00b", "a%ED%A0%80b"        # the surrogate as WTF-8/CESU-8 would spell it
TOO_LARGE, TOO_SMALL = 2**63, -(2**63) - 1             # no proto integer field holds them
# values for string fields with a pattern, tried in turn (a new pattern without a sample fails the walk)
PATTERN_SAMPLES = ["2026-01-01", "accepted", "620602", "62", "a"]


@pytest.fixture(scope="module")
def gateway(catalogue_server, oidc, verifier):
    targets = {f"{name}_target": UNREACHABLE for name in ("intake", "agency", "approval", "fees")}
    unlimited = {f"rate_limit_{b}": "1000000/minute" for b in ("lookup", "public", "callback", "login")}
    settings = GatewaySettings(catalogue_target=catalogue_server, oidc_server_url=oidc.url, **targets, **unlimited)
    return TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False, follow_redirects=False)


@pytest.fixture(scope="module")
def spec(gateway):
    return gateway.get("/openapi.json").json()


def resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        return resolve(spec, next(s for s in schema["anyOf"] if s.get("type") != "null"))
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return resolve(spec, schema["allOf"][0])
    return schema


def sample(spec: dict, schema: dict):
    """A valid value of `schema`, every optional property present and one element in every list."""
    schema = resolve(spec, schema)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        if "properties" in schema:
            return {name: sample(spec, sub) for name, sub in schema["properties"].items()}
        extra = schema.get("additionalProperties")
        return {"probe": sample(spec, extra) if isinstance(extra, dict) and extra else "text"}
    if kind == "array":
        return [sample(spec, schema.get("items", {"type": "string"}))]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), int(schema.get("exclusiveMinimum", 0)) + 1)
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if kind == "string" or not kind:
        if "pattern" in schema:
            # a choice of words (`^(a|b|c)?$`) offers its own first word
            choices = re.fullmatch(r"\^\(([\w|]+)\)\??\$", schema["pattern"])
            candidates = (choices.group(1).split("|") if choices else []) + PATTERN_SAMPLES
            found = [s for s in candidates if re.search(schema["pattern"], s)]
            assert found, f"no sample for pattern {schema['pattern']}: add one to PATTERN_SAMPLES"
            return found[0]
        return "a" * max(1, schema.get("minLength", 1))
    raise AssertionError(f"no sample for {schema}")


def leaves(value, path: str = ""):
    """(dotted path, value) of every string and integer in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}.{i}")
    elif isinstance(value, str | int) and not isinstance(value, bool):
        yield path, value


def replaced(document, path: str, new):
    if not path:
        return new
    head, _, rest = path.partition(".")
    if isinstance(document, list):
        copy = list(document)
        copy[int(head)] = replaced(copy[int(head)], rest, new)
        return copy
    return {**document, head: replaced(document[head], rest, new)}


def operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            yield method, path, op


def url(spec, path: str, op: dict, override: tuple[str, str, str] | None = None) -> tuple[str, dict]:
    """The request target: every parameter with a valid value, one of them (where, name, raw) overridden;
    the raw value is put in the URL as it is (already percent-encoded)."""
    query = []
    for param in op.get("parameters", []):
        where, name = param["in"], param["name"]
        if where not in ("path", "query"):
            continue
        value = override[2] if override and override[:2] == (where, name) else quote(str(sample(spec, param["schema"])))
        if where == "path":
            path = path.replace("{" + name + "}", value)
        elif param.get("required") or (override and override[:2] == (where, name)):
            query.append(f"{name}={value}")
    return path + ("?" + "&".join(query) if query else ""), {}


def as_json(document) -> bytes:
    """JSON as a client may send it: a lone surrogate written as its \\u escape (what JSON allows)."""
    return json.dumps(document).encode("ascii")


def assert_refused(r, field: str, what: str):
    assert r.status_code == 422, f"{what}: {r.status_code} {r.text[:300]}"
    assert r.json()["error"] == "invalid_argument" and r.json()["field"] == field, f"{what}: {r.text[:300]}"
    assert not r.json()["message"].isascii(), what


def test_every_string_and_number_parameter_of_every_operation(gateway, spec, tokens):
    headers = {"authorization": f"Bearer {tokens['county.admin']}"}
    tried = 0
    for method, path, op in operations(spec):
        for param in op.get("parameters", []):
            if param["in"] not in ("path", "query"):
                continue
            schema = resolve(spec, param["schema"])
            where, name = param["in"], param["name"]
            bad = {"string": [URL_NUL, URL_SURROGATE], "integer": [str(TOO_LARGE), str(TOO_SMALL)]}
            for raw in bad.get(schema.get("type"), []):
                target, _ = url(spec, path, op, (where, name, raw))
                r = gateway.request(method.upper(), target, headers=headers)
                assert_refused(r, name, f"{method.upper()} {target}")
                tried += 1
    assert tried > 60


def test_every_string_and_number_in_every_request_body(gateway, spec, tokens):
    headers = {"authorization": f"Bearer {tokens['county.admin']}", "content-type": "application/json"}
    tried = 0
    for method, path, op in operations(spec):
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if not content:
            continue
        document = sample(spec, content["schema"])
        target, _ = url(spec, path, op)
        for where, value in leaves(document):
            bad = [NUL, SURROGATE] if isinstance(value, str) else [TOO_LARGE, TOO_SMALL]
            for new in bad:
                r = gateway.request(method.upper(), target, content=as_json(replaced(document, where, new)),
                                    headers=headers)
                assert_refused(r, where, f"{method.upper()} {target} {where}={new!r}")
                tried += 1
        # a key is text too
        r = gateway.request(method.upper(), target, content=as_json({**document, "pro\x00be": "x"}), headers=headers)
        assert_refused(r, "body", f"{method.upper()} {target} key")
    assert tried > 100


def test_the_pages_outside_the_document_too(gateway):
    """/, /guide/{id}, /progress and the console take parameters too, though /docs does not list them."""
    tried = 0
    for route in (ctx.original_route for ctx in iter_route_contexts(gateway.app.routes)):
        # the pages' forms post (CSRF-checked) to routes of their own: a GET there is only a 405
        if not isinstance(route, APIRoute) or route.include_in_schema or "GET" not in route.methods:
            continue
        for param in (*route.dependant.path_params, *route.dependant.query_params):
            for raw in (URL_NUL, URL_SURROGATE):
                path = route.path
                for other in route.dependant.path_params:
                    path = path.replace("{" + other.alias + "}", raw if other is param else "a")
                query = "" if param in route.dependant.path_params else f"?{param.alias}={raw}"
                r = gateway.get(path + query)
                assert_refused(r, param.alias, f"GET {path}{query}")
                tried += 1
    assert tried >= 8


# -- the 500s the fuzz found (issue 20), each through its route ----------------------------------------
def test_the_found_500s_are_422s(gateway, tokens):
    admin = {"authorization": f"Bearer {tokens['county.admin']}"}
    r = gateway.get("/api/v1/public/items", params={"offset": "4876759135"})
    assert_refused(r, "offset", "public search offset")
    assert "2147483647" in r.json()["message"]
    r = gateway.put("/api/v1/approval/desks/clerk%00x", json={"desks": []}, headers=admin)
    assert_refused(r, "username", "desk username")
    r = gateway.put("/api/v1/approval/desks/county.clerk", json={"desks": ["市场\x00准入"]}, headers=admin)
    assert_refused(r, "desks.0", "desk name")
    r = gateway.post("/api/v1/approval/seal", json={"name": "审批专用章\x00", "code": "S1"}, headers=admin)
    assert_refused(r, "name", "seal name")
    r = gateway.post("/api/v1/catalogue/items/x/cancel", content=b'{"reason": "\\ud83d"}',
                     headers={**admin, "content-type": "application/json"})
    assert_refused(r, "reason", "cancel reason")
    r = gateway.get("/api/v1/catalogue/items/x", params={"version": 2**31}, headers=admin)
    assert_refused(r, "version", "item version")
    r = gateway.post("/api/v1/approval/calendar/99999999999", json={"holidays": {}}, headers=admin)
    assert_refused(r, "year", "calendar year")
    # a form body is text too (the pages post forms), and so is a query that is not UTF-8
    r = gateway.post("/api/v1/payments/callback", content=b"notice_number=N%00&signature=x",
                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert_refused(r, "notice_number", "form body")
    r = gateway.get("/api/v1/public/items?q=%C0%AF")           # an overlong "/", not UTF-8
    assert_refused(r, "q", "Latin-1 query")


def test_a_number_in_range_passes_the_edge_and_reaches_the_service(gateway, tokens):
    """The bounds are the proto's, not tighter: the largest int32 offset is the service's to answer."""
    r = gateway.get("/api/v1/public/items", params={"region": "620602", "offset": str(INT32[1])})
    assert r.status_code == 200 and r.json()["items"] == []
    # U+FFFD spelled right is text like any other: the service answers it (here: not a division code)
    r = gateway.get("/api/v1/public/units/a%EF%BF%BDb")
    assert r.status_code == 422 and "区划代码格式不正确" in r.json()["message"] and UNSTORABLE_TEXT not in r.text


def test_the_ranges_are_the_protos():
    ranges = proto_int_ranges()
    assert ranges["offset"] == INT32 and ranges["promised_limit_days"] == INT32
    assert int_range("amount_fen") == (-(2**63), 2**63 - 1)       # money in fen is int64 in every message
    assert int_range("no_such_field") == INT32


def test_every_request_body_is_strict(gateway):
    """The body models refuse unknown fields and out-of-range numbers because they are Strict; a route
    that takes a JSON object as it comes is read by its own code (the payment callback's fields)."""
    for route in (ctx.original_route for ctx in iter_route_contexts(gateway.app.routes)):
        if isinstance(route, APIRoute) and route.body_field is not None:
            annotation = route.body_field.field_info.annotation
            assert annotation is dict or issubclass(annotation, Strict), f"{route.path}: {annotation}"
