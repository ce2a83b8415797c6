"""好差评 through the real processes (issue 16): a case is completed; the applicant rates it 差评 from the link the
QR code on the notice opens (case number + ID-number suffix, no login); the 差评 becomes a rectification ticket
for the unit and the person who decided the case; the unit rectifies and answers; the applicant rates the
rectification. The complaints service knows the case only from intake's and approval's events (through the
outbox and RabbitMQ, into its own read model); and a complaint filed on the public page is followed there."""

from __future__ import annotations

import httpx
import pytest

from tests.test_e2e_case_flow import APPROVAL, accepted_at_the_window, county_item, found
from tests.test_e2e_intake import RESIDENTS, Api, wait_for

pytestmark = pytest.mark.e2e


def test_a_completed_case_is_rated_bad_rectified_and_the_rectification_rated(demo_platform):
    chief, clerk = Api(demo_platform, "county.chief"), Api(demo_platform, "county.clerk")
    handler = Api(demo_platform, "county.complaints")
    item = county_item(chief, "个体工商户设立登记")
    resident = RESIDENTS[5]
    app, accepted = accepted_at_the_window(clerk, item, resident)
    number = accepted["case_number"]
    case = wait_for(lambda: found(chief, f"{APPROVAL}/cases/by-number/{number}"), what="the case to open")
    case = chief.post(f"{APPROVAL}/cases/{case['id']}/decide-immediately",
                      {"outcome": "approve", "opinion": "当场办结"})
    assert case["status"] == "completed"
    base = demo_platform.gateway_url
    wrong = httpx.post(f"{base}/api/v1/public/ratings", timeout=30,
                       json={"case_number": number, "id_suffix": "000000", "level": 5})
    assert wrong.status_code == 422 and wrong.json()["field"] == "case_number"

    # the applicant rates it 差评, with the case number and the last 6 characters of the ID number
    def rated():
        r = httpx.post(f"{base}/api/v1/public/ratings", timeout=30, json={
            "case_number": number, "id_suffix": resident[-6:], "level": 4, "text": "解释不清，跑了两趟",
            "rater_name": "王秀芝", "phone": "13993500001",
            "indicators": [{"code": "overall", "level": 4}, {"code": "efficiency", "level": 3}]})
        return r.json() if r.status_code == 201 else None
    rating = wait_for(rated, what="the case reaching the complaints service's read model")
    assert rating["bad"] and rating["tenant"] == "620602" and rating["staff"] == "county.chief"
    again = httpx.post(f"{base}/api/v1/public/ratings", timeout=30,
                       json={"case_number": number, "id_suffix": resident[-6:], "level": 1})
    assert again.status_code == 409

    # the unit's complaint handler sees the ticket (谁办理、谁负责), rectifies and answers
    x = handler.get(f"/api/v1/rectifications/{rating['rectification_id']}")
    assert x["status"] == "open" and x["staff"] == "county.chief" and x["visit_required"] and x["due_on"]
    x = handler.post(f"/api/v1/rectifications/{x['id']}/rectify", {
        "verification": "属实：未一次性告知经营场所证明的要求", "measures": "修订一次性告知单，首席代表带班复核",
        "answer": "已整改并致歉，欢迎继续监督"})
    assert x["status"] == "answered"
    handler.post(f"/api/v1/rectifications/{x['id']}/visit", {"method": "phone", "result": "已电话回访，群众认可"})

    # the applicant rates the rectification, with the same proof
    r = httpx.post(f"{base}/api/v1/public/rectifications/rate", timeout=30,
                   json={"case_number": number, "id_suffix": resident[-6:], "satisfaction": "satisfied"})
    assert r.status_code == 200 and r.json()["status"] == "rated", r.text
    figures = httpx.get(f"{base}/api/v1/public/ratings/figures", params={"item_id": item["id"]}, timeout=30).json()
    assert figures["count"] >= 1 and figures["bad"] >= 1


def test_a_public_complaint_is_followed_and_handled(demo_platform):
    base = demo_platform.gateway_url
    r = httpx.post(f"{base}/api/v1/public/complaints", timeout=30, json={
        "kind": "complaint", "category": "cannot_get_done", "content": "营业执照变更被告知需回户籍地",
        "subject": {"tenant": "620602", "department": "县市场监管局"},
        "complainant": {"name": "李群众", "phone": "13993500002"}})
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["handling_unit"] == "620602" and receipt["progress_due"] and receipt["result_due"]
    handler = Api(demo_platform, "county.complaints")
    c = next(x for x in handler.get("/api/v1/complaints", limit=200)["complaints"] if x["number"] == receipt["number"])
    assert c["complainant"]["name"] == "李群众"
    handler.post(f"/api/v1/complaints/{c['id']}/assign", {})
    handler.post(f"/api/v1/complaints/{c['id']}/progress", {"text": "已转县市场监管局核实"})
    followed = httpx.post(f"{base}/api/v1/public/complaints/follow", timeout=30,
                          json={"number": receipt["number"], "phone_last4": "0002"}).json()
    assert followed["status"] == "progressing" and [p["kind"] for p in followed["progress"]] == ["received",
                                                                                                   "progress"]
