"""Rate limits per client on every public route (issue 15, item 5): through the gateway app with the real
catalogue behind it, and through the real gateway process (uvicorn) for the forwarding headers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from conftest import free_port
from gateway.app import create_app
from gateway.ratelimit import BY_PATH, PUBLIC, budget_of, needs_login
from gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "127.0.0.1:9"      # discard port: nothing listens, a call there answers 503 at once


def app_with(catalogue_server, oidc, verifier, **limits):
    settings = GatewaySettings(catalogue_target=catalogue_server, oidc_server_url=oidc.url,
                               intake_target=UNREACHABLE, fees_target=UNREACHABLE, **limits)
    return create_app(settings, verifier=verifier)


def client(app, address: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(address, 40000))


def test_n_plus_one_searches_are_refused_for_that_client_only(catalogue_server, oidc, verifier):
    app = app_with(catalogue_server, oidc, verifier, rate_limit_public="5/minute")
    a, b = client(app, "203.0.113.10"), client(app, "203.0.113.11")
    for _ in range(5):
        assert a.get("/api/v1/public/items", params={"region": "620602"}).status_code == 200
    r = a.get("/api/v1/public/items", params={"region": "620602"})
    assert r.status_code == 429
    assert r.json()["error"] == "rate_limited" and "请求过于频繁" in r.json()["message"]
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # the budget is the client's, over every public route, and the guide and the unit tree are in it too
    assert a.get("/api/v1/public/units/620602").status_code == 429
    assert a.get("/guide/anything").status_code == 429
    assert b.get("/api/v1/public/items", params={"region": "620602"}).status_code == 200
    assert b.get("/api/v1/public/units/620602").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/public/progress?case=C1&id_suffix=123456",
                                  "/progress?case=C1&id_suffix=123456",
                                  "/api/v1/payments/N0001/status"])
def test_the_lookups_an_enumeration_tries_have_their_own_tight_budget(catalogue_server, oidc, verifier, path):
    app = app_with(catalogue_server, oidc, verifier, rate_limit_lookup="3/minute", rate_limit_public="100/minute")
    guesser, other = client(app, "198.51.100.7"), client(app, "198.51.100.8")
    answers = [guesser.get(path).status_code for _ in range(4)]
    assert 429 not in answers[:3] and answers[3] == 429
    assert other.get(path).status_code != 429
    # the public search is another budget: the guesser can still look up a guide
    assert guesser.get("/api/v1/public/items", params={"region": "620602"}).status_code == 200


def test_the_payment_callback_is_limited_before_its_body_is_read(catalogue_server, oidc, verifier):
    app = app_with(catalogue_server, oidc, verifier, rate_limit_callback="2/minute")
    sender = client(app, "192.0.2.50")
    big = {"notice_number": "N" * 2000, "signature": "x"}
    answers = [sender.post("/api/v1/payments/callback", json=big).status_code for _ in range(3)]
    assert answers[2] == 429 and 429 not in answers[:2]
    assert sender.post("/api/v1/payments/callback", content=b"{not json").status_code == 429
    assert client(app, "192.0.2.51").post("/api/v1/payments/callback", json=big).status_code != 429


def test_a_forged_forwarding_header_buys_no_fresh_budget(catalogue_server, oidc, verifier):
    """No trusted proxy configured: X-Forwarded-For is the client's own words and is ignored."""
    app = app_with(catalogue_server, oidc, verifier, rate_limit_public="3/minute")
    attacker = client(app, "203.0.113.20")
    answers = [attacker.get("/api/v1/public/items", headers={"x-forwarded-for": f"10.9.8.{i}"}).status_code
               for i in range(5)]
    assert answers[:3] == [200, 200, 200] and answers[3:] == [429, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_budget(catalogue_server, oidc, verifier):
    app = app_with(catalogue_server, oidc, verifier, rate_limit_public="2/minute", trusted_proxies=["10.0.0.0/24"])
    proxy = client(app, "10.0.0.5")

    def via_proxy(header: str) -> int:
        return proxy.get("/api/v1/public/items", headers={"x-forwarded-for": header}).status_code

    assert [via_proxy("198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert via_proxy("198.51.100.2") == 200
    # the client writes its own header; the proxy appends the address it saw: the one we count by
    assert via_proxy("192.0.2.99, 198.51.100.1") == 429
    # a request straight from an untrusted address cannot borrow a forwarded identity
    direct = client(app, "203.0.113.30")
    assert [direct.get("/api/v1/public/items", headers={"x-forwarded-for": "198.51.100.77"}).status_code
            for _ in range(3)] == [200, 200, 429]
    assert via_proxy("198.51.100.77") == 200


def test_logged_in_staff_routes_draw_on_no_public_budget(catalogue_server, oidc, verifier, tokens):
    app = app_with(catalogue_server, oidc, verifier, rate_limit_public="2/minute")
    staff = client(app, "203.0.113.40")
    headers = {"authorization": f"Bearer {tokens['county.admin']}"}
    assert [staff.get("/api/v1/me", headers=headers).status_code for _ in range(4)] == [200] * 4


def test_every_route_without_login_has_a_budget(verifier):
    app = create_app(GatewaySettings(), verifier=verifier)
    routes = [ctx.original_route for ctx in iter_route_contexts(app.routes)]
    paths = {getattr(r, "path", None) for r in routes}
    assert set(BY_PATH) <= paths, f"rate-limit table names routes that no longer exist: {set(BY_PATH) - paths}"
    unlimited = {r.path for r in routes if budget_of(r) is None}
    public = [r for r in routes if not (isinstance(r, APIRoute) and needs_login(r.dependant))]
    assert {r.path for r in public} & unlimited == {"/healthz", "/console", "/console/logout"}
    assert budget_of(next(r for r in routes if r.path == "/openapi.json")) == PUBLIC
    assert budget_of(next(r for r in routes if r.path == "/api/v1/public/items")) == PUBLIC


def test_limits_the_library_cannot_read_stop_the_gateway():
    with pytest.raises(ValueError, match="rate_limit_lookup"):
        GatewaySettings(rate_limit_lookup="as many as you like")


@pytest.fixture
def gateway_process(tmp_path):
    port = free_port()
    env = {**os.environ, "SANJI_MODE": "development", "SANJI_HTTP_PORT": str(port),
           "SANJI_RATE_LIMIT_LOOKUP": "2/minute", "SANJI_FEES_TARGET": UNREACHABLE,
           "SANJI_OTEL_EXPORTER": "none"}
    log = (tmp_path / "gateway.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "gateway.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_the_real_gateway_process_trusts_no_forwarding_header_from_loopback(gateway_process):
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told not to; every client of a loopback
    gateway comes from there, so each could have named itself anew."""
    answers = [httpx.get(f"{gateway_process}/api/v1/payments/N0001/status",
                         headers={"x-forwarded-for": f"10.1.2.{i}", "x-forwarded-proto": "https"}).status_code
               for i in range(4)]
    assert 429 not in answers[:2] and answers[2:] == [429, 429]
