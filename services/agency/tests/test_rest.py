"""The agency's REST edge (gateway/routes_agency.py) against the real agency, intake and catalogue
servers, real tokens and the real database."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.agency.tests.conftest import COUNTY, TOWNSHIP, VILLAGE, resident_id, soon, today


@pytest.fixture(scope="module")
def client(catalogue_server, agency_server, intake_target, oidc, verifier):
    settings = GatewaySettings(catalogue_target=catalogue_server, agency_target=agency_server,
                               intake_target=intake_target, oidc_server_url=oidc.url)
    with TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def http(client, tokens):
    class As:
        def __init__(self, user):
            self.headers = {"authorization": f"Bearer {tokens[user]}"}

        def get(self, path, **kw):
            return client.get(f"/api/v1/agency{path}", headers=self.headers, **kw)

        def post(self, path, json=None, **kw):
            return client.post(f"/api/v1/agency{path}", json=json or {}, headers=self.headers, **kw)
    return As


def body(item_id: str, **over) -> dict:
    b = {"resident": {"name": "马秀英", "id_number": resident_id("19400315"), "phone": "13893500002",
                      "address": "凉州区东大街街道南苑社区5号"},
         "special_group": "dibao", "door_to_door": True, "item_id": item_id, "scenario_code": "S1",
         "authorisation": {"signed_on": today().isoformat(), "scope": "代为申请并领取结果",
                           "document_ref": "WT-REST-1"},
         "idempotency_key": str(uuid.uuid4())}
    b.update(over)
    return b


def test_the_village_agent_works_a_proxy_request_through_rest(http, county_item):
    agent = http("nanyuan.agent")
    r = agent.post("/requests", body(county_item.id))
    assert r.status_code == 201, r.text
    req = r.json()
    assert (req["tenant"], req["status"], req["free_of_charge"]) == (VILLAGE, "requested", True)
    rid = req["id"]
    assert agent.post(f"/requests/{rid}/assign").json()["agent"] == "nanyuan.agent"
    visit = agent.post(f"/requests/{rid}/visits", {"scheduled_for": soon()}).json()["visits"][0]
    r = agent.post(f"/requests/{rid}/visits/{visit['id']}/record",
                   {"outcome": "已上门收取材料", "materials": [{"code": "M1"}, {"code": "M2", "note": "原件"}]})
    assert r.status_code == 200 and [m["code"] for m in r.json()["materials"]] == ["M1", "M2"]
    r = agent.post(f"/requests/{rid}/submit", {"materials": [{"code": "M3"}]})
    assert r.status_code == 200, r.text
    submitted = r.json()
    assert submitted["status"] == "submitted" and submitted["handling_tenant"] == COUNTY

    r = agent.post("/handovers", {"request_id": rid, "to_tenant": TOWNSHIP,
                                  "items": [{"description": "户口簿原件", "material_code": "M2"}]})
    assert r.status_code == 201, r.text
    handover = r.json()
    assert handover["status"] == "pending"
    pending = http("dongdajie.clerk").get("/handovers", params={"direction": "incoming", "pending_only": True})
    assert handover["id"] in [h["id"] for h in pending.json()["handovers"]]
    r = agent.post(f"/handovers/{handover['id']}/confirm")
    assert r.status_code == 403 and "移交方" in r.json()["message"]
    r = http("dongdajie.clerk").post(f"/handovers/{handover['id']}/confirm", {"note": "收到"})
    assert r.status_code == 200 and r.json()["status"] == "received"
    chain = agent.get("/custody-chain", params={"request_id": rid}).json()["handovers"]
    assert [(h["from_tenant"], h["to_tenant"], h["received_by"]) for h in chain] == [
        (VILLAGE, TOWNSHIP, "dongdajie.clerk")]
    assert rid in [x["id"] for x in agent.get("/requests", params={"limit": 200}).json()["requests"]]


def test_a_sibling_village_gets_404_for_everything(http, county_item):
    rid = http("nanyuan.agent").post("/requests", body(county_item.id)).json()["id"]
    sibling = http("dazhong.agent")
    assert sibling.get(f"/requests/{rid}").status_code == 404
    assert sibling.post(f"/requests/{rid}/assign").status_code == 404
    assert sibling.post(f"/requests/{rid}/visits", {"scheduled_for": soon()}).status_code == 404
    assert sibling.post(f"/requests/{rid}/submit").status_code == 404
    assert rid not in [x["id"] for x in sibling.get("/requests", params={"limit": 200}).json()["requests"]]
    r = sibling.get("/custody-chain", params={"request_id": rid})
    assert r.status_code == 404 and not r.json()["message"].isascii()


def test_staff_without_an_agency_role_get_403_and_no_resident_data(http, county_item):
    """Issue 15: a cashier or window clerk of the proxy point's own unit does not read its residents' records."""
    made = http("county.agent").post("/requests", body(county_item.id, key_project=True, project_name="凉州区冷链中心",
                                                       special_group="none", door_to_door=False))
    assert made.status_code == 201, made.text
    rid, resident = made.json()["id"], made.json()["resident"]
    for user in ("county.cashier", "county.clerk"):
        for r in (http(user).get(f"/requests/{rid}"), http(user).get("/requests", params={"limit": 200})):
            assert r.status_code == 403 and not r.json()["message"].isascii(), user
            assert resident["id_number"] not in r.text and resident["phone"] not in r.text
    assert http("county.cashier").get("/handovers").status_code == 403
    assert http("county.agent").get(f"/requests/{rid}").json()["resident"]["id_number"] == resident["id_number"]


@pytest.mark.parametrize("over, field", [
    ({"resident": {"name": "马秀英", "id_number": "620602194003150000"}}, "resident.id_number"),
    ({"authorisation": None}, "authorisation"),
    ({"scenario_code": "S404"}, "scenario_code"),
    ({"door_to_door": "maybe"}, "door_to_door"),              # a type error: the edge's own 422
    ({"unexpected": 1}, "unexpected"),
])
def test_bad_input_is_422_naming_the_field(http, county_item, over, field):
    r = http("nanyuan.agent").post("/requests", body(county_item.id, **over))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and not r.json()["message"].isascii()


def test_an_item_outside_the_proxy_list_is_422(http, unlisted_item):
    r = http("nanyuan.agent").post("/requests", body(unlisted_item.id))
    assert r.status_code == 422 and r.json()["field"] == "item_id"


def test_hand_over_to_a_non_ancestor_is_422(http, county_item):
    r = http("nanyuan.agent").post("/handovers", {"request_id": str(uuid.uuid4()), "to_tenant": "620602002",
                                                  "items": [{"description": "身份证"}]})
    assert r.status_code in (404, 422)   # an unknown request: not found before any path question
    r = http("nanyuan.agent").post("/handovers", {"request_id": "", "to_tenant": "abc"})
    assert r.status_code == 422 and r.json()["field"] == "to_tenant"


def test_401_without_a_token(client):
    assert client.get("/api/v1/agency/requests").status_code == 401


def test_the_request_page_offers_the_submit_form_to_the_agent_not_the_admin(client, tokens, http, county_item):
    """Submitting upward is the agent's (agency, and the page's route, refuse the admin, who reads the request)."""
    rid = http("nanyuan.agent").post("/requests", body(county_item.id)).json()["id"]
    for user, offered in (("nanyuan.agent", True), ("nanyuan.admin", False)):
        page = client.get(f"/console/agent/requests/{rid}", headers={"authorization": f"Bearer {tokens[user]}"})
        assert page.status_code == 200, (user, page.text)
        assert ('id="submit-form"' in page.text) is offered, user
