"""The REST edge against the real catalogue gRPC server, real tokens and the real database."""

from __future__ import annotations

import itertools
import random

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.settings import GatewaySettings

_seq = itertools.count(1)
RUN = random.randint(1000, 9999)


@pytest.fixture(scope="module")
def client(catalogue_server, oidc, verifier):
    settings = GatewaySettings(catalogue_target=catalogue_server, oidc_server_url=oidc.url)
    with TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False) as c:
        yield c


def auth(tokens, user):
    return {"authorization": f"Bearer {tokens[user]}"}


def body(**over):
    el = {
        "name": "残疾人证办理", "basic_code": f"G{RUN}{next(_seq):05d}", "item_type": "07", "exercise_level": "4",
        "case_kind": "2", "department": "凉州区残疾人联合会", "legal_basis": "《中华人民共和国残疾人保障法》",
        "acceptance_conditions": "具有本区户籍的残疾人", "targets": ["natural_person"], "statutory_limit_days": 20,
        "promised_limit_days": 10, "keywords": ["残疾人证", "残疾"],
        "scenarios": [{"code": "S1", "name": "首次申领", "materials": [
            {"code": "M1", "name": "居民身份证", "core": True},
            {"code": "M2", "name": "近期免冠照片", "waivable": True, "makeup_days": 3}]}],
    }
    el.update(over)
    return {"elements": el}


def create_published(client, tokens, **over) -> dict:
    r = client.post("/api/v1/catalogue/items", json=body(**over), headers=auth(tokens, "county.admin"))
    assert r.status_code == 201, r.text
    item = r.json()
    r = client.post(f"/api/v1/catalogue/items/{item['id']}/publish", headers=auth(tokens, "county.admin"))
    assert r.status_code == 200, r.text
    return r.json()


