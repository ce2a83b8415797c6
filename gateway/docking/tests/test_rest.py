"""The province's one way in through the REST edge (POST /api/v1/province/messages, no login: the envelope's
signature is the credential) and the staff routes, the gateway calling the docking process over gRPC."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.docking.service import registration
from gateway.docking.tests.conftest import COUNTY, TOWNSHIP, applicant, new_id
from gateway.settings import GatewaySettings
from tests.support import serving


@pytest.fixture
def client(handlers, verifier, oidc):
    with serving([registration(handlers)], verifier) as target:
        settings = GatewaySettings(docking_target=target, oidc_server_url=oidc.url)
        with TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False) as c:
            yield c


def post(client, msg):
    raw = msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False)
    return client.post("/api/v1/province/messages", content=raw.encode("utf-8"),
                       headers={"content-type": "application/json"})


def test_a_province_message_through_the_edge_and_its_replay(client, simulator):
    msg = simulator.online_application(COUNTY, TOWNSHIP, new_id(), applicant())
    r = post(client, msg)
    assert r.status_code == 200 and r.json()["message_id"] == msg["message_id"]
    assert r.json()["receipt"]["body"] == {"message_id": msg["message_id"], "duplicate": False}
    replay = post(client, msg)
    assert replay.status_code == 401 and "重放" in replay.json()["message"]


def test_a_forged_message_is_401_and_bad_json_422_naming_the_field(client, simulator):
    msg = simulator.online_application(COUNTY, TOWNSHIP, new_id(), applicant())
    msg["body"]["unit"] = "620602002"
    assert post(client, msg).status_code == 401
    bad = post(client, "{not json")
    assert bad.status_code == 422 and bad.json()["field"] == "envelope_json"


def test_the_backlog_is_for_supervision_staff(client, tokens):
    r = client.get("/api/v1/docking/backlog", headers={"authorization": f"Bearer {tokens['county.supervisor']}"})
    assert r.status_code == 200 and {"pending", "oldest_age_seconds", "tenants"} <= set(r.json())
    assert client.get("/api/v1/docking/backlog").status_code == 401
    r = client.get("/api/v1/docking/backlog", headers={"authorization": f"Bearer {tokens['county.clerk']}"})
    assert r.status_code == 403


def test_the_reconciliation_report_as_csv_and_as_pdf(client, tokens):
    auth = {"authorization": f"Bearer {tokens['county.admin']}"}
    as_json = client.post("/api/v1/docking/reconciliation", headers=auth)
    assert as_json.status_code == 200 and not as_json.json().get("pdf") and as_json.json()["csv"].startswith("日期")
    csv = client.post("/api/v1/docking/reconciliation?format=csv", headers=auth)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    pdf = client.post("/api/v1/docking/reconciliation?format=pdf", headers=auth)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    bad = client.post("/api/v1/docking/reconciliation?format=docx", headers=auth)
    assert bad.status_code == 422
