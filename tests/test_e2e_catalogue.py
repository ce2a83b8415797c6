"""End to end through the real processes: OIDC provider, catalogue service, gateway, RabbitMQ."""

from __future__ import annotations

import json
import secrets
import time

import httpx
import pika
import pytest

from infra.oidc.client import login

pytestmark = pytest.mark.e2e


def demo_user(platform, tenant_len: int, role: str) -> dict:
    return next(u for u in platform.users if len(u["tenant"]) == tenant_len and role in u["roles"])


def token(platform, user: dict) -> dict:
    return {"authorization": f"Bearer {login(platform.oidc_url, user['username'], user['password'])}"}


def test_demo_catalogue_is_loaded(demo_platform):
    assert demo_platform.summary["total"] >= 30
    r = httpx.get(f"{demo_platform.gateway_url}/api/v1/public/items", params={"region": "620602", "q": "宅基地"})
    assert "农村村民宅基地审批" in [i["elements"]["name"] for i in r.json()["items"]]


def test_village_sees_the_county_adjustment(demo_platform):
    gw = demo_platform.gateway_url
    village = demo_user(demo_platform, 12, "agent")
    county_admin = demo_user(demo_platform, 6, "tenant_admin")
    v_auth = token(demo_platform, village)
    proxyable = httpx.get(f"{gw}/api/v1/catalogue/items", headers=v_auth, params={"limit": 200}).json()["items"]
    assert proxyable, "the village point has items it may take in for residents"
    assert all(i["listing"] == "LISTING_KIND_PROXY" for i in proxyable)
    assert all(i["tenant"] == "620602" for i in proxyable)
    target = proxyable[0]

    # listen on the catalogue's exchange like any subscriber would (nameko-style queue)
    conn = pika.BlockingConnection(pika.URLParameters(demo_platform.settings.amqp_url))
    ch = conn.channel()
    ch.exchange_declare("catalogue.events", exchange_type="topic", durable=True)
    queue = f"evt-catalogue-item_adjusted--e2e.{secrets.token_hex(4)}"
    ch.queue_declare(queue, exclusive=True)
    ch.queue_bind(queue, "catalogue.events", routing_key="item_adjusted")

    # the county admin adjusts it, inside a trace the test starts
    trace_id = secrets.token_hex(16)
    c_auth = token(demo_platform, county_admin)
    el = dict(target["elements"])
    el["handling_hours"] = "工作日 上午8:30-12:00，下午14:30-18:00（含周六上午）"
    r = httpx.post(f"{gw}/api/v1/catalogue/items/{target['id']}/adjust",
                   json={"elements": el, "reason": "延长服务时间"},
                   headers={**c_auth, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == target["version"] + 1

    seen = {i["id"]: i for i in httpx.get(f"{gw}/api/v1/catalogue/items", headers=v_auth,
                                          params={"limit": 200}).json()["items"]}
    assert seen[target["id"]]["version"] == target["version"] + 1
    assert seen[target["id"]]["elements"]["handling_hours"].startswith("工作日 上午8:30")

    # the event left through the outbox and RabbitMQ, carrying the tenant and the same trace
    deadline = time.monotonic() + 20
    message = None
    while message is None and time.monotonic() < deadline:
        method, props, body = ch.basic_get(queue, auto_ack=True)
        if method is not None and json.loads(body)["item_id"] == target["id"]:
            message = (props, json.loads(body))
        elif method is None:
            conn.sleep(0.2)
    conn.close()
    assert message is not None, "item_adjusted did not arrive"
    props, body = message
    assert props.type == "item_adjusted" and props.content_type == "application/json"
    assert props.headers["tenant"] == "620602" and props.headers["correlation_id"] == target["id"]
    assert body["version"] == target["version"] + 1 and body["reason"] == "延长服务时间"
    assert trace_id in props.headers["traceparent"]

    # and the catalogue's spans of that request, SQL included, belong to the gateway's trace
    spans = [json.loads(line) for line in (demo_platform.run_dir / "spans-catalogue.jsonl").read_text().splitlines()]
    ours = [s for s in spans if s["context"]["trace_id"] == f"0x{trace_id}"]
    names = {s["name"] for s in ours}
    assert "/sanji.catalogue.v1.CatalogueService/AdjustItem" in names
    assert any(s["attributes"].get("db.system") == "postgresql" for s in ours)
    gateway_spans = (demo_platform.run_dir / "spans-gateway.jsonl").read_text()
    assert f"0x{trace_id}" in gateway_spans


def test_console_login_flow_and_public_home(demo_platform):
    gw = demo_platform.gateway_url
    user = demo_user(demo_platform, 9, "tenant_admin")
    with httpx.Client(follow_redirects=False, timeout=15) as http:
        r = http.get(f"{gw}/console")
        assert r.status_code == 302 and r.headers["location"] == "/console/login"
        r = http.get(f"{gw}/console/login")
        auth_url = r.headers["location"]
        assert auth_url.startswith(demo_platform.oidc_url)
        r = http.get(auth_url)
        form_url = demo_platform.oidc_url + r.headers["location"]
        assert "登录" in http.get(form_url).text
        assert http.post(form_url, data={"sub": user["username"], "password": "wrong"}).status_code == 401
        r = http.post(form_url, data={"sub": user["username"], "password": user["password"]})
        callback = r.headers["location"]
        r = http.get(callback)
        assert r.status_code == 302 and r.headers["location"] == "/console"
        page = http.get(f"{gw}/console")
        assert page.status_code == 200
        assert user["name"] in page.text and "事项清单" in page.text
        assert "单位管理员" in page.text and "tenant_admin" not in page.text
    home = httpx.get(f"{gw}/", params={"q": "个体工商户"})
    assert "个体工商户" in home.text
