"""The intake's REST routes (gateway/routes_intake.py) against the real intake and catalogue gRPC
servers, real tokens and the real database."""

from __future__ import annotations

import datetime as dt

import pytest

from services.intake.tests.conftest import TOWNSHIP, auth, key, pdf_text, rid
from tests.support import report_from_approval

BASE = "/api/v1/intake/applications"


def body(item: str, **over) -> dict:
    d = {"idempotency_key": key("rest"), "item_id": item, "scenario_code": "S1", "channel": "window",
         "applicant": {"name": "刘六", "id_number": rid(), "phone": "0935-5550000"},
         "materials": [{"code": c, "note": "原件已核验"} for c in ("M1", "M2", "M3", "M4")]}
    d.update(over)
    return d


def test_window_flow_over_rest(client, tokens, catalogue_items, intake_handlers, intake_db, today):
    h = auth(tokens, "dongdajie.clerk")
    number = rid()
    r = client.post(BASE, json=body(catalogue_items["township"].id, materials=[{"code": "M1"}, {"code": "M4"}],
                                    applicant={"name": "刘六", "id_number": number}), headers=h)
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["status"] == "received" and app["tenant"] == TOWNSHIP
    r = client.post(f"{BASE}/{app['id']}/correction", json={"items": [{"material_code": "M4", "problem": "照片模糊"}]},
                    headers=h)
    assert r.status_code == 200 and {c["material_code"] for c in r.json()["open_corrections"]} == {"M2", "M3", "M4"}
    today.set_today(dt.date(2026, 3, 3))
    r = client.post(f"{BASE}/{app['id']}/supply", json={"materials": [{"code": "M2"}, {"code": "M4"}]}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "received"
    r = client.post(f"{BASE}/{app['id']}/accept", json={"waived": [{"material_code": "M3",
                                                                    "promised_by": "2026-03-10"}]}, headers=h)
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert accepted["status"] == "accepted" and accepted["waived"][0]["material_code"] == "M3"
    r = client.post(f"{BASE}/{app['id']}/supply", json={"materials": [{"code": "M3"}]}, headers=h)
    assert r.status_code == 200 and r.json()["waived"] == []
    r = client.get(f"{BASE}/{app['id']}", headers=h)
    assert r.status_code == 200 and [n["kind"] for n in r.json()["notices"]] == ["correction", "acceptance"]
    notice = r.json()["notices"][1]
    pdf = client.get(f"{BASE}/{app['id']}/notices/{notice['id']}.pdf", headers=h)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content[:4] == b"%PDF"
    r = client.post(f"{BASE}/{app['id']}/pickup", json={"picked_up_by": "刘六", "id_number": number,
                                                       "channel": "window", "what": "批准书"}, headers=h)
    assert r.status_code == 409 and "尚未办结" in r.json()["message"]
    report_from_approval(intake_handlers, intake_db, TOWNSHIP, accepted["case_number"])
    code = accepted["query_code"]
    r = client.get("/api/v1/public/progress", params={"case": accepted["case_number"], "code": code})
    assert r.status_code == 200 and r.json()["step"] == "已办结，结果可领取"
    r = client.post(f"{BASE}/{app['id']}/pickup", json={"picked_up_by": "刘六", "id_number": number,
                                                       "channel": "window", "what": "批准书"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "picked_up"
    r = client.get(BASE, params={"status": "picked_up", "limit": 200}, headers=h)
    assert app["id"] in [a["id"] for a in r.json()["applications"]]
    r = client.get(f"/api/v1/intake/applicants/{number}", headers=h)
    assert r.status_code == 200 and r.json()["name"] == "刘六"
    # the public lookup: no login, the case's query code (or the full ID number, in a body) only
    r = client.get("/api/v1/public/progress", params={"case": accepted["case_number"], "code": code})
    assert r.status_code == 200 and r.json()["step"] == "已出件" and "刘六" not in r.text and code not in r.text
    r = client.post("/api/v1/public/progress", json={"case_number": accepted["case_number"], "id_number": number})
    assert r.status_code == 200 and r.json()["step"] == "已出件"
    r = client.get("/api/v1/public/progress", params={"case": accepted["case_number"], "code": "ABCD2345"})
    assert r.status_code == 404 and not r.json()["message"].isascii()
    # the page the notice's QR code opens: the link carries both, nothing to type
    page = client.get("/progress", params={"case": accepted["case_number"], "code": code})
    assert page.status_code == 200 and "已出件" in page.text and "刘六" not in page.text


def test_reject_over_rest(client, tokens, catalogue_items, today):
    h = auth(tokens, "dongdajie.clerk")
    app = client.post(BASE, json=body(catalogue_items["township"].id), headers=h).json()
    r = client.post(f"{BASE}/{app['id']}/reject", json={"reason": "不符合一户一宅条件"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "received" and r.json()["rejection"]["pending"] is True
    # 无权否决 (seed 003 §20): in force only once the head confirms it
    r = client.post(f"{BASE}/{app['id']}/reject/confirm", json={"confirm": True}, headers=h)
    assert r.status_code == 403
    head = auth(tokens, "dongdajie.head")
    r = client.post(f"{BASE}/{app['id']}/reject/confirm", json={"confirm": "maybe"}, headers=head)
    assert r.status_code == 422 and r.json()["field"].startswith("confirm")
    r = client.post(f"{BASE}/{app['id']}/reject/confirm", json={"confirm": True, "note": "同意"}, headers=head)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["rejection"]["confirmed_by_name"] == "周建华"


def test_the_head_finds_a_proposed_refusal_on_the_window_list_and_confirms_it_in_the_console(
        client, tokens, catalogue_items, today):
    """The console offers the unit's head the window's list and the refusal to confirm (无权否决): intake lets the
    head (and a chief representative) read them, inside the unit only."""
    app = client.post(BASE, json=body(catalogue_items["township"].id), headers=auth(tokens, "dongdajie.clerk")).json()
    r = client.post(f"{BASE}/{app['id']}/reject", json={"reason": "超出本中心办理范围"},
                    headers=auth(tokens, "dongdajie.clerk"))
    assert r.status_code == 200 and r.json()["rejection"]["pending"] is True
    head = auth(tokens, "dongdajie.head")
    listed = client.get(BASE, params={"status": "received", "limit": 200}, headers=head)
    assert listed.status_code == 200 and app["id"] in {a["id"] for a in listed.json()["applications"]}
    page = client.get("/console/window/today", params={"status": "received"}, headers=head)
    assert page.status_code == 200 and app["id"] in page.text
    page = client.get(f"/console/window/app/{app['id']}", headers=head)
    assert page.status_code == 200 and 'id="confirm-rejection-form"' in page.text
    # the window's own forms are the clerk's (intake refuses them to the head): not offered to the head
    assert 'id="accept-form"' not in page.text and 'id="reject-form"' not in page.text
    clerk_page = client.get(f"/console/window/app/{app['id']}", headers=auth(tokens, "dongdajie.clerk"))
    assert 'id="accept-form"' in clerk_page.text and 'id="confirm-rejection-form"' not in clerk_page.text
    # the county's head reads the county's list, not the township's applications
    assert client.get(f"{BASE}/{app['id']}", headers=auth(tokens, "county.head")).status_code == 404
    assert app["id"] not in client.get("/console/window/today", headers=auth(tokens, "county.head")).text
    r = client.post(f"{BASE}/{app['id']}/reject/confirm", json={"confirm": True, "note": "同意"}, headers=head)
    assert r.status_code == 200 and r.json()["status"] == "rejected"


def test_the_proposer_of_a_refusal_is_not_offered_its_confirmation(client, tokens, catalogue_items, today):
    """无权否决 (seed 003 §20): a chief representative who also works the window proposes a refusal; another —
    the head — confirms it. The proposer's page says so instead of offering a form intake would refuse."""
    chief, head = auth(tokens, "county.chief"), auth(tokens, "county.head")
    app = client.post(BASE, json=body(catalogue_items["county"].id), headers=chief).json()
    assert app["tenant"] == "620602", app
    r = client.post(f"{BASE}/{app['id']}/reject", json={"reason": "申请事项依法不需要取得行政许可"}, headers=chief)
    assert r.status_code == 200 and r.json()["rejection"]["pending"] is True
    own = client.get(f"/console/window/app/{app['id']}", headers=chief).text
    assert 'id="confirm-rejection-form"' not in own and 'id="not-own-rejection"' in own
    theirs = client.get(f"/console/window/app/{app['id']}", headers=head).text
    assert 'id="confirm-rejection-form"' in theirs and 'id="not-own-rejection"' not in theirs
    r = client.post(f"{BASE}/{app['id']}/reject/confirm", json={"confirm": True}, headers=chief)
    assert r.status_code == 409                                   # intake's own rule, the page's reason


def test_rest_walls(client, tokens, catalogue_items, today):
    app = client.post(BASE, json=body(catalogue_items["township"].id), headers=auth(tokens, "dongdajie.clerk")).json()
    assert client.get(BASE).status_code == 401
    assert client.get(f"{BASE}/{app['id']}", headers=auth(tokens, "xidajie.clerk")).status_code == 404
    r = client.post(f"{BASE}/{app['id']}/accept", json={}, headers=auth(tokens, "xidajie.clerk"))
    assert r.status_code == 404
    assert client.get(f"{BASE}/{app['id']}", headers=auth(tokens, "county.supervisor")).status_code == 200
    r = client.post(f"{BASE}/{app['id']}/accept", json={}, headers=auth(tokens, "county.supervisor"))
    assert r.status_code == 403
    r = client.get(BASE, params={"subtree": "true", "limit": 200}, headers=auth(tokens, "county.supervisor"))
    assert app["id"] in [a["id"] for a in r.json()["applications"]]
    assert client.get(f"{BASE}/{app['id']}", headers=auth(tokens, "nanyuan.admin")).status_code == 404


@pytest.mark.parametrize("over, field", [
    ({"item_id": "00000000-0000-4000-8000-000000000000"}, "item_id"),
    ({"scenario_code": "S9"}, "scenario_code"),
    ({"applicant": {"name": "x", "id_number": "620602198001011230"}}, "applicant.id_number"),
    ({"materials": [{"code": "M1"}, {"code": "Q"}]}, "materials[1].code"),
    ({"channel": "fax"}, "channel"),
    ({"unexpected": 1}, "unexpected"),
    ({"idempotency_key": ""}, "idempotency_key"),
])
def test_rest_bad_input_is_422_naming_the_field(client, tokens, catalogue_items, today, over, field):
    r = client.post(BASE, json=body(catalogue_items["township"].id, **over), headers=auth(tokens, "dongdajie.clerk"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and not r.json()["message"].isascii()


def test_rest_duplicate_key_returns_the_same_application(client, tokens, catalogue_items, today):
    h = auth(tokens, "dongdajie.clerk")
    b = body(catalogue_items["township"].id)
    first, again = client.post(BASE, json=b, headers=h), client.post(BASE, json=b, headers=h)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]


def test_rest_waiver_beyond_the_limit_is_422(client, tokens, catalogue_items, today):
    h = auth(tokens, "dongdajie.clerk")
    app = client.post(BASE, json=body(catalogue_items["township"].id, materials=[{"code": "M1"}, {"code": "M3"},
                                                                                 {"code": "M4"}]), headers=h).json()
    r = client.post(f"{BASE}/{app['id']}/accept", json={"waived": [{"material_code": "M2",
                                                                    "promised_by": "2026-04-30"}]}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "waived[0].promised_by"


def test_the_public_lookup_needs_a_secret_the_applicant_holds(client, tokens, catalogue_items, today):
    """Issue 15: six characters of an ID no longer open a case; a wrong code and an unknown case answer alike."""
    h = auth(tokens, "dongdajie.clerk")
    number = rid()
    app = client.post(BASE, json=body(catalogue_items["township"].id, applicant={"name": "赵九", "id_number": number}),
                      headers=h).json()
    accepted = client.post(f"{BASE}/{app['id']}/accept", json={}, headers=h).json()
    case, code = accepted["case_number"], accepted["query_code"]
    # the acceptance notice prints the code beside the case number, and its QR link carries it
    notice = next(n for n in accepted["notices"] if n["kind"] == "acceptance")
    pdf = client.get(f"{BASE}/{app['id']}/notices/{notice['id']}.pdf", headers=h)
    text = pdf_text(pdf.content)
    assert pdf.status_code == 200 and case in text and code in text and f"progress?case={case}&code={code}" in text

    # the old key, the six-character suffix, opens nothing: not as the old parameter, not as a code or an ID
    r = client.get("/api/v1/public/progress", params={"case": case, "id_suffix": number[-6:]})
    assert r.status_code == 422 and r.json()["field"] == "code"
    r = client.post("/api/v1/public/progress", json={"case_number": case, "id_number": number[-6:]})
    assert r.status_code == 422 and r.json()["field"] == "id_number" and not r.json()["message"].isascii()
    r = client.post("/api/v1/public/progress", json={"case_number": case, "id_suffix": number[-6:]})
    assert r.status_code == 422 and r.json()["field"] == "id_suffix"
    r = client.post("/api/v1/public/progress", json={"case_number": case})
    assert r.status_code == 422 and r.json()["field"] == "query_code"
    r = client.post("/api/v1/public/progress", json={"case_number": case, "query_code": code, "id_number": "1" * 19})
    assert r.status_code == 422 and r.json()["field"] == "id_number"
    # a wrong code, another person's ID number and an unknown case: the same answer
    answers = [client.get("/api/v1/public/progress", params={"case": case, "code": "ABCD2345"}),
               client.post("/api/v1/public/progress", json={"case_number": case, "id_number": rid()}),
               client.get("/api/v1/public/progress", params={"case": case[:-6] + "999999", "code": code})]
    assert {(a.status_code, a.json()["message"]) for a in answers} == {(404, answers[0].json()["message"])}
    # the page: the form posts the ID number (kept out of links), the suffix gets no result
    page = client.post("/progress", content=f"case={case}&code=&id_number={number}",
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert page.status_code == 200 and "已受理" in page.text and number not in page.text
    page = client.get("/progress", params={"case": case, "id_suffix": number[-6:]})
    assert page.status_code == 200 and "已受理" not in page.text and "请输入查询码，或申请人完整的证件号码" in page.text
    page = client.post("/progress", content=f"case={case}&code={number[-6:]}",
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert page.status_code == 200 and "已受理" not in page.text and "查询码为通知书上" in page.text
    assert client.post("/progress", content="case=" + "9" * 2000).status_code == 413
