"""Issue 3 end to end through the real processes: the window's decisions, deemed acceptance across
国庆 2026 on the drill calendar, 容缺 supplied and expired, and a village proxy that reaches the county
window and is accepted without the resident submitting anything again, with its originals handed
up hop by hop. Everything goes through the gateway's REST API with real logins — except the attacks of
issue 15 on intake's own gRPC port, which a village agent tries directly: refused, as only the agency
service (with the credential `make run` gives it) may submit for a proxy point."""

from __future__ import annotations

import io
import itertools
import time
import uuid

import grpc
import httpx
import pytest
from pypdf import PdfReader
from sanji.intake.v1 import intake_pb2, intake_pb2_grpc

from infra.oidc.client import login
from shared.auth import ServiceCredentials
from shared.grpc.client import bearer
from tests.fixtures import E2E_TODAY

pytestmark = pytest.mark.e2e
_keys = itertools.count(1)
# valid resident ID numbers (GB 11643 check digit) of made-up people
RESIDENTS = ["110101199003070011", "620602195505050032", "620602194802121218", "620602198811110025",
             "620602197001010052", "62060219660606004X"]


class Api:
    def __init__(self, platform, username: str):
        user = next(u for u in platform.users if u["username"] == username)
        self.base = platform.gateway_url
        self.headers = {"authorization": f"Bearer {login(platform.oidc_url, username, user['password'])}"}

    def get(self, path: str, **params):
        r = httpx.get(self.base + path, headers=self.headers, params=params, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: dict | None = None, expect: int = 200):
        r = httpx.post(self.base + path, headers=self.headers, json=body or {}, timeout=30)
        assert r.status_code == expect, r.text
        return r.json()