def test_public_search_and_guide_without_login(client, tokens):
    item = create_published(client, tokens)
    r = client.get("/api/v1/public/items", params={"region": "620602", "q": "残疾人证"})
    assert r.status_code == 200
    assert item["id"] in [i["id"] for i in r.json()["items"]]
    r = client.get(f"/api/v1/public/items/{item['id']}/guide.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content[:4] == b"%PDF"
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    r = client.get(f"/guide/{item['id']}")
    assert r.status_code == 200 and "残疾人证办理" in r.text
    page = client.get("/", params={"q": "残疾人证"})
    assert page.status_code == 200 and "残疾人证办理" in page.text


def test_openapi_is_served(client):
    spec = client.get("/openapi.json").json()
    assert "/api/v1/catalogue/items" in spec["paths"] and "/api/v1/public/items" in spec["paths"]


def test_401_without_token_or_with_a_bad_one(client):
    for headers in ({}, {"authorization": "Bearer abc.def.ghi"}, {"authorization": "Basic xyz"}):
        r = client.get("/api/v1/catalogue/items", headers=headers)
        assert r.status_code == 401
        assert not r.json()["message"].isascii()


def test_403_for_a_role_or_tenant_that_may_not(client, tokens):
    r = client.post("/api/v1/catalogue/items", json=body(), headers=auth(tokens, "county.clerk"))
    assert r.status_code == 403 and "单位管理员" in r.json()["message"]
    item = create_published(client, tokens)
    r = client.post(f"/api/v1/catalogue/items/{item['id']}/cancel", json={"reason": "越权"},
                    headers=auth(tokens, "dongdajie.admin"))
    assert r.status_code == 403


def test_404_for_what_the_caller_may_not_see(client, tokens):
    r = client.post("/api/v1/catalogue/items", json=body(), headers=auth(tokens, "dongdajie.admin"))
    draft = r.json()
    for user in ("xidajie.admin", "wenchuan.admin"):
        assert client.get(f"/api/v1/catalogue/items/{draft['id']}", headers=auth(tokens, user)).status_code == 404
        r = client.post(f"/api/v1/catalogue/items/{draft['id']}/publish", headers=auth(tokens, user))
        assert r.status_code == 404
    assert client.get(f"/api/v1/public/items/{draft['id']}").status_code == 404
    assert client.get("/no/such/page").status_code == 404


@pytest.mark.parametrize("over, field", [
    ({"statutory_limit_days": "twenty"}, "elements.statutory_limit_days"),
    ({"targets": ["martian"]}, "elements.targets.0"),
    ({"item_type": "42"}, "elements.item_type"),
    ({"basic_code": "B" * 60}, "elements.basic_code"),
    ({"promised_limit_days": -1}, "elements.promised_limit_days"),
    ({"surprise": 1}, "elements.surprise"),
])
def test_422_names_the_field(client, tokens, over, field):
    r = client.post("/api/v1/catalogue/items", json=body(**over), headers=auth(tokens, "county.admin"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert "Traceback" not in r.text


def test_422_for_missing_elements_and_bad_json(client, tokens):
    r = client.post("/api/v1/catalogue/items", json={}, headers=auth(tokens, "county.admin"))
    assert r.status_code == 422 and r.json()["field"] == "elements"
    r = client.post("/api/v1/catalogue/items", content=b"{not json", headers={
        **auth(tokens, "county.admin"), "content-type": "application/json"})
    assert r.status_code == 422


def test_adjustment_is_seen_by_the_village(client, tokens):
    item = create_published(client, tokens, name="高龄津贴申领", item_type="05", keywords=["高龄津贴"])
    r = client.post(f"/api/v1/catalogue/items/{item['id']}/delegate", headers=auth(tokens, "county.admin"),
                    json={"target_tenants": ["620602001001"], "kind": "proxy", "reason": "村级代办"})
    assert r.status_code == 200 and r.json()["listed_for"] == ["620602001001"]
    new = body(name="高龄津贴申领", item_type="05", promised_limit_days=5, basic_code=item["elements"]["basic_code"])
    r = client.post(f"/api/v1/catalogue/items/{item['id']}/adjust", headers=auth(tokens, "county.admin"),
                    json={**new, "reason": "承诺时限压缩"})
    assert r.status_code == 200 and r.json()["version"] == 2
    mine = client.get("/api/v1/catalogue/items", headers=auth(tokens, "nanyuan.agent")).json()["items"]
    seen = next(i for i in mine if i["id"] == item["id"])
    assert (seen["version"], seen["elements"]["promised_limit_days"], seen["listing"]) == (2, 5, "LISTING_KIND_PROXY")


def test_me(client, tokens):
    r = client.get("/api/v1/me", headers=auth(tokens, "nanyuan.agent"))
    assert r.json() == {"username": "nanyuan.agent", "name": "陈代办", "tenant": "620602001001",
                        "unit_kind": "village", "roles": ["agent"]}


def test_the_admin_finds_a_draft_by_name_in_the_list_and_the_console(client, tokens):
    name = f"测试草稿事项{RUN}甲乙"
    r = client.post("/api/v1/catalogue/items", json=body(name=name), headers=auth(tokens, "county.admin"))
    assert r.status_code == 201, r.text
    draft = r.json()["id"]
    q = {"q": f"草稿事项{RUN}甲乙"}
    found = client.get("/api/v1/catalogue/items", params={**q, "include_drafts": "true"},
                       headers=auth(tokens, "county.admin")).json()
    assert [i["id"] for i in found["items"]] == [draft] and found["total"] == 1
    assert client.get("/api/v1/catalogue/items", params=q, headers=auth(tokens, "county.admin")).json()["total"] == 0
    page = client.get("/console", params=q, headers=auth(tokens, "county.admin"))
    assert page.status_code == 200 and name in page.text and "草稿" in page.text and "共 1 个事项" in page.text
    # another unit's admin finds nothing of it, in the list or the console
    other = client.get("/api/v1/catalogue/items", params={**q, "include_drafts": "true"},
                       headers=auth(tokens, "dongdajie.admin")).json()
    assert other["total"] == 0
    assert name not in client.get("/console", params=q, headers=auth(tokens, "dongdajie.admin")).text
    r = client.get("/api/v1/catalogue/items", params={"q": "！！", "include_drafts": "true"},
                   headers=auth(tokens, "county.admin"))
    assert r.status_code == 422 and r.json()["field"] == "query" and "关键词" in r.json()["message"]
    r = client.get("/api/v1/catalogue/items", params={"q": "长" * 101}, headers=auth(tokens, "county.admin"))
    assert r.status_code == 422


def test_a_provinces_record_is_read_by_anyone_and_kept_by_its_own_administrator(client, tokens):
    """Provinces as data (issue 23): the REST edge forwards to the catalogue, which decides."""
    r = client.get("/api/v1/public/provinces/51")
    assert r.status_code == 200 and r.json()["name"] == "四川省", r.text
    assert {"51", "62"} <= {p["tenant_code"] for p in client.get("/api/v1/public/provinces").json()["provinces"]}
    record = {"name": "四川省", "payment_key_ref": "sichuan-pay", "n_tong": ["事项名称"], "rectification_days": 12}
    for user in ("gansu.admin", "wenchuan.admin"):            # another province; a county below Sichuan
        r = client.put("/api/v1/catalogue/provinces/51", json=record, headers=auth(tokens, user))
        assert r.status_code == 403, (user, r.text)
    r = client.put("/api/v1/catalogue/provinces/51", json={**record, "rectification_days": 99},
                   headers=auth(tokens, "sichuan.admin"))
    assert r.status_code == 422 and r.json()["field"] == "rectification_days", r.text
    r = client.put("/api/v1/catalogue/provinces/51", json={**record, "key": "x"}, headers=auth(tokens, "sichuan.admin"))
    assert r.status_code == 422, r.text
    r = client.put("/api/v1/catalogue/provinces/51", headers=auth(tokens, "sichuan.admin"),
                   json={**record, "supervision_thresholds": {"step-budget.review_share": 5}})
    assert r.status_code == 422 and r.json()["field"] == "supervision_thresholds", r.text
    try:
        r = client.put("/api/v1/catalogue/provinces/51", json=record, headers=auth(tokens, "sichuan.admin"))
        assert r.status_code == 200 and r.json()["rectification_days"] == 12, r.text
        assert client.get("/api/v1/public/provinces/51").json()["payment_key_ref"] == "sichuan-pay"
        r = client.put("/api/v1/catalogue/provinces/51", headers=auth(tokens, "sichuan.admin"),
                       json={**record, "supervision_thresholds": {"suspension-watch.max_suspensions": 3}})
        assert r.status_code == 200 and r.json()["supervision_thresholds"] == {
            "suspension-watch.max_suspensions": 3.0}, r.text
    finally:
        client.put("/api/v1/catalogue/provinces/51", json={"name": "四川省"}, headers=auth(tokens, "sichuan.admin"))
