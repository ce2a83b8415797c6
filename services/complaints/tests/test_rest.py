"""The complaints REST edge (gateway/routes_complaints.py) against the real complaints server, real tokens and
the real database: every role's routes, the public ones without login, the hotline's signed hand-over, and
errors naming the field."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.pages_kit import csrf_of
from gateway.settings import GatewaySettings
from services.complaints import signing

from .conftest import COUNTY, TOWNSHIP, VILLAGE, phone


@pytest.fixture(scope="module")
def client(complaints_server, oidc, verifier):
    settings = GatewaySettings(complaints_target=complaints_server, oidc_server_url=oidc.url)
    with TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def http(client, tokens):
    class As:
        def __init__(self, user):
            self.headers = {"authorization": f"Bearer {tokens[user]}"} if user else {}

        def get(self, path, **kw):
            return client.get(path, headers=self.headers, **kw)

        def post(self, path, json=None, **kw):
            return client.post(path, json=json if json is not None else {}, headers=self.headers, **kw)
    return As


def filing(subject: str, **over) -> dict:
    b = {"channel": "hall", "kind": "complaint", "category": "service_conduct", "content": "窗口推诿扯皮",
         "subject": {"tenant": subject}, "complainant": {"name": "王群众", "phone": phone()}}
    return b | over


def test_a_complaint_through_rest_from_the_window_to_the_close(http):
    r = http("dongdajie.clerk").post("/api/v1/complaints", filing(VILLAGE))
    assert r.status_code == 201, r.text
    c = r.json()
    assert (c["tenant"], c["status"], c["progress_due"], c["result_due"]) == (TOWNSHIP, "received", "2026-10-10",
                                                                            "2026-10-15")
    h = http("dongdajie.complaints")
    cid = c["id"]
    assert h.post(f"/api/v1/complaints/{cid}/assign").json()["status"] == "assigned"
    assert h.post(f"/api/v1/complaints/{cid}/progress", {"text": "已核实"}).json()["status"] == "progressing"
    r = h.post(f"/api/v1/complaints/{cid}/reply", {"outcome": "solved", "channel": "phone", "text": "已解决"})
    assert r.status_code == 200 and r.json()["status"] == "replied"
    r = h.post(f"/api/v1/complaints/{cid}/satisfaction", {"satisfaction": "satisfied"})
    assert r.json()["status"] == "closed"
    listed = h.get("/api/v1/complaints", params={"status": "closed", "limit": 200}).json()["complaints"]
    assert cid in {x["id"] for x in listed}
    assert http("xidajie.complaints").get(f"/api/v1/complaints/{cid}").status_code == 404
    assert http("dongdajie.complaints").get("/api/v1/complaints", params={"status": "nope"}).status_code == 422


def test_errors_name_the_field(http):
    r = http("county.clerk").post("/api/v1/complaints", filing(COUNTY, content="字" * 2001))
    assert r.status_code == 422 and r.json()["field"].endswith("content")
    r = http("county.clerk").post("/api/v1/complaints", filing(COUNTY, category="weather"))
    assert r.status_code == 422 and r.json()["field"] == "category"
    c = http("county.clerk").post("/api/v1/complaints", filing(COUNTY)).json()
    http("county.complaints").post(f"/api/v1/complaints/{c['id']}/assign")
    r = http("county.complaints").post(f"/api/v1/complaints/{c['id']}/reply", {"channel": "phone", "text": "x"})
    assert r.status_code == 422 and r.json()["field"] == "outcome" and "办理结果" in r.json()["message"]
    assert http(None).get(f"/api/v1/complaints/{c['id']}").status_code == 401


def test_the_public_files_follows_and_rates_without_login(http):
    tel = phone()
    r = http(None).post("/api/v1/public/complaints", {
        "kind": "complaint", "category": "cannot_get_done", "content": "办不成事", "subject": {"tenant": TOWNSHIP},
        "complainant": {"name": "李群众", "phone": tel}})
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["handling_unit"] == COUNTY and receipt["number"].startswith("TS620602")
    r = http(None).post("/api/v1/public/complaints/follow", {"number": receipt["number"], "phone_last4": tel[-4:]})
    assert r.status_code == 200 and r.json()["status"] == "received"
    r = http(None).post("/api/v1/public/complaints/follow", {"number": receipt["number"], "phone_last4": "12345"})
    assert r.status_code == 422
    cats = http(None).get("/api/v1/public/complaint-categories").json()["categories"]
    assert [c["name"] for c in cats][:2] == ["教育", "就业"] and "办不成事" in [c["name"] for c in cats]


def test_a_case_rating_and_the_figures_through_rest(http, put_case):
    item = f"item-rest-{uuid.uuid4().hex[:8]}"
    number, suffix = put_case(COUNTY, item_id=item)
    r = http(None).post("/api/v1/public/ratings", {"case_number": number, "id_suffix": suffix, "level": 5,
                                                    "text": "差", "rater_name": "实名", "phone": "13900002222"})
    assert r.status_code == 201, r.text
    rating = r.json()
    assert rating["bad"] and rating["rectification_id"] and rating["rater_name"] == ""
    again = http(None).post("/api/v1/public/ratings", {"case_number": number, "id_suffix": suffix, "level": 1})
    assert again.status_code == 409 and again.json()["field"] == "case_number"
    figures = http(None).get("/api/v1/public/ratings/figures", params={"item_id": item}).json()
    assert (figures["count"], figures["bad"], figures["satisfaction"]) == (1, 1, 0.0)
    assert "rater" not in str(figures)
    x = http("county.complaints").post(f"/api/v1/rectifications/{rating['rectification_id']}/rectify", {
        "verification": "属实", "measures": "培训", "answer": "已整改"}).json()
    assert x["status"] == "answered"
    r = http(None).post("/api/v1/public/rectifications/rate", {"case_number": number, "id_suffix": suffix,
                                                               "satisfaction": "satisfied"})
    assert r.status_code == 409 and r.json()["field"] == "return_visit"      # a real-name 差评: visit first
    http("county.complaints").post(f"/api/v1/rectifications/{x['id']}/visit", {"method": "phone", "result": "已回访"})
    r = http(None).post("/api/v1/public/rectifications/rate", {"case_number": number, "id_suffix": suffix,
                                                               "satisfaction": "satisfied"})
    assert r.status_code == 200 and r.json()["status"] == "rated"
    figures = http(None).get("/api/v1/public/ratings/figures", params={"item_id": item}).json()
    assert (figures["real_name_bad"], figures["real_name_bad_visited"], figures["visit_share"]) == (1, 1, 1.0)
    assert http(None).get("/api/v1/public/ratings/figures").status_code == 422


def test_the_hotline_hands_over_through_rest(http, clock):
    f = {"handover_id": str(uuid.uuid4()), "sent_at": clock.now().isoformat(), "kind": "complaint",
         "category": "health", "content": "医保报销被推诿", "subject_tenant": TOWNSHIP, "subject_department": "",
         "subject_staff": "", "complainant_name": "赵热线", "complainant_phone": phone(), "anonymous": "false"}
    r = http(None).post("/api/v1/hotline/complaints", f | {"signature": signing.sign(f)})
    assert r.status_code == 200 and r.json()["handling_unit"] == COUNTY, r.text
    r = http(None).post("/api/v1/hotline/complaints", f | {"content": "改", "signature": signing.sign(f)})
    assert r.status_code == 401
    r = http(None).post("/api/v1/hotline/complaints", f)
    assert r.status_code == 422 and r.json()["field"] == "signature"


def test_the_console_offers_a_complaints_forms_to_who_may_use_them(http, client, tokens):
    """Taking a complaint on is a handler's or the head's; reporting on it and replying are the assigned handler's
    (专人) or the head's (complaints' rules); the supervisor reads. The page shows each form to them only, and the
    head's report through it is taken, not refused by the page."""
    cid = http("dongdajie.clerk").post("/api/v1/complaints", filing(VILLAGE)).json()["id"]
    page = f"/console/complaints/{cid}"

    def forms(user: str) -> set[str]:
        r = http(user).get(page)
        assert r.status_code == 200, (user, r.text)
        return {f for f in ("assign-form", "progress-form", "reply-form") if f'id="{f}"' in r.text}

    assert forms("dongdajie.supervisor") == set()
    assert forms("dongdajie.complaints") == forms("dongdajie.head") == {"assign-form"}
    assert http("dongdajie.complaints").post(f"/api/v1/complaints/{cid}/assign").json()["status"] == "assigned"
    assert forms("dongdajie.complaints") == forms("dongdajie.head") == {"progress-form", "reply-form"}
    assert forms("dongdajie.supervisor") == set()
    headers = {"authorization": f"Bearer {tokens['dongdajie.head']}"}
    r = client.post(f"{page}/progress", data={"csrf": csrf_of(tokens["dongdajie.head"]), "text": "负责人督办"},
                    headers=headers, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert http("dongdajie.head").get(f"/api/v1/complaints/{cid}").json()["status"] == "progressing"
    r = client.post(f"{page}/progress", data={"csrf": csrf_of(tokens["dongdajie.supervisor"]), "text": "x"},
                    headers={"authorization": f"Bearer {tokens['dongdajie.supervisor']}"}, follow_redirects=False)
    assert r.status_code == 403