def wait_for(fn, timeout: float = 30, what: str = "condition"):
    """`fn()` until it gives something; a 503 (a service the drill just restarted, before the gateway's channel
    reconnects: at most 2 s, shared.grpc.client) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = fn()
        except AssertionError as exc:
            if '"error":"unavailable"' not in str(exc) or time.monotonic() > deadline:
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def county_item_with_waivable(clerk: Api) -> tuple[dict, dict]:
    """A promised item the county window handles, and a scenario with a waivable material."""
    for it in clerk.get("/api/v1/catalogue/items", limit=200)["items"]:
        el = it["elements"]
        if it["listing"] != "LISTING_KIND_OWN" or el["case_kind"] != "2":
            continue
        for sc in el["scenarios"]:
            if any(m["waivable"] for m in sc["materials"]) and sum(1 for m in sc["materials"] if m["core"]) >= 2:
                return it, sc
    raise AssertionError("the demo catalogue has a county item with a waivable material")


def submit(clerk: Api, item: dict, scenario: dict, resident: str, materials: list[str]) -> dict:
    return clerk.post("/api/v1/intake/applications", {
        "idempotency_key": f"e2e-{next(_keys)}-{time.time_ns()}", "item_id": item["id"],
        "scenario_code": scenario["code"], "channel": "window",
        "applicant": {"id_number": resident, "kind": "natural_person", "name": "王秀英", "id_type": "resident_id",
                      "phone": "13909350000", "address": "凉州区东大街 1 号"},
        "materials": [{"code": c} for c in materials]}, expect=201)


def test_window_decisions_correction_then_acceptance_and_rejection(demo_platform):
    clerk = Api(demo_platform, "county.clerk")
    item, sc = county_item_with_waivable(clerk)
    codes = [m["code"] for m in sc["materials"]]
    app = submit(clerk, item, sc, RESIDENTS[0], codes[:1])
    assert app["status"] == "received" and app["decision_due"] == "2026-10-13"
    missing = [{"material_code": c, "problem": "缺少"} for c in codes[1:]]
    corr = clerk.post(f"/api/v1/intake/applications/{app['id']}/correction", {"items": missing})
    assert corr["status"] == "correction"
    assert {c["material_code"] for c in corr["open_corrections"]} == set(codes[1:])
    clerk.post(f"/api/v1/intake/applications/{app['id']}/supply", {"materials": [{"code": c} for c in codes[1:]]})
    accepted = clerk.post(f"/api/v1/intake/applications/{app['id']}/accept", {})
    assert accepted["status"] == "accepted" and accepted["case_number"].startswith("620602")
    kinds = [n["kind"] for n in accepted["notices"]]
    assert "correction" in kinds and "acceptance" in kinds
    notice = next(n for n in accepted["notices"] if n["kind"] == "acceptance")
    # the accept answer says where each notice prints (issue 19: its `pdf` is empty in application reads)
    assert notice["pdf_url"] == f"/api/v1/intake/applications/{app['id']}/notices/{notice['id']}.pdf"
    pdf = httpx.get(demo_platform.gateway_url + notice["pdf_url"], headers=clerk.headers, timeout=30)
    assert pdf.status_code == 200 and pdf.content[:4] == b"%PDF"
    # the public lookup: case number + the query code on the notice (or the full ID); nothing else shown
    code = accepted["query_code"]
    r = httpx.get(f"{demo_platform.gateway_url}/api/v1/public/progress",
                  params={"case": accepted["case_number"], "code": code})
    assert r.status_code == 200 and "王秀英" not in r.text and r.json()["step"]
    r = httpx.post(f"{demo_platform.gateway_url}/api/v1/public/progress",
                   json={"case_number": accepted["case_number"], "id_number": RESIDENTS[0]})
    assert r.status_code == 200 and r.json()["step"]
    r = httpx.get(f"{demo_platform.gateway_url}/api/v1/public/progress",
                  params={"case": accepted["case_number"], "code": "ABCD2345"})
    assert r.status_code == 404
    # six characters of the ID (about 3×10⁵ guesses beside a sequential case number) open nothing any more
    r = httpx.get(f"{demo_platform.gateway_url}/api/v1/public/progress",
                  params={"case": accepted["case_number"], "id_suffix": RESIDENTS[0][-6:]})
    assert r.status_code == 422

    rejected = submit(clerk, item, sc, RESIDENTS[1], codes)
    out = clerk.post(f"/api/v1/intake/applications/{rejected['id']}/reject", {"reason": "申请事项不属于本机关职权范围"})
    assert out["status"] == "received" and out["rejection"]["pending"] is True      # still with the window


def test_a_window_refusal_is_in_force_only_once_the_chief_representative_confirms_it(demo_platform):
    """Issue 21 item 5 (seed 003 §20, 无权否决, 只说“YES”不说“NO”): the clerk proposes, the chief
    representative confirms, and the notice the applicant keeps names who confirmed it."""
    clerk, chief = Api(demo_platform, "county.clerk"), Api(demo_platform, "county.chief")
    item, sc = county_item_with_waivable(clerk)
    app = submit(clerk, item, sc, RESIDENTS[5], [m["code"] for m in sc["materials"]])
    out = clerk.post(f"/api/v1/intake/applications/{app['id']}/reject", {"reason": "申请事项不属于本机关职权范围"})
    assert out["status"] == "received" and out["rejection"]["proposed_by"] == "county.clerk"
    assert not any(n["kind"] == "rejection" for n in out["notices"])
    clerk.post(f"/api/v1/intake/applications/{app['id']}/reject/confirm", {"confirm": True}, expect=403)
    out = chief.post(f"/api/v1/intake/applications/{app['id']}/reject/confirm", {"confirm": True, "note": "同意"})
    assert out["status"] == "rejected" and out["rejection"]["confirmed_by"] == "county.chief"
    assert out["rejection"]["confirmed_role"] == "窗口首席代表"
    notice = next(n for n in out["notices"] if n["kind"] == "rejection")
    r = httpx.get(f"{clerk.base}/api/v1/intake/applications/{app['id']}/notices/{notice['id']}.pdf",
                  headers=clerk.headers, timeout=30)
    assert r.status_code == 200 and r.content[:4] == b"%PDF"
    text = "".join("".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "不予受理确认人" in text and "周桂英" in text          # a table cell may wrap: compared without spaces


def test_village_proxy_reaches_the_county_window_without_resubmitting(demo_platform):
    agent = Api(demo_platform, "village.agent")
    county_clerk = Api(demo_platform, "county.clerk")
    township_clerk = Api(demo_platform, "township.clerk")
    proxyable = [i for i in agent.get("/api/v1/catalogue/items", limit=200)["items"]
                 if i["listing"] == "LISTING_KIND_PROXY"]
    # an item the county decides (not delegated to the township)
    county_clerk_items = {i["id"] for i in county_clerk.get("/api/v1/catalogue/items", limit=200)["items"]}
    township_items = {i["id"] for i in township_clerk.get("/api/v1/catalogue/items", limit=200)["items"]}
    item = next(i for i in proxyable if i["id"] in county_clerk_items and i["id"] not in township_items)
    sc = item["elements"]["scenarios"][0]
    req = agent.post("/api/v1/agency/requests", {
        "resident": {"name": "马桂兰", "id_number": RESIDENTS[2], "phone": "13800000000", "address": "南苑社区 3 组"},
        "special_group": "elderly", "door_to_door": True, "item_id": item["id"], "scenario_code": sc["code"],
        "authorisation": {"signed_on": "2026-09-29", "scope": f"代为申请{item['elements']['name']}",
                          "document_ref": "南苑代办〔2026〕18号"},
        "idempotency_key": f"e2e-proxy-{time.time_ns()}"}, expect=201)
    agent.post(f"/api/v1/agency/requests/{req['id']}/assign", {})
    materials = [{"code": m["code"], "note": "代办点已收取原件"} for m in sc["materials"]]
    submitted = agent.post(f"/api/v1/agency/requests/{req['id']}/submit", {"materials": materials})
    assert submitted["handling_tenant"] == "620602" and submitted["application_id"]

    # the county window has it, with every material already supplied via the village
    app = county_clerk.get(f"/api/v1/intake/applications/{submitted['application_id']}")
    assert app["proxy_tenant"] == "620602001001"
    assert all(m["supplied"] and m["supplied_via"] == "village:620602001001" for m in app["materials"])
    accepted = county_clerk.post(f"/api/v1/intake/applications/{app['id']}/accept", {})
    assert accepted["status"] in ("accepted", "completed")

    # the village never reads the county's application…
    r = httpx.get(f"{demo_platform.gateway_url}/api/v1/intake/applications/{app['id']}", headers=agent.headers)
    assert r.status_code in (403, 404)
    # …it hears of the acceptance through RabbitMQ, on its own proxy record, in words for the resident
    seen = wait_for(lambda: (lambda r: r if r.get("case_number") else None)(
        agent.get(f"/api/v1/agency/requests/{req['id']}")), what="the acceptance reaching the village")
    assert seen["case_number"] == accepted["case_number"]
    assert any(accepted["case_number"] in n["text"] for n in seen["progress"])
    if accepted["status"] == "accepted":
        # the resident is told the query code to look the case up with
        assert any(f"查询码 {accepted['query_code']}" in n["text"] for n in seen["progress"])

    # the originals travel village → township → county, each hop confirmed by the receiving unit
    items = [{"description": m["name"], "copies": 1, "material_code": m["code"]} for m in sc["materials"]]
    hop1 = agent.post("/api/v1/agency/handovers", {"request_id": req["id"], "to_tenant": "620602001",
                                                   "items": items}, expect=201)
    assert hop1["status"] == "pending"
    r = httpx.post(f"{demo_platform.gateway_url}/api/v1/agency/handovers/{hop1['id']}/confirm",
                   headers=agent.headers, json={})
    assert r.status_code == 403  # the giver cannot sign for the receiver
    pending = township_clerk.get("/api/v1/agency/handovers", direction="incoming", pending_only=True)["handovers"]
    assert hop1["id"] in [h["id"] for h in pending]
    township_clerk.post(f"/api/v1/agency/handovers/{hop1['id']}/confirm", {"note": "原件齐全"})
    hop2 = township_clerk.post("/api/v1/agency/handovers", {"request_id": req["id"], "to_tenant": "620602"},
                               expect=201)
    county_clerk.post(f"/api/v1/agency/handovers/{hop2['id']}/confirm", {})
    chain = agent.get("/api/v1/agency/custody-chain", request_id=req["id"])["handovers"]
    assert [(h["from_tenant"], h["to_tenant"], h["status"]) for h in chain] == [
        ("620602001001", "620602001", "received"), ("620602001", "620602", "received")]


def test_a_village_agent_cannot_submit_around_the_agency(demo_platform):
    """Issue 15, item 3: intake's SubmitProxyApplication straight from the agent, on intake's gRPC port, with a
    made-up proxy request id — refused; with another service's credential — refused. Nothing is written."""
    agent = Api(demo_platform, "village.agent")
    county_clerk = Api(demo_platform, "county.clerk")
    item = next(i for i in agent.get("/api/v1/catalogue/items", limit=200)["items"]
                if i["listing"] == "LISTING_KIND_PROXY")
    sc = item["elements"]["scenarios"][0]
    made_up = str(uuid.uuid4())
    req = intake_pb2.SubmitProxyApplicationRequest(
        idempotency_key=f"direct-{time.time_ns()}", proxy_request_id=made_up, item_id=item["id"],
        scenario_code=sc["code"], applicant=intake_pb2.Applicant(name="冒名", id_number=RESIDENTS[1]),
        materials=[intake_pb2.MaterialSubmission(code=m["code"]) for m in sc["materials"]])
    person = agent.headers["authorization"].split(" ", 1)[1]
    fees = ServiceCredentials(demo_platform.oidc_url, "sanji", "fees", demo_platform.service_secrets["fees"])
    with grpc.insecure_channel(demo_platform.target("intake")) as channel:
        stub = intake_pb2_grpc.IntakeServiceStub(channel)
        with pytest.raises(grpc.RpcError) as e:
            stub.SubmitProxyApplication(req, metadata=bearer(person), timeout=30)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as e:
            stub.SubmitProxyApplication(req, timeout=30, metadata=(
                *bearer(person), ("x-sanji-service", f"Bearer {fees.token()}")))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = county_clerk.get("/api/v1/intake/applications", limit=200)["applications"]
    assert made_up not in {a["proxy_request_id"] for a in listed}


