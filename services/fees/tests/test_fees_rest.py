"""The fees' REST edge (gateway/routes_fees.py) against the real fees gRPC server: the cashier's
actions with a token, the province's callback with its SM2 signature and no token, public status."""

from __future__ import annotations

from services.fees.tests.conftest import COUNTY_ACCOUNT, case_number


def auth(tokens, user):
    return {"authorization": f"Bearer {tokens[user]}"}


def test_cashier_assesses_issues_and_the_province_pays_through_the_callback(client, tokens, province):
    number = case_number()
    cashier = auth(tokens, "county.cashier")
    r = client.post(f"/api/v1/fees/cases/{number}/assess", headers=cashier, json={
        "lines": [{"fee_code": "FEE-CSJCSSPTF", "quantities": {"building_area": "100"}, "standard_fen": 9000}]})
    assert (r.status_code, r.json()["field"]) == (422, "lines[0].standard_fen")
    assert "超出收费标准范围" in r.json()["message"]
    r = client.post(f"/api/v1/fees/cases/{number}/assess", headers=cashier, json={"lines": [{"fee_code": 5}]})
    assert (r.status_code, r.json()["field"]) == (422, "lines.0.fee_code")
    r = client.post(f"/api/v1/fees/cases/{number}/assess", headers=cashier, json={
        "lines": [{"fee_code": "FEE-CSJCSSPTF", "quantities": {"building_area": "100"}}], "key_project": True})
    assert r.status_code == 200 and r.json()["total_fen"] == "400000"
    r = client.post(f"/api/v1/fees/cases/{number}/notice", headers=auth(tokens, "county.clerk"))
    assert r.status_code == 403
    r = client.post(f"/api/v1/fees/cases/{number}/notice", headers=cashier)
    assert r.status_code == 200
    notice = r.json()["notice"]
    assert notice["payee_account"] == COUNTY_ACCOUNT

    status = f"/api/v1/payments/{notice['notice_number']}/status"
    r = client.get(status, params={"code": notice["verification_code"]})          # public, no login
    assert r.status_code == 200 and r.json()["status_label"] == "待缴款"
    fields = province.fields(notice["notice_number"], 400000)
    signature = province.sign(fields)
    r = client.post("/api/v1/payments/callback", json={**fields, "amount_fen": "400001", "signature": signature})
    assert r.status_code == 401 and "签名" in r.json()["message"]                   # tampered: refused
    r = client.post("/api/v1/payments/callback", json={**fields, "signature": signature})
    assert r.status_code == 200 and (r.json()["code"], r.json()["outcome"], r.json()["settled"]) == \
        ("SUCCESS", "recorded", True)
    r = client.post("/api/v1/payments/callback", json={**fields, "signature": signature})
    assert r.json()["outcome"] == "duplicate"
    r = client.get(status, params={"code": notice["verification_code"].lower()})   # as a payer may type it
    assert r.json()["status"] == "paid"
    r = client.get(f"/api/v1/fees/cases/{number}/notice.pdf", headers=cashier)
    assert r.status_code == 200 and r.content[:4] == b"%PDF"
    day = notice["issued_at"][:10]
    r = client.get(f"/api/v1/fees/reports/{day}/download", params={"format": "csv"},
                   headers=auth(tokens, "county.supervisor"))
    assert r.status_code == 200 and notice["notice_number"] in r.content.decode("utf-8-sig")
    r = client.get(f"/api/v1/fees/reports/{day}", headers=cashier)
    assert r.status_code == 200 and int(r.json()["payments_received"]) >= 1
    r = client.get(f"/api/v1/fees/cases/{number}", headers=auth(tokens, "dongdajie.cashier"))
    assert r.status_code == 404
    r = client.get("/api/v1/public/fees", params={"region": "620602"})
    assert "FEE-TDFKF" in [i["definition"]["fee_code"] for i in r.json()["items"]]
    r = client.get("/api/v1/payments/123/status", params={"code": notice["verification_code"]})
    assert (r.status_code, r.json()["field"]) == (422, "notice_number")
