"""One case across every service, through the real processes and the gateway with real logins:
the window accepts (intake) → the back office reviews and decides (approval) → the fee window assesses
the item's fee, issues one notice, the province's signed callback pays it (fees) → fees_settled
completes the case (approval) → case_completed makes the result ready at the window (intake) → the
hand-out there is the delivery (approval). And a 即办件 decided on the spot by the window's chief
representative. Every hop between services is an event through the outbox and RabbitMQ."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.fees.signing import sign_callback
from tests.test_e2e_intake import RESIDENTS, Api, submit, wait_for

pytestmark = pytest.mark.e2e
COUNTY_ACCOUNT = "27050101040012345"   # 凉州区财政局非税收入汇缴结算户 (services/fees/demo.py)
APPROVAL = "/api/v1/approval"


def county_item(clerk: Api, name: str) -> dict:
    return next(i for i in clerk.get("/api/v1/catalogue/items", limit=200)["items"]
                if i["elements"]["name"] == name and i["listing"] == "LISTING_KIND_OWN")


def found(api: Api, path: str) -> dict | None:
    r = httpx.get(api.base + path, headers=api.headers, timeout=30)
    return r.json() if r.status_code == 200 else None


def accepted_at_the_window(clerk: Api, item: dict, resident: str) -> tuple[dict, dict]:
    sc = item["elements"]["scenarios"][0]
    app = submit(clerk, item, sc, resident, [m["code"] for m in sc["materials"]])
    accepted = clerk.post(f"/api/v1/intake/applications/{app['id']}/accept", {})
    assert accepted["status"] == "accepted"
    return app, accepted


def history(clerk: Api, app_id: str) -> list[str]:
    return [h["what"] for h in clerk.get(f"/api/v1/intake/applications/{app_id}")["history"]]


def test_a_case_with_a_fee_is_decided_paid_completed_and_handed_out(demo_platform):
    clerk, reviewer, decider, cashier = (Api(demo_platform, u) for u in
                                         ("county.clerk", "county.reviewer", "county.decider", "county.cashier"))
    item = county_item(clerk, "居民身份证换领")
    app, accepted = accepted_at_the_window(clerk, item, RESIDENTS[3])
    number = accepted["case_number"]

    # approval opened the case from application_accepted, with the receiving tenant's calendar
    case = wait_for(lambda: found(reviewer, f"{APPROVAL}/cases/by-number/{number}"), what="the case to open")
    assert case["status"] == "review" and case["has_fees"] and case["statutory"]["due"]
    review = next(s for s in case["steps"] if s["kind"] == "review")
    reviewer.post(f"{APPROVAL}/tasks/{review['id']}/claim")
    case = reviewer.post(f"{APPROVAL}/tasks/{review['id']}/review", {"opinion": "材料齐全，符合换领条件",
                                                                     "conclusion": "agree"})
    decision = next(s for s in case["steps"] if s["kind"] == "decision")
    decider.post(f"{APPROVAL}/tasks/{decision['id']}/claim")
    case = decider.post(f"{APPROVAL}/cases/{case['id']}/decide", {"outcome": "approve", "opinion": "准予换领"})
    assert case["status"] == "awaiting_fees"
    # the decision's answer reads like the case afterwards: the deadlines with their working-day traces (issue 19)
    assert case["promised"]["trace"] and case["statutory"]["trace"] and case["history"]

    # the window hears of the decision, but nothing is handed out before the fee is paid
    wait_for(lambda: "decided" in history(clerk, app["id"]), what="the decision reaching intake")
    r = httpx.post(f"{clerk.base}/api/v1/intake/applications/{app['id']}/pickup", headers=clerk.headers, timeout=30,
                   json={"picked_up_by": "王秀英", "id_number": RESIDENTS[3], "channel": "window"})
    assert r.status_code == 409 and "尚未办结" in r.json()["message"]

    # fees: assessed from the item's fee reference without a person (a fixed standard), one notice
    fees = wait_for(lambda: (lambda f: f if f and f["status"] == "assessed" else None)(
        found(cashier, f"/api/v1/fees/cases/{number}")), what="the fee assessed from case_decided")
    assert [x["fee_code"] for x in fees["lines"]] == ["FEE-JMSFZ-GBF"] and fees["total_fen"] == "2000"
    notice = cashier.post(f"/api/v1/fees/cases/{number}/notice")["notice"]
    assert notice["payee_account"] == COUNTY_ACCOUNT
    # paid on the drill's day (the platform's pinned date): a payment stamped after the service's now is refused
    fields = {"payment_id": f"GSPAY{uuid.uuid4().hex[:16].upper()}", "notice_number": notice["notice_number"],
              "amount_fen": "2000", "paid_at": notice["issued_at"], "payee_account": COUNTY_ACCOUNT,
              "payer_name": "王秀英", "channel": "unionpay"}
    r = httpx.post(f"{clerk.base}/api/v1/payments/callback", json={**fields, "signature": sign_callback(fields)},
                   timeout=30)
    assert r.status_code == 200 and r.json()["settled"] is True, r.text

    # fees_settled → approval completes the case → intake's result is ready
    case = wait_for(lambda: (lambda c: c if c["status"] == "completed" else None)(
        reviewer.get(f"{APPROVAL}/cases/{case['id']}")), what="fees_settled completing the case")
    assert case["fees_settled"]
    wait_for(lambda: clerk.get(f"/api/v1/intake/applications/{app['id']}")["status"]
             == "completed", what="case_completed reaching intake")
    progress = httpx.get(f"{clerk.base}/api/v1/public/progress",
                         params={"case": number, "code": accepted["query_code"]}, timeout=30).json()
    assert progress["step"] == "已办结，结果可领取"

    # the hand-out at the window is the delivery (送达), within its 10 working days
    done = clerk.post(f"/api/v1/intake/applications/{app['id']}/pickup",
                      {"picked_up_by": "王秀英", "id_number": RESIDENTS[3], "channel": "window", "what": "居民身份证"})
    assert done["status"] == "picked_up"
    case = wait_for(lambda: (lambda c: c if c["status"] == "delivered" else None)(
        reviewer.get(f"{APPROVAL}/cases/{case['id']}")), what="the hand-out recorded as delivery")
    assert case["delivery"]["method"] == "window" and case["delivery"]["by"] == "county.clerk"
    assert not case["delivery"]["late"]


def test_an_immediate_item_is_decided_by_the_chief_representative_at_the_window(demo_platform):
    chief, reviewer = Api(demo_platform, "county.chief"), Api(demo_platform, "county.reviewer")
    clerk = Api(demo_platform, "county.clerk")
    item = county_item(chief, "个体工商户设立登记")
    # a clerk accepts, the chief representative decides: 受理、决定相互分离 (seed 004, issue 21 item 4)
    app, accepted = accepted_at_the_window(clerk, item, RESIDENTS[4])
    assert "首席代表" in chief.get(f"/api/v1/intake/applications/{app['id']}")["history"][-1]["detail"]
    case = wait_for(lambda: found(chief, f"{APPROVAL}/cases/by-number/{accepted['case_number']}"),
                    what="the case to open")
    assert case["immediate"] and [s["kind"] for s in case["steps"]] == ["window_decision"]
    # a reviewer has no part in it; the chief representative decides in one step
    r = httpx.post(f"{reviewer.base}{APPROVAL}/cases/{case['id']}/decide-immediately", headers=reviewer.headers,
                   json={"outcome": "approve"}, timeout=30)
    assert r.status_code == 403
    case = chief.post(f"{APPROVAL}/cases/{case['id']}/decide-immediately",
                      {"outcome": "approve", "opinion": "材料齐全，当场办结"})
    assert case["status"] == "completed" and case["decision"]["outcome"] == "approved"
    wait_for(lambda: chief.get(f"/api/v1/intake/applications/{app['id']}")["status"]
             == "completed", what="the on-the-spot decision reaching intake")
    done = chief.post(f"/api/v1/intake/applications/{app['id']}/pickup",
                      {"picked_up_by": "马建国", "id_number": RESIDENTS[4], "channel": "window",
                       "what": "个体工商户营业执照"})
    assert done["status"] == "picked_up"
    case = wait_for(lambda: (lambda c: c if c["status"] == "delivered" else None)(
        chief.get(f"{APPROVAL}/cases/{case['id']}")), what="the hand-out recorded as delivery")
    assert case["delivery"]["method"] == "window" and case["delivery"]["by"] == "county.chief"


def test_an_automatic_approval_decides_at_acceptance(demo_platform):
    """Issue 21 item 7 (seed 003 §28, 秒批: “即来即办、即来即批”): a 即办件 marked for automatic approval is decided
    at acceptance by its rule — recorded as the decider with its version — and is ready to hand out at once;
    when the rule does not hold, the chief representative decides as for any 即办件."""
    admin, clerk = Api(demo_platform, "county.admin"), Api(demo_platform, "county.clerk")
    elements = {
        "name": "高龄老人生活补贴申领（秒批）", "basic_code": f"MP{uuid.uuid4().hex[:10].upper()}", "item_type": "05",
        "exercise_level": "4", "case_kind": "1", "department": "凉州区民政局",
        "legal_basis": "《甘肃省高龄老人补贴制度实施办法》", "acceptance_conditions": "本区户籍、年满70周岁",
        "targets": ["natural_person"], "statutory_limit_days": 20, "promised_limit_days": 0,
        "auto_approval": "age_at_least:70",
        "scenarios": [{"code": "S1", "name": "首次申领", "materials": [
            {"code": "M1", "name": "居民身份证", "core": True}, {"code": "M2", "name": "户口簿", "core": True}]}]}
    item = admin.post("/api/v1/catalogue/items", {"elements": elements}, expect=201)
    item = admin.post(f"/api/v1/catalogue/items/{item['id']}/publish")
    assert item["elements"]["auto_approval"] == "age_at_least:70"

    # 王秀英, born 1955-05-05 (RESIDENTS[1]): 71 on the drill's day — the rule decides at once
    app, accepted = accepted_at_the_window(clerk, item, RESIDENTS[1])
    case = wait_for(lambda: (lambda c: c if c and c["status"] == "completed" else None)(
        found(clerk, f"{APPROVAL}/cases/by-number/{accepted['case_number']}")), what="the rule's decision")
    assert case["decision"]["decider"] == "秒批规则 age_at_least:70 v1" and case["decision"]["outcome"] == "approved"
    assert "秒批" in [h["action"] for h in case["history"]]
    wait_for(lambda: clerk.get(f"/api/v1/intake/applications/{app['id']}")["status"] == "completed",
             what="the automatic approval reaching intake")

    # born 1988 (RESIDENTS[3]): the rule does not hold; the chief representative decides
    app, accepted = accepted_at_the_window(clerk, item, RESIDENTS[3])
    case = wait_for(lambda: found(clerk, f"{APPROVAL}/cases/by-number/{accepted['case_number']}"),
                    what="the case to open")
    assert case["status"] == "review" and not (case.get("decision") or {}).get("outcome")
    assert "未满 70 周岁" in case["history"][-1]["detail"]


def test_a_township_window_collects_a_county_item_the_county_decides_and_the_township_hands_out(demo_platform):
    """Issue 21 item 6 (代收; seed 000 §10 报批件 “不得要求申请人重复提供申请材料”, seed 003 §4 代为收件（受理）,
    seed 001 就近取件): the township window takes in and accepts a county item on the county's behalf; the case is the
    county's, its back office decides; the township follows it and hands out the result near the resident."""
    admin, clerk = Api(demo_platform, "county.admin"), Api(demo_platform, "township.clerk")
    reviewer, decider = Api(demo_platform, "county.reviewer"), Api(demo_platform, "county.decider")
    township = next(u["tenant"] for u in demo_platform.users if u["username"] == "township.clerk")
    elements = {
        "name": "老年人优待证办理（街道代收）", "basic_code": f"DS{uuid.uuid4().hex[:10].upper()}", "item_type": "20",
        "exercise_level": "4", "case_kind": "2", "department": "凉州区民政局", "legal_basis": "《老年人权益保障法》",
        "acceptance_conditions": "本区户籍、年满60周岁", "targets": ["natural_person"], "statutory_limit_days": 20,
        "promised_limit_days": 5,
        "scenarios": [{"code": "S1", "name": "首次办理", "materials": [
            {"code": "M1", "name": "居民身份证", "core": True}, {"code": "M2", "name": "近期免冠照片", "core": True}]}]}
    item = admin.post("/api/v1/catalogue/items", {"elements": elements}, expect=201)
    admin.post(f"/api/v1/catalogue/items/{item['id']}/publish")
    admin.post(f"/api/v1/catalogue/items/{item['id']}/delegate",
               {"target_tenants": [township], "kind": "collect", "reason": "街道便民服务中心代收"})
    item = next(i for i in clerk.get("/api/v1/catalogue/items", limit=200)["items"] if i["id"] == item["id"])
    assert item["listing"] == "LISTING_KIND_COLLECT"

    app, accepted = accepted_at_the_window(clerk, item, RESIDENTS[2])
    assert accepted["tenant"] == "620602" and accepted["collect_tenant"] == township
    number = accepted["case_number"]
    case = wait_for(lambda: found(reviewer, f"{APPROVAL}/cases/by-number/{number}"), what="the county's case")
    review = next(s for s in case["steps"] if s["kind"] == "review")
    reviewer.post(f"{APPROVAL}/tasks/{review['id']}/claim")
    case = reviewer.post(f"{APPROVAL}/tasks/{review['id']}/review", {"opinion": "材料齐全", "conclusion": "agree"})
    step = next(s for s in case["steps"] if s["kind"] == "decision")
    decider.post(f"{APPROVAL}/tasks/{step['id']}/claim")
    case = decider.post(f"{APPROVAL}/cases/{case['id']}/decide", {"outcome": "approve", "opinion": "准予办理"})
    assert case["status"] == "completed"
    wait_for(lambda: clerk.get(f"/api/v1/intake/applications/{app['id']}")["status"] == "completed",
             what="the county's completion reaching the township window")
    done = clerk.post(f"/api/v1/intake/applications/{app['id']}/pickup",
                      {"picked_up_by": "王秀英", "id_number": RESIDENTS[2], "channel": "window",
                       "what": "老年人优待证"})
    assert done["status"] == "picked_up"
    case = wait_for(lambda: (lambda c: c if c["status"] == "delivered" else None)(
        decider.get(f"{APPROVAL}/cases/{case['id']}")), what="the township's hand-out recorded as the delivery")
    assert case["delivery"]["by"] == "township.clerk"
