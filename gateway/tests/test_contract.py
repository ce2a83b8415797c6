"""/openapi.json is the REST contract (issue 20, item 7): every operation declares its success response and
the one error shape; the login is declared as the authorization-code flow with PKCE; and what the gateway
really answers (the real catalogue behind it) matches what the document says."""

from __future__ import annotations

import itertools
import random

import jsonschema
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from gateway import contract
from gateway.app import create_app
from gateway.ratelimit import budget_of, needs_login
from gateway.settings import GatewaySettings

RUN = random.randint(1000, 9999)
_seq = itertools.count(1)


@pytest.fixture(scope="module")
def app(catalogue_server, oidc, verifier):
    return create_app(GatewaySettings(catalogue_target=catalogue_server, oidc_server_url=oidc.url,
                                      rate_limit_public="1000/minute"), verifier=verifier)


@pytest.fixture(scope="module")
def spec(app):
    return TestClient(app).get("/openapi.json").json()


def documented(app):
    for route in (ctx.original_route for ctx in iter_route_contexts(app.routes)):
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in route.methods:
                yield route, method.lower()


def test_every_operation_declares_its_success_response(app, spec):
    assert contract.undocumented(app) == []
    for route, method in documented(app):
        op = spec["paths"][route.path_format][method]
        ok = op["responses"][str(route.status_code or 200)]
        assert ok["content"] and all(c["schema"] for c in ok["content"].values()), route.path


def test_every_operation_declares_the_one_error_shape(app, spec):
    error = {"$ref": "#/components/schemas/Error"}
    for route, method in documented(app):
        responses = spec["paths"][route.path_format][method]["responses"]
        for status in ("400", "401", "403", "404", "409", "422", "default"):
            assert responses[status]["content"]["application/json"]["schema"] == error, (route.path, status)
        limited = budget_of(route) is not None
        assert ("429" in responses) == limited, route.path
        if limited:
            assert "Retry-After" in responses["429"]["headers"]
    assert "HTTPValidationError" not in str(spec) and "ValidationError" not in spec["components"]["schemas"]
    assert set(spec["components"]["schemas"]["Error"]["required"]) == {"error", "message"}


def test_the_login_is_the_realms_code_flow_with_pkce(app, spec, oidc):
    schemes = spec["components"]["securitySchemes"]
    flow = schemes["oidc"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == f"{oidc.url}/realms/sanji/protocol/openid-connect/auth"
    assert flow["tokenUrl"] == f"{oidc.url}/realms/sanji/protocol/openid-connect/token"
    assert "PKCE" in schemes["oidc"]["description"] and schemes["bearer"]["scheme"] == "bearer"
    for route, method in documented(app):
        security = spec["paths"][route.path_format][method].get("security")
        assert (security is not None) == needs_login(route.dependant), route.path
    docs = TestClient(app).get("/docs").text
    assert '"usePkceWithAuthorizationCodeGrant": true' in docs and '"clientId": "sanji-console"' in docs


def test_64_bit_integers_are_documented_as_text_as_to_json_writes_them(spec):
    status = spec["components"]["schemas"]["sanji.fees.v1.PaymentStatus"]["properties"]
    assert status["total_fen"]["type"] == "string"


def conforms(spec: dict, method: str, path: str, response) -> None:
    op = spec["paths"][path][method]
    documented_status = op["responses"].get(str(response.status_code)) or op["responses"]["default"]
    content = documented_status["content"]
    media = response.headers["content-type"].split(";")[0]
    assert media in content, (path, response.status_code, media, list(content))
    schema = content[media]["schema"]
    if media == "application/json":
        jsonschema.validate(response.json(), {**schema, "components": spec["components"]},
                            cls=jsonschema.Draft202012Validator)


def test_what_the_gateway_answers_is_what_the_document_says(app, spec, tokens):
    http = TestClient(app, raise_server_exceptions=False)
    admin = {"authorization": f"Bearer {tokens['county.admin']}"}
    element = {"name": "契约测试事项", "basic_code": f"G{RUN}{next(_seq):05d}", "item_type": "07",
               "exercise_level": "4", "case_kind": "2", "department": "凉州区民政局",
               "legal_basis": "《社会救助暂行办法》",
               "acceptance_conditions": "本区户籍", "targets": ["natural_person"], "statutory_limit_days": 20,
               "promised_limit_days": 10, "scenarios": [{"code": "S1", "name": "首次申请", "materials": [
                   {"code": "M1", "name": "居民身份证", "core": True}]}]}
    calls = []

    def call(method: str, template: str, url: str, **kw):
        r = http.request(method.upper(), url, **kw)
        conforms(spec, method, template, r)
        calls.append((method, template, r.status_code))
        return r

    item = call("post", "/api/v1/catalogue/items", "/api/v1/catalogue/items", json={"elements": element},
                headers=admin).json()
    path = f"/api/v1/catalogue/items/{item['id']}"
    call("get", "/api/v1/catalogue/items/{item_id}", path, headers=admin)
    call("post", "/api/v1/catalogue/items/{item_id}/publish", f"{path}/publish", headers=admin)
    call("get", "/api/v1/catalogue/items/{item_id}/versions", f"{path}/versions", headers=admin)
    call("get", "/api/v1/catalogue/items", "/api/v1/catalogue/items", headers=admin)
    call("get", "/api/v1/public/items", "/api/v1/public/items", params={"region": "620602", "q": "契约测试"})
    call("get", "/api/v1/public/items/{item_id}", f"/api/v1/public/items/{item['id']}")
    call("get", "/api/v1/public/items/{item_id}/guide.pdf", f"/api/v1/public/items/{item['id']}/guide.pdf")
    call("get", "/api/v1/public/units/{code}", "/api/v1/public/units/620602")
    call("get", "/api/v1/public/units/{code}/children", "/api/v1/public/units/620602/children")
    call("get", "/api/v1/me", "/api/v1/me", headers=admin)
    # and the errors, each in the one shape
    call("get", "/api/v1/catalogue/items", "/api/v1/catalogue/items")                               # 401
    call("post", "/api/v1/catalogue/items", "/api/v1/catalogue/items", json={"elements": element},
         headers={"authorization": f"Bearer {tokens['county.clerk']}"})                            # 403
    call("get", "/api/v1/public/items/{item_id}", "/api/v1/public/items/00000000-0000-0000-0000-000000000000")
    call("post", "/api/v1/catalogue/items/{item_id}/publish", f"{path}/publish", headers=admin)     # 409
    call("get", "/api/v1/public/items", "/api/v1/public/items", params={"limit": "lots"})           # 422
    assert {status for *_, status in calls} >= {200, 201, 401, 403, 404, 409, 422}


def test_a_429_is_in_the_documented_shape(catalogue_server, oidc, verifier, spec):
    app = create_app(GatewaySettings(catalogue_target=catalogue_server, oidc_server_url=oidc.url,
                                     rate_limit_public="1/minute"), verifier=verifier)
    http = TestClient(app, raise_server_exceptions=False, client=("203.0.113.90", 40000))
    http.get("/api/v1/public/units/620602")
    r = http.get("/api/v1/public/units/620602")
    assert r.status_code == 429
    conforms(spec, "get", "/api/v1/public/units/{code}", r)