def test_deemed_acceptance_and_expired_promise_across_national_day(demo_platform):
    """Received 2026-09-30; five working days skip 10-01..07 and count Saturday 10-10: due 10-13."""
    clerk = Api(demo_platform, "county.clerk")
    item, sc = county_item_with_waivable(clerk)
    waivable = next(m for m in sc["materials"] if m["waivable"])
    others = [m["code"] for m in sc["materials"] if m["code"] != waivable["code"]]
    quiet = submit(clerk, item, sc, RESIDENTS[3], others)
    promise = submit(clerk, item, sc, RESIDENTS[4], others)
    kept = submit(clerk, item, sc, RESIDENTS[5], others)
    for app in (promise, kept):
        accepted = clerk.post(f"/api/v1/intake/applications/{app['id']}/accept", {
            "waived": [{"material_code": waivable["code"], "promised_by": "2026-10-08"}]})
        assert accepted["status"] == "accepted" and accepted["waived"]
    clerk.post(f"/api/v1/intake/applications/{kept['id']}/supply", {"materials": [{"code": waivable["code"]}]})
    assert not clerk.get(f"/api/v1/intake/applications/{kept['id']}")["waived"]

    try:
        demo_platform.restart_service("intake", {"SANJI_FIXED_TODAY": "2026-10-12"})
        terminated = wait_for(lambda: (lambda a: a if a["status"] == "terminated" else None)(
            clerk.get(f"/api/v1/intake/applications/{promise['id']}")),
            what="the missed promise terminating the case")
        assert any(n["kind"] == "termination" for n in terminated["notices"])
        assert clerk.get(f"/api/v1/intake/applications/{kept['id']}")["status"] == "accepted"
        assert clerk.get(f"/api/v1/intake/applications/{quiet['id']}")["status"] == "received"

        demo_platform.restart_service("intake", {"SANJI_FIXED_TODAY": "2026-10-14"})
        deemed = wait_for(lambda: (lambda a: a if a["status"] == "accepted" else None)(
            clerk.get(f"/api/v1/intake/applications/{quiet['id']}")), what="deemed acceptance")
        assert deemed["deemed_accepted"] and deemed["case_number"]
        assert deemed["accepted_on"] == "2026-09-30"  # accepted on receipt, as the law deems it
        assert any(n["kind"] == "deemed_acceptance" for n in deemed["notices"])
    finally:   # the other end-to-end tests, in whatever order, count from the platform's pinned day
        demo_platform.restart_service("intake", {"SANJI_FIXED_TODAY": E2E_TODAY})
        wait_for(lambda: clerk.get(f"/api/v1/intake/applications/{kept['id']}"), what="intake reached again")
