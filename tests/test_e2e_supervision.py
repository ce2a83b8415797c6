"""Supervision through the real processes: a case left with its reviewer past the review step's budget raises a
yellow card, then a red one, on that reviewer (the drill pins supervision's date, restarting it as the other drills
do); the county's supervisor issues a 督办函 on the red card; the county answers it; the card closes when the case
is reviewed and decided. Every hop is an event through the outbox and RabbitMQ (approval's step_claimed names the
post holder); nothing is asked of the other services."""

from __future__ import annotations

import datetime as dt
import math

import httpx
import pytest

from shared.calendar import WorkingCalendar, seed_year_from_package
from tests.fixtures import E2E_TODAY
from tests.test_e2e_case_flow import APPROVAL, accepted_at_the_window, county_item, found
from tests.test_e2e_intake import RESIDENTS, Api, wait_for

pytestmark = pytest.mark.e2e
SUP = "/api/v1/supervision"


def cards(supervisor: Api, **params) -> list[dict] | None:
    """Cards as the supervisor lists them; None while supervision is coming back from a drill's restart (the
    edge answers 503 until its channel reconnects)."""
    r = httpx.get(f"{supervisor.base}{SUP}/cards", headers=supervisor.headers, params={"limit": 50, **params},
                  timeout=30)
    if r.status_code == 503:
        return None
    assert r.status_code == 200, r.text
    return r.json()["cards"]


def step_cards(supervisor: Api, number: str, status: str = "") -> list[dict]:
    return cards(supervisor, case_number=number, rule_id="step-budget", **({"status": status} if status else {})) or []


def test_a_case_held_past_its_step_budget_is_carded_ordered_answered_and_closed(demo_platform):
    clerk, reviewer, decider, supervisor, head = (Api(demo_platform, u) for u in (
        "county.clerk", "county.reviewer", "county.decider", "county.supervisor", "county.head"))
    item = county_item(clerk, "居民身份证换领")
    app, accepted = accepted_at_the_window(clerk, item, RESIDENTS[2])
    number = accepted["case_number"]
    case = wait_for(lambda: found(reviewer, f"{APPROVAL}/cases/by-number/{number}"), what="the case to open")
    review = next(s for s in case["steps"] if s["kind"] == "review")
    reviewer.post(f"{APPROVAL}/tasks/{review['id']}/claim")
    # the review's budget: half the promised limit in working days, counted from the claim (the drill's day)
    claimed_on = dt.date.fromisoformat(E2E_TODAY)
    budget = math.ceil(0.5 * item["elements"]["promised_limit_days"])
    due = WorkingCalendar([seed_year_from_package(2026)]).add_working_days(claimed_on, budget).due
    assert due is not None
    assert step_cards(supervisor, number) == []
    try:
        demo_platform.restart_service("supervision", {"SANJI_FIXED_TODAY": due.isoformat()})
        yellow = wait_for(lambda: step_cards(supervisor, number, "open"), what="the yellow card")
        assert [(c["severity"], c["post_holder"], c["post"], c["due"]) for c in yellow] == [
            ("yellow", "county.reviewer", "审核人", due.isoformat())]
        assert f"{E2E_TODAY} 认领" in yellow[0]["trace"]
        demo_platform.restart_service("supervision", {"SANJI_FIXED_TODAY": (due + dt.timedelta(days=1)).isoformat()})
        red = wait_for(lambda: [c for c in step_cards(supervisor, number, "open") if c["severity"] == "red"],
                       what="the red card")
        assert [(c["post_holder"], c["post_holder_name"] != "") for c in red] == [("county.reviewer", True)]
        [closed] = step_cards(supervisor, number, "closed")
        assert closed["closed_reason"] == "升级为红牌"

        # the supervisor's 督办函, the county's answer, the letter as a PDF
        order = supervisor.post(f"{SUP}/cards/{red[0]['id']}/orders", {"request": "请于三个工作日内说明原因并整改"},
                                expect=201)
        assert order["status"] == "issued" and order["unit"] == "620602" and order["case_number"] == number
        answered = head.post(f"{SUP}/orders/{order['id']}/answer",
                             {"reason": "审查人员外出培训，未及时移交", "rectification": "建立AB岗制度，即日办理"})
        assert answered["status"] == "answered" and answered["answered_by"] == "county.head"
        pdf = httpx.get(f"{supervisor.base}{SUP}/orders/{order['id']}/document", headers=supervisor.headers,
                        timeout=30)
        assert pdf.status_code == 200 and pdf.content[:4] == b"%PDF"
        r = httpx.post(f"{clerk.base}{SUP}/cards/{red[0]['id']}/orders", headers=clerk.headers, json={}, timeout=30)
        assert r.status_code == 403
    finally:
        demo_platform.restart_service("supervision", {"SANJI_FIXED_TODAY": E2E_TODAY})

    # the review and the decision: every card of the case closes, and stays in the record
    case = reviewer.post(f"{APPROVAL}/tasks/{review['id']}/review", {"opinion": "符合换领条件", "conclusion": "agree"})
    decision = next(s for s in case["steps"] if s["kind"] == "decision")
    decider.post(f"{APPROVAL}/tasks/{decision['id']}/claim")
    decider.post(f"{APPROVAL}/cases/{case['id']}/decide", {"outcome": "approve", "opinion": "准予换领"})
    wait_for(lambda: cards(supervisor, case_number=number, status="open") == [], what="the cards to close")
    everything = supervisor.get(f"{SUP}/cards", case_number=number)["cards"]
    assert {c["status"] for c in everything} == {"closed"} and len(everything) >= 2
    verdict = supervisor.get(f"{SUP}/chain/verify")
    assert int(verdict["records"]) > 0 and verdict["unit"] == "620602"
